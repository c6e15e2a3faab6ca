//! Revocation and removal reach every live session, on SQLite and PostgreSQL: a revoked device's
//! realtime sessions end (and it cannot open a new one or replay), a member removed from a server
//! receives nothing more from its channels (live or replayed), and every instance on the database
//! publishes the change to its signaling sessions.

mod chat;
mod common;

use chat::{CHANNEL, Client, DEADLINE, SERVER, commit, dev, send, setup_with_group};
use control::{AccessChange, AdmissionError, Control, ControlOptions, DevicesError};
use serde_json::Value;

on_both_databases! {
    revoked_device_loses_its_sessions_and_cannot_come_back => prod,
    removed_member_receives_nothing_more_from_the_server => prod,
    room_access_follows_revocation_removal_and_bans => prod,
}

/// Reads frames until the session closes (the client's frame channel ends); returns them.
async fn frames_until_closed(client: &mut Client) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        match tokio::time::timeout(DEADLINE, client.recv_raw()).await {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return frames,
            Err(_) => panic!("the session did not close before the deadline: {frames:?}"),
        }
    }
}

async fn revoked_device_loses_its_sessions_and_cannot_come_back(ctl: Control) {
    setup_with_group(&ctl).await;
    let alice = dev("alice", "laptop");
    let phone = dev("alice", "phone");
    commit(&ctl, &alice, 2, std::slice::from_ref(&phone), &[])
        .await
        .expect("add alice's phone");
    let mut changes = ctl.access_changes();
    let mut on_phone = Client::connect(&ctl, phone.clone(), None);
    let mut on_laptop = Client::connect(&ctl, alice.clone(), None);
    on_phone.ready().await;
    on_laptop.ready().await;

    ctl.revoke_device("alice", "phone").await.expect("revoke");

    let frames = frames_until_closed(&mut on_phone).await;
    let last = frames.last().expect("a last frame");
    assert_eq!(last["type"], "error", "{frames:?}");
    assert_eq!(last["code"], "device_revoked");
    assert!(
        frames
            .iter()
            .any(|f| f["type"] == "event" && f["kind"] == "device_revoked"),
        "the device learns why: {frames:?}"
    );
    let event = on_laptop.next_event("device_revoked").await;
    assert_eq!(event["data"]["device_id"], "phone");
    let change = tokio::time::timeout(DEADLINE, changes.recv())
        .await
        .expect("an access change before the deadline")
        .expect("change");
    assert_eq!(
        change,
        AccessChange::DeviceRevoked {
            user_id: "alice".into(),
            device_id: "phone".into()
        }
    );

    // It cannot come back: a new session (with or without replay) is refused at once.
    for resume in [None, Some(0)] {
        let mut again = Client::connect(&ctl, phone.clone(), resume);
        let frames = frames_until_closed(&mut again).await;
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert_eq!(frames[0]["code"], "device_revoked");
    }
    assert!(matches!(
        ctl.authorize_device("alice", "phone").await,
        Err(DevicesError::DeviceRevoked)
    ));
    assert!(ctl.authorize_device("alice", "laptop").await.is_ok());
    assert!(
        ctl.authorize_device("alice", "never-seen").await.is_ok(),
        "an unknown device is not refused here (routes that need one register it)"
    );
    // Its group membership lasts until a commit removes it, yet nothing reaches it: the laptop
    // still gets what it sends.
    let sent = send(&ctl, &alice, "after-revoke", 3)
        .await
        .expect("send")
        .message;
    let event = on_laptop.next_event("message_created").await;
    assert_eq!(event["data"]["message"]["id"], sent.id.as_str());
    on_laptop.close().await;
}

