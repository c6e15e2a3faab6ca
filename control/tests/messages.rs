//! Messages (E2EE envelopes) and history, on SQLite and PostgreSQL.

mod chat;
mod common;

use std::time::Duration;

use chat::http as chat_http;
use chat::{CHANNEL, commit, dev, message, send, setup_with_group};
use control::{ContentType, Control, HistoryDirection, HistoryQuery, SendError};
use serde_json::json;

on_both_databases! {
    retried_send_returns_the_original => prod,
    history_is_bound_to_membership => prod,
    history_pages_both_ways => prod,
    stale_and_future_epochs_are_refused => prod,
    sender_must_be_a_current_member => prod,
    size_caps => prod,
    edits_deletes_and_reactions => prod,
    concurrent_sends_get_distinct_positions => prod,
}

fn query(cursor: Option<&str>, limit: i64, direction: HistoryDirection) -> HistoryQuery {
    HistoryQuery {
        cursor: cursor.map(str::to_owned),
        limit: Some(limit),
        direction,
    }
}

async fn visible(ctl: &Control, user: &str, device: &str) -> Vec<String> {
    ctl.history(
        &dev(user, device),
        CHANNEL,
        query(None, 200, HistoryDirection::Forward),
    )
    .await
    .expect("history")
    .messages
    .into_iter()
    .map(|m| m.client_message_id)
    .collect()
}

async fn retried_send_returns_the_original(ctl: Control) {
    setup_with_group(&ctl).await;
    let alice = dev("alice", "laptop");
    let first = send(&ctl, &alice, "m-1", 2).await.expect("send");
    assert!(first.created);
    let retry = send(&ctl, &alice, "m-1", 2).await.expect("retry");
    assert!(!retry.created);
    assert_eq!(retry.message, first.message);
    // Concurrent retries: still one message.
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (ctl, alice) = (ctl.clone(), alice.clone());
            tokio::spawn(async move { send(&ctl, &alice, "m-2", 2).await })
        })
        .collect();
    let mut ids = Vec::new();
    let mut created = 0;
    for task in tasks {
        let outcome = task.await.expect("task").expect("send");
        created += usize::from(outcome.created);
        ids.push(outcome.message.id);
    }
    assert_eq!(created, 1);
    ids.dedup();
    assert_eq!(ids.len(), 1);
    assert_eq!(visible(&ctl, "alice", "laptop").await, ["m-1", "m-2"]);
    // A retry after the epoch moved on still returns the original.
    commit(&ctl, &alice, 2, &[dev("carol", "laptop")], &[])
        .await
        .expect("commit");
    commit(&ctl, &alice, 3, &[dev("alice", "phone")], &[])
        .await
        .expect("commit");
    let late = send(&ctl, &alice, "m-1", 2).await.expect("late retry");
    assert_eq!(late.message, first.message);
    // The same id with another envelope is a conflict, not an overwrite.
    let err = ctl
        .send_message(&alice, CHANNEL, message("m-1", 2, "b3RoZXI="))
        .await
        .expect_err("reused");
    assert!(matches!(err, SendError::ClientMessageIdReused), "{err:?}");
    // Over HTTP: 201 then 200 with the same message.
    let body = json!({"client_message_id": "m-3", "epoch": 4, "ciphertext": "aGk="});
    let uri = "/v1/channels/tc_chat/messages";
    let (status, created) = chat_http::post(&ctl, &alice, uri, body.clone()).await;
    assert_eq!(status, 201, "{created}");
    let (status, again) = chat_http::post(&ctl, &alice, uri, body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(created, again);
}

