//! Roles, invitations, joining, leaving and member management over HTTP, on both databases.

mod api;
mod common;

use std::time::Duration;

use api::{call, code, join, server};
use axum::http::{Method, StatusCode};
use control::Control;
use serde_json::{Value, json};

on_both_databases! {
    roles_carry_permissions => prod,
    non_members_get_404_everywhere => prod,
    invitation_join_and_max_uses => prod,
    invitation_expiry => prod,
    invitation_revocation => prod,
    invitation_refuses_banned_and_members => prod,
    concurrent_joins_never_exceed_max_uses => prod,
    leave_and_remove_members => prod,
    role_changes_are_for_the_owner => prod,
    my_channels_lists_every_server => prod,
}

async fn invite(ctl: &Control, who: &str, server_id: &str, body: Value) -> (StatusCode, Value) {
    call(
        ctl,
        (who, "d1"),
        Method::POST,
        &format!("/v1/servers/{server_id}/invitations"),
        Some(body),
    )
    .await
}

async fn accept(ctl: &Control, who: &str, token: &str) -> (StatusCode, Value) {
    call(
        ctl,
        (who, "d1"),
        Method::POST,
        &format!("/v1/invitations/{token}/accept"),
        None,
    )
    .await
}

fn token(invitation: &Value) -> String {
    invitation["token"].as_str().expect("token").to_owned()
}

async fn roles_carry_permissions(ctl: Control) {
    server(&ctl, "alice", "srv_a").await;
    let (status, body) = call(
        &ctl,
        ("alice", "d1"),
        Method::GET,
        "/v1/servers/srv_a/roles",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let roles = body["roles"].as_array().expect("roles");
    assert_eq!(roles.len(), 3);
    assert_eq!(roles[0]["role"], "owner");
    assert!(
        roles[0]["permissions"]
            .as_array()
            .expect("perms")
            .contains(&json!("manage_roles"))
    );
    assert_eq!(roles[2]["role"], "member");
    assert!(
        !roles[2]["permissions"]
            .as_array()
            .expect("perms")
            .contains(&json!("manage_channels"))
    );

    // A member may create invitations but not channels (403 for a member: they see the server).
    join(&ctl, "alice", "srv_a", "bob").await;
    let (status, _) = invite(&ctl, "bob", "srv_a", json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(
        &ctl,
        ("bob", "d1"),
        Method::POST,
        "/v1/servers/srv_a/channels",
        Some(json!({"name": "x", "kind": "text"})),
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
}

async fn non_members_get_404_everywhere(ctl: Control) {
    server(&ctl, "alice", "srv_a").await;
    let (status, body) = invite(&ctl, "alice", "srv_a", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let t = token(&body);
    let mallory = ("mallory", "d1");
    for (method, uri, body) in [
        (Method::GET, "/v1/servers/srv_a/roles".to_owned(), None),
        (Method::GET, "/v1/servers/srv_a/members".to_owned(), None),
        (
            Method::GET,
            "/v1/servers/srv_a/invitations".to_owned(),
            None,
        ),
        (
            Method::POST,
            "/v1/servers/srv_a/invitations".to_owned(),
            Some(json!({})),
        ),
        (
            Method::DELETE,
            format!("/v1/servers/srv_a/invitations/{t}"),
            None,
        ),
        (
            Method::DELETE,
            "/v1/servers/srv_a/members/alice".to_owned(),
            None,
        ),
        (
            Method::PUT,
            "/v1/servers/srv_a/members/alice/role".to_owned(),
            Some(json!({"role": "member"})),
        ),
        (Method::POST, "/v1/servers/srv_a/leave".to_owned(), None),
        (Method::GET, "/v1/servers/nope/roles".to_owned(), None),
    ] {
        let (status, answer) = call(&ctl, mallory, method.clone(), &uri, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}: {answer}");
        assert_eq!(code(&answer), "server_not_found", "{method} {uri}");
    }
    // Someone else's invitation is not revocable by a plain member: 404, as if absent.
    join(&ctl, "alice", "srv_a", "bob").await;
    let (status, body) = call(
        &ctl,
        ("bob", "d1"),
        Method::DELETE,
        &format!("/v1/servers/srv_a/invitations/{t}"),
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "invitation_not_found")
    );
    // A plain member lists only their own invitations.
    let (status, body) = call(
        &ctl,
        ("bob", "d1"),
        Method::GET,
        "/v1/servers/srv_a/invitations",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"invitations": []}));
    // Unknown tokens.
    let (status, body) = accept(&ctl, "carol", "doesnotexist").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "invitation_not_found")
    );
    let (status, body) = accept(&ctl, "carol", "../../etc").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

