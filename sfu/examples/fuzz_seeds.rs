//! Writes the seed corpora of the sfu's fuzz targets (`fuzz/corpus/<target>/`) from a real
//! in-memory session: the SDP a str0m client exchanges with the worker (as the sfu tests'
//! clients do), and the STUN, DTLS, RTP and RTCP datagrams the clients send it.
//!
//! `cargo run -p sfu --features fuzzing --example fuzz_seeds -- fuzz/corpus`

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sfu::fuzzing::BenchRoom;

/// A browser's audio-only offer (Chromium's shape: BUNDLE, rtcp-mux, extmaps, rtcp-fb, ssrc).
const BROWSER_AUDIO_OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS stream\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=candidate:1 1 udp 2113937151 127.0.0.1 52000 typ host generation 0 network-cost 999\r\n\
a=ice-ufrag:Hx9b\r\n\
a=ice-pwd:4ZcDwJj6tCrvk2YwC3hVGhEE\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CC:87:32:BE:DD:8C:66:A5:8E:50:55:EA:8C:D3:B6:5C:09:5E:D6:BC\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n\
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=sendrecv\r\n\
a=msid:stream track-a\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:13 CN/8000\r\n\
a=rtpmap:110 telephone-event/48000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:3735928559 cname:fuzzcname\r\n\
a=ssrc:3735928559 msid:stream track-a\r\n";

const CANDIDATE: &str = "candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(name), bytes)
}

/// One `media_datagram` record: control byte (kind in bits 0-1, pick above), u16 length, bytes.
fn record(kind: u8, pick: usize, bytes: &[u8]) -> Vec<u8> {
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    let mut r = vec![kind | (u8::try_from(pick % 64).unwrap_or(0) << 2)];
    r.extend_from_slice(&len.to_be_bytes());
    r.extend_from_slice(&bytes[..usize::from(len)]);
    r
}

/// What a datagram is, by RFC 7983 demultiplexing (and RTCP packet types 200-207).
fn kind_of(d: &[u8]) -> &'static str {
    match d.first() {
        Some(0..=3) => "stun",
        Some(20..=63) => "dtls",
        Some(128..=191) if d.get(1).is_some_and(|pt| (200..=207).contains(pt)) => "rtcp",
        Some(128..=191) => "rtp",
        _ => "other",
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or("fuzz/corpus".into()));

    let (mut room, handshake) = BenchRoom::connect_recorded(1)?;
    let exchange = room
        .listener_exchange()
        .ok_or("the listener exchange did not complete")?;

    // sdp_offer: [arrival byte, declarations byte] + offer [+ NUL + renegotiation + NUL + candidates].
    let dir = root.join("sdp_offer");
    let listener = [&[0u8, 0][..], exchange.client_offer.as_bytes()].concat();
    write(&dir, "str0m-listener", &listener)?;
    // Alone in a voice room with the microphone grant, one declared microphone track on mid 0.
    let browser = [&[0x10 | 1, 0x01][..], BROWSER_AUDIO_OFFER.as_bytes()].concat();
    write(&dir, "browser-audio", &browser)?;
    // Alone in a video room with every grant; renegotiates with the same offer and trickles.
    let trickled = [
        &[0xF0 | 2, 0x00][..],
        BROWSER_AUDIO_OFFER.as_bytes(),
        b"\0",
        BROWSER_AUDIO_OFFER.as_bytes(),
        b"\0",
        CANDIDATE.as_bytes(),
        b"\0",
    ]
    .concat();
    write(&dir, "browser-renegotiate-trickle", &trickled)?;

    // sdp_answer: the real client's answer to the server's offer.
    write(
        &root.join("sdp_answer"),
        "str0m-listener-answer",
        exchange.client_answer.as_bytes(),
    )?;

    // Datagrams of a real session: the handshake, then six seconds of media.
    let traffic = room.record_traffic(Duration::from_secs(6));
    let sources = room.datagram_sources();
    let pick = |source: &SocketAddr| sources.iter().position(|s| s == source).unwrap_or(0);
    let mut counts = std::collections::HashMap::new();
    let dir = root.join("media_datagram");
    for (source, d) in handshake.iter().chain(traffic.iter()) {
        let kind = kind_of(d);
        let n = counts.entry(kind).or_insert(0usize);
        *n += 1;
        // A few of each kind keep the corpus small.
        if *n > 4 {
            continue;
        }
        write(&dir, &format!("{kind}-{n}"), &record(0, pick(source), d))?;
        if kind == "stun" {
            write(&root.join("stun_ufrag"), &format!("session-{n}"), d)?;
            // Past the 20-byte header: what the ufrag-spliced kind appends.
            let spliced = record(1, pick(source), &d[8..d.len().min(20)]);
            write(&dir, &format!("stun-spliced-{n}"), &spliced)?;
        }
    }
    // Publisher-sent frames: RTP time, audio level byte (bit 7: present), payload.
    let frame = [&[0, 0, 3, 0xC0, 0x80 | 30][..], &[0x5a; 80][..]].concat();
    write(&dir, "publish-frame", &record(2, 0, &frame))?;
    let burst: Vec<u8> = (0..4u32)
        .flat_map(|i| {
            let t = (i * 960).to_be_bytes();
            record(2, 0, &[&t[..], &[0x80 | 10], &[0xF8; 3][..]].concat())
        })
        .collect();
    write(&dir, "publish-burst", &burst)?;
    println!("seeds written under {}: {counts:?}", root.display());
    Ok(())
}
