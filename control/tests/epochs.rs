//! Channel epochs and the membership timeline, on SQLite and PostgreSQL.

mod chat;
mod common;

use chat::http as chat_http;
use chat::{CHANNEL, commit, dev, request, setup, setup_with_group};
use control::{CommitError, Control, DeviceRef, Welcome};

on_both_databases! {
    bootstrap_then_add_and_remove => prod,
    concurrent_conflicting_commits_exactly_one_wins => prod,
    sender_must_be_a_member_at_the_epoch => prod,
    added_devices_must_qualify => prod,
    pending_removal_must_be_committed => prod,
    welcomes_released_only_with_their_commit => prod,
    invalid_and_oversized_commits => prod,
}

async fn bootstrap_then_add_and_remove(ctl: Control) {
    setup(&ctl).await;
    let alice = dev("alice", "laptop");
    let first = commit(&ctl, &alice, 0, std::slice::from_ref(&alice), &[])
        .await
        .expect("bootstrap");
    assert_eq!(first.epoch, 1);
    let second = commit(
        &ctl,
        &alice,
        1,
        &[dev("bob", "laptop"), dev("alice", "phone")],
        &[],
    )
    .await
    .expect("add");
    assert_eq!(second.epoch, 2);
    let membership = ctl.membership("carol", CHANNEL).await.expect("membership");
    assert_eq!(membership.epoch, 2);
    let members: Vec<_> = membership
        .members
        .iter()
        .map(|m| (m.user_id.as_str(), m.device_id.as_str(), m.joined_epoch))
        .collect();
    assert_eq!(
        members,
        [
            ("alice", "laptop", 1),
            ("alice", "phone", 2),
            ("bob", "laptop", 2)
        ]
    );
    // bob removes alice's phone: members at epoch 3.
    commit(
        &ctl,
        &dev("bob", "laptop"),
        2,
        &[],
        &[dev("alice", "phone")],
    )
    .await
    .expect("remove");
    let membership = ctl.membership("bob", CHANNEL).await.expect("membership");
    assert_eq!(membership.epoch, 3);
    assert_eq!(membership.members.len(), 2);
    // A removed device can no longer commit.
    let err = commit(&ctl, &dev("alice", "phone"), 3, &[], &[])
        .await
        .expect_err("removed");
    assert!(matches!(err, CommitError::SenderNotMember), "{err:?}");
    // Non-members of the server do not see the channel.
    let err = ctl.membership("dave", CHANNEL).await.expect_err("hidden");
    assert_eq!(err.code(), "channel_not_found");
}