async fn invitation_join_and_max_uses(ctl: Control) {
    server(&ctl, "alice", "srv_a").await;
    let (status, inv) = invite(&ctl, "alice", "srv_a", json!({"max_uses": 2})).await;
    assert_eq!(status, StatusCode::CREATED, "{inv}");
    assert_eq!(inv["max_uses"], 2);
    assert_eq!(inv["uses"], 0);
    let t = token(&inv);
    assert!(t.len() >= 20);

    let (status, preview) = call(
        &ctl,
        ("bob", "d1"),
        Method::GET,
        &format!("/v1/invitations/{t}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        preview,
        json!({"server_id": "srv_a", "server_name": "Den", "member_count": 1,
            "expires_at": inv["expires_at"], "uses_left": 2})
    );
    let (status, member) = accept(&ctl, "bob", &t).await;
    assert_eq!(status, StatusCode::CREATED, "{member}");
    assert_eq!(member["role"], "member");
    assert_eq!(member["server_id"], "srv_a");
    let (status, list) = call(&ctl, ("bob", "d1"), Method::GET, "/v1/servers", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["servers"][0]["id"], "srv_a");

    let (status, _) = accept(&ctl, "carol", &t).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = accept(&ctl, "dave", &t).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::GONE, "invitation_exhausted")
    );
    let uri = format!("/v1/invitations/{t}");
    let (status, body) = call(&ctl, ("dave", "d1"), Method::GET, &uri, None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::GONE, "invitation_exhausted")
    );
    let (status, body) = call(
        &ctl,
        ("dave", "d1"),
        Method::GET,
        "/v1/invitations/nope",
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "invitation_not_found")
    );

    let (_, list) = call(
        &ctl,
        ("alice", "d1"),
        Method::GET,
        "/v1/servers/srv_a/invitations",
        None,
    )
    .await;
    assert_eq!(list["invitations"][0]["uses"], 2);

    // Validation.
    for bad in [
        json!({"max_uses": 0}),
        json!({"max_uses": 1001}),
        json!({"expires_in_secs": 5}),
        json!({"expires_in_secs": 99999999}),
        json!({"bogus": 1}),
    ] {
        let (status, body) = invite(&ctl, "alice", "srv_a", bad.clone()).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{bad}"
        );
    }
}

async fn invitation_expiry(ctl: Control) {
    server(&ctl, "alice", "srv_a").await;
    let (_, inv) = invite(&ctl, "alice", "srv_a", json!({"expires_in_secs": 3600})).await;
    let t = token(&inv);
    assert_eq!(
        inv["expires_at"].as_i64().expect("expires_at")
            - inv["created_at"].as_i64().expect("created_at"),
        3_600_000
    );
    ctl.testing_advance_clock(Duration::from_secs(3601));
    let (status, body) = accept(&ctl, "bob", &t).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::GONE, "invitation_expired")
    );
    assert_eq!(ctl.member_role("srv_a", "bob").await.expect("role"), None);

    // The default lifetime is 7 days.
    let (_, inv) = invite(&ctl, "alice", "srv_a", json!({})).await;
    assert_eq!(
        inv["expires_at"].as_i64().expect("expires_at")
            - inv["created_at"].as_i64().expect("created_at"),
        7 * 24 * 3_600_000
    );
}

async fn invitation_revocation(ctl: Control) {
    server(&ctl, "alice", "srv_a").await;
    join(&ctl, "alice", "srv_a", "bob").await;
    // Bob creates one and revokes it himself; Alice (owner) revokes another of Bob's.
    let (_, inv1) = invite(&ctl, "bob", "srv_a", json!({})).await;
    let (_, inv2) = invite(&ctl, "bob", "srv_a", json!({})).await;
    let (status, revoked) = call(
        &ctl,
        ("bob", "d1"),
        Method::DELETE,
        &format!("/v1/servers/srv_a/invitations/{}", token(&inv1)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["revoked_at"].is_i64());
    let (status, _) = call(
        &ctl,
        ("alice", "d1"),
        Method::DELETE,
        &format!("/v1/servers/srv_a/invitations/{}", token(&inv2)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for inv in [&inv1, &inv2] {
        let (status, body) = accept(&ctl, "carol", &token(inv)).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::GONE, "invitation_revoked")
        );
    }
    // A token of another server is not found under this one.
    server(&ctl, "alice", "srv_b").await;
    let (status, body) = call(
        &ctl,
        ("alice", "d1"),
        Method::DELETE,
        &format!("/v1/servers/srv_b/invitations/{}", token(&inv1)),
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "invitation_not_found")
    );
}

async fn invitation_refuses_banned_and_members(ctl: Control) {
    server(&ctl, "alice", "srv_a").await;
    let (_, inv) = invite(&ctl, "alice", "srv_a", json!({"max_uses": 5})).await;
    let t = token(&inv);
    let (status, body) = accept(&ctl, "alice", &t).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "already_a_member")
    );
    ctl.ban_user("srv_a", "eve", None, Some("spam"))
        .await
        .expect("ban");
    let (status, body) = accept(&ctl, "eve", &t).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "banned"));
    // Refusals consume no use.
    let (_, list) = call(
        &ctl,
        ("alice", "d1"),
        Method::GET,
        "/v1/servers/srv_a/invitations",
        None,
    )
    .await;
    assert_eq!(list["invitations"][0]["uses"], 0);
}

