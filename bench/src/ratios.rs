//! ours/Janus ratios from `compare.csv`: computed within each run (same minutes, same noise),
//! then the median over runs.

use crate::results::{Row, median};
use std::fmt::Write as _;

/// Picks one metric of a row.
type Pick = fn(&Row) -> Option<f64>;

/// Metrics compared (lower is better for all of them).
const METRICS: [(&str, Pick); 3] = [
    ("server_us_per_rx_packet", |r| r.server_us_per_rx_packet),
    ("e2e_p50_ms", |r| r.e2e_p50_ms),
    ("e2e_p99_ms", |r| r.e2e_p99_ms),
];

/// Whether a run is usable for a ratio: at most 1% of its joiners failed.
fn clean(r: &Row) -> bool {
    r.failed.unwrap_or(0.0) <= 0.01 * f64::from(r.joiners)
}

/// CSV: `scenario,janus_target,metric,runs,median_ratio` (ours / Janus), over the runs where
/// neither side lost more than 1% of its joiners (otherwise the loads differ).
pub fn csv(rows: &[Row]) -> String {
    let mut out = String::from("scenario,janus_target,metric,runs,median_ratio_ours_over_janus\n");
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in rows.iter().filter(|r| r.target.starts_with("janus")) {
        let k = (r.scenario.clone(), r.target.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    for (scenario, janus) in keys {
        for (name, pick) in METRICS {
            let ratios: Vec<Option<f64>> = rows
                .iter()
                .filter(|r| r.target == janus && r.scenario == scenario && clean(r))
                .map(|j| {
                    let ours = rows.iter().find(|o| {
                        o.target == "openchatd"
                            && o.scenario == scenario
                            && o.run == j.run
                            && clean(o)
                    })?;
                    let (a, b) = (pick(ours)?, pick(j)?);
                    (b > 0.0).then(|| a / b)
                })
                .collect();
            let n = ratios.iter().flatten().count();
            if let Some(m) = median(ratios) {
                let _ = writeln!(out, "{scenario},{janus},{name},{n},{m:.3}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(run: u32, target: &str, us: f64) -> Row {
        Row {
            run,
            target: target.into(),
            scenario: "fanout-100".into(),
            server_us_per_rx_packet: Some(us),
            ..Row::default()
        }
    }

    #[test]
    fn ratios_pair_rows_of_the_same_run() {
        let rows = [
            row(1, "openchatd", 20.0),
            row(1, "janus-default", 80.0),
            row(2, "openchatd", 30.0),
            row(2, "janus-default", 60.0),
        ];
        let text = csv(&rows);
        assert!(
            text.contains("fanout-100,janus-default,server_us_per_rx_packet,2,0.375"),
            "{text}"
        );
    }
}
