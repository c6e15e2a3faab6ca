//! Runs Janus from a generated configuration in a temporary directory (never the system's):
//! HTTP API on 127.0.0.1, videoroom plugin only, rooms 1..=K for Opus audio, ICE on 127.0.0.1
//! (with the getifaddrs shim, see `bench/scripts/getifaddrs_shim.c`), debug level 3.

use crate::openchatd::{TempDir, free_port};
use anyhow::{Context, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PLUGINS: &str = "/usr/lib/x86_64-linux-gnu/janus/plugins";
const TRANSPORTS: &str = "/usr/lib/x86_64-linux-gnu/janus/transports";
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Which Janus configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Stock settings: one thread per handle.
    Default,
    /// `event_loops = 2`: a fixed pool of event loops (Janus's own recommendation under load).
    Tuned,
}

impl Flavor {
    /// Name in results.
    pub fn target(self) -> &'static str {
        match self {
            Flavor::Default => "janus-default",
            Flavor::Tuned => "janus-event-loops-2",
        }
    }
}

/// A running Janus, killed on drop.
pub struct Janus {
    child: Child,
    /// HTTP API base, e.g. `http://127.0.0.1:40123/janus`.
    pub api: String,
    _dir: TempDir,
}

/// Builds the LD_PRELOAD shim into `dir` with the system C compiler.
fn build_shim(dir: &Path) -> anyhow::Result<PathBuf> {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/getifaddrs_shim.c");
    let out = dir.join("getifaddrs_shim.so");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&out)
        .arg(&source)
        .arg("-ldl")
        .status()
        .context("running cc for the getifaddrs shim")?;
    if !status.success() {
        bail!("building the getifaddrs shim failed: {status}");
    }
    Ok(out)
}

/// The generated configuration files.
pub fn config_files(
    flavor: Flavor,
    dir: &Path,
    http_port: u16,
    rooms: u32,
) -> Vec<(String, String)> {
    let event_loops = match flavor {
        Flavor::Default => String::new(),
        Flavor::Tuned => "\tevent_loops = 2\n".to_owned(),
    };
    let janus = format!(
        "general: {{\n\tconfigs_folder = \"{dir}\"\n\tplugins_folder = \"{PLUGINS}\"\n\
         \ttransports_folder = \"{TRANSPORTS}\"\n\tdebug_level = 3\n\tsession_timeout = 0\n\
         \tinterface = \"127.0.0.1\"\n{event_loops}}}\n\
         media: {{\n\trtp_port_range = \"30000-39999\"\n}}\n\
         nat: {{\n\tice_enforce_list = \"127.0.0.1\"\n\tice_lite = false\n}}\n\
         plugins: {{\n\tdisable = \"libjanus_audiobridge.so,libjanus_duktape.so,libjanus_echotest.so,\
         libjanus_lua.so,libjanus_nosip.so,libjanus_recordplay.so,libjanus_sip.so,\
         libjanus_streaming.so,libjanus_textroom.so,libjanus_videocall.so,libjanus_voicemail.so\"\n}}\n\
         transports: {{\n\tdisable = \"libjanus_websockets.so,libjanus_pfunix.so,libjanus_mqtt.so,\
         libjanus_nanomsg.so,libjanus_rabbitmq.so\"\n}}\n\
         events: {{\n\tbroadcast = false\n}}\n\
         loggers: {{\n\tdisable = \"libjanus_jsonlog.so\"\n}}\n",
        dir = dir.display()
    );
    let http = format!(
        "general: {{\n\tjson = \"compact\"\n\tbase_path = \"/janus\"\n\thttp = true\n\
         \tport = {http_port}\n\tip = \"127.0.0.1\"\n\thttps = false\n}}\n\
         admin: {{\n\tadmin_base_path = \"/admin\"\n\tadmin_http = false\n}}\n"
    );
    let mut videoroom = String::from("general: {\n}\n");
    for room in 1..=rooms {
        let _ = write!(
            videoroom,
            "room-{room}: {{\n\tdescription = \"bench {room}\"\n\tpublishers = 10\n\
             \taudiocodec = \"opus\"\n\tvideocodec = \"vp8\"\n\taudiolevel_ext = true\n}}\n"
        );
    }
    vec![
        ("janus.jcfg".into(), janus),
        ("janus.transport.http.jcfg".into(), http),
        ("janus.plugin.videoroom.jcfg".into(), videoroom),
    ]
}

impl Janus {
    /// Generates the configuration, starts Janus and waits for its HTTP API.
    pub async fn start(flavor: Flavor, rooms: u32) -> anyhow::Result<Janus> {
        let dir = TempDir::new("janus-bench")?;
        let shim = build_shim(&dir.0)?;
        let port = free_port()?;
        for (name, text) in config_files(flavor, &dir.0, port, rooms) {
            std::fs::write(dir.0.join(name), text)?;
        }
        let log = dir.0.join("janus.log");
        let child = Command::new("janus")
            .arg("-F")
            .arg(&dir.0)
            .arg("-C")
            .arg(dir.0.join("janus.jcfg"))
            .arg("-L")
            .arg(&log)
            .arg("-N")
            .env("LD_PRELOAD", &shim)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting janus (bench/scripts/install-janus.sh installs it)")?;
        let mut janus = Janus {
            child,
            api: format!("http://127.0.0.1:{port}/janus"),
            _dir: dir,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        let info = format!("{}/info", janus.api);
        while Instant::now() < deadline {
            if let Some(status) = janus.child.try_wait()? {
                bail!(
                    "janus exited during start-up: {status}; see {}",
                    log.display()
                );
            }
            if reqwest::get(&info)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(janus);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("janus not ready after {READY_TIMEOUT:?}")
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Janus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