async fn history_is_bound_to_membership(ctl: Control) {
    setup_with_group(&ctl).await; // epoch 2: alice/laptop, bob/laptop
    let alice = dev("alice", "laptop");
    send(&ctl, &alice, "before-carol", 2).await.expect("send");
    commit(&ctl, &alice, 2, &[dev("carol", "laptop")], &[])
        .await
        .expect("add carol");
    send(&ctl, &alice, "with-carol", 3).await.expect("send");
    commit(&ctl, &alice, 3, &[], &[dev("carol", "laptop")])
        .await
        .expect("remove carol");
    send(&ctl, &alice, "after-carol", 4).await.expect("send");
    commit(&ctl, &alice, 4, &[dev("carol", "laptop")], &[])
        .await
        .expect("carol back");
    send(&ctl, &alice, "carol-back", 5).await.expect("send");

    assert_eq!(
        visible(&ctl, "alice", "laptop").await,
        ["before-carol", "with-carol", "after-carol", "carol-back"]
    );
    assert_eq!(
        visible(&ctl, "carol", "laptop").await,
        ["with-carol", "carol-back"]
    );
    // Another device of a member user sees nothing it was not a member for.
    assert!(visible(&ctl, "alice", "phone").await.is_empty());
    // Non-members of the server: 404.
    let err = ctl
        .history(
            &dev("dave", "laptop"),
            CHANNEL,
            query(None, 10, HistoryDirection::Backward),
        )
        .await
        .expect_err("hidden");
    assert_eq!(err.code(), "channel_not_found");
    let (status, body) =
        chat_http::get(&ctl, &dev("dave", "laptop"), "/v1/channels/tc_chat/history").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = chat_http::get(
        &ctl,
        &dev("carol", "laptop"),
        "/v1/channels/tc_chat/history?direction=forward",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["messages"].as_array().map(Vec::len), Some(2));
}

async fn history_pages_both_ways(ctl: Control) {
    setup_with_group(&ctl).await;
    let alice = dev("alice", "laptop");
    for i in 0..7 {
        send(&ctl, &alice, &format!("m{i}"), 2).await.expect("send");
    }
    let bob = dev("bob", "laptop");
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = ctl
            .history(
                &bob,
                CHANNEL,
                query(cursor.as_deref(), 3, HistoryDirection::Forward),
            )
            .await
            .expect("page");
        seen.extend(page.messages.iter().map(|m| m.client_message_id.clone()));
        if !page.has_more {
            break;
        }
        cursor = page.next_cursor;
    }
    assert_eq!(seen, ["m0", "m1", "m2", "m3", "m4", "m5", "m6"]);

    let newest = ctl
        .history(&bob, CHANNEL, query(None, 3, HistoryDirection::Backward))
        .await
        .expect("page");
    let ids: Vec<_> = newest
        .messages
        .iter()
        .map(|m| m.client_message_id.as_str())
        .collect();
    assert_eq!(ids, ["m6", "m5", "m4"]);
    assert!(newest.has_more);
    let older = ctl
        .history(
            &bob,
            CHANNEL,
            query(
                newest.next_cursor.as_deref(),
                10,
                HistoryDirection::Backward,
            ),
        )
        .await
        .expect("page");
    let ids: Vec<_> = older
        .messages
        .iter()
        .map(|m| m.client_message_id.as_str())
        .collect();
    assert_eq!(ids, ["m3", "m2", "m1", "m0"]);
    assert!(!older.has_more);

    for bad in [
        "/v1/channels/tc_chat/history?limit=0",
        "/v1/channels/tc_chat/history?limit=201",
        "/v1/channels/tc_chat/history?cursor=abc",
        "/v1/channels/tc_chat/history?direction=sideways",
        "/v1/channels/tc_chat/history?limit=x",
    ] {
        let (status, body) = chat_http::get(&ctl, &bob, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_request");
    }
}

