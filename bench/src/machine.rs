//! What machine the figures came from.

use std::path::Path;

/// "2 x Intel(R) Xeon(R) ... , 24 GiB, Linux 6.x" from /proc.
pub fn describe() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU", str::trim)
        .to_owned();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpus} x {model}, {} GiB, Linux {}",
        mem_kib / 1_048_576,
        kernel.trim()
    )
}

/// Writes `machine.txt` into the results directory.
pub fn write(dir: &Path) -> std::io::Result<()> {
    std::fs::write(dir.join("machine.txt"), describe() + "\n")
}
