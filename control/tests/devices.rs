//! Devices: implicit first device, link codes (single use, 10 minutes), the cap, revocation.

mod api;
mod chat;
mod common;

use std::time::Duration;

use api::{call, code};
use axum::http::{Method, StatusCode};
use control::Control;
use serde_json::{Value, json};

on_both_databases! {
    first_device_registers_itself => prod,
    link_code_single_use => prod,
    link_code_expires_after_ten_minutes => prod,
    concurrent_redemptions_one_wins => prod,
    concurrent_first_devices_one_wins => prod,
    concurrent_links_respect_the_cap => prod,
    device_cap => prod,
    revoked_devices_are_out => prod,
    revoking_proposes_removal_from_groups => prod,
    leaving_proposes_removal_from_groups => prod,
}

async fn start(ctl: &Control, user: &str, device: &str) -> (StatusCode, Value) {
    call(
        ctl,
        (user, device),
        Method::POST,
        "/v1/devices/link/start",
        None,
    )
    .await
}

async fn confirm(ctl: &Control, user: &str, device: &str, code: &str) -> (StatusCode, Value) {
    call(
        ctl,
        (user, device),
        Method::POST,
        "/v1/devices/link/confirm",
        Some(json!({"code": code, "name": "New phone"})),
    )
    .await
}

fn link_code(body: &Value) -> String {
    body["code"].as_str().expect("code").to_owned()
}

async fn device_ids(ctl: &Control, user: &str, device: &str) -> Vec<String> {
    let (status, body) = call(ctl, (user, device), Method::GET, "/v1/devices", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .filter_map(|d| d["device_id"].as_str().map(str::to_owned))
        .collect()
}

async fn first_device_registers_itself(ctl: Control) {
    assert_eq!(device_ids(&ctl, "alice", "laptop").await, ["laptop"]);
    // A second, unlinked device is refused.
    let (status, body) = call(&ctl, ("alice", "phone"), Method::GET, "/v1/devices", None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "device_not_linked")
    );
    let (status, body) = start(&ctl, "alice", "phone").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "device_not_linked")
    );
    // A malformed device id cannot be a caller's: the typed id refuses it (the token carrying
    // it is refused with 401 `invalid_token`, see signaling/tests/id_alphabets.rs).
    assert!("bad id!".parse::<openchat_protocol::DeviceId>().is_err());
    // Another user's first device is theirs.
    assert_eq!(device_ids(&ctl, "bob", "phone").await, ["phone"]);
    // Ids are what access tokens allow: [A-Za-z0-9_.-]{1,64}.
    assert_eq!(
        device_ids(&ctl, "carol.x", "carol.laptop").await,
        ["carol.laptop"]
    );
}

async fn link_code_single_use(ctl: Control) {
    device_ids(&ctl, "alice", "laptop").await;
    let (status, body) = start(&ctl, "alice", "laptop").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let c = link_code(&body);
    assert_eq!(c.len(), 14, "{c}");
    let expires = body["expires_at"].as_i64().expect("expires_at");
    assert!((expires - ctl.now() - 600_000).abs() < 5_000);

    // Another user cannot redeem it (it is unknown for them).
    let (status, answer) = confirm(&ctl, "mallory", "m1", &c).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::NOT_FOUND, "link_code_not_found")
    );

    // Case and dashes do not matter.
    let (status, device) =
        confirm(&ctl, "alice", "phone", &c.replace('-', "").to_lowercase()).await;
    assert_eq!(status, StatusCode::CREATED, "{device}");
    assert_eq!(device["device_id"], "phone");
    assert_eq!(device["name"], "New phone");
    assert_eq!(
        device_ids(&ctl, "alice", "phone").await,
        ["laptop", "phone"]
    );

    // Reuse is refused, even for yet another device.
    let (status, answer) = confirm(&ctl, "alice", "tablet", &c).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::CONFLICT, "link_code_used")
    );
    // The linked device cannot link itself again.
    let (_, fresh) = start(&ctl, "alice", "laptop").await;
    let (status, answer) = confirm(&ctl, "alice", "phone", &link_code(&fresh)).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::CONFLICT, "device_already_linked")
    );
    // Garbage codes.
    for bad in ["", "short", "IIII-IIII-IIII", "ABCD-EFGH-JKMN"] {
        let (status, answer) = confirm(&ctl, "alice", "tablet", bad).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::NOT_FOUND, "link_code_not_found"),
            "{bad}"
        );
    }
}

