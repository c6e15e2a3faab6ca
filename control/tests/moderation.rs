//! Moderation over HTTP on both databases: the policy, the role x action matrix, report bundles,
//! what bans and timeouts refuse, votes (two deciding votes at once execute the action once),
//! expiry, lapses, the audit log, and the events live sessions are ended or muted by.

mod api;
mod chat;
mod common;

use std::time::Duration;

use api::{call, code};
use axum::http::{Method, StatusCode};
use chat::{SERVER, dev, send, setup_with_group};
use control::{AccessChange, ActionKind, Control, Role};
use serde_json::{Value, json};

on_both_databases! {
    policy_is_read_by_members_and_set_by_the_owner => prod,
    the_role_action_matrix => prod,
    no_one_moderates_the_owner_or_their_equals => prod,
    report_bundles_are_checked_and_kept_for_readers => prod,
    bans_and_timeouts_refuse_sends_commits_and_tickets => prod,
    two_deciding_votes_at_once_execute_once => prod,
    proposals_expire_and_restrictions_lapse => prod,
    the_audit_log_has_one_entry_per_action => prod,
    moderation_reaches_live_sessions_as_access_changes => prod,
    a_deleted_message_is_a_tombstone => prod,
}

/// `alice` owns `srv_chat`; `maya` and `max` are moderators; bob and carol members.
async fn moderated(ctl: &Control) {
    setup_with_group(ctl).await;
    for user in ["maya", "max"] {
        ctl.add_member("alice", SERVER, user, Some(Role::Moderator))
            .await
            .expect("moderator");
    }
}

async fn as_(
    ctl: &Control,
    who: &str,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call(ctl, (who, "laptop"), method, uri, body).await
}

/// Opens a case about `target` as `who`; returns its id.
async fn case(ctl: &Control, who: &str, target: &str) -> String {
    let (status, body) = as_(
        ctl,
        who,
        Method::POST,
        "/v1/moderation/cases",
        Some(json!({"server_id": SERVER, "target_user_id": target, "reason": "spam"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["case_id"].as_str().expect("case id").to_owned()
}

async fn act(ctl: &Control, who: &str, case_id: &str, action: Value) -> (StatusCode, Value) {
    as_(
        ctl,
        who,
        Method::POST,
        &format!("/v1/moderation/cases/{case_id}/actions/immediate"),
        Some(json!({ "action": action })),
    )
    .await
}

async fn audit(ctl: &Control, who: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let uri = match &cursor {
            Some(c) => format!("/v1/moderation/audit?server_id={SERVER}&limit=3&cursor={c}"),
            None => format!("/v1/moderation/audit?server_id={SERVER}&limit=3"),
        };
        let (status, body) = as_(ctl, who, Method::GET, &uri, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        entries.extend(body["entries"].as_array().expect("entries").iter().cloned());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return entries,
        }
    }
}

async fn policy_is_read_by_members_and_set_by_the_owner(ctl: Control) {
    moderated(&ctl).await;
    let uri = format!("/v1/moderation/policy?server_id={SERVER}");
    let (status, body) = as_(&ctl, "carol", Method::GET, &uri, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["policy"]["immediate"]["ban"], "owner");
    let (status, body) = as_(&ctl, "dave", Method::GET, &uri, None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "server_not_found")
    );

    let mut policy = body_policy(&ctl).await;
    policy["immediate"]["ban"] = json!("moderator");
    policy["quorum"] = json!(3);
    let put = |who: &'static str, policy: Value| {
        let ctl = ctl.clone();
        async move {
            as_(
                &ctl,
                who,
                Method::PUT,
                "/v1/moderation/policy",
                Some(json!({"server_id": SERVER, "policy": policy})),
            )
            .await
        }
    };
    let (status, body) = put("maya", policy.clone()).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let mut bad = policy.clone();
    bad["threshold_percent"] = json!(0);
    let (status, body) = put("alice", bad).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert!(
        body["error"]["details"]["fields"]["threshold_percent"].is_string(),
        "{body}"
    );
    let mut unknown = policy.clone();
    unknown["surprise"] = json!(true);
    let (status, _) = put("alice", unknown).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = put("alice", policy.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body_policy(&ctl).await, policy);
    let log = audit(&ctl, "maya").await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["kind"], "policy_updated");
    assert_eq!(log[0]["actor"], "alice");
}

