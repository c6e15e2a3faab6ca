//! The benchmark scenarios of issue 4.

/// One load shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// Name in results (`fanout-100`, `meeting-10x10`, `rooms-50x5`).
    pub name: &'static str,
    /// Joiners.
    pub joiners: u32,
    /// Of which publishing.
    pub publishers: u32,
    /// Rooms.
    pub rooms: u32,
    /// Publishers also send a three-layer VP8 camera (simulcast), and subscribers show it at
    /// 640x360 (the middle layer). Runs on the webrtc-rs client engine.
    pub video: bool,
}

impl Scenario {
    /// Subscriptions the SFU serves: each publisher is forwarded to everyone else in its room
    /// (the expected forwarded packet rate is 50 per second per stream).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn forwarded_streams(&self) -> u64 {
        let per_room = u64::from(self.joiners / self.rooms.max(1));
        let publishers_per_room = u64::from(self.publishers / self.rooms.max(1));
        u64::from(self.rooms) * publishers_per_room * per_room.saturating_sub(1)
    }

    /// Listeners per publisher (the x axis of the fan-out plot).
    pub fn listeners(&self) -> u32 {
        self.joiners / self.rooms.max(1) - 1
    }
}

/// Audio fan-out: 1 publisher -> N listeners.
pub const fn fanout(name: &'static str, listeners: u32) -> Scenario {
    Scenario {
        name,
        joiners: listeners + 1,
        publishers: 1,
        rooms: 1,
        video: false,
    }
}

/// Video fan-out: 1 camera (simulcast) and microphone -> N subscribers.
pub const fn video_fanout(name: &'static str, listeners: u32) -> Scenario {
    Scenario {
        video: true,
        ..fanout(name, listeners)
    }
}

/// Every scenario, in run order.
pub const ALL: [Scenario; 10] = [
    fanout("fanout-10", 10),
    fanout("fanout-100", 100),
    fanout("fanout-500", 500),
    fanout("fanout-1000", 1000),
    // One meeting: 10 participants, all talking.
    Scenario {
        name: "meeting-10x10",
        joiners: 10,
        publishers: 10,
        rooms: 1,
        video: false,
    },
    // 50 rooms of 5 participants, one talker per room.
    Scenario {
        name: "rooms-50x5",
        joiners: 250,
        publishers: 50,
        rooms: 50,
        video: false,
    },
    video_fanout("video-fanout-10", 10),
    video_fanout("video-fanout-100", 100),
    video_fanout("video-fanout-300", 300),
    // One video meeting: 5 cameras (and microphones) watched by 20 more.
    Scenario {
        name: "video-meeting-5x20",
        joiners: 25,
        publishers: 5,
        rooms: 1,
        video: true,
    },
];

/// Scenarios by name (`fanout` selects every audio fan-out, `video-fanout` every video one;
/// `all` everything).
pub fn select(names: &[String]) -> Vec<Scenario> {
    let mut out = Vec::new();
    for name in names {
        for s in ALL {
            let hit = name == "all"
                || name == s.name
                || (name == "fanout" && s.name.starts_with("fanout-"))
                || (name == "video-fanout" && s.name.starts_with("video-fanout-"));
            if hit && !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_and_listeners() {
        assert_eq!(fanout("f", 100).forwarded_streams(), 100);
        assert_eq!(ALL[4].forwarded_streams(), 90);
        assert_eq!(ALL[5].forwarded_streams(), 200);
        assert_eq!(ALL[3].listeners(), 1000);
        let picked = select(&["fanout".into(), "fanout-10".into(), "rooms-50x5".into()]);
        assert_eq!(picked.len(), 5);
        assert_eq!(select(&["all".into()]).len(), ALL.len());
        assert_eq!(select(&["video-fanout".into()]).len(), 3);
    }
}
