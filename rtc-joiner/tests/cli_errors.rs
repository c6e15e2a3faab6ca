//! The binary's flag and runtime errors: clap errors exit with 2, server errors print the
//! server's `code` and exit with 1.

mod common;

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtc-joiner"))
        .args(args)
        .output()
        .expect("run rtc-joiner")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn missing_channel_id_is_a_usage_error() {
    let output = run(&["--user", "alice"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--channel-id"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn token_and_user_together_is_a_usage_error() {
    let output = run(&[
        "--channel-id",
        "vc_general",
        "--token",
        "abc",
        "--user",
        "alice",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("--token") && err.contains("--user"), "{err}");
}

#[test]
fn neither_token_nor_user_is_a_usage_error() {
    let output = run(&["--channel-id", "vc_general"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn unguessable_file_type_is_a_usage_error() {
    let output = run(&["--channel-id", "c", "--user", "a", "--file", "noise.raw"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--file-type"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_join_ticket_prints_the_server_code() {
    let http = common::serve_http(|req| match req.path.as_str() {
        "/v1/dev/token" => (
            200,
            serde_json::json!({"access_token": "t", "token_type": "Bearer", "expires_in": 60, "user_id": "mallory"}),
        ),
        _ => (
            403,
            serde_json::json!({"error": {"code": "not_a_member", "message": "mallory is not a member of srv_harbor", "details": {}}}),
        ),
    })
    .await;
    let url = format!("http://{http}");
    let output = tokio::task::spawn_blocking(move || {
        run(&[
            "--channel-id",
            "vc_general",
            "--user",
            "mallory",
            "--backend-url",
            &url,
        ])
    })
    .await
    .expect("join");
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("error: not_a_member: mallory is not a member of srv_harbor"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatal_signaling_error_prints_the_server_code() {
    let ws = common::serve_ws(|mut ws| async move {
        let join = common::next_json(&mut ws).await.expect("join frame");
        assert_eq!(join["type"], "join");
        assert_eq!(join["protocol"], 1);
        assert_eq!(join["ticket"], "ticket-1");
        common::send_json(
            &mut ws,
            serde_json::json!({"type": "error", "code": "ticket_expired", "message": "the join ticket has expired", "fatal": true}),
        )
        .await;
    })
    .await;
    let http = common::serve_http(common::backend_routes(ws)).await;
    let url = format!("http://{http}");
    let output = tokio::task::spawn_blocking(move || {
        run(&[
            "--channel-id",
            "vc_general",
            "--user",
            "carol",
            "--backend-url",
            &url,
            "--json",
        ])
    })
    .await
    .expect("join");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("error: ticket_expired: the join ticket has expired"),
        "{}",
        stderr(&output)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("json error on stdout");
    assert_eq!(json["error"]["code"], "ticket_expired");
}

#[test]
fn video_files_are_checked_before_joining() {
    let dir = tempfile::tempdir().expect("dir");
    let not_video = dir.path().join("notes.ivf");
    std::fs::write(&not_video, b"hello").expect("write");
    let not_video = not_video.to_str().expect("utf8");
    let cases: [(&[&str], &str); 4] = [
        (&["--video", "/nonexistent/q.ivf"], "cannot read video file"),
        (&["--video", not_video], "neither IVF"),
        (
            &[
                "--video", not_video, "--video", not_video, "--video", not_video, "--video",
                not_video,
            ],
            "at most 3",
        ),
        (&["--render-size", "wide"], "WIDTHxHEIGHT"),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["--channel-id", "vc_video", "--user", "a"];
        args.extend_from_slice(flags);
        let output = run(&args);
        assert_eq!(output.status.code(), Some(2), "{flags:?}");
        let err = stderr(&output);
        assert!(err.contains(expected), "{flags:?}: {err}");
    }
}
