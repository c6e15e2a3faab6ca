//! Admission to channel rooms and dev seeding, on SQLite and PostgreSQL.

mod common;

use control::{
    AdmissionError, ChannelKind, Control, Grants, NewChannel, NewServer, Role, grants_for,
};

on_both_databases! {
    member_is_admitted_with_voice_grants => prod,
    video_channel_grants_everything => prod,
    non_member_is_refused => prod,
    dev_mode_admits_anyone_to_harbor => dev,
    production_mode_has_no_harbor_shortcut => prod,
    dev_mode_shortcut_is_only_for_harbor => dev,
    banned_users_are_refused => prod,
    banned_users_get_no_harbor_shortcut => dev,
    unknown_channel_is_not_found => prod,
    channel_of_another_server_is_not_found => prod,
    text_channel_has_no_room => dev,
    seed_is_idempotent => dev,
    migrate_is_idempotent => prod,
}

const VOICE: Grants = Grants {
    microphone: true,
    camera: false,
    screenshare: false,
    screenshare_audio: false,
};

/// Server `srv_den` owned by alice, with voice channel `vc_den`, video `vid_den`, text `tc_den`.
async fn den(ctl: &Control) {
    let server = NewServer {
        id: Some("srv_den".into()),
        name: "Den".into(),
    };
    ctl.create_server("alice", server).await.expect("server");
    for (id, kind) in [
        ("vc_den", ChannelKind::Voice),
        ("vid_den", ChannelKind::Video),
        ("tc_den", ChannelKind::Text),
    ] {
        let channel = NewChannel {
            id: Some(id.into()),
            name: id.into(),
            kind,
        };
        ctl.create_channel("alice", "srv_den", channel)
            .await
            .expect("channel");
    }
}

async fn member_is_admitted_with_voice_grants(ctl: Control) {
    den(&ctl).await;
    ctl.add_member("alice", "srv_den", "bob", None)
        .await
        .expect("add bob");

    let owner = ctl
        .admit_to_channel("alice", "vc_den", None)
        .await
        .expect("owner admitted");
    assert_eq!(owner.role, Role::Owner);
    assert_eq!(owner.server_id, "srv_den");

    let bob = ctl
        .admit_to_channel("bob", "vc_den", Some("srv_den"))
        .await
        .expect("member admitted");
    assert_eq!(bob.channel_id, "vc_den");
    assert_eq!(bob.kind, ChannelKind::Voice);
    assert_eq!(bob.role, Role::Member);
    assert_eq!(bob.grants, VOICE);
}

async fn video_channel_grants_everything(ctl: Control) {
    den(&ctl).await;
    let a = ctl
        .admit_to_channel("alice", "vid_den", None)
        .await
        .expect("admitted");
    assert_eq!(a.kind, ChannelKind::Video);
    let all = Grants {
        microphone: true,
        camera: true,
        screenshare: true,
        screenshare_audio: true,
    };
    assert_eq!(a.grants, all);
    assert_eq!(grants_for(ChannelKind::Video, Role::Member), all);
    assert_eq!(grants_for(ChannelKind::Voice, Role::Owner), VOICE);
}

async fn non_member_is_refused(ctl: Control) {
    den(&ctl).await;
    let err = ctl
        .admit_to_channel("carol", "vc_den", None)
        .await
        .expect_err("refused");
    // Refused exactly like a missing channel: an outsider cannot probe which channels exist.
    assert!(matches!(err, AdmissionError::ChannelNotFound), "{err:?}");
    assert_eq!(err.code(), "channel_not_found");
}

async fn dev_mode_admits_anyone_to_harbor(ctl: Control) {
    ctl.seed_dev().await.expect("seed");
    assert_eq!(
        ctl.member_role("srv_harbor", "zed").await.expect("role"),
        None
    );

    let a = ctl
        .admit_to_channel("zed", "vc_general", Some("srv_harbor"))
        .await
        .expect("admitted in dev mode");
    assert_eq!(a.role, Role::Member);
    assert_eq!(a.grants, VOICE);
    assert_eq!(
        ctl.member_role("srv_harbor", "zed").await.expect("role"),
        Some(Role::Member),
        "first admission makes the user a member"
    );
    let again = ctl
        .admit_to_channel("zed", "vc_general", None)
        .await
        .expect("admitted again");
    assert_eq!(again.role, Role::Member);
}

async fn production_mode_has_no_harbor_shortcut(ctl: Control) {
    ctl.seed_dev().await.expect("seed");
    let err = ctl
        .admit_to_channel("zed", "vc_general", None)
        .await
        .expect_err("refused");
    assert!(matches!(err, AdmissionError::ChannelNotFound), "{err:?}");
    assert_eq!(
        ctl.member_role("srv_harbor", "zed").await.expect("role"),
        None
    );
}

async fn dev_mode_shortcut_is_only_for_harbor(ctl: Control) {
    ctl.seed_dev().await.expect("seed");
    den(&ctl).await;
    let err = ctl
        .admit_to_channel("zed", "vc_den", None)
        .await
        .expect_err("refused");
    assert!(matches!(err, AdmissionError::ChannelNotFound), "{err:?}");
}