async fn link_code_expires_after_ten_minutes(ctl: Control) {
    device_ids(&ctl, "alice", "laptop").await;
    let (_, body) = start(&ctl, "alice", "laptop").await;
    let c = link_code(&body);
    ctl.testing_advance_clock(Duration::from_secs(10 * 60 + 1));
    let (status, answer) = confirm(&ctl, "alice", "phone", &c).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::GONE, "link_code_expired")
    );
    // Just inside the window works.
    let (_, body) = start(&ctl, "alice", "laptop").await;
    ctl.testing_advance_clock(Duration::from_secs(9 * 60 + 50));
    let (status, answer) = confirm(&ctl, "alice", "phone", &link_code(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

async fn concurrent_redemptions_one_wins(ctl: Control) {
    ctl.ensure_device("alice", "laptop")
        .await
        .expect("first device");
    let link = ctl
        .start_device_link("alice", "laptop")
        .await
        .expect("code");
    let mut tasks = Vec::new();
    for i in 0..6 {
        let ctl = ctl.clone();
        let code = link.code.clone();
        tasks.push(tokio::spawn(async move {
            ctl.confirm_device_link("alice", &format!("new{i}"), &code, None)
                .await
                .map(|_| ())
                .map_err(|e| e.code())
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => won += 1,
            Err(code) => assert_eq!(code, "link_code_used"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(ctl.devices_of("alice").await.expect("devices").len(), 2);
}

async fn concurrent_first_devices_one_wins(ctl: Control) {
    let mut tasks = Vec::new();
    for i in 0..6 {
        let ctl = ctl.clone();
        tasks.push(tokio::spawn(async move {
            ctl.ensure_device("alice", &format!("d{i}"))
                .await
                .map(|_| ())
                .map_err(|e| e.code())
        }));
    }
    let mut registered = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => registered += 1,
            Err(code) => assert_eq!(code, "device_not_linked"),
        }
    }
    assert_eq!(registered, 1);
    assert_eq!(ctl.devices_of("alice").await.expect("devices").len(), 1);
}

async fn concurrent_links_respect_the_cap(ctl: Control) {
    ctl.ensure_device("alice", "d0")
        .await
        .expect("first device");
    // Five free places, eight codes redeemed at once.
    let mut codes = Vec::new();
    for _ in 0..8 {
        codes.push(
            ctl.start_device_link("alice", "d0")
                .await
                .expect("code")
                .code,
        );
    }
    let mut tasks = Vec::new();
    for (i, code) in codes.into_iter().enumerate() {
        let ctl = ctl.clone();
        tasks.push(tokio::spawn(async move {
            ctl.confirm_device_link("alice", &format!("new{i}"), &code, None)
                .await
                .map(|_| ())
                .map_err(|e| e.code())
        }));
    }
    let mut linked = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => linked += 1,
            Err(code) => assert_eq!(code, "device_limit_reached"),
        }
    }
    assert_eq!(linked, 5);
    assert_eq!(ctl.devices_of("alice").await.expect("devices").len(), 6);
}

async fn device_cap(ctl: Control) {
    assert_eq!(ctl.options().max_devices_per_user, 6);
    device_ids(&ctl, "alice", "d0").await;
    // Codes issued before the cap was reached are refused at confirm time once it is.
    let (_, spare) = start(&ctl, "alice", "d0").await;
    for i in 1..6 {
        let (_, body) = start(&ctl, "alice", "d0").await;
        let (status, answer) = confirm(&ctl, "alice", &format!("d{i}"), &link_code(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    assert_eq!(device_ids(&ctl, "alice", "d0").await.len(), 6);
    let (status, body) = start(&ctl, "alice", "d0").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "device_limit_reached")
    );
    assert_eq!(body["error"]["details"]["limit"], 6);
    let (status, body) = confirm(&ctl, "alice", "d6", &link_code(&spare)).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "device_limit_reached")
    );
    // Revoking one makes room; the refused code was not consumed.
    let (status, _) = call(
        &ctl,
        ("alice", "d0"),
        Method::DELETE,
        "/v1/devices/d5",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = confirm(&ctl, "alice", "d6", &link_code(&spare)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn revoked_devices_are_out(ctl: Control) {
    device_ids(&ctl, "alice", "laptop").await;
    let (_, body) = start(&ctl, "alice", "laptop").await;
    confirm(&ctl, "alice", "phone", &link_code(&body)).await;
    let (status, revoked) = call(
        &ctl,
        ("alice", "laptop"),
        Method::DELETE,
        "/v1/devices/phone",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert!(revoked["revoked_at"].is_i64());
    let (status, body) = call(&ctl, ("alice", "phone"), Method::GET, "/v1/devices", None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "device_revoked")
    );
    // Twice, unknown, or another user's device: 404.
    for uri in [
        "/v1/devices/phone",
        "/v1/devices/ghost",
        "/v1/devices/bad%20id",
    ] {
        let (status, body) = call(&ctl, ("alice", "laptop"), Method::DELETE, uri, None).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, "device_not_found"),
            "{uri}"
        );
    }
    device_ids(&ctl, "bob", "bphone").await;
    let (status, _) = call(
        &ctl,
        ("alice", "laptop"),
        Method::DELETE,
        "/v1/devices/bphone",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A revoked id cannot be linked again.
    let (_, body) = start(&ctl, "alice", "laptop").await;
    let (status, answer) = confirm(&ctl, "alice", "phone", &link_code(&body)).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::FORBIDDEN, "device_revoked")
    );
    // Once every device is revoked, the next one registers itself (first-device rule).
    let (status, _) = call(
        &ctl,
        ("alice", "laptop"),
        Method::DELETE,
        "/v1/devices/laptop",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(device_ids(&ctl, "alice", "desktop").await, ["desktop"]);
}

/// Pending removals of the test channel, as `user/device`.
async fn pending_removals(ctl: &Control) -> Vec<String> {
    let membership = ctl
        .membership("alice", chat::CHANNEL)
        .await
        .expect("membership");
    membership
        .pending_proposals
        .iter()
        .map(|p| format!("{}/{}", p.user_id, p.device_id))
        .collect()
}

async fn revoking_proposes_removal_from_groups(ctl: Control) {
    chat::setup_with_group(&ctl).await;
    assert!(pending_removals(&ctl).await.is_empty());
    // bob/phone is in no group: nothing to propose.
    ctl.revoke_device("bob", "phone")
        .await
        .expect("revoke phone");
    assert!(pending_removals(&ctl).await.is_empty());
    ctl.revoke_device("bob", "laptop")
        .await
        .expect("revoke laptop");
    assert_eq!(pending_removals(&ctl).await, ["bob/laptop"]);
}

async fn leaving_proposes_removal_from_groups(ctl: Control) {
    chat::setup_with_group(&ctl).await;
    ctl.leave_server("bob", chat::SERVER).await.expect("leave");
    assert_eq!(pending_removals(&ctl).await, ["bob/laptop"]);
    // The next commit must carry the proposal out.
    let alice = chat::dev("alice", "laptop");
    let refused = chat::commit(&ctl, &alice, 2, &[], &[]).await;
    assert!(
        refused.is_err(),
        "a commit omitting the pending removal was accepted"
    );
}
