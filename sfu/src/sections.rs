//! The m= sections of one peer's session as the server keeps track of them: which it created,
//! which are stopped and free to recycle, how many there are, and the mid of the next one.
//!
//! JSEP (RFC 8829 section 5.2.2) lets an offerer put a new m= section in the slot of one whose
//! zero port is part of the *current* description, with a new mid. The server does so for every
//! remote track it adds when such a slot exists, so a session holds as many sections as the
//! room had tracks at once, not as many as it ever had. A slot becomes free when an exchange
//! completes with it stopped: a track the server stopped, a section the client stopped, or one
//! the server rejected. "Stopped" is str0m's word for it, not the answer's port: some clients
//! (aiortc) answer a section the offer stopped with a non-zero port.
//!
//! Before any of that, a server section whose track ended is not stopped: it goes *idle*. It stays
//! `sendonly` under its mid, carrying nothing, and the next remote track of the same kind takes it
//! over with no new offer at all (`track_published` names the mid; the outgoing stream keeps its
//! SSRC and continues its sequence numbers and timestamps). That is cheaper than any
//! renegotiation, and the only reuse some clients accept: GStreamer 1.22's webrtcbin refuses a
//! re-offer that changes the direction of a section it has negotiated, recycled slots included.
//! An idle section is stopped only when a track of the other kind needs its slot at the cap.

use std::collections::{HashSet, VecDeque};

use str0m::media::Mid;

use crate::policy::MediaKind;
use crate::rewrite::Rewriter;
use crate::sdp::answer::SectionCensus;

/// A server section whose track ended, still `sendonly` and reusable for a track of its kind.
#[derive(Debug)]
pub struct IdleSection {
    pub mid: Mid,
    pub kind: MediaKind,
    /// The outgoing stream's rewriter, to be handed over to the next track's route.
    pub rewriter: Rewriter,
    /// Whether the section is in the current description (false while the offer that added it
    /// is outstanding).
    negotiated: bool,
}

/// Section bookkeeping of one peer.
#[derive(Debug, Default)]
pub struct Sections {
    /// Mids of sections the server created that are still in the session.
    server: HashSet<String>,
    /// Stopped sections of the current description, in SDP order: recyclable.
    free: VecDeque<Mid>,
    /// Sections in the current description.
    count: usize,
    /// Number of the next server mid (`s1`, `s2`, ...). Never repeated within a session.
    next: u64,
    /// Server sections whose track ended, oldest first.
    idle: Vec<IdleSection>,
}

impl Sections {
    /// Mids of the sections the server created (the policy filter leaves them alone).
    pub fn server_mids(&self) -> &HashSet<String> {
        &self.server
    }

    /// Sections in the current description.
    pub fn count(&self) -> usize {
        self.count
    }

    /// A mid for a new server section: `s<n>`, skipping any that `in_use` says the session has.
    pub fn new_mid(&mut self, in_use: impl Fn(Mid) -> bool) -> Mid {
        loop {
            self.next += 1;
            let mid = Mid::from(format!("s{}", self.next).as_str());
            if !in_use(mid) {
                return mid;
            }
        }
    }

    /// Records a section the server has just offered.
    pub fn created(&mut self, mid: Mid) {
        self.server.insert(mid.to_string());
    }

    /// The first free slot that `fits`, among those `is_stopped` confirms (stale ones are
    /// dropped).
    pub fn take_free(
        &mut self,
        is_stopped: impl Fn(Mid) -> bool,
        fits: impl Fn(Mid) -> bool,
    ) -> Option<Mid> {
        self.free.retain(|m| is_stopped(*m));
        let at = self.free.iter().position(|m| fits(*m))?;
        self.free.remove(at)
    }

    /// Records that the track on server section `mid` ended; `negotiated` says whether the
    /// section is in the current description already.
    pub fn went_idle(&mut self, mid: Mid, kind: MediaKind, rewriter: Rewriter, negotiated: bool) {
        self.idle.push(IdleSection {
            mid,
            kind,
            rewriter,
            negotiated,
        });
    }

    /// An idle, negotiated section of `kind` among those `live` says are still in the session
    /// and not stopped (the others are forgotten).
    pub fn take_idle(
        &mut self,
        kind: MediaKind,
        live: impl Fn(Mid) -> bool,
    ) -> Option<IdleSection> {
        self.take_idle_where(live, |s| s.kind == kind)
    }