async fn banned_users_are_refused(ctl: Control) {
    den(&ctl).await;
    for user in ["bob", "carol", "dave"] {
        ctl.add_member("alice", "srv_den", user, None)
            .await
            .expect("add");
    }
    let now = now_millis();
    ctl.ban_user("srv_den", "bob", None, Some("spam"))
        .await
        .expect("permanent ban");
    ctl.ban_user("srv_den", "carol", Some(now + 3_600_000), None)
        .await
        .expect("timed ban");
    ctl.ban_user("srv_den", "dave", Some(now - 1_000), None)
        .await
        .expect("expired ban");

    for user in ["bob", "carol"] {
        let err = ctl
            .admit_to_channel(user, "vc_den", None)
            .await
            .expect_err("banned");
        assert!(
            matches!(err, AdmissionError::Banned { .. }),
            "{user}: {err:?}"
        );
        assert_eq!(err.code(), "banned");
    }
    ctl.admit_to_channel("dave", "vc_den", None)
        .await
        .expect("an expired ban does not refuse");

    // Re-banning replaces the earlier ban.
    ctl.ban_user("srv_den", "bob", Some(now - 1), None)
        .await
        .expect("shorten ban");
    ctl.admit_to_channel("bob", "vc_den", None)
        .await
        .expect("ban lifted");
}

async fn banned_users_get_no_harbor_shortcut(ctl: Control) {
    ctl.seed_dev().await.expect("seed");
    ctl.ban_user("srv_harbor", "troll", None, None)
        .await
        .expect("ban");
    let err = ctl
        .admit_to_channel("troll", "vc_general", None)
        .await
        .expect_err("banned");
    assert!(matches!(err, AdmissionError::Banned { .. }), "{err:?}");
    assert_eq!(
        ctl.member_role("srv_harbor", "troll").await.expect("role"),
        None
    );
}

async fn unknown_channel_is_not_found(ctl: Control) {
    den(&ctl).await;
    let err = ctl
        .admit_to_channel("alice", "vc_nope", None)
        .await
        .expect_err("unknown");
    assert!(matches!(err, AdmissionError::ChannelNotFound), "{err:?}");
    assert_eq!(err.code(), "channel_not_found");
}

async fn channel_of_another_server_is_not_found(ctl: Control) {
    den(&ctl).await;
    let other = NewServer {
        id: Some("srv_other".into()),
        name: "Other".into(),
    };
    ctl.create_server("alice", other).await.expect("server");
    let err = ctl
        .admit_to_channel("alice", "vc_den", Some("srv_other"))
        .await
        .expect_err("wrong server");
    assert!(matches!(err, AdmissionError::ChannelNotFound), "{err:?}");
    let err = ctl
        .admit_to_channel("alice", "vc_den", Some("srv_missing"))
        .await
        .expect_err("missing server");
    assert!(matches!(err, AdmissionError::ChannelNotFound), "{err:?}");
}

async fn text_channel_has_no_room(ctl: Control) {
    ctl.seed_dev().await.expect("seed");
    let err = ctl
        .admit_to_channel("zed", "tc_lobby", None)
        .await
        .expect_err("text");
    assert!(matches!(err, AdmissionError::NotAnRtcChannel), "{err:?}");
    assert_eq!(err.code(), "not_an_rtc_channel");
}

async fn seed_is_idempotent(ctl: Control) {
    ctl.seed_dev().await.expect("seed");
    ctl.seed_dev().await.expect("seed again");
    ctl.admit_to_channel("zed", "vc_general", None)
        .await
        .expect("admitted");
    ctl.seed_dev().await.expect("seed after use");

    let servers = ctl.servers_of("zed").await.expect("servers");
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0].server.id, "srv_harbor");
    assert_eq!(servers[0].server.name, "Harbor");
    let channels = ctl
        .channels_of("zed", "srv_harbor")
        .await
        .expect("channels");
    let mut got: Vec<_> = channels
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str(), c.kind))
        .collect();
    got.sort_by_key(|c| c.0);
    assert_eq!(
        got,
        [
            ("tc_lobby", "Lobby", ChannelKind::Text),
            ("vc_general", "General", ChannelKind::Voice),
            ("vc_video", "Video", ChannelKind::Video)
        ]
    );
}

async fn migrate_is_idempotent(ctl: Control) {
    ctl.migrate().await.expect("second migrate");
    ctl.ping().await.expect("ping");
}

fn now_millis() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since_epoch.as_millis()).expect("fits")
}

#[tokio::test]
async fn sqlite_file_and_directory_are_created_in_wal_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("data/nested/openchat.db");
    let url = format!("sqlite://{}", file.display());
    let ctl = Control::connect(&url, common::prod())
        .await
        .expect("connect");
    ctl.migrate().await.expect("migrate");
    ctl.seed_dev().await.expect("seed");
    assert!(file.is_file(), "database file created");
    assert!(
        dir.path().join("data/nested/openchat.db-wal").exists(),
        "WAL journal in use"
    );
}

#[tokio::test]
async fn unsupported_url_is_an_error() {
    let err = Control::connect("mysql://localhost/db", common::prod())
        .await
        .expect_err("unsupported");
    assert!(
        matches!(err, control::ControlError::UnsupportedUrl),
        "{err:?}"
    );
}

#[tokio::test]
async fn in_memory_sqlite_keeps_one_database() {
    let ctl = Control::connect("sqlite::memory:", common::dev())
        .await
        .expect("connect");
    ctl.migrate().await.expect("migrate");
    ctl.seed_dev().await.expect("seed");
    let a = ctl
        .admit_to_channel("zed", "vc_general", None)
        .await
        .expect("admitted");
    assert_eq!(a.role, Role::Member);
}
