//! SDP answers from clients to the server's offer: a listener joins the connected voice room
//! with a real str0m client's offer, the worker offers it the publisher's track, and the input
//! answers (`SdpAnswer::from_sdp_string`, `accept_answer`, routes opened or rolled back).
//!
//! Input: UTF-8 text; NUL bytes split it into up to three answers given in turn (the second
//! and third meet no pending offer, or the renegotiation state the first left).
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use sfu::fuzzing::BenchRoom;

thread_local! {
    static ROOM: RefCell<Option<(BenchRoom, String)>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let answers: Vec<&str> = text.split('\0').take(3).collect();
    ROOM.with(|room| {
        let mut room = room.borrow_mut();
        let (room, offer) = room.get_or_insert_with(|| {
            let mut room = BenchRoom::new(1).expect("room connects");
            let exchange = room.listener_exchange().expect("a real client negotiates");
            (room, exchange.client_offer)
        });
        let _events = room.newcomer_answers(offer, &answers);
        assert!(room.intact(), "a newcomer's answer broke the room");
    });
});
