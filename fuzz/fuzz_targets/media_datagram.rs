//! Datagrams arriving at the sfu's UDP port while a publisher and a subscriber are connected:
//! the worker's own `on_datagram` (route by STUN ufrag or source address, `Receive::new`,
//! `accepts`, `handle_input`: STUN, DTLS, SRTP/SRTCP) and what follows (forwarding, timers).
//!
//! Input: records of `[control byte][length: u16 big-endian][bytes]`. Control bits 0-1 pick the
//! kind: 0 and 3 send the bytes as they are; 1 wraps them in a STUN binding request whose
//! USERNAME starts with a live peer's ufrag (so the router sends it to that peer; the bytes
//! become its transaction id and further attributes); 2 has the publisher's own str0m client
//! send them as an Opus frame (bytes 0-3: RTP time, 4: audio level), properly encrypted, so
//! the worker decrypts and forwards attacker-chosen media. Bits 2-7 pick the source address
//! (publisher, subscriber or a stranger) or the ufrag.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use sfu::fuzzing::BenchRoom;

thread_local! {
    static ROOM: RefCell<Option<BenchRoom>> = const { RefCell::new(None) };
}

const MAX_RECORDS: usize = 16;

fn stun_with_ufrag(ufrag: &str, bytes: &[u8]) -> Vec<u8> {
    let (txid, attributes) = bytes.split_at(bytes.len().min(12));
    let mut username = format!("{ufrag}:fuzz").into_bytes();
    let username_len = username.len();
    while username.len() % 4 != 0 {
        username.push(0);
    }
    let body_len = 4 + username.len() + attributes.len();
    let mut m = vec![0x00, 0x01];
    m.extend_from_slice(&u16::try_from(body_len).unwrap_or(u16::MAX).to_be_bytes());
    m.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
    m.extend_from_slice(txid);
    m.resize(20, 0);
    m.extend_from_slice(&0x0006u16.to_be_bytes());
    m.extend_from_slice(&u16::try_from(username_len).unwrap_or(0).to_be_bytes());
    m.extend_from_slice(&username);
    m.extend_from_slice(attributes);
    m
}

fuzz_target!(|data: &[u8]| {
    ROOM.with(|room| {
        let mut slot = room.borrow_mut();
        let room = slot.get_or_insert_with(|| BenchRoom::new(1).expect("room connects"));
        let sources = room.datagram_sources();
        let ufrags = room.ufrags();
        let mut rest = data;
        for _ in 0..MAX_RECORDS {
            let [control, hi, lo, tail @ ..] = rest else {
                break;
            };
            let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
            let (bytes, tail) = tail.split_at(len);
            rest = tail;
            let pick = usize::from(control >> 2);
            match control & 3 {
                1 if !ufrags.is_empty() => {
                    let datagram = stun_with_ufrag(&ufrags[pick % ufrags.len()], bytes);
                    room.receive(sources[pick % sources.len()], &datagram);
                }
                2 => {
                    let (header, payload) = bytes.split_at(bytes.len().min(5));
                    let mut h = [0u8; 5];
                    h[..header.len()].copy_from_slice(header);
                    let rtp_time = u64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
                    let level = (h[4] & 0x80 != 0).then(|| -i8::try_from(h[4] & 0x7f).unwrap_or(0));
                    room.publish(payload, rtp_time, level);
                }
                _ => {
                    room.receive(sources[pick % sources.len()], bytes);
                }
            }
        }
        if !room.intact() {
            // A datagram ended a connection (that is allowed); start over with a fresh room.
            *slot = None;
        }
    });
});
