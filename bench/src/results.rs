//! Result rows: one CSV line per (run, target, scenario), and their medians.

use std::fmt::Write as _;
use std::path::Path;

/// One measured scenario run. `None` is written as an empty cell.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub run: u32,
    pub target: String,
    pub scenario: String,
    pub joiners: u32,
    pub publishers: u32,
    pub rooms: u32,
    pub listeners: u32,
    pub window_s: Option<f64>,
    pub forwarded_packets: Option<f64>,
    pub received_packets: Option<f64>,
    pub server_cpu_percent: Option<f64>,
    pub server_us_per_fwd_packet: Option<f64>,
    pub server_us_per_rx_packet: Option<f64>,
    pub e2e_p50_ms: Option<f64>,
    pub e2e_p99_ms: Option<f64>,
    pub join_p50_ms: Option<f64>,
    pub join_p99_ms: Option<f64>,
    pub loss_percent: Option<f64>,
    pub jitter_mean_ms: Option<f64>,
    pub rss_kib_per_participant: Option<f64>,
    pub load_cpu_percent: Option<f64>,
    pub connected: Option<f64>,
    pub failed: Option<f64>,
    /// The server's own added forwarding latency (openchatd only).
    pub fwd_p50_ms: Option<f64>,
    pub fwd_p99_ms: Option<f64>,
}

/// CSV header, in [`Row`] field order.
pub const HEADER: &str = "run,target,scenario,joiners,publishers,rooms,listeners,window_s,\
forwarded_packets,received_packets,server_cpu_percent,server_us_per_fwd_packet,\
server_us_per_rx_packet,e2e_p50_ms,e2e_p99_ms,join_p50_ms,join_p99_ms,loss_percent,\
jitter_mean_ms,rss_kib_per_participant,load_cpu_percent,connected,failed,fwd_p50_ms,fwd_p99_ms";

/// Measured columns (after run, target, scenario, joiners, publishers, rooms, listeners).
const METRICS: usize = 18;
/// Every column.
const COLUMNS: usize = 7 + METRICS;

impl Row {
    fn metrics(&self) -> [Option<f64>; METRICS] {
        [
            self.window_s,
            self.forwarded_packets,
            self.received_packets,
            self.server_cpu_percent,
            self.server_us_per_fwd_packet,
            self.server_us_per_rx_packet,
            self.e2e_p50_ms,
            self.e2e_p99_ms,
            self.join_p50_ms,
            self.join_p99_ms,
            self.loss_percent,
            self.jitter_mean_ms,
            self.rss_kib_per_participant,
            self.load_cpu_percent,
            self.connected,
            self.failed,
            self.fwd_p50_ms,
            self.fwd_p99_ms,
        ]
    }

    fn metrics_mut(&mut self) -> [&mut Option<f64>; METRICS] {
        [
            &mut self.window_s,
            &mut self.forwarded_packets,
            &mut self.received_packets,
            &mut self.server_cpu_percent,
            &mut self.server_us_per_fwd_packet,
            &mut self.server_us_per_rx_packet,
            &mut self.e2e_p50_ms,
            &mut self.e2e_p99_ms,
            &mut self.join_p50_ms,
            &mut self.join_p99_ms,
            &mut self.loss_percent,
            &mut self.jitter_mean_ms,
            &mut self.rss_kib_per_participant,
            &mut self.load_cpu_percent,
            &mut self.connected,
            &mut self.failed,
            &mut self.fwd_p50_ms,
            &mut self.fwd_p99_ms,
        ]
    }

    /// One CSV line (no newline).
    pub fn to_csv(&self) -> String {
        let mut s = format!(
            "{},{},{},{},{},{},{}",
            self.run,
            self.target,
            self.scenario,
            self.joiners,
            self.publishers,
            self.rooms,
            self.listeners
        );
        for m in self.metrics() {
            match m {
                Some(v) => {
                    let _ = write!(s, ",{v:.4}");
                }
                None => s.push(','),
            }
        }
        s
    }

    /// Parses a line written by [`Row::to_csv`].
    pub fn from_csv(line: &str) -> Option<Row> {
        let cells: Vec<&str> = line.trim().split(',').collect();
        if cells.len() != COLUMNS {
            return None;
        }
        let mut row = Row {
            run: cells[0].parse().ok()?,
            target: cells[1].to_owned(),
            scenario: cells[2].to_owned(),
            joiners: cells[3].parse().ok()?,
            publishers: cells[4].parse().ok()?,
            rooms: cells[5].parse().ok()?,
            listeners: cells[6].parse().ok()?,
            ..Row::default()
        };
        for (slot, cell) in row.metrics_mut().into_iter().zip(&cells[7..]) {
            *slot = cell.parse().ok();
        }
        Some(row)
    }
}

/// Reads every row of a CSV file (header and bad lines skipped).
pub fn read(path: &Path) -> anyhow::Result<Vec<Row>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().skip(1).filter_map(Row::from_csv).collect())
}

/// Appends rows, writing the header if the file is new.
pub fn append(path: &Path, rows: &[Row]) -> anyhow::Result<()> {
    use std::io::Write;
    let new = !path.exists();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    if new {
        writeln!(file, "{HEADER}")?;
    }
    for row in rows {
        writeln!(file, "{}", row.to_csv())?;
    }
    Ok(())
}

/// The median of the values present (mean of the middle two for an even count).
pub fn median(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let mut v: Vec<f64> = values
        .into_iter()
        .flatten()
        .filter(|x| !x.is_nan())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Median row per (target, scenario), in first-seen order; `run` is the number of runs.
pub fn medians(rows: &[Row]) -> Vec<Row> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in rows {
        let k = (r.target.clone(), r.scenario.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.into_iter()
        .filter_map(|(target, scenario)| {
            let group: Vec<&Row> = rows
                .iter()
                .filter(|r| r.target == target && r.scenario == scenario)
                .collect();
            let mut m = (*group.first()?).clone();
            m.run = group.len() as u32;
            for i in 0..METRICS {
                *m.metrics_mut()[i] = median(group.iter().map(|r| r.metrics()[i]));
            }
            Some(m)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip_and_medians() {
        let a = Row {
            run: 1,
            target: "openchatd".into(),
            scenario: "fanout-10".into(),
            joiners: 11,
            publishers: 1,
            rooms: 1,
            listeners: 10,
            server_us_per_fwd_packet: Some(3.0),
            e2e_p99_ms: None,
            ..Row::default()
        };
        let back = Row::from_csv(&a.to_csv()).expect("parses");
        assert_eq!(back, a);
        assert_eq!(HEADER.split(',').count(), COLUMNS);
        let mut b = a.clone();
        b.run = 2;
        b.server_us_per_fwd_packet = Some(5.0);
        let mut c = a.clone();
        c.run = 3;
        c.server_us_per_fwd_packet = Some(100.0);
        let m = medians(&[a, b, c]);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].run, 3);
        assert_eq!(m[0].server_us_per_fwd_packet, Some(5.0));
        assert_eq!(median([Some(1.0), None, Some(2.0)]), Some(1.5));
        assert_eq!(median([None]), None);
    }
}
