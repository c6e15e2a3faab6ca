//! A network namespace joined to the test's own by a veth pair on addresses of its own, with a
//! token-bucket limit (`tc`) on what enters it: the path of a subscriber whose downlink is
//! limited. Needs root (`ip netns`, `tc`). Removed on drop.

#![allow(dead_code)]

use std::process::Command;

/// Runs `cmd args`, failing with its stderr.
pub fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A namespace and the veth pair into it; both removed on drop.
pub struct Netns {
    pub name: String,
    outer: String,
    /// The test side's address (the server binds it) and the namespace side's.
    pub host_ip: String,
    pub ns_ip: String,
}

impl Netns {
    /// A new namespace named `prefix` and a number of this process (short: interface names
    /// have at most 15 bytes), on `10.<subnet>.<number>.0/24`.
    pub fn create(prefix: &str, subnet: u8) -> Result<Netns, String> {
        let tag = std::process::id() % 200 + 20;
        let name = format!("{prefix}{tag}");
        let outer = format!("{prefix}{tag}h");
        let inner = format!("{prefix}{tag}n");
        let (host_ip, ns_ip) = (
            format!("10.{subnet}.{tag}.1"),
            format!("10.{subnet}.{tag}.2"),
        );
        // Left over by a killed run with the same tag.
        let _ = run("ip", &["link", "del", &outer]);
        let _ = run("ip", &["netns", "del", &name]);
        run("ip", &["netns", "add", &name])?;
        let ns = Netns {
            name: name.clone(),
            outer: outer.clone(),
            host_ip: host_ip.clone(),
            ns_ip: ns_ip.clone(),
        };
        let exec = |args: &[&str]| {
            let mut all = vec!["netns", "exec", name.as_str(), "ip"];
            all.extend_from_slice(args);
            run("ip", &all)
        };
        run(
            "ip",
            &[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ],
        )?;
        run("ip", &["link", "set", &inner, "netns", &name])?;
        run(
            "ip",
            &["addr", "add", &format!("{host_ip}/24"), "dev", &outer],
        )?;
        run("ip", &["link", "set", &outer, "up"])?;
        exec(&["addr", "add", &format!("{ns_ip}/24"), "dev", &inner])?;
        exec(&["link", "set", &inner, "up"])?;
        exec(&["link", "set", "lo", "up"])?;
        // webrtc-rs and Chromium join a multicast group (mDNS) when they start: without a
        // route, ENODEV.
        exec(&["route", "add", "default", "via", &host_ip])?;
        Ok(ns)
    }

    /// Limits what the namespace receives to `kbit` per second.
    pub fn limit(&self, kbit: u32) -> Result<(), String> {
        let rate = format!("{kbit}kbit");
        run(
            "tc",
            &[
                "qdisc",
                "add",
                "dev",
                &self.outer,
                "root",
                "tbf",
                "rate",
                &rate,
                "burst",
                "16kbit",
                "latency",
                "200ms",
            ],
        )
    }

    pub fn unlimit(&self) -> Result<(), String> {
        run("tc", &["qdisc", "del", "dev", &self.outer, "root"])
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run("ip", &["link", "del", &self.outer]);
        let _ = run("ip", &["netns", "del", &self.name]);
    }
}
