//! Interop with independent WebRTC stacks, over real UDP on loopback against an in-process
//! `openchatd`: clients written from docs/protocol.md alone on aiortc and on GStreamer webrtcbin
//! (`tests/interop/*.py`), and `rtc-joiner` (webrtc-rs). Every client publishes its own tone and
//! records each remote participant to a WAV file, whose dominant frequency is checked.
//!
//! Firefox ESR joins too, with the demo web page, driven headless over WebDriver BiDi.
//!
//! Needs what `scripts/install-deps.sh` installs (a `.venv` with aiortc; GStreamer and Firefox ESR
//! from Debian) and `cargo build -p rtc-joiner`. A missing stack prints "skipped: ..." and passes,
//! unless `CI=true`.

#[path = "interop/clients.rs"]
mod clients;
mod common;
#[path = "interop/firefox.rs"]
mod firefox;

use std::time::Duration;

use clients::{Client, Role, Stack, available, heard, max_sdp, wavs};
use common::joiner::JoinerProcess;
use common::{Db, TestServer};

/// Seconds each client of a pair publishes.
const PAIR_SECS: f64 = 7.0;
/// Longest a client may take beyond its duration to join, connect and report.
const SLACK: Duration = Duration::from_secs(40);

/// The tone each stack publishes in the pair tests.
fn tone(stack: Stack) -> f64 {
    match stack {
        Stack::Aiortc => 523.0,
        Stack::Gstreamer => 587.0,
        Stack::Joiner => 659.0,
    }
}

/// Two clients publish for [`PAIR_SECS`]; each must hear the other's tone, and never itself.
async fn pair(a: Stack, b: Stack) {
    if !available(&[a, b]) {
        return;
    }
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let work = tempfile::tempdir().expect("tempdir");
    let roles = [
        Role::new(a, &format!("{}-a", a.name()), Some(tone(a)), PAIR_SECS),
        Role::new(b, &format!("{}-b", b.name()), Some(tone(b)), PAIR_SECS),
    ];
    let clients = roles
        .clone()
        .map(|r| Client::start(r, &server.base, "vc_general", work.path()));
    let [ca, cb] = clients;
    let (dir_a, dir_b) = (ca.received.clone(), cb.received.clone());
    let limit = Duration::from_secs_f64(PAIR_SECS) + SLACK;
    let (sa, sb) = tokio::join!(ca.finish(limit), cb.finish(limit));
    let mut failures = Vec::new();
    for (listener, dir, summary, speaker) in [
        (&roles[0], &dir_a, &sa, &roles[1]),
        (&roles[1], &dir_b, &sb, &roles[0]),
    ] {
        assert_eq!(
            wavs(dir),
            [format!("{}.wav", speaker.user)],
            "{} hears {} only, never itself",
            listener.user,
            speaker.user
        );
        let hz = speaker.tone_hz.expect("tone");
        match heard(dir, &speaker.user, hz, (PAIR_SECS * 0.5) as f32) {
            Ok(what) => eprintln!("{} heard {}: {what}", listener.user, speaker.user),
            Err(e) => failures.push(format!("{} -> {}: {e}", speaker.user, listener.user)),
        }
        eprintln!(
            "{}: media connected {}, largest SDP {} bytes, server errors {}",
            listener.user,
            summary["media_connected"],
            max_sdp(summary, usize::MAX),
            summary["server_errors"]
        );
    }
    assert!(failures.is_empty(), "{failures:#?}\n{sa:#}\n{sb:#}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiortc_and_rtc_joiner_hear_each_other() {
    pair(Stack::Aiortc, Stack::Joiner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gstreamer_and_rtc_joiner_hear_each_other() {
    pair(Stack::Gstreamer, Stack::Joiner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiortc_and_gstreamer_hear_each_other() {
    pair(Stack::Aiortc, Stack::Gstreamer).await;
}

/// aiortc offers a camera track into a voice room: the server refuses that m-line
/// (`media_source_not_allowed`), and audio still flows both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_offer_into_voice_room_still_hears_audio() {
    if !available(&[Stack::Aiortc]) {
        return;
    }
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let work = tempfile::tempdir().expect("tempdir");
    let mut camera = Role::new(Stack::Aiortc, "camera", Some(523.0), PAIR_SECS);
    camera.extra.push("--offer-video".into());
    let joiner = Role::new(Stack::Joiner, "joiner", Some(659.0), PAIR_SECS);
    let c = Client::start(camera, &server.base, "vc_general", work.path());
    let j = Client::start(joiner, &server.base, "vc_general", work.path());
    let (dir_c, dir_j) = (c.received.clone(), j.received.clone());
    let limit = Duration::from_secs_f64(PAIR_SECS) + SLACK;
    let (sc, sj) = tokio::join!(c.finish(limit), j.finish(limit));
    let refused = sc["server_errors"].as_array().is_some_and(|e| {
        e.iter().any(|e| {
            e.as_str()
                .is_some_and(|e| e.starts_with("media_source_not_allowed"))
        })
    });
    assert!(
        refused,
        "no media_source_not_allowed for the camera: {sc:#}"
    );
    assert_eq!(sc["client_errors"], serde_json::json!([]), "aiortc: {sc:#}");
    let min = (PAIR_SECS * 0.5) as f32;
    let camera_heard = heard(&dir_c, "joiner", 659.0, min);
    let joiner_heard = heard(&dir_j, "camera", 523.0, min);
    let camera_log = std::fs::read_to_string(work.path().join("camera/stderr.log"));
    let states: Vec<&str> = camera_log
        .as_deref()
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"connection_state\""))
        .collect();
    eprintln!(
        "camera: media connected {}, connection states {states:?}",
        sc["media_connected"]
    );
    assert!(
        camera_heard.is_ok() && joiner_heard.is_ok(),
        "camera heard joiner: {camera_heard:?}\njoiner heard camera: {joiner_heard:?}\n{sc:#}\n{sj:#}\n\
         camera's log (tail):\n{}",
        clients::tail(&camera_log.unwrap_or_default(), 40)
    );
    server.stop().await;
}

/// Publishers in each churn batch (each batch is one `rtc-joiner load` process).
const CHURN_BATCH: u32 = 10;
/// Batches: 100 publishers in all.
const CHURN_BATCHES: u32 = 10;

/// 100 publishers come and go (ten `rtc-joiner load` runs of ten str0m publishers, one after the
/// other) while one aiortc and one rtc-joiner client stay. Then a late joiner publishes, and every
/// long-lived client must still hear it (and each other). With m-line recycling, the largest SDP
/// each long-lived client sees stays flat after the first batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_of_100_publishers_keeps_sessions_bounded() {
    churn(&[Stack::Aiortc, Stack::Joiner]).await;
}

/// The same churn with a long-lived GStreamer client. Debian 12's webrtcbin (GStreamer 1.22)
/// refuses any re-offer that changes the direction of an m-line it has negotiated, except to
/// `inactive` ("transceiver direction changes are not implemented"), so it could not take a
/// stopped m-line recycled for a new track; the server's idle-section reuse (same mid, still
/// `sendonly`, no offer) is what lets it stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_keeps_a_long_lived_gstreamer_client() {
    churn(&[Stack::Gstreamer, Stack::Joiner]).await;
}