async fn stale_and_future_epochs_are_refused(ctl: Control) {
    setup_with_group(&ctl).await; // epoch 2
    let alice = dev("alice", "laptop");
    commit(&ctl, &alice, 2, &[dev("carol", "laptop")], &[])
        .await
        .expect("epoch 3");
    // One epoch behind, just after the commit: accepted (in flight during the commit).
    send(&ctl, &alice, "grace", 2).await.expect("grace window");
    // Two behind: stale.
    let err = send(&ctl, &alice, "old", 1).await.expect_err("stale");
    assert!(
        matches!(err, SendError::StaleEpoch { current_epoch: 3 }),
        "{err:?}"
    );
    // Ahead: unknown.
    let err = send(&ctl, &alice, "future", 4).await.expect_err("future");
    assert!(
        matches!(err, SendError::UnknownEpoch { current_epoch: 3 }),
        "{err:?}"
    );
    // Once the grace window has passed, one behind is stale too.
    ctl.testing_advance_clock(Duration::from_secs(31));
    let err = send(&ctl, &alice, "late", 2).await.expect_err("stale");
    assert!(
        matches!(err, SendError::StaleEpoch { current_epoch: 3 }),
        "{err:?}"
    );
    // carol joined at 3: she cannot send for epoch 2 even inside the window.
    commit(&ctl, &alice, 3, &[dev("bob", "phone")], &[])
        .await
        .expect("epoch 4");
    let err = send(&ctl, &dev("carol", "laptop"), "c", 3).await;
    assert!(err.is_ok(), "{err:?}");
    let err = send(&ctl, &dev("bob", "phone"), "p", 3)
        .await
        .expect_err("joined at 4");
    assert!(matches!(err, SendError::NotAMember), "{err:?}");

    let (status, body) = chat_http::post(
        &ctl,
        &alice,
        "/v1/channels/tc_chat/messages",
        json!({"client_message_id": "h", "epoch": 1, "ciphertext": "aGk="}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "stale_epoch");
    assert_eq!(body["error"]["details"]["current_epoch"], 4);
}

async fn sender_must_be_a_current_member(ctl: Control) {
    setup_with_group(&ctl).await;
    let alice = dev("alice", "laptop");
    // carol is in the server, not in the group.
    let err = send(&ctl, &dev("carol", "laptop"), "c", 2)
        .await
        .expect_err("not in group");
    assert!(matches!(err, SendError::NotAMember), "{err:?}");
    // dave is not in the server at all: 404.
    let err = send(&ctl, &dev("dave", "laptop"), "d", 2)
        .await
        .expect_err("hidden");
    assert!(matches!(err, SendError::ChannelNotFound), "{err:?}");
    // bob removed: refused from then on, even for the previous epoch.
    commit(&ctl, &alice, 2, &[], &[dev("bob", "laptop")])
        .await
        .expect("remove bob");
    let err = send(&ctl, &dev("bob", "laptop"), "b", 2)
        .await
        .expect_err("removed");
    assert!(matches!(err, SendError::NotAMember), "{err:?}");
    let (status, body) = chat_http::post(
        &ctl,
        &dev("bob", "laptop"),
        "/v1/channels/tc_chat/messages",
        json!({"client_message_id": "b", "epoch": 3, "ciphertext": "aGk="}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "not_a_channel_member");
}

async fn size_caps(ctl: Control) {
    setup_with_group(&ctl).await;
    let alice = dev("alice", "laptop");
    // 21845 * 3 + 1 = 65536 bytes: exactly 64 KiB.
    let at_cap = message("cap", 2, &("AAAA".repeat(21845) + "AA=="));
    ctl.send_message(&alice, CHANNEL, at_cap)
        .await
        .expect("64 KiB exactly");
    // The limit applies to the text (`control::payload`): 64 KiB rounded up to whole base64
    // groups, 87,384 characters (65,538 bytes), passes; one group more does not.
    let at_text_cap = message("text-cap", 2, &"AAAA".repeat(21846));
    ctl.send_message(&alice, CHANNEL, at_text_cap)
        .await
        .expect("87,384 characters");
    let over = message("over", 2, &("AAAA".repeat(21846) + "AA==")); // 65539
    let err = ctl
        .send_message(&alice, CHANNEL, over)
        .await
        .expect_err("too big");
    assert!(matches!(err, SendError::PayloadTooLarge), "{err:?}");

    let uri = "/v1/channels/tc_chat/messages";
    let (status, body) = chat_http::post(
        &ctl,
        &alice,
        uri,
        json!({"client_message_id": "o", "epoch": 2,
               "ciphertext": "AAAA".repeat(21846) + "AA=="}),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    // A body far over the cap is refused before parsing.
    let (status, body) = chat_http::post(
        &ctl,
        &alice,
        uri,
        json!({"client_message_id": "o", "epoch": 2, "ciphertext": "A".repeat(1 << 20)}),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    // Metadata over 1 KiB.
    let (status, body) = chat_http::post(
        &ctl,
        &alice,
        uri,
        json!({"client_message_id": "o", "epoch": 2, "ciphertext": "aGk=",
               "metadata": {"k": "x".repeat(2000)}}),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    // Garbage is 400, never 500.
    for bad in [
        json!({"client_message_id": "o", "epoch": 2, "ciphertext": "%%%"}),
        json!({"client_message_id": "a b", "epoch": 2, "ciphertext": "aGk="}),
        json!({"client_message_id": "o", "epoch": 2, "ciphertext": "aGk=", "metadata": [1]}),
        json!({"client_message_id": "o", "epoch": 2, "ciphertext": "aGk=", "extra": 1}),
        json!({"client_message_id": "o", "epoch": "two", "ciphertext": "aGk="}),
        json!({"client_message_id": "o", "epoch": 2, "ciphertext": "aGk=",
               "content_type": "poll"}),
    ] {
        let (status, body) = chat_http::post(&ctl, &alice, uri, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

async fn edits_deletes_and_reactions(ctl: Control) {
    setup_with_group(&ctl).await;
    let alice = dev("alice", "laptop");
    let bob = dev("bob", "laptop");
    let original = send(&ctl, &alice, "orig", 2).await.expect("send").message;
    let envelope = |id: &str, content_type, refers_to: Option<&str>| {
        let mut m = message(id, 2, "ZWRpdA==");
        m.content_type = content_type;
        m.refers_to = refers_to.map(str::to_owned);
        m
    };
    ctl.send_message(
        &alice,
        CHANNEL,
        envelope("e1", ContentType::Edit, Some(&original.id)),
    )
    .await
    .expect("edit");
    ctl.send_message(
        &bob,
        CHANNEL,
        envelope("r1", ContentType::Reaction, Some(&original.id)),
    )
    .await
    .expect("reaction");
    let err = ctl
        .send_message(
            &bob,
            CHANNEL,
            envelope("d0", ContentType::Delete, Some(&original.id)),
        )
        .await
        .expect_err("not the author");
    assert!(matches!(err, SendError::NotTheAuthor), "{err:?}");
    let err = ctl
        .send_message(
            &bob,
            CHANNEL,
            envelope("x", ContentType::Reaction, Some("msg_nope")),
        )
        .await
        .expect_err("unknown target");
    assert!(matches!(err, SendError::ReferenceNotFound), "{err:?}");
    let err = ctl
        .send_message(&bob, CHANNEL, envelope("x", ContentType::Edit, None))
        .await
        .expect_err("needs a target");
    assert!(matches!(err, SendError::Invalid(_)), "{err:?}");
    // The author deletes from another device: the original becomes a tombstone.
    ctl.commit_membership(
        &alice,
        CHANNEL,
        chat::request(2, &[dev("alice", "phone")], &[]),
    )
    .await
    .expect("add phone");
    let mut delete = envelope("d1", ContentType::Delete, Some(&original.id));
    delete.epoch = 3;
    delete.ciphertext = String::new();
    ctl.send_message(&dev("alice", "phone"), CHANNEL, delete)
        .await
        .expect("delete");
    let page = ctl
        .history(&bob, CHANNEL, query(None, 10, HistoryDirection::Forward))
        .await
        .expect("history");
    let kinds: Vec<_> = page
        .messages
        .iter()
        .map(|m| (m.client_message_id.as_str(), m.content_type))
        .collect();
    assert_eq!(
        kinds,
        [
            ("orig", ContentType::Message),
            ("e1", ContentType::Edit),
            ("r1", ContentType::Reaction),
            ("d1", ContentType::Delete),
        ]
    );
    let tombstone = &page.messages[0];
    assert!(tombstone.ciphertext.is_none());
    assert!(tombstone.deleted_at.is_some());
}

async fn concurrent_sends_get_distinct_positions(ctl: Control) {
    setup_with_group(&ctl).await;
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let ctl = ctl.clone();
            let sender = if i % 2 == 0 {
                dev("alice", "laptop")
            } else {
                dev("bob", "laptop")
            };
            tokio::spawn(async move { send(&ctl, &sender, &format!("c{i}"), 2).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("send");
    }
    let page = ctl
        .history(
            &dev("bob", "laptop"),
            CHANNEL,
            query(None, 100, HistoryDirection::Forward),
        )
        .await
        .expect("history");
    let seqs: Vec<i64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=16).collect::<Vec<_>>());
}