async fn removed_member_receives_nothing_more_from_the_server(ctl: Control) {
    setup_with_group(&ctl).await;
    let alice = dev("alice", "laptop");
    let bob = dev("bob", "laptop");
    let mut changes = ctl.access_changes();
    let mut on_bob = Client::connect(&ctl, bob.clone(), None);
    on_bob.ready().await;
    let before = send(&ctl, &alice, "before", 2).await.expect("send").message;
    assert_eq!(
        on_bob.next_event("message_created").await["data"]["message"]["id"],
        before.id.as_str()
    );

    ctl.remove_member("alice", SERVER, "bob")
        .await
        .expect("remove bob");
    let removed = on_bob.next_event("member_removed").await;
    assert_eq!(removed["data"]["server_id"], SERVER);
    assert_eq!(removed["data"]["reason"], "removed");
    let change = tokio::time::timeout(DEADLINE, changes.recv())
        .await
        .expect("an access change before the deadline")
        .expect("change");
    assert_eq!(
        change,
        AccessChange::MemberRemoved {
            server_id: SERVER.into(),
            user_id: "bob".into()
        }
    );

    // bob/laptop is still in the group (a proposal awaits the next commit), yet a message sent
    // now does not reach him. Re-adding him afterwards is an event he does get: anything sent in
    // between would have come first.
    let after = send(&ctl, &alice, "after", 2).await.expect("send").message;
    ctl.add_member("alice", SERVER, "bob", None)
        .await
        .expect("re-add bob");
    let mut seen = Vec::new();
    loop {
        let frame = on_bob.next().await;
        if frame["kind"] == "member_added" {
            break;
        }
        seen.push(frame);
    }
    assert!(
        seen.iter().all(|f| f["kind"] != "message_created"),
        "nothing from the channel after the removal: {seen:?}"
    );
    on_bob.close().await;

    // While he was out, a new session replaying from the start got nothing of the channel.
    ctl.remove_member("alice", SERVER, "bob")
        .await
        .expect("remove bob again");
    let mut replay = Client::connect(&ctl, bob.clone(), Some(0));
    let (_, replayed) = replay.ready().await;
    assert!(
        replayed.iter().all(|f| f["data"]["channel_id"] != CHANNEL),
        "no replay of the channel for a former member: {replayed:?}"
    );
    assert!(
        replayed
            .iter()
            .all(|f| f["data"]["message"]["id"] != after.id.as_str()),
        "{replayed:?}"
    );
    replay.close().await;
}

async fn room_access_follows_revocation_removal_and_bans(ctl: Control) {
    setup_with_group(&ctl).await;
    let voice = control::NewChannel {
        id: Some("vc_room".into()),
        name: "room".into(),
        kind: control::ChannelKind::Voice,
    };
    ctl.create_channel("alice", SERVER, voice)
        .await
        .expect("voice channel");
    assert!(
        ctl.check_room_access("bob", "laptop", "vc_room")
            .await
            .is_ok()
    );
    ctl.revoke_device("bob", "phone").await.expect("revoke");
    assert!(matches!(
        ctl.check_room_access("bob", "phone", "vc_room").await,
        Err(AdmissionError::DeviceRevoked)
    ));
    ctl.ban_user(SERVER, "carol", None, Some("spam"))
        .await
        .expect("ban");
    assert!(matches!(
        ctl.check_room_access("carol", "laptop", "vc_room").await,
        Err(AdmissionError::Banned { .. })
    ));
    ctl.remove_member("alice", SERVER, "bob")
        .await
        .expect("remove");
    assert!(matches!(
        ctl.check_room_access("bob", "laptop", "vc_room").await,
        Err(AdmissionError::NotAMember)
    ));
    // A ticket request by a non-member looks exactly like one for a missing channel.
    assert!(matches!(
        ctl.admit_to_channel("bob", "vc_room", None).await,
        Err(AdmissionError::ChannelNotFound)
    ));
    assert!(matches!(
        ctl.admit_to_channel("dave", CHANNEL, None).await,
        Err(AdmissionError::ChannelNotFound)
    ));
}

/// Two instances on one database (as two openchatd processes): the change made on one ends the
/// session held by the other, and both publish it.
async fn across_instances(first: Control, second: Control) {
    setup_with_group(&first).await;
    let mut changes = second.access_changes();
    let mut on_second = Client::connect(&second, dev("bob", "laptop"), None);
    on_second.ready().await;
    first.revoke_device("bob", "laptop").await.expect("revoke");
    let frames = frames_until_closed(&mut on_second).await;
    assert_eq!(
        frames.last().expect("a frame")["code"],
        "device_revoked",
        "{frames:?}"
    );
    first
        .remove_member("alice", SERVER, "carol")
        .await
        .expect("remove carol");
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let change = tokio::time::timeout(DEADLINE, changes.recv())
            .await
            .expect("an access change before the deadline")
            .expect("change");
        seen.push(change);
    }
    assert_eq!(
        seen,
        vec![
            AccessChange::DeviceRevoked {
                user_id: "bob".into(),
                device_id: "laptop".into()
            },
            AccessChange::MemberRemoved {
                server_id: SERVER.into(),
                user_id: "carol".into()
            },
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_instances_on_one_postgres_database() {
    let Some((first, guard)) = control::testing::postgres_fresh().await else {
        return;
    };
    let second = Control::connect(guard.database_url(), ControlOptions::default())
        .await
        .expect("second instance");
    across_instances(first.clone(), second.clone()).await;
    first.close().await;
    second.close().await;
    guard.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_instances_on_one_sqlite_file() {
    let (first, guard) = control::testing::sqlite_temp().await;
    let second = Control::connect(guard.database_url(), ControlOptions::default())
        .await
        .expect("second instance");
    across_instances(first, second).await;
}
