//! The demo web client (`signaling/web/`) in headless Chromium against an in-process `openchatd`.
//!
//! Chromium runs with fake media devices (its microphone plays a beep) and is driven over the
//! DevTools protocol: pages auto-join from their URL and are read through `window.openchat`.
//! Without Chromium the tests print "skipped: chromium not installed" and pass, unless `CI=true`.
//! The joiner scenario needs `cargo build -p rtc-joiner` first (or `RTC_JOINER_BIN`).
//! Set `BROWSER_TEST_ARTIFACTS=<dir>` to keep the screenshots.

#[path = "browser/cdp.rs"]
mod cdp;
#[path = "browser/checks.rs"]
mod checks;
#[path = "browser/chromium.rs"]
mod chromium;
#[path = "browser/joiner.rs"]
mod joiner;
#[path = "common/netns.rs"]
mod netns;
#[path = "browser/server.rs"]
mod server;
#[allow(dead_code)]
#[path = "common/video.rs"]
mod video;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use cdp::{Cdp, Page};
use chromium::{Chromium, Launch};
use netns::Netns;
use serde_json::Value;
use server::TestServer;

/// Packets that prove audio flows (50 packets/s of 20 ms Opus frames, so about one second).
const MIN_PACKETS: u64 = 50;
/// Time for a page to reach `connected` after it is opened.
const CONNECT_LIMIT: Duration = Duration::from_secs(30);
/// Time for the packet counters to pass [`MIN_PACKETS`] once connected.
const PACKETS_LIMIT: Duration = Duration::from_secs(30);
/// How often conditions are polled.
const POLL: Duration = Duration::from_millis(200);

