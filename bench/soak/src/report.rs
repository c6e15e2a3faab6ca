//! The run's results: trends of every resource series after warm-up, what was lost, and the
//! verdict; written as JSON and Markdown beside the CSV.

use crate::sampler::Sample;
use crate::slope::{Trend, fit};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The series whose trend is judged (cumulative counters such as CPU time are not).
pub const JUDGED: [&str; 15] = [
    "rss_mib",
    "rss_anon_mib",
    "fds",
    "threads",
    "tasks",
    "pool_open",
    "pool_in_use",
    "pg_backends",
    "http_conns",
    "close_wait",
    "udp_sockets",
    "realtime_sessions",
    "signaling_sessions",
    "sfu_peers",
    "sfu_rooms",
];

/// Trends of [`JUDGED`] over the samples with `warmup <= t_s <= end`.
pub fn trends(samples: &[Sample], warmup: f64, end: f64) -> BTreeMap<&'static str, Trend> {
    let window: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.t_s >= warmup && s.t_s <= end)
        .collect();
    JUDGED
        .iter()
        .filter_map(|name| {
            let points: Vec<(f64, f64)> = window
                .iter()
                .map(|s| (s.t_s, s.get(name).unwrap_or(f64::NAN)))
                .collect();
            fit(&points).map(|trend| (*name, trend))
        })
        .collect()
}

/// Series that grow.
pub fn growing(trends: &BTreeMap<&'static str, Trend>) -> Vec<&'static str> {
    trends
        .iter()
        .filter(|(_, t)| t.grows())
        .map(|(name, _)| *name)
        .collect()
}

/// JSON of the trends.
pub fn trends_json(trends: &BTreeMap<&'static str, Trend>) -> Value {
    let finite = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
    trends
        .iter()
        .map(|(name, t)| {
            (
                (*name).to_owned(),
                json!({
                    "n": t.n,
                    "mean": finite(t.mean),
                    "first": finite(t.first),
                    "last": finite(t.last),
                    "slope_per_hour": finite(t.slope_per_hour),
                    "stderr_per_hour": finite(t.stderr_per_hour),
                    "percent_of_mean_per_hour": finite(t.percent_per_hour()),
                    "intercept": finite(t.intercept),
                    "grows": t.grows(),
                }),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// A Markdown report of `summary` (the JSON written beside it).
pub fn markdown(summary: &Value) -> String {
    let mut md = String::new();
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    md.push_str(&format!(
        "# Soak: openchatd on {} ({})\n\n",
        s(&summary["db"]),
        s(&summary["date"])
    ));
    let secs = |v: &Value| v.as_f64().map_or("-".into(), |v| format!("{v:.0}"));
    md.push_str(&format!(
        "Load for {} s, sampled every {} s; trends over t = {} .. {} s (after warm-up).\n\
         Load: {}\n\nVerdict: **{}**{}\n\n",
        secs(&summary["duration_s"]),
        secs(&summary["sample_period_s"]),
        secs(&summary["warmup_s"]),
        secs(&summary["duration_s"]),
        s(&summary["load"]),
        if summary["verdict"]["ok"].as_bool() == Some(true) {
            "pass"
        } else {
            "FAIL"
        },
        summary["verdict"]["problems"]
            .as_array()
            .filter(|p| !p.is_empty())
            .map(|p| format!(" ({})", p.iter().map(&s).collect::<Vec<_>>().join("; ")))
            .unwrap_or_default(),
    ));
    md.push_str("| series | mean | first | last | slope / hour | stderr / hour (batch means) | % of mean / hour | grows |\n");
    md.push_str("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    if let Some(trends) = summary["trends"].as_object() {
        for (name, t) in trends {
            let n = |k: &str| t[k].as_f64().map_or("-".into(), |v| format!("{v:.2}"));
            md.push_str(&format!(
                "| {name} | {} | {} | {} | {} | {} | {} | {} |\n",
                n("mean"),
                n("first"),
                n("last"),
                n("slope_per_hour"),
                n("stderr_per_hour"),
                n("percent_of_mean_per_hour"),
                s(&t["grows"])
            ));
        }
    }
    for section in [
        "baseline",
        "idle_after",
        "joins",
        "chat",
        "realtime",
        "history",
        "server",
    ] {
        md.push_str(&format!("\n**{section}**: `{}`\n", summary[section]));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: f64, rss: f64, fds: f64) -> Sample {
        Sample {
            t_s: t,
            rss_mib: rss,
            fds,
            pg_backends: f64::NAN,
            ..Sample::default()
        }
    }

    #[test]
    fn warm_up_is_left_out_and_growth_is_named() {
        // RSS climbs during warm-up then stays; fds leak one per sample after it.
        let samples: Vec<Sample> = (0..100)
            .map(|i| {
                let t = i as f64 * 10.0;
                let rss = if t < 300.0 {
                    10.0 + t / 10.0
                } else {
                    40.0 + (i % 2) as f64 * 0.1
                };
                sample(t, rss, 20.0 + i as f64)
            })
            .collect();
        let trends = trends(&samples, 300.0, 1000.0);
        assert!(!trends["rss_mib"].grows(), "{:?}", trends["rss_mib"]);
        assert!(trends["fds"].grows());
        assert!(!trends.contains_key("pg_backends"), "all NaN: no trend");
        assert_eq!(growing(&trends), vec!["fds"]);
        let json = trends_json(&trends);
        assert_eq!(json["fds"]["grows"], true);
        let md = markdown(
            &json!({"db": "sqlite", "trends": json, "verdict": {"ok": false, "problems": ["fds grows"]}}),
        );
        assert!(md.contains("| fds |"), "{md}");
        assert!(md.contains("**FAIL** (fds grows)"), "{md}");
    }
}
