use std::io::Write;

use super::*;

const SAMPLE: &str = include_str!("../../../openchatd.sample.toml");

fn write(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(text.as_bytes()).expect("write");
    f
}

#[test]
fn defaults_are_valid() {
    let c = load(None, [], &[]).expect("defaults load");
    assert_eq!(c.mode, Mode::Development);
    assert_eq!(c.http.listen.to_string(), "127.0.0.1:8080");
    assert!(c.database_url().starts_with("sqlite://"));
}

#[test]
fn sample_config_parses_and_documents_every_key() {
    let f = write(SAMPLE);
    load(Some(f.path()), [], &[]).expect("sample loads");
    for key in layers::known_keys() {
        let leaf = key.rsplit('.').next().unwrap_or(key);
        assert!(
            SAMPLE.contains(&format!("{leaf} =")) || SAMPLE.contains(&format!("# {leaf} =")),
            "sample config does not document {key}"
        );
    }
}

#[test]
fn later_layers_win() {
    let f = write("[http]\nlisten = \"127.0.0.1:9000\"\n[media]\nport = 9100\n");
    let env = [
        ("OPENCHAT_MEDIA_PORT".to_string(), "9200".to_string()),
        ("OPENCHAT_RTC_NODE_ID".to_string(), "edge-a".to_string()),
    ];
    let flags = [("rtc.node_id".to_string(), "edge-b".to_string())];
    let c = load(Some(f.path()), env, &flags).expect("loads");
    assert_eq!(c.http.listen.port(), 9000);
    assert_eq!(c.media.port, 9200);
    assert_eq!(c.rtc.node_id, "edge-b");
}

#[test]
fn file_suffix_reads_secrets() {
    let secret = write("s3cret-from-file\n");
    let env = [(
        "OPENCHAT_AUTH_SECRET_FILE".to_string(),
        secret.path().display().to_string(),
    )];
    let c = load(None, env, &[]).expect("loads");
    assert_eq!(c.auth.secret.expose(), "s3cret-from-file");
    assert!(
        !format!("{c:?}").contains("s3cret"),
        "Debug redacts secrets"
    );
}

#[test]
fn unknown_keys_fail() {
    let f = write("[http]\nlisten = \"127.0.0.1:9000\"\nlisen = 1\n");
    let e = load(Some(f.path()), [], &[]).expect_err("unknown key");
    assert!(e.to_string().contains("lisen"), "{e}");
    let e = load(None, [("OPENCHAT_HTTP_LISEN".into(), "x".into())], &[]).expect_err("unknown env");
    assert!(e.to_string().contains("OPENCHAT_HTTP_LISEN"), "{e}");
}

#[test]
fn bad_values_are_explained() {
    let e =
        load(None, [("OPENCHAT_MEDIA_PORT".into(), "eighty".into())], &[]).expect_err("bad int");
    assert!(e.to_string().contains("media.port"), "{e}");
    let f = write("mode = \"staging\"\n");
    assert!(load(Some(f.path()), [], &[]).is_err());
    let f = write("[rtc]\nticket_ttl_secs = 0\n");
    let e = load(Some(f.path()), [], &[]).expect_err("range");
    assert!(e.to_string().contains("rtc.ticket_ttl_secs"), "{e}");
    let f = write("not toml at all [");
    assert!(matches!(
        load(Some(f.path()), [], &[]),
        Err(ConfigError::Parse { .. })
    ));
    assert!(matches!(
        load(Some(std::path::Path::new("/nonexistent/x.toml")), [], &[]),
        Err(ConfigError::Read { .. })
    ));
}

#[test]
fn production_requires_a_key() {
    let f = write("mode = \"production\"\n");
    let e = load(Some(f.path()), [], &[]).expect_err("needs secret");
    assert!(e.to_string().contains("auth.secret"), "{e}");
}