/// Runs the churn with one long-lived client of each of `stacks`.
async fn churn(stacks: &[Stack]) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    if !available(stacks) {
        return;
    }
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let work = tempfile::tempdir().expect("tempdir");
    let long_lived: Vec<Role> = stacks
        .iter()
        .map(|&s| Role::new(s, &format!("long-{}", s.name()), Some(tone(s)), 600.0))
        .collect();
    let clients: Vec<Client> = long_lived
        .iter()
        .map(|r| Client::start(r.clone(), &server.base, "vc_general", work.path()))
        .collect();
    // Everyone is connected once each Python client hears the others.
    for c in clients.iter().filter(|c| c.role.stack != Stack::Joiner) {
        for other in long_lived.iter().filter(|o| o.user != c.role.user) {
            let user = format!("\"user_id\": \"{}\"", other.user);
            c.wait_log(&["\"first_audio\"", &user], Duration::from_secs(30))
                .await;
        }
    }
    let mut batch_times = Vec::new();
    for batch in 0..CHURN_BATCHES {
        let started = std::time::Instant::now();
        let n = CHURN_BATCH.to_string();
        let run_id = format!("churn{batch}");
        let hz = (300 + 10 * batch).to_string();
        let load = JoinerProcess::spawn_load(
            &run_id,
            &server.base,
            &[
                "--joiners",
                &n,
                "--publishers",
                &n,
                "--ramp",
                "40",
                "--settle",
                "0.3",
                "--duration",
                "1",
                "--connect-timeout",
                "20",
                "--metrics-url",
                "none",
                "--run-id",
                &run_id,
                "--tone-hz",
                &hz,
            ],
        );
        let (ok, stdout, stderr) =
            tokio::task::spawn_blocking(move || load.wait(Duration::from_secs(60)))
                .await
                .expect("load");
        assert!(ok, "churn batch {batch} failed:\n{stdout}\n{stderr}");
        let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_default();
        assert_eq!(
            summary["joins"]["failed"], 0,
            "churn batch {batch}: {summary:#}"
        );
        batch_times.push(started.elapsed().as_secs_f32());
    }
    eprintln!("churn batches took {batch_times:.1?} s");
    // The late joiner.
    let late = Client::start(
        Role::new(Stack::Joiner, "late", Some(880.0), 5.0),
        &server.base,
        "vc_general",
        work.path(),
    );
    late.finish(SLACK).await;
    for c in &clients {
        c.interrupt();
    }
    let mut summaries = Vec::new();
    for c in clients {
        let dir = c.received.clone();
        let role = c.role.clone();
        summaries.push((role, dir, c.try_finish(Duration::from_secs(20)).await));
    }
    let mut failures: Vec<String> = summaries
        .iter()
        .filter_map(|(_, _, s)| s.as_ref().err().cloned())
        .collect();
    let summaries: Vec<_> = summaries
        .into_iter()
        .filter_map(|(r, d, s)| Some((r, d, s.ok()?)))
        .collect();
    // Tracks published before the end of the first batch: the other long-lived clients' and ten.
    let first_batch = stacks.len() - 1 + CHURN_BATCH as usize;
    for (role, dir, summary) in &summaries {
        let early = max_sdp(summary, first_batch);
        let overall = max_sdp(summary, usize::MAX);
        let tracks = summary["sdps"]
            .as_array()
            .and_then(|s| s.last())
            .map(|s| s["tracks_published_before"].clone());
        eprintln!(
            "{}: largest SDP {early} bytes during the first {CHURN_BATCH} publishers, {overall} bytes \
             over all {} (tracks published to it: {tracks:?})",
            role.user,
            CHURN_BATCH * CHURN_BATCHES,
        );
        if overall > early + early / 4 {
            failures.push(format!(
                "{}: SDP grew from {early} to {overall} bytes after the first {CHURN_BATCH} publishers",
                role.user
            ));
        }
        let mut expect: Vec<(&str, f64)> = vec![("late", 880.0)];
        for other in summaries.iter().filter(|(o, _, _)| o.user != role.user) {
            expect.push((&other.0.user, other.0.tone_hz.expect("tone")));
        }
        for (from, hz) in expect {
            match heard(dir, from, hz, 2.0) {
                Ok(what) => eprintln!("{} heard {from}: {what}", role.user),
                Err(e) => failures.push(format!("{from} -> {}: {e}", role.user)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{failures:#?}\n{}",
        summaries
            .iter()
            .map(|(r, _, s)| format!(
                "{}: stop {} errors {} {}",
                r.user, s["stop_reason"], s["server_errors"], s["client_errors"]
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
    server.stop().await;
}

/// Firefox ESR joins with the demo web page (`signaling/web/`), an rtc-joiner publishes a tone:
/// the page receives and decodes the joiner's audio (its RTP and sample counters), and the joiner
/// hears the page's fake microphone (a 1 kHz tone). The page side checks counters, not the tone:
/// headless Firefox here has no audio output device, so a Web Audio `AudioContext` (the page's
/// only way to look at decoded samples) stays `suspended` and never runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_and_rtc_joiner_hear_each_other() {
    let Some(binary) = firefox::find() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "firefox-esr is not installed, and CI=true: scripts/install-deps.sh installs it"
        );
        eprintln!("skipped: firefox-esr not installed; run scripts/install-deps.sh");
        return;
    };
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let work = tempfile::tempdir().expect("tempdir");
    let mut browser = firefox::Firefox::launch(&binary).await.expect("firefox");
    let url = format!(
        "{}/?autojoin=1&user=firefox&server=srv_harbor&channel=vc_general",
        server.base
    );
    browser.navigate(&url).await.expect("page loads");
    let stats = "window.openchat ? window.openchat.stats() : null";
    let connected = poll(&mut browser, stats, |s| s["state"] == "connected").await;
    assert!(connected.is_ok(), "the page never connected: {connected:?}");
    let joiner_hz = tone(Stack::Joiner);
    let joiner = Client::start(
        Role::new(Stack::Joiner, "joiner", Some(joiner_hz), PAIR_SECS),
        &server.base,
        "vc_general",
        work.path(),
    );
    let dir = joiner.received.clone();
    let packets = poll(&mut browser, stats, |s| {
        s["inboundAudioPackets"].as_u64() > Some(100)
            && s["totalSamplesReceived"].as_u64() > Some(48_000)
            && s["outboundAudioPackets"].as_u64() > Some(100)
    })
    .await;
    let summary = joiner
        .finish(Duration::from_secs_f64(PAIR_SECS) + SLACK)
        .await;
    assert!(
        packets.is_ok(),
        "the page's audio counters: {packets:?}\njoiner: {summary:#}"
    );
    eprintln!("page stats: {}", packets.unwrap_or_default());
    assert_eq!(
        wavs(&dir),
        ["firefox.wav"],
        "the joiner hears the page: {summary:#}"
    );
    let page_hz = firefox::FAKE_MICROPHONE_HZ;
    match heard(&dir, "firefox", page_hz, (PAIR_SECS * 0.5) as f32) {
        Ok(what) => eprintln!("joiner heard firefox: {what}"),
        Err(e) => panic!("firefox -> joiner: {e}\n{summary:#}"),
    }
    drop(browser);
    server.stop().await;
}

/// Evaluates `expression` every 200 ms until `done` holds (30 s at most); the last value either way.
async fn poll(
    browser: &mut firefox::Firefox,
    expression: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> Result<serde_json::Value, serde_json::Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let value = browser
            .eval(expression)
            .await
            .unwrap_or_else(|e| serde_json::Value::String(e.to_string()));
        if done(&value) {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(value);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