/// Held by the tests whose pass depends on a subscriber's bandwidth estimate climbing to the top
/// simulcast layer: two of them at once (four Chromium pages decoding and encoding 720p beside
/// two servers on a 2-core machine) kept an estimate at the low layer for a minute.
static ESTIMATE_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Read-held by every test through [`in_browser`]; the namespace test holds it for writing, so
/// it runs alone (beside any other test, its viewer's estimate stayed at the low layer).
static ALONE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The Chromium binary, or `None` to skip (only outside CI).
fn chromium_or_skip() -> Option<PathBuf> {
    if let Some(path) = chromium::find() {
        return Some(path);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("chromium is not installed, and CI=true: the install script must install it");
    }
    eprintln!("skipped: chromium not installed");
    None
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Polls `probe` until it yields a value, failing with `what` and the last observation after `limit`.
async fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut probe: impl AsyncFnMut() -> anyhow::Result<Result<T, Value>>,
) -> anyhow::Result<T> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let last = match probe().await? {
            Ok(value) => return Ok(value),
            Err(last) => last,
        };
        if tokio::time::Instant::now() >= deadline {
            bail!("timed out after {limit:?} waiting for {what}; last seen: {last}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `window.openchat.stats()` of a page.
async fn stats(page: &Page<'_>) -> anyhow::Result<Value> {
    page.eval("window.openchat.stats()").await
}

/// Waits until the page's media connection is up.
async fn wait_connected(page: &Page<'_>) -> anyhow::Result<()> {
    wait_for(
        &format!("{} to connect", page.name),
        CONNECT_LIMIT,
        async || {
            let s = page
                .eval("window.openchat ? window.openchat.stats() : null")
                .await?;
            if s["state"] == "failed" {
                bail!("{} failed to join: {}", page.name, s["error"]);
            }
            Ok(if s["state"] == "connected" {
                Ok(())
            } else {
                Err(s)
            })
        },
    )
    .await
}

/// Waits until `counter` of the page's stats exceeds [`MIN_PACKETS`].
async fn wait_packets(page: &Page<'_>, counter: &str) -> anyhow::Result<u64> {
    let what = format!("{} {counter} > {MIN_PACKETS}", page.name);
    wait_for(&what, PACKETS_LIMIT, async || {
        let s = stats(page).await?;
        match s[counter].as_u64() {
            Some(n) if n > MIN_PACKETS => Ok(Ok(n)),
            _ => Ok(Err(s)),
        }
    })
    .await
}

/// The page's URL that auto-joins `vc_general` as `user`.
fn join_url(server: &TestServer, user: &str) -> String {
    format!(
        "{}/?autojoin=1&user={user}&server=srv_harbor&channel=vc_general",
        server.base_url
    )
}

/// Waits until `probe` (a JavaScript expression) evaluates to `want` on `page`.
async fn wait_eval(page: &Page<'_>, probe: &str, want: Value) -> anyhow::Result<()> {
    let what = format!("{}: `{probe}` == {want}", page.name);
    // Exceptions (e.g. before app.js has run) count as "not yet" and are shown on timeout.
    let guarded =
        format!("(() => {{ try {{ return {probe}; }} catch (e) {{ return String(e); }} }})()");
    wait_for(&what, CONNECT_LIMIT, async || {
        let got = page.eval(&guarded).await?;
        Ok(if got == want { Ok(()) } else { Err(got) })
    })
    .await
}

/// Captures a screenshot into `dir` (and `$BROWSER_TEST_ARTIFACTS`), checking it is a real PNG.
async fn screenshot(page: &Page<'_>, dir: &Path) -> anyhow::Result<PathBuf> {
    let png = page.screenshot().await?;
    let (width, height) = checks::png_dimensions(&png)
        .with_context(|| format!("screenshot of {} ({} bytes)", page.name, png.len()))?;
    ensure!(
        width >= 300 && height >= 200,
        "tiny screenshot {width}x{height}"
    );
    let name = format!("page-{}.png", page.name);
    let path = dir.join(&name);
    std::fs::write(&path, &png)?;
    if let Some(keep) = std::env::var_os("BROWSER_TEST_ARTIFACTS") {
        std::fs::create_dir_all(&keep)?;
        std::fs::write(Path::new(&keep).join(&name), &png)?;
    }
    Ok(path)
}

/// Connects to `browser`'s DevTools, retrying for a few seconds (a relay into a namespace may
/// start listening a moment after Chromium prints its URL).
async fn connect(browser: &Chromium) -> anyhow::Result<Cdp> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Cdp::connect(&browser.devtools_url).await {
            Ok(cdp) => return Ok(cdp),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// Adds the pages' console output and Chromium's stderr to a failure (and keeps the console in
/// `$BROWSER_TEST_ARTIFACTS/console-<test>.log`).
fn with_diagnostics<T>(
    test: &str,
    outcome: anyhow::Result<T>,
    cdp: &Cdp,
    browser: &Chromium,
) -> anyhow::Result<T> {
    if let Some(keep) = std::env::var_os("BROWSER_TEST_ARTIFACTS") {
        let _ = std::fs::create_dir_all(&keep);
        let _ = std::fs::write(
            Path::new(&keep).join(format!("console-{test}.log")),
            cdp.console().join("\n"),
        );
    }
    outcome.map_err(|e| {
        e.context(format!(
            "page console:\n{}\n--- chromium stderr (tail):\n{}",
            cdp.console().join("\n"),
            browser.stderr_tail()
        ))
    })
}

/// Runs `body` against an in-process `openchatd` and a fresh headless Chromium (skipped without
/// Chromium outside CI), adds the pages' console and Chromium's stderr to a failure, and tears
/// both down.
async fn in_browser(
    test: &str,
    body: impl AsyncFnOnce(&TestServer, &Cdp) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let _beside_others = ALONE.read().await;
    in_browser_with(test, &[], |_| Launch::default(), body).await
}

/// [`in_browser`] with config `overrides` for the server and Chromium launched as `launch`
/// says (given the server's base URL).
async fn in_browser_with(
    test: &str,
    overrides: &[(&str, &str)],
    launch: impl FnOnce(&str) -> Launch,
    body: impl AsyncFnOnce(&TestServer, &Cdp) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let Some(binary) = chromium_or_skip() else {
        return Ok(());
    };
    init_tracing();
    let server = TestServer::start_with(overrides).await?;
    let browser = Chromium::launch_with(&binary, launch(&server.base_url)).await?;
    let cdp = connect(&browser).await?;
    let outcome = body(&server, &cdp).await;
    let outcome = with_diagnostics(test, outcome, &cdp, &browser);
    drop(cdp);
    drop(browser);
    server.stop().await?;
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_hear_each_other() -> anyhow::Result<()> {
    in_browser("two_browsers_hear_each_other", async |server, cdp| {
        let work = tempfile::tempdir()?;
        let a = Page::open(cdp, "a", &join_url(server, "a")).await?;
        let b = Page::open(cdp, "b", &join_url(server, "b")).await?;
        for page in [&a, &b] {
            wait_connected(page).await?;
        }
        for page in [&a, &b] {
            wait_packets(page, "inboundAudioPackets").await?;
            wait_packets(page, "outboundAudioPackets").await?;
        }
        let users = a
            .eval("window.openchat.participants.map(p => p.user_id).sort().join(',')")
            .await?;
        ensure!(users == "a,b", "participants seen by a: {users}");
        if let Some(keep) = std::env::var_os("BROWSER_TEST_ARTIFACTS") {
            let sdp = a.eval("window.openchat.sdp").await?;
            std::fs::write(Path::new(&keep).join("sdp-a.json"), format!("{sdp:#}"))?;
        }
        screenshot(&a, work.path()).await?;
        // Leaving is seen by the other page.
        b.eval("window.openchat.leave()").await?;
        let count = "window.openchat.participants.length";
        wait_eval(&a, count, 1.into()).await?;
        wait_eval(&b, "window.openchat.state", "left".into()).await?;
        // The same page joins again under another name.
        b.eval("window.openchat.join({user: 'b2'})").await?;
        wait_connected(&b).await?;
        wait_eval(&a, count, 2.into()).await?;
        wait_packets(&b, "inboundAudioPackets").await?;
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_and_rtc_joiner_hear_each_other() -> anyhow::Result<()> {
    in_browser(
        "browser_and_rtc_joiner_hear_each_other",
        async |server, cdp| {
            let joiner_bin = joiner::locate()?;
            let work = tempfile::tempdir()?;
            let received = work.path().join("received");
            std::fs::create_dir_all(&received)?;
            let page = Page::open(cdp, "browser", &join_url(server, "browser")).await?;
            wait_connected(&page).await?;
            let args: Vec<String> = [
                "--backend-url",
                &server.base_url,
                "--channel-id",
                "vc_general",
                "--user",
                "joiner",
                "--tone-hz",
                "440",
                "--duration",
                "12",
                "--write-received-dir",
                &received.display().to_string(),
            ]
            .map(String::from)
            .to_vec();
            let mut joiner = joiner::Joiner::spawn(&joiner_bin, &args, work.path())?;
            let heard = async {
                let inbound = wait_packets(&page, "inboundAudioPackets").await?;
                let outbound = wait_packets(&page, "outboundAudioPackets").await?;
                eprintln!("page: {inbound} audio packets in, {outbound} out");
                let users = page
                    .eval("window.openchat.participants.map(p => p.user_id).sort().join(',')")
                    .await?;
                ensure!(
                    users == "browser,joiner",
                    "participants seen by the page: {users}"
                );
                screenshot(&page, work.path()).await
            }
            .await;
            if let Err(e) = heard {
                return Err(e.context(format!("rtc-joiner output:\n{}", joiner.output())));
            }
            joiner.wait(Duration::from_secs(60)).await?;
            let wav = received.join("browser.wav");
            let summary = checks::wav_summary(&wav)
                .with_context(|| format!("rtc-joiner output:\n{}", joiner.output()))?;
            ensure!(
                summary.seconds >= 2.0,
                "browser.wav holds {summary:?}, want at least 2 s"
            );
            ensure!(summary.rms > 0.001, "browser.wav is silent: {summary:?}");
            eprintln!("rtc-joiner received from the page: {summary:?}");
            wait_for(
                "the page to see the joiner leave",
                CONNECT_LIMIT,
                async || {
                    let n = page.eval("window.openchat.participants.length").await?;
                    Ok(if n == 1 { Ok(()) } else { Err(n) })
                },
            )
            .await
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_hears_speaker_and_sees_mute() -> anyhow::Result<()> {
    in_browser("listener_hears_speaker_and_sees_mute", async |server, cdp| {
        let speaker = Page::open(cdp, "speaker", &join_url(server, "speaker")).await?;
        let listen_url = format!("{}&listen=1", join_url(server, "listener"));
        let listener = Page::open(cdp, "listener", &listen_url).await?;
        for page in [&speaker, &listener] {
            wait_connected(page).await?;
        }
        let heard = wait_packets(&listener, "inboundAudioPackets").await?;
        let sent = stats(&listener).await?["outboundAudioPackets"].clone();
        ensure!(sent == 0, "a listen-only page sent {sent} audio packets");
        eprintln!("listener heard {heard} packets");
        let muted = "window.openchat.participants.filter(p => !p.self && p.muted.includes('microphone')).length";
        wait_eval(&listener, muted, 0.into()).await?;
        speaker.eval("window.openchat.setMuted(true)").await?;
        wait_eval(&listener, muted, 1.into()).await?;
        speaker.eval("window.openchat.setMuted(false)").await?;
        wait_eval(&listener, muted, 0.into()).await
    })
    .await
}

/// POSTs `body` to `path` of `server` with a development token for `user`; returns the JSON.
async fn post_as(
    server: &TestServer,
    user: &str,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/v1/dev/token", server.base_url))
        .json(&serde_json::json!({ "user_id": user }))
        .send()
        .await?
        .json()
        .await?;
    let token = token["access_token"].as_str().context("a dev token")?;
    let answer = http
        .post(format!("{}{path}", server.base_url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = answer.status();
    let body: Value = answer.json().await?;
    ensure!(status.is_success(), "{path}: {status} {body}");
    Ok(body)
}

/// The server's owner server-mutes a speaking page through the moderation API: the listener's
/// page shows the speaker muted by a moderator and its audio stops; the unmute shows and brings
/// it back without a rejoin; a kick ends the speaker's page with `kicked` on screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_a_server_mute_and_a_kick() -> anyhow::Result<()> {
    in_browser(
        "pages_show_a_server_mute_and_a_kick",
        async |server, cdp| {
            let speaker = Page::open(cdp, "speaker", &join_url(server, "speaker")).await?;
            let listen_url = format!("{}&listen=1", join_url(server, "listener"));
            let listener = Page::open(cdp, "listener", &listen_url).await?;
            for page in [&speaker, &listener] {
                wait_connected(page).await?;
            }
            wait_packets(&listener, "inboundAudioPackets").await?;
            let case = post_as(
                server,
                "dev-owner",
                "/v1/moderation/cases",
                serde_json::json!({"server_id": "srv_harbor", "target_user_id": "speaker",
                               "reason": "too loud"}),
            )
            .await?;
            let case_id = case["case_id"].as_str().context("case id")?.to_owned();
            let act = async |kind: &str| {
                post_as(
                    server,
                    "dev-owner",
                    &format!("/v1/moderation/cases/{case_id}/actions/immediate"),
                    serde_json::json!({ "action": { "kind": kind } }),
                )
                .await
            };
            let shown =
                "window.openchat.participants.filter(p => !p.self && p.server_muted).length";
            let own = "window.openchat.participants.filter(p => p.self && p.server_muted).length";
            act("mute").await?;
            wait_eval(&listener, shown, 1.into()).await?;
            wait_eval(&speaker, own, 1.into()).await?;
            let badge = "document.querySelectorAll('.server-muted').length > 0";
            wait_eval(&listener, badge, true.into()).await?;
            act("unmute").await?;
            wait_eval(&listener, shown, 0.into()).await?;
            let before = stats(&listener).await?["inboundAudioPackets"]
                .as_u64()
                .unwrap_or(0);
            wait_for("audio back after the unmute", PACKETS_LIMIT, async || {
                let now = stats(&listener).await?["inboundAudioPackets"]
                    .as_u64()
                    .unwrap_or(0);
                Ok(if now > before + MIN_PACKETS {
                    Ok(())
                } else {
                    Err(now.into())
                })
            })
            .await?;
            act("kick").await?;
            wait_eval(&speaker, "window.openchat.state", "failed".into()).await?;
            wait_eval(
                &speaker,
                "window.openchat.error && window.openchat.error.code",
                "kicked".into(),
            )
            .await?;
            wait_eval(
                &speaker,
                "document.getElementById('error').textContent.startsWith('kicked')",
                true.into(),
            )
            .await
        },
    )
    .await
}

/// A speaker leaves and another joins: the server gives the listener's idle m-line to the new
/// speaker with no offer (`track_published` on the same mid), and the page plays the new speaker
/// on that line's receiver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freed_line_plays_the_next_speaker() -> anyhow::Result<()> {
    in_browser("a_freed_line_plays_the_next_speaker", async |server, cdp| {
        // [mid, participant] of the page's remote audio elements on server m-lines (`s<n>`; a
        // listen-only page also has one for its own recvonly line, on which nothing is sent).
        const LINES: &str = "JSON.stringify([...document.querySelectorAll('#remote-audio audio')]\
                             .filter(a => a.dataset.mid.startsWith('s'))\
                             .map(a => [a.dataset.mid, a.dataset.participant]))";
        let participant_of = |user: &'static str| {
            format!(
                "(window.openchat.participants.find(p => p.user_id === '{user}') || {{}}).participant_id"
            )
        };
        let listen_url = format!("{}&listen=1", join_url(server, "listener"));
        let listener = Page::open(cdp, "listener", &listen_url).await?;
        wait_connected(&listener).await?;
        let first = Page::open(cdp, "first", &join_url(server, "first")).await?;
        wait_connected(&first).await?;
        wait_packets(&listener, "inboundAudioPackets").await?;
        let lines: Vec<(String, String)> =
            serde_json::from_str(listener.eval(LINES).await?.as_str().unwrap_or("[]"))?;
        let [(mid, _)] = lines.as_slice() else {
            bail!("one remote audio line expected, the page has {lines:?}");
        };
        let offers = "window.openchat.log.filter(l => l.includes('recv offer')).length";
        first.eval("window.openchat.leave()").await?;
        wait_eval(&listener, LINES, "[]".into()).await?;
        let packets_before = stats(&listener).await?["inboundAudioPackets"]
            .as_u64()
            .unwrap_or(0);
        let offers_before = listener.eval(offers).await?;
        let second = Page::open(cdp, "second", &join_url(server, "second")).await?;
        wait_connected(&second).await?;
        let second_id = listener.eval(&participant_of("second")).await?;
        let want =
            serde_json::to_string(&[[mid.clone(), second_id.as_str().unwrap_or("?").into()]])?;
        wait_eval(&listener, LINES, want.into()).await?;
        wait_for(
            "the listener to receive the second speaker",
            CONNECT_LIMIT,
            async || {
                let s = stats(&listener).await?;
                Ok(match s["inboundAudioPackets"].as_u64() {
                    Some(n) if n > packets_before + MIN_PACKETS => Ok(()),
                    _ => Err(s),
                })
            },
        )
        .await?;
        let offers_after = listener.eval(offers).await?;
        ensure!(
            offers_after == offers_before,
            "the listener was sent an offer for the reused line ({offers_before} -> {offers_after})"
        );
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_errors_are_shown() -> anyhow::Result<()> {
    in_browser("join_errors_are_shown", async |server, cdp| {
        for (channel, code) in [
            ("vc_missing", "channel_not_found"),
            ("tc_lobby", "not_an_rtc_channel"),
        ] {
            let url = format!(
                "{}/?autojoin=1&user=erin&server=srv_harbor&channel={channel}",
                server.base_url
            );
            let page = Page::open(cdp, channel, &url).await?;
            wait_eval(&page, "window.openchat.state", "failed".into()).await?;
            let shown = page
                .eval("[window.openchat.error.code, document.getElementById('error').textContent]")
                .await?;
            ensure!(shown[0] == code, "{channel}: error {shown}, want {code}");
            let text = shown[1].as_str().unwrap_or_default();
            ensure!(text.starts_with(code), "{channel}: the page shows {text:?}");
        }
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glare_is_resolved_by_rolling_back() -> anyhow::Result<()> {
    in_browser("glare_is_resolved_by_rolling_back", async |server, cdp| {
        let a = Page::blank(cdp, "a").await?;
        a.add_init_script(include_str!("browser/hold_offers.js"))
            .await?;
        a.navigate(&join_url(server, "a")).await?;
        wait_connected(&a).await?;
        // b's track makes the server offer to a; a does not see that offer yet ...
        a.eval("window.__holdOffers = true").await?;
        let b = Page::open(cdp, "b", &join_url(server, "b")).await?;
        wait_connected(&b).await?;
        wait_eval(&a, "window.__heldOffers()", 1.into()).await?;
        // ... and offers itself: the server refuses with `negotiation_glare`.
        a.eval("window.openchat.renegotiate()").await?;
        let refused = "window.openchat.log.some(l => l.includes('recv error negotiation_glare'))";
        wait_eval(&a, refused, true.into()).await?;
        // a now sees the server offer in have-local-offer: it rolls back, answers, offers again.
        a.eval("window.__releaseOffers()").await?;
        wait_packets(&a, "inboundAudioPackets").await?;
        wait_packets(&b, "inboundAudioPackets").await?;
        let rolled_back = "window.openchat.log.some(l => l.includes('glare: rolling back'))";
        wait_eval(&a, rolled_back, true.into()).await?;
        let s = stats(&a).await?;
        ensure!(
            s["state"] == "connected" && s["error"].is_null(),
            "a after glare: {s}"
        );
        let offers = a
            .eval("window.openchat.log.filter(l => l.includes('send offer')).length")
            .await?;
        ensure!(
            offers == 3,
            "a sent {offers} offers, want 3 (join, refused, after glare)"
        );
        Ok(())
    })
    .await
}

/// The page's URL that auto-joins the video channel `vc_video` as `user`, with its camera
/// (`camera`) or receiving only.
fn video_url(server: &TestServer, user: &str, camera: bool) -> String {
    let send = if camera { "camera=1" } else { "listen=1" };
    format!(
        "{}/?autojoin=1&user={user}&server=srv_harbor&channel=vc_video&{send}",
        server.base_url
    )
}

/// The first received video track of a page's stats with at least `frames` decoded frames.
async fn wait_video(
    page: &Page<'_>,
    frames: u64,
    width: impl Fn(u64) -> bool,
) -> anyhow::Result<Value> {
    wait_video_within(page, frames, PACKETS_LIMIT, width).await
}

/// [`wait_video`] for at most `limit`.
async fn wait_video_within(
    page: &Page<'_>,
    frames: u64,
    limit: Duration,
    width: impl Fn(u64) -> bool,
) -> anyhow::Result<Value> {
    let what = format!(
        "{} to decode {frames} video frames at the wanted width",
        page.name
    );
    wait_for(&what, limit, async || {
        let s = stats(page).await?;
        let found = s["inboundVideo"].as_array().and_then(|tracks| {
            tracks
                .iter()
                .find(|t| {
                    t["framesDecoded"].as_u64().unwrap_or(0) >= frames
                        && width(t["frameWidth"].as_u64().unwrap_or(0))
                })
                .cloned()
        });
        Ok(found.ok_or(s))
    })
    .await
}

/// A camera page publishes 3 simulcast layers of Chromium's fake 1280x720 camera; a receiving page
/// decodes it in a tile, and when the tile is made small the server switches it to the low layer
/// (a quarter of the width), then back up when it grows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_is_seen_and_a_small_tile_gets_the_low_layer() -> anyhow::Result<()> {
    let _one_at_a_time = ESTIMATE_TESTS.lock().await;
    in_browser("a_camera_is_seen_and_a_small_tile_gets_the_low_layer", async |server, cdp| {
        let cam = Page::open(cdp, "cam", &video_url(server, "cam", true)).await?;
        let viewer = Page::open(cdp, "viewer", &video_url(server, "viewer", false)).await?;
        for page in [&cam, &viewer] {
            wait_connected(page).await?;
        }
        let first = wait_video(&viewer, 30, |w| w > 0).await?;
        let full = first["frameWidth"].as_u64().unwrap_or(0);
        wait_eval(&viewer, "window.openchat.tiles.length", 1.into()).await?;
        // The fake microphone beeps: the speaker's tile is highlighted while it speaks.
        wait_eval(&viewer, "window.openchat.tiles[0].speaking", true.into()).await?;
        let track: String = viewer
            .eval("window.openchat.tiles[0].trackId")
            .await?
            .as_str()
            .map(str::to_owned)
            .context("the tile's track id")?;
        let size = |w: u32, h: u32| format!("window.openchat.setTileSize({track:?}, {w}, {h})");
        viewer.eval(&size(1280, 720)).await?;
        // The estimate climbs from 1 Mbit/s to the top layer's 2-3: slower on a busy machine
        // (the other browser test of this binary runs beside it).
        let climb = Duration::from_secs(60);
        let large = wait_video_within(&viewer, 60, climb, |w| w >= 1280).await?;
        viewer.eval(&size(160, 90)).await?;
        let frames = large["framesDecoded"].as_u64().unwrap_or(0);
        let small = wait_video(&viewer, frames + 30, |w| (1..=400).contains(&w)).await?;
        // Dynacast: after 2 s of only the low layer being received, the camera sends only it.
        let active = "window.openchat.stats().then(s => s.outboundVideo.filter(e => e.active).map(e => e.rid).sort().join(','))";
        wait_eval(&cam, active, "q".into()).await?;
        viewer.eval(&size(1280, 720)).await?;
        wait_eval(&cam, active, "f,h,q".into()).await?;
        wait_video_within(&viewer, frames + 90, climb, |w| w >= 1280).await?;
        eprintln!(
            "first {full} px wide, large tile {} px, small tile {} px",
            large["frameWidth"], small["frameWidth"]
        );
        Ok(())
    })
    .await
}

/// A page shares its screen (Chromium's fake 800x600 screen, with its fake sound) beside its
/// camera: the viewer gets a second tile and decodes the screen; when sharing stops the tile goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_screen_is_seen_beside_the_camera() -> anyhow::Result<()> {
    let _one_at_a_time = ESTIMATE_TESTS.lock().await;
    in_browser(
        "a_shared_screen_is_seen_beside_the_camera",
        async |server, cdp| {
            let cam = Page::open(cdp, "cam", &video_url(server, "cam", true)).await?;
            let viewer = Page::open(cdp, "viewer", &video_url(server, "viewer", false)).await?;
            for page in [&cam, &viewer] {
                wait_connected(page).await?;
            }
            wait_eval(&viewer, "window.openchat.tiles.length", 1.into()).await?;
            let audio = "window.openchat.stats().then(s => s.audioElements)";
            // Its own receive line and the camera page's microphone, which may come a moment
            // after the camera's tile: counted before the screen's sound is (a race in CI).
            let before: u64 = 2;
            wait_eval(&viewer, audio, before.into()).await?;
            cam.eval("window.openchat.shareScreen(true)").await?;
            wait_eval(&viewer, "window.openchat.tiles.length", 2.into()).await?;
            let screen = wait_video(&viewer, 30, |w| w == 800).await?;
            // The screen's sound is one more remote audio track.
            wait_eval(&viewer, audio, (before + 1).into()).await?;
            cam.eval("window.openchat.shareScreen(false)").await?;
            wait_eval(&viewer, "window.openchat.tiles.length", 1.into()).await?;
            eprintln!(
                "screen {} px wide, {} frames",
                screen["frameWidth"], screen["framesDecoded"]
            );
            Ok(())
        },
    )
    .await
}

/// A viewer whose downlink is limited drops to a lower layer of a camera and comes back up when
/// the limit is lifted. The viewer's Chromium runs in a network namespace the test makes; the
/// camera is rtc-joiner outside it, sending three VP8 clips ffmpeg encodes (320x180 at 150
/// kbit/s, 640x360 at 500, 1280x720 at 1200); `tc` limits what enters the namespace to 300
/// kbit/s, enough for the low layer and the sound. The server binds the test side's address of
/// the veth pair. Needs root (`ip netns`, `tc`) and ffmpeg: skipped with a printed reason
/// without them, failed under `CI=true`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limited_viewer_drops_to_a_lower_layer_and_comes_back() -> anyhow::Result<()> {
    let _alone = ALONE.write().await;
    if chromium_or_skip().is_none() || !video::have_ffmpeg() {
        return Ok(());
    }
    let ns = match Netns::create("ocbr", 232) {
        Ok(ns) => ns,
        Err(reason) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "cannot make a network namespace: {reason}"
            );
            eprintln!("skipped: cannot make a network namespace (needs root): {reason}");
            return Ok(());
        }
    };
    let listen = format!("{}:0", ns.host_ip);
    let overrides = [
        ("http.listen", listen.as_str()),
        ("media.bind_ip", ns.host_ip.as_str()),
    ];
    let launch = |base: &str| Launch {
        netns: Some((ns.name.clone(), ns.ns_ip.clone())),
        secure_origin: Some(base.to_owned()),
    };
    in_browser_with(
        "a_limited_viewer_drops_to_a_lower_layer_and_comes_back",
        &overrides,
        launch,
        async |server, cdp| {
            // The camera: rtc-joiner outside the namespace sending three VP8 clips (fixed
            // bitrates; a Chromium camera on a busy machine drops its own upper layers).
            let work = tempfile::tempdir()?;
            let mut clips = Vec::new();
            for (name, size, kbps) in [
                ("q.ivf", "320x180", 150),
                ("h.ivf", "640x360", 500),
                ("f.ivf", "1280x720", 1200),
            ] {
                let path = work.path().join(name);
                video::encode_vp8(&path, size, 4, kbps);
                clips.push(path.display().to_string());
            }
            let mut args: Vec<String> = [
                "--backend-url",
                &server.base_url,
                "--channel-id",
                "vc_video",
                "--user",
                "cam",
                "--duration",
                "180",
            ]
            .map(String::from)
            .to_vec();
            for clip in &clips {
                args.extend(["--video".to_owned(), clip.clone()]);
            }
            let _cam = joiner::Joiner::spawn(&joiner::locate()?, &args, work.path())?;
            let viewer = Page::open(cdp, "viewer", &video_url(server, "viewer", false)).await?;
            wait_connected(&viewer).await?;
            wait_eval(&viewer, "window.openchat.tiles.length", 1.into()).await?;
            let track: String = viewer
                .eval("window.openchat.tiles[0].trackId")
                .await?
                .as_str()
                .map(str::to_owned)
                .context("the tile's track id")?;
            viewer
                .eval(&format!(
                    "window.openchat.setTileSize({track:?}, 1280, 720)"
                ))
                .await?;
            // The estimate climbs from 1 Mbit/s to the top layer's 2-3: slower on a busy machine.
            let full =
                wait_video_within(&viewer, 30, Duration::from_secs(60), |w| w >= 1280).await?;
            ns.limit(300).map_err(anyhow::Error::msg)?;
            let frames = full["framesDecoded"].as_u64().unwrap_or(0);
            let limited = wait_video_within(&viewer, frames + 1, Duration::from_secs(30), |w| {
                (1..=640).contains(&w)
            })
            .await?;
            // A while at the lower layer, then the limit goes.
            let frames = limited["framesDecoded"].as_u64().unwrap_or(0);
            let held = wait_video(&viewer, frames + 60, |w| (1..=640).contains(&w)).await?;
            ns.unlimit().map_err(anyhow::Error::msg)?;
            let frames = held["framesDecoded"].as_u64().unwrap_or(0);
            let back =
                wait_video_within(&viewer, frames + 1, Duration::from_secs(60), |w| w >= 1280)
                    .await?;
            eprintln!(
                "full {} px, limited {} px, back at {} px",
                full["frameWidth"], limited["frameWidth"], back["frameWidth"]
            );
            Ok(())
        },
    )
    .await
}