#[test]
fn connection_limits_come_from_every_layer_and_are_checked() {
    let f = write("[http]\nheader_read_timeout_secs = 5\nmax_connections_per_ip = 0\n");
    let env = [
        (
            "OPENCHAT_HTTP_MAX_CONNECTIONS".to_string(),
            "1000".to_string(),
        ),
        (
            "OPENCHAT_HTTP_SHUTDOWN_GRACE_SECS".to_string(),
            "0".to_string(),
        ),
    ];
    let flags = [("http.ws_idle_timeout_secs".to_string(), "90".to_string())];
    let c = load(Some(f.path()), env, &flags).expect("loads");
    assert_eq!(c.http.header_read_timeout_secs, 5);
    assert_eq!(c.http.max_connections_per_ip, 0);
    assert_eq!(c.http.max_connections, 1000);
    assert_eq!(c.http.shutdown_grace_secs, 0);
    assert_eq!(c.http.ws_idle_timeout_secs, 90);
    assert_eq!(c.http.keep_alive_timeout_secs, 60, "default kept");

    for (text, key) in [
        (
            "[http]\nheader_read_timeout_secs = 0\n",
            "http.header_read_timeout_secs",
        ),
        (
            "[http]\nkeep_alive_timeout_secs = 0\n",
            "http.keep_alive_timeout_secs",
        ),
        (
            "[http]\nws_upgrade_timeout_secs = 0\n",
            "http.ws_upgrade_timeout_secs",
        ),
        (
            "[http]\nws_ping_interval_secs = 60\n",
            "http.ws_ping_interval_secs",
        ),
        (
            "[http]\nshutdown_grace_secs = 7200\n",
            "http.shutdown_grace_secs",
        ),
    ] {
        let f = write(text);
        let e = load(Some(f.path()), [], &[]).expect_err(text);
        assert!(e.to_string().contains(key), "{e}");
    }
}

/// Found by the `config` fuzz target: a tiny positive rate (`1e-30`) validated, and the rate
/// limiter built from it panicked computing the wait of the first refused request.
#[test]
fn rates_must_be_usable() {
    for rps in ["1e-30", "0.0001", "inf", "nan", "-1", "0", "1e300"] {
        let env = [("OPENCHAT_LIMITS_DEVICE_RPS".to_string(), rps.to_string())];
        let e = load(None, env, &[]).expect_err(rps);
        assert!(e.to_string().contains("limits.device_rps"), "{rps}: {e}");
        let f = write(&format!("[limits]\nuser_rps = {rps}\n"));
        if let Err(e) = load(Some(f.path()), [], &[]) {
            assert!(e.to_string().contains("user_rps"), "{rps}: {e}");
        } else {
            panic!("user_rps = {rps} accepted");
        }
    }
    let env = [("OPENCHAT_LIMITS_USER_RPS".to_string(), "0.001".to_string())];
    load(None, env, &[]).expect("the smallest rate loads");
}

#[test]
fn the_media_section_is_the_sfus_and_its_rules_name_the_key() {
    for (key, value, says) in [
        ("media.workers", "0", "media.workers: must be 1..=256"),
        (
            "media.peer_timeout_secs",
            "1",
            "media.peer_timeout_secs: must be at least 2",
        ),
        (
            "media.connect_timeout_secs",
            "1",
            "media.connect_timeout_secs: must be 2..=3600",
        ),
        (
            "media.connect_timeout_secs",
            "3601",
            "media.connect_timeout_secs: must be 2..=3600",
        ),
        (
            "media.keyframe_request_interval_ms",
            "20",
            "media.keyframe_request_interval_ms: must be 50..=10000",
        ),
        (
            "media.video_codecs",
            "vp8,av1",
            "media.video_codecs: must name one or more of vp8, h264, vp9",
        ),
        (
            "media.video_codecs",
            "vp8,vp8",
            "media.video_codecs: must name one or more of vp8, h264, vp9",
        ),
        (
            "media.max_video_publishers",
            "0",
            "media.max_video_publishers: must be at least 1",
        ),
        (
            "media.max_camera_kbps",
            "10",
            "media.max_camera_kbps: must be 50..=100000",
        ),
        (
            "media.max_screenshare_kbps",
            "200000",
            "media.max_screenshare_kbps: must be 50..=100000",
        ),
        (
            "media.max_simulcast_layers",
            "4",
            "media.max_simulcast_layers: must be 1..=3",
        ),
        (
            "media.bind_ip",
            "0.0.0.0",
            "media.advertised_ip: required when bind_ip is 0.0.0.0 or ::",
        ),
    ] {
        let e = load(None, [], &[(key.into(), value.into())]).expect_err(key);
        assert!(e.to_string().contains(says), "{key}={value}: {e}");
    }
    let c = load(
        None,
        [],
        &[("media.connect_timeout_secs".into(), "12".into())],
    )
    .expect("valid");
    assert_eq!(
        c.media.sfu_config().connect_timeout,
        std::time::Duration::from_secs(12)
    );
    assert_eq!(
        c.media,
        sfu::MediaSettings {
            connect_timeout_secs: 12,
            ..Default::default()
        }
    );
}

