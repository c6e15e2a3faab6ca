//! Key envelopes (exactly once), key packages (atomic claims, last resort) and backups
//! (versions, 413), on both databases.

mod api;
mod chat;
mod common;

use std::collections::HashSet;

use api::{b64, call, code, join, server};
use axum::http::{Method, StatusCode};
use control::{Control, NewKeyEnvelope};
use serde_json::{Value, json};

on_both_databases! {
    envelopes_in_order_and_acked => prod,
    publishing_notifies_the_recipient_device => prod,
    envelopes_next_cursor_acks => prod,
    concurrent_readers_get_each_envelope_once => prod,
    envelope_rules => prod,
    envelope_queue_is_bounded => prod,
    packages_claim_and_last_resort => prod,
    concurrent_claims_get_distinct_packages => prod,
    package_rules => prod,
    backups_are_versioned => prod,
    backup_size_cap_is_413 => prod,
}

/// Alice (laptop) and Bob (phone) share a server; both devices are registered.
async fn alice_and_bob(ctl: &Control) {
    server(ctl, "alice", "srv_a").await;
    join(ctl, "alice", "srv_a", "bob").await;
    ctl.ensure_device("alice", "laptop")
        .await
        .expect("alice's device");
    ctl.ensure_device("bob", "phone")
        .await
        .expect("bob's device");
}

