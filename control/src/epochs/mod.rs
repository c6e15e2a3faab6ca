//! Channel epochs and the append-only membership timeline.
//!
//! A channel's group is a set of *devices*. Each accepted commit moves the channel from epoch
//! `e` to `e + 1` (compare-and-swap on `channels.epoch`, in one transaction with the timeline
//! rows): the first commit claiming `e` wins, later ones get [`CommitError::EpochConflict`].
//! Devices added by the commit are members from `e + 1`; removed devices were members up to `e`.
//!
//! Bootstrap: while a channel has no member device (a new channel, or every device removed), a
//! member of the channel's server may commit a change that adds its own sending device.

mod access;
mod commit;
mod members;
mod proposals;
mod testing;
mod types;

pub(crate) use access::AccessError;
pub(crate) use members::{is_member_at, members_at};
pub use types::{
    CommitError, CommitOutcome, CommitRequest, DeviceRef, MemberDevice, Membership, Proposal,
    ProposalError, Welcome, WelcomeMessage,
};

/// Largest opaque commit, welcome or message ciphertext, in decoded bytes.
pub const MAX_OPAQUE_BYTES: usize = 64 * 1024;

/// Most devices a single commit may add plus remove.
pub const MAX_CHANGES_PER_COMMIT: usize = 4096;

/// Whether `id` is a well-formed user or device id ([`openchat_protocol::Alphabet::PRINCIPAL`]:
/// `[A-Za-z0-9_.-]{1,64}`).
pub(crate) fn is_valid_principal(id: &str) -> bool {
    openchat_protocol::Alphabet::PRINCIPAL.accepts(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_principals() {
        assert!(is_valid_principal("alice.smith"));
        assert!(!is_valid_principal("a b"));
        assert!(!is_valid_principal(""));
    }
}