async fn concurrent_conflicting_commits_exactly_one_wins(ctl: Control) {
    setup_with_group(&ctl).await;
    let candidates = [
        (dev("alice", "laptop"), dev("alice", "phone")),
        (dev("bob", "laptop"), dev("bob", "phone")),
        (dev("alice", "laptop"), dev("carol", "laptop")),
        (dev("bob", "laptop"), dev("carol", "laptop")),
        (dev("alice", "laptop"), dev("bob", "phone")),
        (dev("bob", "laptop"), dev("alice", "phone")),
    ];
    let tasks: Vec<_> = candidates
        .into_iter()
        .map(|(sender, added)| {
            let ctl = ctl.clone();
            tokio::spawn(async move { commit(&ctl, &sender, 2, &[added], &[]).await })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(outcome) => {
                won += 1;
                assert_eq!(outcome.epoch, 3);
            }
            Err(CommitError::EpochConflict { current_epoch }) => assert_eq!(current_epoch, 3),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1);
    let membership = ctl.membership("alice", CHANNEL).await.expect("membership");
    assert_eq!(membership.epoch, 3);
    assert_eq!(membership.members.len(), 3, "{membership:?}");
    // A late commit for an old epoch is told the current one.
    let err = commit(&ctl, &dev("alice", "laptop"), 1, &[], &[])
        .await
        .expect_err("stale");
    assert!(
        matches!(err, CommitError::EpochConflict { current_epoch: 3 }),
        "{err:?}"
    );
}

async fn sender_must_be_a_member_at_the_epoch(ctl: Control) {
    setup_with_group(&ctl).await;
    // carol is in the server but her device is not in the group.
    let err = commit(&ctl, &dev("carol", "laptop"), 2, &[], &[])
        .await
        .expect_err("not a member");
    assert!(matches!(err, CommitError::SenderNotMember), "{err:?}");
    // Bootstrapping is only for an empty group.
    let carol = dev("carol", "laptop");
    let err = commit(&ctl, &carol, 2, std::slice::from_ref(&carol), &[])
        .await
        .expect_err("not empty");
    assert!(matches!(err, CommitError::SenderNotMember), "{err:?}");
    // dave is not in the server: the channel does not exist for him.
    let err = commit(&ctl, &dev("dave", "laptop"), 2, &[], &[])
        .await
        .expect_err("hidden");
    assert!(matches!(err, CommitError::ChannelNotFound), "{err:?}");
    // Nothing moved.
    assert_eq!(ctl.membership("alice", CHANNEL).await.expect("m").epoch, 2);
}

async fn added_devices_must_qualify(ctl: Control) {
    setup_with_group(&ctl).await;
    let alice = dev("alice", "laptop");
    let cases = [
        (dev("dave", "laptop"), "not_a_server_member"),
        (dev("carol", "tablet"), "unknown_device"),
        (dev("bob", "laptop"), "already_a_member"),
    ];
    for (device, reason) in cases {
        let err = commit(&ctl, &alice, 2, std::slice::from_ref(&device), &[])
            .await
            .expect_err("refused");
        match err {
            CommitError::InvalidChange {
                device: d,
                reason: r,
            } => {
                assert_eq!((d, r), (device, reason));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let err = commit(&ctl, &alice, 2, &[], &[dev("carol", "laptop")])
        .await
        .expect_err("not a member");
    assert!(
        matches!(
            err,
            CommitError::InvalidChange {
                reason: "not_a_member",
                ..
            }
        ),
        "{err:?}"
    );
    // A refused commit leaves no trace: the epoch is still free.
    commit(&ctl, &alice, 2, &[dev("carol", "laptop")], &[])
        .await
        .expect("valid commit");
}

async fn pending_removal_must_be_committed(ctl: Control) {
    setup_with_group(&ctl).await;
    let bob = dev("bob", "laptop");
    let alice = dev("alice", "laptop");
    let proposal = ctl
        .propose_device_removal(CHANNEL, &bob, Some("spam"))
        .await
        .expect("proposal");
    // Idempotent.
    let again = ctl
        .propose_device_removal(CHANNEL, &bob, None)
        .await
        .expect("again");
    assert_eq!(again.id, proposal.id);
    // Only owners and moderators may propose over HTTP rules.
    let err = ctl
        .propose_removal_as("bob", CHANNEL, &alice, None)
        .await
        .expect_err("member");
    assert_eq!(err.code(), "forbidden");

    let err = commit(&ctl, &alice, 2, &[dev("carol", "laptop")], &[])
        .await
        .expect_err("omits the removal");
    match err {
        CommitError::PendingProposalsOmitted { missing } => {
            assert_eq!(missing.len(), 1);
            assert_eq!(missing[0].id, proposal.id);
        }
        other => panic!("unexpected {other:?}"),
    }
    // Listing the proposal without removing the device is refused too.
    let mut req = request(2, &[], &[]);
    req.proposal_ids = vec![proposal.id.clone()];
    let err = ctl
        .commit_membership(&alice, CHANNEL, req)
        .await
        .expect_err("not applied");
    assert!(
        matches!(
            err,
            CommitError::InvalidChange {
                reason: "proposal_not_applied",
                ..
            }
        ),
        "{err:?}"
    );
    let membership = ctl.membership("alice", CHANNEL).await.expect("m");
    assert_eq!(membership.pending_proposals.len(), 1);

    let mut req = request(2, &[], std::slice::from_ref(&bob));
    req.proposal_ids = vec![proposal.id.clone()];
    let outcome = ctl
        .commit_membership(&alice, CHANNEL, req)
        .await
        .expect("carried out");
    assert_eq!(outcome.epoch, 3);
    let membership = ctl.membership("alice", CHANNEL).await.expect("m");
    assert!(membership.pending_proposals.is_empty());
    assert_eq!(membership.members.len(), 1);
    // A revoked device: one call proposes its removal everywhere it is a member.
    let proposals = ctl
        .propose_removals_for_device(&alice, Some("revoked"))
        .await
        .expect("proposals");
    assert_eq!(proposals.len(), 1);
    assert_eq!(proposals[0].channel_id, CHANNEL);
    // A removal of a non-member cannot be proposed.
    let err = ctl
        .propose_device_removal(CHANNEL, &bob, None)
        .await
        .expect_err("gone");
    assert_eq!(err.code(), "not_a_channel_member");
}

async fn welcomes_released_only_with_their_commit(ctl: Control) {
    setup_with_group(&ctl).await;
    let alice = dev("alice", "laptop");
    let carol = dev("carol", "laptop");
    let welcome = Welcome {
        user_id: "carol".into(),
        device_id: "laptop".into(),
        welcome: "d2VsY29tZQ==".into(),
    };
    // Refused (stale epoch): no welcome is stored.
    let mut req = request(1, std::slice::from_ref(&carol), &[]);
    req.welcomes = vec![welcome.clone()];
    let err = ctl
        .commit_membership(&alice, CHANNEL, req)
        .await
        .expect_err("stale");
    assert!(matches!(
        err,
        CommitError::EpochConflict { current_epoch: 2 }
    ));
    let (status, _) = chat_http::get(&ctl, &carol, "/v1/channels/tc_chat/welcome").await;
    assert_eq!(status, 404);

    let mut req = request(2, std::slice::from_ref(&carol), &[]);
    req.welcomes = vec![welcome];
    ctl.commit_membership(&alice, CHANNEL, req)
        .await
        .expect("accepted");
    let (status, body) = chat_http::get(&ctl, &carol, "/v1/channels/tc_chat/welcome").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["welcome"], "d2VsY29tZQ==");
    assert_eq!(body["epoch"], 3);
}

async fn invalid_and_oversized_commits(ctl: Control) {
    setup_with_group(&ctl).await;
    let alice = dev("alice", "laptop");
    let mut req = request(2, &[], &[]);
    req.commit = "not base64!".into();
    let err = ctl
        .commit_membership(&alice, CHANNEL, req)
        .await
        .expect_err("bad");
    assert_eq!(err.code(), "invalid_request");
    let mut req = request(2, &[], &[]);
    // Over 64 KiB rounded up to whole base64 groups (the limit applies to the text).
    req.commit = base64_of_len(64 * 1024 + 3);
    let err = ctl
        .commit_membership(&alice, CHANNEL, req)
        .await
        .expect_err("big");
    assert_eq!(err.code(), "payload_too_large");
    // Welcome for a device that is not added.
    let mut req = request(2, &[], &[]);
    req.welcomes = vec![Welcome {
        user_id: "carol".into(),
        device_id: "laptop".into(),
        welcome: "eA==".into(),
    }];
    let err = ctl
        .commit_membership(&alice, CHANNEL, req)
        .await
        .expect_err("stray welcome");
    // Schema-valid, refused by a rule across fields: 422, not 400.
    assert_eq!(err.code(), "invalid_membership_change");
    // A device both added and removed.
    let carol = DeviceRef::new("carol", "laptop");
    let mut req = request(2, &[], &[]);
    req.added = vec![carol.clone()];
    req.removed = vec![carol];
    let err = ctl
        .commit_membership(&alice, CHANNEL, req)
        .await
        .expect_err("listed twice");
    assert_eq!(err.code(), "invalid_membership_change");

    // Over HTTP: 409 with the current epoch in details; garbage is a 400, never a 500.
    let (status, body) = chat_http::post(
        &ctl,
        &alice,
        "/v1/channels/tc_chat/membership/commit",
        serde_json::json!({"epoch": 0, "commit": "eA=="}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "epoch_conflict");
    assert_eq!(body["error"]["details"]["current_epoch"], 2);
    let (status, body) = chat_http::post_raw(
        &ctl,
        &alice,
        "/v1/channels/tc_chat/membership/commit",
        "{not json",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = chat_http::post(
        &ctl,
        &dev("dave", "laptop"),
        "/v1/channels/tc_chat/membership/commit",
        serde_json::json!({"epoch": 2, "commit": "eA=="}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "channel_not_found");
    let (status, body) = chat_http::post(
        &ctl,
        &alice,
        "/v1/channels/tc_chat/membership/commit",
        serde_json::json!({"epoch": 2, "commit": "eA=="}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["epoch"], 3);
}

/// A base64 string decoding to `len` bytes.
fn base64_of_len(len: usize) -> String {
    let full = len / 3;
    let mut s = "AAAA".repeat(full);
    match len % 3 {
        1 => s.push_str("AA=="),
        2 => s.push_str("AAA="),
        _ => {}
    }
    s
}
