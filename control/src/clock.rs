//! The control plane's clock: wall time plus an offset that tests move forward.
//!
//! Every expiry rule written for devices, keys and invitations reads [`Control::now`], so a test
//! can expire a link code or an invitation without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::Control;
use crate::db::now_millis;

/// Wall clock plus a shared offset (clones of a [`Control`] share it).
#[derive(Clone, Debug, Default)]
pub(crate) struct Clock {
    offset_millis: Arc<AtomicI64>,
}

impl Clock {
    fn now(&self) -> i64 {
        now_millis().saturating_add(self.offset_millis.load(Ordering::Relaxed))
    }
}

impl Control {
    /// Current time in unix milliseconds, as the expiry rules see it.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Test support: moves this handle's clock (and its clones') forward by `by`.
    /// Production code never calls it.
    pub fn testing_advance_clock(&self, by: Duration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.clock
            .offset_millis
            .fetch_add(millis, Ordering::Relaxed);
    }
}