#[test]
fn the_control_section_is_controls_and_its_rules_name_the_key() {
    for key in [
        "control.max_devices_per_user",
        "control.avatar_max_bytes",
        "control.key_backup_max_bytes",
    ] {
        let e = load(None, [], &[(key.into(), "0".into())]).expect_err(key);
        assert!(e.to_string().contains(key), "{key}: {e}");
    }
    let c = load(None, [], &[]).expect("defaults");
    assert_eq!(c.control, control::ControlSettings::default());
    assert_eq!(c.avatar_dir(), c.data_dir.join("avatars"));
}

#[test]
fn keys_are_read_off_the_sections() {
    // The table openchatd had when keys were listed by hand: the sections now say the same.
    let expected: std::collections::BTreeSet<(&str, &str)> = [
        ("mode", "Str"),
        ("data_dir", "Str"),
        ("http.listen", "Str"),
        ("http.max_body_bytes", "Int"),
        ("http.header_read_timeout_secs", "Int"),
        ("http.keep_alive_timeout_secs", "Int"),
        ("http.ws_upgrade_timeout_secs", "Int"),
        ("http.max_connections", "Int"),
        ("http.max_connections_per_ip", "Int"),
        ("http.ws_ping_interval_secs", "Int"),
        ("http.ws_idle_timeout_secs", "Int"),
        ("http.shutdown_grace_secs", "Int"),
        ("database.url", "Str"),
        ("database.sqlite_synchronous", "Str"),
        ("auth.algorithm", "Str"),
        ("auth.secret", "Str"),
        ("auth.public_key_file", "Str"),
        ("auth.issuer", "Str"),
        ("auth.audience", "Str"),
        ("auth.dev_token_ttl_secs", "Int"),
        ("rtc.ticket_ttl_secs", "Int"),
        ("rtc.ticket_secret", "Str"),
        ("rtc.node_id", "Str"),
        ("rtc.max_participants_per_room", "Int"),
        ("rtc.keepalive_interval_ms", "Int"),
        ("media.bind_ip", "Str"),
        ("media.port", "Int"),
        ("media.workers", "Int"),
        ("media.advertised_ip", "Str"),
        ("media.peer_timeout_secs", "Int"),
        ("media.connect_timeout_secs", "Int"),
        ("media.keyframe_request_interval_ms", "Int"),
        ("media.video_codecs", "Str"),
        ("media.max_video_publishers", "Int"),
        ("media.max_camera_kbps", "Int"),
        ("media.max_screenshare_kbps", "Int"),
        ("media.max_simulcast_layers", "Int"),
        ("log.level", "Str"),
        ("log.format", "Str"),
        ("limits.user_rps", "Float"),
        ("limits.user_burst", "Int"),
        ("limits.device_rps", "Float"),
        ("limits.device_burst", "Int"),
        ("control.avatar_dir", "Str"),
        ("control.avatar_max_bytes", "Int"),
        ("control.max_devices_per_user", "Int"),
        ("control.key_backup_max_bytes", "Int"),
    ]
    .into_iter()
    .collect();
    let derived: std::collections::BTreeSet<(&str, &str)> = layers::known_keys()
        .map(|key| (key, layers::kind_name(key)))
        .collect();
    assert_eq!(derived, expected);
}