    /// An idle, negotiated section of any kind (to be stopped, so its slot can be recycled).
    pub fn take_any_idle(&mut self, live: impl Fn(Mid) -> bool) -> Option<IdleSection> {
        self.take_idle_where(live, |_| true)
    }

    fn take_idle_where(
        &mut self,
        live: impl Fn(Mid) -> bool,
        fits: impl Fn(&IdleSection) -> bool,
    ) -> Option<IdleSection> {
        self.idle.retain(|s| live(s.mid));
        let at = self.idle.iter().position(|s| s.negotiated && fits(s))?;
        Some(self.idle.remove(at))
    }

    /// Takes in the description an offer/answer exchange has just made current: its section
    /// count, which server sections are left, and which slots are free (those `is_stopped` says
    /// are stopped for good: every stop in it has now been negotiated).
    pub fn completed(&mut self, census: &SectionCensus, is_stopped: impl Fn(Mid) -> bool) {
        self.count = census.sections;
        self.server.retain(|m| census.mids.contains(m));
        self.idle
            .retain(|s| census.mids.contains(&s.mid.to_string()));
        for s in &mut self.idle {
            s.negotiated = true;
        }
        self.free = census
            .mids
            .iter()
            .map(|m| Mid::from(m.as_str()))
            .filter(|m| is_stopped(*m))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn census(mids: &[&str]) -> SectionCensus {
        SectionCensus {
            sections: mids.len(),
            mids: mids.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn mids_count_up_and_skip_taken_ones() {
        let mut s = Sections::default();
        assert_eq!(s.new_mid(|_| false).to_string(), "s1");
        let taken = Mid::from("s2");
        assert_eq!(s.new_mid(|m| m == taken).to_string(), "s3");
    }

    #[test]
    fn a_completed_exchange_frees_stopped_slots() {
        let mut s = Sections::default();
        s.created(Mid::from("s1"));
        s.created(Mid::from("s2"));
        let stopped = [Mid::from("s1"), Mid::from("1")];
        s.completed(&census(&["0", "s1", "s2", "1"]), |m| stopped.contains(&m));
        assert_eq!(s.count(), 4);
        // A slot that fits is taken first; the others wait.
        let video = Mid::from("1");
        assert_eq!(s.take_free(|_| true, |m| m == video), Some(video));
        assert_eq!(s.take_free(|_| true, |m| m == video), None);
        assert_eq!(s.take_free(|_| true, |_| true), Some(Mid::from("s1")));
        assert_eq!(s.take_free(|_| true, |_| true), None);
        // s1 was recycled by the client's next offer (its own new mid took the slot).
        s.completed(&census(&["0", "7", "s2", "1"]), |_| false);
        assert!(!s.server_mids().contains("s1"));
        assert!(s.server_mids().contains("s2"));
    }

    #[test]
    fn idle_sections_are_reused_by_kind_once_negotiated() {
        let mut s = Sections::default();
        let audio = || Rewriter::new(MediaKind::Audio);
        s.went_idle(Mid::from("s1"), MediaKind::Audio, audio(), true);
        s.went_idle(Mid::from("s2"), MediaKind::Audio, audio(), false);
        s.went_idle(
            Mid::from("s3"),
            MediaKind::Video,
            Rewriter::new(MediaKind::Video),
            true,
        );
        let live = |_| true;
        let first = s.take_idle(MediaKind::Audio, live).expect("s1");
        assert_eq!(first.mid, Mid::from("s1"));
        assert!(
            s.take_idle(MediaKind::Audio, live).is_none(),
            "s2 waits for its offer to be answered"
        );
        s.completed(&census(&["0", "s2", "s3"]), |_| false);
        assert_eq!(
            s.take_idle(MediaKind::Audio, live).map(|i| i.mid),
            Some(Mid::from("s2"))
        );
        // A section the client stopped meanwhile is forgotten, not reused.
        assert!(s.take_any_idle(|m| m != Mid::from("s3")).is_none());
        assert!(s.idle.is_empty());
    }

    #[test]
    fn slots_not_stopped_for_good_are_not_free() {
        let mut s = Sections::default();
        s.completed(&census(&["0", "1"]), |_| false);
        assert_eq!(s.take_free(|_| true, |_| true), None);
        s.completed(&census(&["0", "1"]), |m| m == Mid::from("1"));
        assert_eq!(
            s.take_free(|_| false, |_| true),
            None,
            "stale slots are dropped"
        );
        assert_eq!(s.take_free(|_| true, |_| true), None);
    }
}
