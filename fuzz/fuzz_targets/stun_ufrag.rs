//! The sfu's datagram router reads the ICE ufrag of STUN binding requests to find their peer
//! (`sfu::fuzzing::local_ufrag`), before str0m sees the datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(ufrag) = sfu::fuzzing::local_ufrag(data) {
        assert!(data.len() >= 20 && data[0] < 2 && data[4..8] == [0x21, 0x12, 0xa4, 0x42]);
        assert!(!ufrag.contains(':'));
        assert!(ufrag.len() <= data.len() - 24);
    }
});
