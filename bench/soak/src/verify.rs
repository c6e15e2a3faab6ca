//! After the load: is every acknowledged envelope in its channel's history (exactly once), and
//! did every subscriber receive every one across its reconnections?

use crate::api::Api;
use crate::chat::Acked;
use crate::subscribers::RealtimeStats;
use anyhow::bail;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Client message ids of a channel's whole history, oldest first (as `reader`).
pub async fn history(api: &Api, reader: &str, channel: &str) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/channels/{channel}/history?direction=forward&limit=200");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = api.get(reader, &path).await?;
        if status != 200 {
            bail!("history of {channel}: {status} {page}");
        }
        for message in page["messages"].as_array().into_iter().flatten() {
            if let Some(id) = message["client_message_id"].as_str() {
                ids.push(id.to_owned());
            }
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if page["has_more"] != Value::Bool(true) || cursor.is_none() {
            return Ok(ids);
        }
    }
}

/// Compares the acknowledged envelopes with the histories (`channel index -> ids`).
pub fn check_history(acked: &[Acked], histories: &[Vec<String>]) -> Value {
    let mut counts: Vec<HashMap<&str, usize>> = Vec::with_capacity(histories.len());
    for ids in histories {
        let mut count = HashMap::new();
        for id in ids {
            *count.entry(id.as_str()).or_insert(0) += 1;
        }
        counts.push(count);
    }
    let missing: Vec<&str> = acked
        .iter()
        .filter(|a| {
            counts
                .get(a.channel)
                .is_none_or(|c| !c.contains_key(a.client_message_id.as_str()))
        })
        .map(|a| a.client_message_id.as_str())
        .collect();
    let duplicated = counts
        .iter()
        .flat_map(|c| c.values())
        .filter(|n| **n > 1)
        .count();
    json!({
        "acked": acked.len(),
        "in_history": histories.iter().map(Vec::len).sum::<usize>(),
        "missing": missing.len(),
        "missing_examples": missing.iter().take(10).collect::<Vec<_>>(),
        "duplicated": duplicated,
    })
}

/// Waits (up to `deadline`) until every subscriber has every acknowledged envelope; returns
/// the deliveries still missing per subscriber (all zero on success) and how long it took.
pub async fn wait_for_deliveries(
    stats: &RealtimeStats,
    acked: &[Acked],
    deadline: Duration,
) -> (Vec<usize>, Duration) {
    let start = Instant::now();
    loop {
        let missing: Vec<usize> = stats
            .subscribers
            .iter()
            .map(|s| {
                acked
                    .iter()
                    .filter(|a| !s.has_seen(&a.client_message_id))
                    .count()
            })
            .collect();
        if missing.iter().all(|m| *m == 0) || start.elapsed() >= deadline {
            return (missing, start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acked(channel: usize, id: &str) -> Acked {
        Acked {
            channel,
            client_message_id: id.into(),
        }
    }

    #[test]
    fn missing_and_duplicated_envelopes_are_counted() {
        let acked = [acked(0, "a"), acked(0, "b"), acked(1, "c"), acked(1, "d")];
        let histories = vec![
            vec!["a".to_owned(), "b".to_owned(), "b".to_owned()],
            vec!["c".to_owned(), "x".to_owned()],
        ];
        let report = check_history(&acked, &histories);
        assert_eq!(report["missing"], 1);
        assert_eq!(report["missing_examples"], json!(["d"]));
        assert_eq!(report["duplicated"], 1);
        assert_eq!(report["in_history"], 5);
    }

    #[test]
    fn an_envelope_in_another_channel_is_missing() {
        let report = check_history(&[acked(1, "a")], &[vec!["a".to_owned()]]);
        assert_eq!(report["missing"], 1);
    }
}