async fn body_policy(ctl: &Control) -> Value {
    let uri = format!("/v1/moderation/policy?server_id={SERVER}");
    let (status, body) = as_(ctl, "alice", Method::GET, &uri, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["policy"].clone()
}

async fn the_role_action_matrix(ctl: Control) {
    moderated(&ctl).await;
    // A banned user: "eve" was a member and is banned now.
    ctl.add_member("alice", SERVER, "eve", Some(Role::Member))
        .await
        .expect("member");
    let about_eve = case(&ctl, "alice", "eve").await;
    let (status, body) = act(&ctl, "alice", &about_eve, json!({"kind": "ban"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let actions = ["warn", "mute", "timeout", "kick", "ban"];
    // Per actor: the expected status of each action (default policy).
    let rows: [(&str, [u16; 5]); 5] = [
        ("alice", [201, 201, 201, 201, 201]),
        ("maya", [201, 201, 201, 201, 403]),
        ("carol", [403, 403, 403, 403, 403]),
        ("dave", [404, 404, 404, 404, 404]),
        ("eve", [404, 404, 404, 404, 404]),
    ];
    let mut n = 0;
    for (actor, expected) in rows {
        for (kind, want) in actions.iter().zip(expected) {
            n += 1;
            let target = format!("t{n}");
            ctl.add_member("alice", SERVER, &target, Some(Role::Member))
                .await
                .expect("target");
            let case_id = case(&ctl, "alice", &target).await;
            let (status, body) = act(&ctl, actor, &case_id, json!({"kind": kind})).await;
            assert_eq!(status.as_u16(), want, "{actor} {kind}: {body}");
            let expected_code = match want {
                403 => Some("forbidden"),
                404 => Some("case_not_found"),
                _ => None,
            };
            if let Some(c) = expected_code {
                assert_eq!(code(&body), c, "{actor} {kind}");
            } else {
                assert_eq!(body["kind"], *kind);
                assert_eq!(body["actor_user_id"], actor);
            }
        }
    }
}

async fn no_one_moderates_the_owner_or_their_equals(ctl: Control) {
    moderated(&ctl).await;
    let about_alice = case(&ctl, "maya", "alice").await;
    let (status, body) = act(&ctl, "maya", &about_alice, json!({"kind": "warn"})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "invalid_target")
    );
    let about_max = case(&ctl, "maya", "max").await;
    let (status, body) = act(&ctl, "maya", &about_max, json!({"kind": "mute"})).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    // The owner may take a moderator's role away; a moderator may not.
    let (status, body) = act(&ctl, "maya", &about_max, json!({"kind": "remove_role"})).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, body) = act(&ctl, "alice", &about_max, json!({"kind": "remove_role"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        ctl.member_role(SERVER, "max").await.expect("role"),
        Some(Role::Member)
    );
    // Fields an action does not take, and ones it needs.
    let about_bob = case(&ctl, "maya", "bob").await;
    for bad in [
        json!({"kind": "warn", "duration_secs": 60}),
        json!({"kind": "delete_message"}),
        json!({"kind": "mute", "duration_secs": 0}),
        json!({"kind": "mute", "message_id": "msg_x"}),
        json!({"kind": "explode"}),
    ] {
        let (status, body) = act(&ctl, "maya", &about_bob, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(code(&body), "invalid_request");
    }
    // Nothing to lift.
    let (status, body) = act(&ctl, "maya", &about_bob, json!({"kind": "unmute"})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "nothing_to_lift")
    );
    // A case about yourself.
    let (status, body) = as_(
        &ctl,
        "bob",
        Method::POST,
        "/v1/moderation/cases",
        Some(json!({"server_id": SERVER, "target_user_id": "bob", "reason": "me"})),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "invalid_target")
    );
}

async fn report_bundles_are_checked_and_kept_for_readers(ctl: Control) {
    moderated(&ctl).await;
    // alice/laptop and bob/laptop are in the group from epoch 2; carol has no device in it.
    let sent = send(&ctl, &dev("alice", "laptop"), "c1", 2)
        .await
        .expect("sent");
    let message_id = sent.message.id.clone();
    let report = |message_id: &str| {
        json!({"server_id": SERVER, "target_user_id": "alice", "reason": "abuse",
               "report": {"messages": [{"message_id": message_id, "plaintext": "you are a ...",
                                        "key_material": "a2V5"}]}})
    };
    let open = |who: &'static str, body: Value| {
        let ctl = ctl.clone();
        async move { as_(&ctl, who, Method::POST, "/v1/moderation/cases", Some(body)).await }
    };
    let (status, body) = open("bob", report("msg_nope")).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "message_not_found")
    );
    let (status, body) = open("carol", report(&message_id)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "not_member_at_epoch")
    );
    let (status, body) = open("bob", report(&message_id)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let case_id = body["case_id"].as_str().expect("id").to_owned();
    assert_eq!(body["report"]["messages"][0]["plaintext"], "you are a ...");
    // A moderator reads the bundle; a member who did not open it does not see the case.
    let uri = format!("/v1/moderation/cases/{case_id}");
    let (status, body) = as_(&ctl, "maya", Method::GET, &uri, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["report"]["messages"][0]["key_material"], "a2V5");
    let (status, body) = as_(&ctl, "carol", Method::GET, &uri, None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "case_not_found")
    );
    // Only the owner reads bundles now: the moderator sees that there is one, not what.
    let mut policy = body_policy(&ctl).await;
    policy["bundle_reader_role"] = json!("owner");
    policy["allow_disclosure"] = json!(false);
    let (status, body) = as_(
        &ctl,
        "alice",
        Method::PUT,
        "/v1/moderation/policy",
        Some(json!({"server_id": SERVER, "policy": policy})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = as_(&ctl, "maya", Method::GET, &uri, None).await;
    assert_eq!(body["has_report"], true);
    assert!(body.get("report").is_none(), "{body}");
    let (status, body) = open("bob", report(&message_id)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "disclosure_not_allowed")
    );
    // Ids alone are still a report.
    let ids_only = json!({"server_id": SERVER, "target_user_id": "alice", "reason": "abuse",
                          "report": {"messages": [{"message_id": message_id}]}});
    let (status, body) = open("bob", ids_only).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Listing: moderators see every case, bob his own two, carol none.
    let list = |who: &'static str| {
        let ctl = ctl.clone();
        async move {
            let uri = format!("/v1/moderation/cases?server_id={SERVER}&limit=1");
            let (status, body) = as_(&ctl, who, Method::GET, &uri, None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };
    let first = list("maya").await;
    assert_eq!(first["cases"].as_array().expect("cases").len(), 1);
    assert!(first["next_cursor"].is_string(), "{first}");
    assert_eq!(list("carol").await["cases"], json!([]));
}

async fn bans_and_timeouts_refuse_sends_commits_and_tickets(ctl: Control) {
    moderated(&ctl).await;
    let bob = dev("bob", "laptop");
    let about_bob = case(&ctl, "maya", "bob").await;
    let (status, body) = act(
        &ctl,
        "maya",
        &about_bob,
        json!({"kind": "timeout", "duration_secs": 3600, "reason": "cool down"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let until = body["ends_at"].as_i64().expect("ends_at");
    let refused = send(&ctl, &bob, "b1", 2).await.expect_err("timed out");
    assert_eq!(refused.code(), "timed_out");
    let (status, body) = chat::http::post(
        &ctl,
        &bob,
        &format!("/v1/channels/{}/messages", chat::CHANNEL),
        serde_json::to_value(chat::message("b2", 2, "aGk=")).expect("json"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(code(&body), "timed_out");
    assert_eq!(body["error"]["details"]["until"], until);
    let commit = chat::commit(&ctl, &bob, 2, &[dev("bob", "phone")], &[])
        .await
        .expect_err("timed out");
    assert_eq!(commit.code(), "timed_out");
    // Join tickets: the voice channel of the server refuses too.
    ctl.create_channel(
        "alice",
        SERVER,
        control::NewChannel {
            id: Some("vc_room".into()),
            name: "room".into(),
            kind: control::ChannelKind::Voice,
        },
    )
    .await
    .expect("voice channel");
    let admission = ctl
        .admit_to_channel("bob", "vc_room", None)
        .await
        .expect_err("timed out");
    assert_eq!(
        (admission.code(), admission.until()),
        ("timed_out", Some(until))
    );
    let (status, body) = act(&ctl, "maya", &about_bob, json!({"kind": "end_timeout"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    send(&ctl, &bob, "b3", 2).await.expect("sends again");
    ctl.admit_to_channel("bob", "vc_room", None)
        .await
        .expect("admitted again");

    // A ban (the owner's): refused with `banned` and its end.
    let (status, body) = act(
        &ctl,
        "alice",
        &about_bob,
        json!({"kind": "ban", "duration_secs": 86400}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(ctl.member_role(SERVER, "bob").await.expect("role"), None);
    let refused = send(&ctl, &bob, "b4", 2).await.expect_err("banned");
    assert_eq!(refused.code(), "banned");
    let admission = ctl
        .admit_to_channel("bob", "vc_room", None)
        .await
        .expect_err("banned");
    assert_eq!(
        (admission.code(), admission.until().is_some()),
        ("banned", true),
        "a banned former member is told so"
    );
    let (status, body) = act(&ctl, "alice", &about_bob, json!({"kind": "unban"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = act(&ctl, "alice", &about_bob, json!({"kind": "unban"})).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "nothing_to_lift")
    );
}

async fn propose(ctl: &Control, who: &str, case_id: &str, action: Value) -> String {
    let (status, body) = as_(
        ctl,
        who,
        Method::POST,
        &format!("/v1/moderation/cases/{case_id}/actions/propose"),
        Some(json!({ "action": action })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["state"], "open");
    body["proposal_id"].as_str().expect("id").to_owned()
}

async fn vote(
    ctl: &Control,
    who: &str,
    case_id: &str,
    proposal: &str,
    approve: bool,
) -> (StatusCode, Value) {
    as_(
        ctl,
        who,
        Method::POST,
        &format!("/v1/moderation/cases/{case_id}/votes"),
        Some(json!({"proposal_id": proposal, "approve": approve})),
    )
    .await
}

async fn two_deciding_votes_at_once_execute_once(ctl: Control) {
    moderated(&ctl).await;
    for round in 0..5 {
        let target = format!("r{round}");
        ctl.add_member("alice", SERVER, &target, Some(Role::Member))
            .await
            .expect("target");
        let case_id = case(&ctl, "maya", &target).await;
        let proposal = propose(&ctl, "maya", &case_id, json!({"kind": "ban"})).await;
        // Quorum 2: whichever of the two votes lands second decides.
        let (a, b) = tokio::join!(
            vote(&ctl, "maya", &case_id, &proposal, true),
            vote(&ctl, "max", &case_id, &proposal, true)
        );
        assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK), "{a:?} {b:?}");
        let executed = [&a.1, &b.1]
            .iter()
            .filter(|body| body.get("executed").is_some())
            .count();
        assert_eq!(executed, 1, "exactly one vote carried it out: {a:?} {b:?}");
        let (_, case_body) = as_(
            &ctl,
            "maya",
            Method::GET,
            &format!("/v1/moderation/cases/{case_id}"),
            None,
        )
        .await;
        let actions = case_body["actions"].as_array().expect("actions");
        assert_eq!(actions.len(), 1, "{case_body}");
        assert_eq!(actions[0]["kind"], "ban");
        assert!(actions[0].get("actor_user_id").is_none());
        assert_eq!(case_body["proposals"][0]["state"], "executed");
        assert_eq!(case_body["proposals"][0]["votes_for"], 2);
        // A later vote finds it closed.
        let (status, body) = vote(&ctl, "alice", &case_id, &proposal, true).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::CONFLICT, "proposal_closed")
        );
    }
    // Who may not propose or vote, and what cannot be voted on.
    let case_id = case(&ctl, "carol", "bob").await;
    let (status, body) = as_(
        &ctl,
        "carol",
        Method::POST,
        &format!("/v1/moderation/cases/{case_id}/actions/propose"),
        Some(json!({"action": {"kind": "ban"}})),
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, body) = as_(
        &ctl,
        "maya",
        Method::POST,
        &format!("/v1/moderation/cases/{case_id}/actions/propose"),
        Some(json!({"action": {"kind": "warn"}})),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "not_votable")
    );
    // A second vote replaces the first.
    let proposal = propose(&ctl, "maya", &case_id, json!({"kind": "timeout"})).await;
    let (_, body) = vote(&ctl, "maya", &case_id, &proposal, true).await;
    assert_eq!(body["proposal"]["votes_for"], 1);
    let (_, body) = vote(&ctl, "maya", &case_id, &proposal, false).await;
    assert_eq!(
        (
            body["proposal"]["votes_for"].clone(),
            body["proposal"]["votes_against"].clone()
        ),
        (json!(0), json!(1))
    );
    let (status, body) = vote(&ctl, "carol", &case_id, &proposal, true).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, body) = vote(&ctl, "maya", &case_id, "prop_nope", true).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "proposal_not_found")
    );
}

async fn proposals_expire_and_restrictions_lapse(ctl: Control) {
    moderated(&ctl).await;
    let case_id = case(&ctl, "maya", "bob").await;
    let proposal = propose(&ctl, "maya", &case_id, json!({"kind": "kick"})).await;
    let (status, _) = act(
        &ctl,
        "maya",
        &case_id,
        json!({"kind": "mute", "duration_secs": 30}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(ctl.server_muted(SERVER, "bob").await.expect("muted"));
    ctl.testing_advance_clock(Duration::from_secs(86_400 + 1));
    assert!(!ctl.server_muted(SERVER, "bob").await.expect("lapsed"));
    let (status, body) = vote(&ctl, "max", &case_id, &proposal, true).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "proposal_closed")
    );
    assert_eq!(ctl.lapse_restrictions().await.expect("lapse"), 1);
    assert_eq!(ctl.lapse_restrictions().await.expect("lapse"), 0, "once");
    assert_eq!(
        ctl.expire_proposals(None).await.expect("expire"),
        0,
        "expired by the vote"
    );
    let log = audit(&ctl, "maya").await;
    let kinds: Vec<&str> = log.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "proposal_expired").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "restriction_lapsed").count(),
        1,
        "{kinds:?}"
    );
}

async fn the_audit_log_has_one_entry_per_action(ctl: Control) {
    moderated(&ctl).await;
    let case_id = case(&ctl, "maya", "bob").await;
    let mut action_ids = Vec::new();
    for action in [
        json!({"kind": "warn", "reason": "be nice"}),
        json!({"kind": "mute"}),
        json!({"kind": "unmute"}),
        json!({"kind": "timeout", "duration_secs": 60}),
        json!({"kind": "end_timeout"}),
        json!({"kind": "kick"}),
    ] {
        let (status, body) = act(&ctl, "maya", &case_id, action.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{action}: {body}");
        action_ids.push(body["action_id"].as_str().expect("id").to_owned());
    }
    let log = audit(&ctl, "alice").await;
    for id in &action_ids {
        let entries: Vec<&Value> = log.iter().filter(|e| e["subject_id"] == *id).collect();
        assert_eq!(entries.len(), 1, "{id}: {log:?}");
        assert_eq!(entries[0]["kind"], "action_taken");
        assert_eq!(entries[0]["actor"], "maya");
    }
    assert_eq!(log[0]["kind"], "case_opened");
    let seqs: Vec<i64> = log.iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // Members do not read the log (default policy: moderators).
    let (status, body) = as_(
        &ctl,
        "carol",
        Method::GET,
        &format!("/v1/moderation/audit?server_id={SERVER}"),
        None,
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
}

async fn moderation_reaches_live_sessions_as_access_changes(ctl: Control) {
    moderated(&ctl).await;
    ctl.start_background();
    let mut changes = ctl.access_changes();
    let case_id = case(&ctl, "maya", "bob").await;
    for action in [json!({"kind": "mute"}), json!({"kind": "kick"})] {
        let (status, body) = act(&ctl, "maya", &case_id, action).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let change = tokio::time::timeout(chat::DEADLINE, changes.recv())
            .await
            .expect("an access change in time")
            .expect("open");
        match change {
            AccessChange::Moderation {
                user_id, action, ..
            } => {
                assert_eq!(user_id, "bob");
                seen.push(format!("{action:?}"));
            }
            AccessChange::MemberRemoved { user_id, .. } => {
                assert_eq!(user_id, "bob");
                seen.push("MemberRemoved".into());
            }
            AccessChange::DeviceRevoked { .. } => {}
        }
    }
    // The kick's own event comes before its member_removed: sessions end as `kicked`.
    assert_eq!(seen, ["Mute", "Kick", "MemberRemoved"]);
    assert!(matches!(ActionKind::parse("kick"), Some(ActionKind::Kick)));
    ctl.stop_background().await;
}

async fn a_deleted_message_is_a_tombstone(ctl: Control) {
    moderated(&ctl).await;
    let sent = send(&ctl, &dev("bob", "laptop"), "bad", 2)
        .await
        .expect("sent");
    let case_id = case(&ctl, "maya", "bob").await;
    let (status, body) = act(
        &ctl,
        "maya",
        &case_id,
        json!({"kind": "delete_message", "message_id": sent.message.id}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, page) = chat::http::get(
        &ctl,
        &dev("alice", "laptop"),
        &format!("/v1/channels/{}/history?limit=10", chat::CHANNEL),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let found = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["id"] == sent.message.id.as_str())
        .cloned()
        .expect("the message");
    assert!(found["ciphertext"].is_null(), "{found}");
    let (status, body) = act(
        &ctl,
        "maya",
        &case_id,
        json!({"kind": "delete_message", "message_id": "msg_none"}),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "message_not_found")
    );
}