async fn concurrent_joins_never_exceed_max_uses(ctl: Control) {
    server(&ctl, "alice", "srv_a").await;
    let (_, inv) = invite(&ctl, "alice", "srv_a", json!({"max_uses": 3})).await;
    let t = token(&inv);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let ctl = ctl.clone();
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            ctl.accept_invitation(&format!("user{i}"), &t)
                .await
                .map(|_| ())
                .map_err(|e| e.code())
        }));
    }
    let mut joined = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => joined += 1,
            Err(code) => assert_eq!(code, "invitation_exhausted"),
        }
    }
    assert_eq!(joined, 3);
    let members = ctl.members_of("alice", "srv_a").await.expect("members");
    assert_eq!(members.len(), 4);
}

async fn leave_and_remove_members(ctl: Control) {
    server(&ctl, "alice", "srv_a").await;
    for u in ["bob", "carol", "mod"] {
        join(&ctl, "alice", "srv_a", u).await;
    }
    let (status, _) = call(
        &ctl,
        ("alice", "d1"),
        Method::PUT,
        "/v1/servers/srv_a/members/mod/role",
        Some(json!({"role": "moderator"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = call(
        &ctl,
        ("alice", "d1"),
        Method::POST,
        "/v1/servers/srv_a/leave",
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "owner_cannot_leave")
    );
    let (status, _) = call(
        &ctl,
        ("bob", "d1"),
        Method::POST,
        "/v1/servers/srv_a/leave",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // After leaving, the server is invisible.
    let (status, body) = call(
        &ctl,
        ("bob", "d1"),
        Method::GET,
        "/v1/servers/srv_a/channels",
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "server_not_found")
    );

    // A member cannot remove anyone; a moderator removes members but not the owner.
    let (status, body) = call(
        &ctl,
        ("carol", "d1"),
        Method::DELETE,
        "/v1/servers/srv_a/members/mod",
        None,
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, body) = call(
        &ctl,
        ("mod", "d1"),
        Method::DELETE,
        "/v1/servers/srv_a/members/alice",
        None,
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, _) = call(
        &ctl,
        ("mod", "d1"),
        Method::DELETE,
        "/v1/servers/srv_a/members/carol",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(
        &ctl,
        ("mod", "d1"),
        Method::DELETE,
        "/v1/servers/srv_a/members/carol",
        None,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "member_not_found")
    );

    let (_, list) = call(
        &ctl,
        ("alice", "d1"),
        Method::GET,
        "/v1/servers/srv_a/members",
        None,
    )
    .await;
    let users: Vec<&str> = list["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["user_id"].as_str())
        .collect();
    assert_eq!(users, ["alice", "mod"]);
}

async fn role_changes_are_for_the_owner(ctl: Control) {
    server(&ctl, "alice", "srv_a").await;
    join(&ctl, "alice", "srv_a", "bob").await;
    join(&ctl, "alice", "srv_a", "carol").await;
    let uri = "/v1/servers/srv_a/members/bob/role";
    let (status, body) = call(
        &ctl,
        ("alice", "d1"),
        Method::PUT,
        uri,
        Some(json!({"role": "moderator"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "moderator");
    // A moderator may not change roles.
    let (status, body) = call(
        &ctl,
        ("bob", "d1"),
        Method::PUT,
        "/v1/servers/srv_a/members/carol/role",
        Some(json!({"role": "moderator"})),
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    // Nobody becomes owner; the owner's role never changes.
    let (status, body) = call(
        &ctl,
        ("alice", "d1"),
        Method::PUT,
        uri,
        Some(json!({"role": "owner"})),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let (status, body) = call(
        &ctl,
        ("alice", "d1"),
        Method::PUT,
        "/v1/servers/srv_a/members/alice/role",
        Some(json!({"role": "member"})),
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, body) = call(
        &ctl,
        ("alice", "d1"),
        Method::PUT,
        "/v1/servers/srv_a/members/zed/role",
        Some(json!({"role": "member"})),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "member_not_found")
    );
    let (status, body) = call(
        &ctl,
        ("alice", "d1"),
        Method::PUT,
        uri,
        Some(json!({"role": "king"})),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
}

async fn my_channels_lists_every_server(ctl: Control) {
    server(&ctl, "alice", "srv_a").await;
    server(&ctl, "bob", "srv_b").await;
    for (owner, srv, ch) in [("alice", "srv_a", "a1"), ("bob", "srv_b", "b1")] {
        let (status, _) = call(
            &ctl,
            (owner, "d1"),
            Method::POST,
            &format!("/v1/servers/{srv}/channels"),
            Some(json!({"name": ch, "kind": "text", "id": ch})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    join(&ctl, "bob", "srv_b", "alice").await;
    let (status, body) = call(&ctl, ("alice", "d1"), Method::GET, "/v1/channels", None).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = body["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, ["a1", "b1"]);
    let (_, body) = call(&ctl, ("carol", "d1"), Method::GET, "/v1/channels", None).await;
    assert_eq!(body, json!({"channels": []}));
}