async fn publish(ctl: &Control, payloads: &[&str]) -> Vec<i64> {
    let envelopes: Vec<Value> = payloads
        .iter()
        .map(|p| json!({"user_id": "bob", "device_id": "phone", "payload": p}))
        .collect();
    let (status, body) = call(
        ctl,
        ("alice", "laptop"),
        Method::POST,
        "/v1/keys/envelopes/publish",
        Some(json!({ "envelopes": envelopes })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(Value::as_i64)
        .collect()
}

async fn read(ctl: &Control, query: &str) -> Value {
    let (status, body) = call(
        ctl,
        ("bob", "phone"),
        Method::GET,
        &format!("/v1/keys/envelopes{query}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn payloads(body: &Value) -> Vec<&str> {
    body["envelopes"]
        .as_array()
        .expect("envelopes")
        .iter()
        .filter_map(|e| e["payload"].as_str())
        .collect()
}

async fn envelopes_in_order_and_acked(ctl: Control) {
    alice_and_bob(&ctl).await;
    let ids = publish(&ctl, &["AQ==", "Ag==", "Aw=="]).await;
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let body = read(&ctl, "?device_id=phone").await;
    assert_eq!(payloads(&body), ["AQ==", "Ag==", "Aw=="]);
    assert_eq!(body["envelopes"][0]["sender_user_id"], "alice");
    assert_eq!(body["envelopes"][0]["sender_device_id"], "laptop");
    assert_eq!(body["cursor"], ids[2]);
    // Leased: a second read does not see them again.
    assert_eq!(payloads(&read(&ctl, "").await), Vec::<&str>::new());
    let (status, acked) = call(
        &ctl,
        ("bob", "phone"),
        Method::POST,
        "/v1/keys/envelopes/ack",
        Some(json!({"up_to": ids[2]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(acked["deleted"], 3);
    // Acked envelopes never come back, even after the lease would have ended.
    ctl.testing_advance_clock(std::time::Duration::from_secs(120));
    let body = read(&ctl, "").await;
    assert_eq!(payloads(&body), Vec::<&str>::new());
    assert_eq!(body["cursor"], Value::Null);
}

async fn publishing_notifies_the_recipient_device(ctl: Control) {
    alice_and_bob(&ctl).await;
    let mut bob = chat::Client::connect(&ctl, chat::dev("bob", "phone"), None);
    bob.ready().await;
    publish(&ctl, &["AQ==", "Ag=="]).await;
    let event = bob.next_event("key_envelope_pending").await;
    assert_eq!(event["data"]["device_id"], "phone");
    assert_eq!(event["data"]["count"], 2);
    assert_eq!(event["data"]["sender_user_id"], "alice");
    assert_eq!(event["data"]["sender_device_id"], "laptop");
    // Another device of the same user is not told.
    let mut others = chat::Client::connect(&ctl, chat::dev("alice", "laptop"), None);
    others.ready().await;
    publish(&ctl, &["Aw=="]).await;
    assert_eq!(
        bob.next_event("key_envelope_pending").await["data"]["count"],
        1
    );
    let frames = others.close().await;
    assert!(
        frames.iter().all(|f| f["kind"] != "key_envelope_pending"),
        "{frames:?}"
    );
}

async fn envelopes_next_cursor_acks(ctl: Control) {
    alice_and_bob(&ctl).await;
    publish(&ctl, &["AQ==", "Ag=="]).await;
    let first = read(&ctl, "?limit=1").await;
    assert_eq!(payloads(&first), ["AQ=="]);
    let cursor = first["cursor"].as_i64().expect("cursor");
    let second = read(&ctl, &format!("?cursor={cursor}")).await;
    assert_eq!(payloads(&second), ["Ag=="]);
    // An unacknowledged lease ends: the envelope is delivered again (the reader crashed);
    // the acknowledged one is gone.
    ctl.testing_advance_clock(std::time::Duration::from_secs(61));
    let third = read(&ctl, "").await;
    assert_eq!(payloads(&third), ["Ag=="]);
}

async fn concurrent_readers_get_each_envelope_once(ctl: Control) {
    alice_and_bob(&ctl).await;
    let envelopes: Vec<NewKeyEnvelope> = (0..40)
        .map(|i| NewKeyEnvelope {
            user_id: "bob".into(),
            device_id: "phone".into(),
            payload: b64(8, i),
        })
        .collect();
    ctl.publish_key_envelopes("alice", "laptop", &envelopes)
        .await
        .expect("publish");
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let ctl = ctl.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..5 {
                let pending = ctl
                    .read_key_envelopes("bob", "phone", None, Some(5))
                    .await
                    .expect("read");
                seen.extend(pending.envelopes.into_iter().map(|e| e.id));
            }
            seen
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task"));
    }
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "an envelope was delivered twice");
    assert_eq!(all.len(), 40, "every envelope delivered");
}

async fn envelope_rules(ctl: Control) {
    alice_and_bob(&ctl).await;
    ctl.ensure_device("eve", "e1").await.expect("eve's device");
    let send = |who: (&'static str, &'static str), envelopes: Value| {
        let ctl = ctl.clone();
        async move {
            call(
                &ctl,
                who,
                Method::POST,
                "/v1/keys/envelopes/publish",
                Some(json!({ "envelopes": envelopes })),
            )
            .await
        }
    };
    // 64 KiB is fine; over 64 KiB rounded up to whole base64 groups (87,384 characters,
    // 65,538 bytes) is 413 with the index.
    let ok = b64(64 * 1024, 7);
    let big = b64(64 * 1024 + 3, 7);
    let (status, body) = send(
        ("alice", "laptop"),
        json!([{"user_id": "bob", "device_id": "phone", "payload": ok}]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = send(
        ("alice", "laptop"),
        json!([
        {"user_id": "bob", "device_id": "phone", "payload": "AQ=="},
        {"user_id": "bob", "device_id": "phone", "payload": big}]),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    assert_eq!(body["error"]["details"]["index"], 1);
    assert_eq!(body["error"]["details"]["max_bytes"], 65536);
    // Nothing of a refused batch was stored.
    assert_eq!(
        ctl.read_key_envelopes("bob", "phone", None, None)
            .await
            .expect("read")
            .envelopes
            .len(),
        1
    );
    // A user Alice shares no server with, or an unknown device: 404.
    for (user, device) in [("eve", "e1"), ("bob", "tablet"), ("ghost", "g")] {
        let (status, body) = send(
            ("alice", "laptop"),
            json!([{"user_id": user, "device_id": device, "payload": "AQ=="}]),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, "device_not_found"),
            "{user}/{device}"
        );
    }
    // Bad base64, empty lists: 400.
    let (status, body) = send(
        ("alice", "laptop"),
        json!([{"user_id": "bob", "device_id": "phone", "payload": "not base64!"}]),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let (status, body) = send(("alice", "laptop"), json!([])).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    // Reading another device's queue: 404. Bad limit: 400.
    let (status, body) = call(
        &ctl,
        ("bob", "phone"),
        Method::GET,
        "/v1/keys/envelopes?device_id=tablet",
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "device_not_found")
    );
    let (status, body) = call(
        &ctl,
        ("bob", "phone"),
        Method::GET,
        "/v1/keys/envelopes?limit=0",
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let (status, body) = call(
        &ctl,
        ("bob", "phone"),
        Method::GET,
        "/v1/keys/envelopes?cursor=abc",
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    // An unlinked sender device: 403.
    let (status, body) = send(
        ("alice", "stranger"),
        json!([{"user_id": "bob", "device_id": "phone", "payload": "AQ=="}]),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "device_not_linked")
    );
}

async fn envelope_queue_is_bounded(ctl: Control) {
    alice_and_bob(&ctl).await;
    let batch: Vec<NewKeyEnvelope> = (0..100)
        .map(|_| NewKeyEnvelope {
            user_id: "bob".into(),
            device_id: "phone".into(),
            payload: "AQ==".into(),
        })
        .collect();
    for _ in 0..100 {
        ctl.publish_key_envelopes("alice", "laptop", &batch)
            .await
            .expect("publish");
    }
    // 10,000 pending: one more is refused, for that device only.
    let (status, body) = call(
        &ctl,
        ("alice", "laptop"),
        Method::POST,
        "/v1/keys/envelopes/publish",
        Some(json!({"envelopes": [
            {"user_id": "alice", "device_id": "laptop", "payload": "AQ=="},
            {"user_id": "bob", "device_id": "phone", "payload": "AQ=="}]})),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "envelope_queue_full")
    );
    assert_eq!(body["error"]["details"]["index"], 1);
    assert_eq!(body["error"]["details"]["max"], 10_000);
    // Reading and acknowledging makes room.
    let read = ctl
        .read_key_envelopes("bob", "phone", None, Some(1))
        .await
        .expect("read");
    let cursor = read.cursor.expect("cursor");
    ctl.ack_key_envelopes("bob", "phone", cursor)
        .await
        .expect("ack");
    publish(&ctl, &["AQ=="]).await;
}

async fn upload(ctl: &Control, who: (&str, &str), body: Value) -> (StatusCode, Value) {
    call(ctl, who, Method::POST, "/v1/keys/packages", Some(body)).await
}

async fn claim(ctl: &Control, who: (&str, &str), body: Value) -> (StatusCode, Value) {
    call(
        ctl,
        who,
        Method::POST,
        "/v1/keys/packages/claim",
        Some(body),
    )
    .await
}

async fn packages_claim_and_last_resort(ctl: Control) {
    alice_and_bob(&ctl).await;
    let (status, count) = upload(
        &ctl,
        ("bob", "phone"),
        json!({"packages": ["AQ==", "Ag=="], "last_resort": "/w=="}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{count}");
    assert_eq!(
        count,
        json!({"device_id": "phone", "count": 2, "last_resort": true})
    );

    let mut got = Vec::new();
    for _ in 0..2 {
        let (status, body) = claim(
            &ctl,
            ("alice", "laptop"),
            json!({"user_id": "bob", "device_id": "phone"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["packages"][0]["last_resort"], false);
        got.push(
            body["packages"][0]["package"]
                .as_str()
                .expect("package")
                .to_owned(),
        );
    }
    assert_eq!(got, ["AQ==", "Ag=="]);
    // The stock is empty: the last-resort package, again and again.
    for _ in 0..2 {
        let (_, body) = claim(&ctl, ("alice", "laptop"), json!({"user_id": "bob"})).await;
        assert_eq!(body["packages"][0]["package"], "/w==");
        assert_eq!(body["packages"][0]["last_resort"], true);
    }
    let (status, count) = call(
        &ctl,
        ("bob", "phone"),
        Method::GET,
        "/v1/keys/packages/count",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        count,
        json!({"device_id": "phone", "count": 0, "last_resort": true})
    );
    // A new last-resort package replaces the old one.
    upload(&ctl, ("bob", "phone"), json!({"last_resort": "/g=="})).await;
    let (_, body) = claim(
        &ctl,
        ("alice", "laptop"),
        json!({"user_id": "bob", "device_id": "phone"}),
    )
    .await;
    assert_eq!(body["packages"][0]["package"], "/g==");
    // Alice has none at all.
    let (status, body) = claim(&ctl, ("bob", "phone"), json!({"user_id": "alice"})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "no_key_package")
    );
    assert_eq!(body["error"]["details"]["device_id"], "laptop");
}

async fn concurrent_claims_get_distinct_packages(ctl: Control) {
    alice_and_bob(&ctl).await;
    let packages: Vec<String> = (0..10).map(|i| b64(16, i)).collect();
    ctl.upload_key_packages("bob", "phone", &packages, Some(&b64(16, 255)))
        .await
        .expect("upload");
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let ctl = ctl.clone();
        tasks.push(tokio::spawn(async move {
            ctl.claim_key_packages("alice", "laptop", "bob", Some("phone"))
                .await
                .expect("claim")
                .remove(0)
        }));
    }
    let mut regular = HashSet::new();
    let mut last_resort = 0;
    for task in tasks {
        let claimed = task.await.expect("task");
        if claimed.last_resort {
            last_resort += 1;
        } else {
            assert!(
                regular.insert(claimed.package),
                "a package was claimed twice"
            );
        }
    }
    assert_eq!(regular.len(), 10);
    assert_eq!(last_resort, 2);
}

async fn package_rules(ctl: Control) {
    alice_and_bob(&ctl).await;
    ctl.ensure_device("eve", "e1").await.expect("eve");
    let hundred: Vec<String> = (0..100).map(|i| b64(4, i)).collect();
    let (status, body) = upload(&ctl, ("bob", "phone"), json!({"packages": hundred})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["count"], 100);
    let (status, body) = upload(
        &ctl,
        ("bob", "phone"),
        json!({"packages": hundred, "last_resort": "AQ=="}),
    )
    .await;
    // At most 100 packages, and the last-resort one besides them.
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (&body["count"], &body["last_resort"]),
        (&json!(200), &json!(true))
    );
    let mut too_many = hundred.clone();
    too_many.push("AQ==".into());
    let (status, body) = upload(&ctl, ("bob", "phone"), json!({"packages": too_many})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let (status, body) = upload(&ctl, ("bob", "phone"), json!({"packages": []})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let (status, body) = upload(
        &ctl,
        ("bob", "phone"),
        json!({"packages": [b64(16 * 1024 + 3, 1)]}),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    // Claiming from someone the caller shares no server with, or an unknown device: 404.
    for body in [
        json!({"user_id": "eve"}),
        json!({"user_id": "bob", "device_id": "tablet"}),
    ] {
        let (status, answer) = claim(&ctl, ("alice", "laptop"), body.clone()).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::NOT_FOUND, "device_not_found"),
            "{body}"
        );
    }
}

async fn put_backup(
    ctl: &Control,
    who: (&str, &str),
    expected: i64,
    payload: &str,
) -> (StatusCode, Value) {
    call(
        ctl,
        who,
        Method::POST,
        "/v1/keys/backups",
        Some(json!({"expected_version": expected, "payload": payload})),
    )
    .await
}

async fn backups_are_versioned(ctl: Control) {
    alice_and_bob(&ctl).await;
    let (status, body) = call(
        &ctl,
        ("alice", "laptop"),
        Method::GET,
        "/v1/keys/backups/latest",
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "backup_not_found")
    );
    let (status, body) = put_backup(&ctl, ("alice", "laptop"), 0, "AQ==").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"], 1);
    assert!(body.get("payload").is_none());
    let (status, _) = put_backup(&ctl, ("alice", "laptop"), 1, "Ag==").await;
    assert_eq!(status, StatusCode::CREATED);
    // Written against version 1 while 2 exists: refused with the current version.
    let (status, body) = put_backup(&ctl, ("alice", "laptop"), 1, "Aw==").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "stale_backup_version")
    );
    assert_eq!(body["error"]["details"]["current_version"], 2);
    let (status, body) = put_backup(&ctl, ("alice", "laptop"), 7, "Aw==").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "stale_backup_version")
    );
    assert_eq!(body["error"]["details"]["current_version"], 2);
    let (status, latest) = call(
        &ctl,
        ("alice", "laptop"),
        Method::GET,
        "/v1/keys/backups/latest",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(latest["version"], 2);
    assert_eq!(latest["payload"], "Ag==");
    assert_eq!(latest["size_bytes"], 1);
    // Backups are per user.
    let (status, _) = call(
        &ctl,
        ("bob", "phone"),
        Method::GET,
        "/v1/keys/backups/latest",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Concurrent writers of the same version: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..5u8 {
        let ctl = ctl.clone();
        tasks.push(tokio::spawn(async move {
            ctl.put_key_backup("alice", "laptop", 2, &b64(4, i))
                .await
                .map_err(|e| e.code())
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(backup) => {
                won += 1;
                assert_eq!(backup.version, 3);
            }
            Err(code) => assert_eq!(code, "stale_backup_version"),
        }
    }
    assert_eq!(won, 1);
    let (status, body) = put_backup(&ctl, ("alice", "laptop"), -1, "AQ==").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
}

async fn backup_size_cap_is_413(ctl: Control) {
    alice_and_bob(&ctl).await;
    let max = ctl.options().key_backup_max_bytes;
    let (status, body) = put_backup(&ctl, ("alice", "laptop"), 0, &b64(max, 1)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The limit applies to the text: `max` rounded up to whole base64 groups.
    let (status, body) = put_backup(&ctl, ("alice", "laptop"), 1, &b64(max + 3, 1)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    assert_eq!(body["error"]["details"]["max_bytes"], max);
    assert_eq!(body["error"]["details"]["max_chars"], max.div_ceil(3) * 4);
    // Far over the route's body limit: still the JSON 413.
    let (status, body) = put_backup(&ctl, ("alice", "laptop"), 1, &b64(max * 2, 1)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
}
