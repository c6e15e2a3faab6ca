//! Which layer of each video track a subscriber can afford: its bandwidth estimate shared out
//! over the tracks it receives, most important first (as Jitsi Videobridge's allocator and
//! LiveKit's stream allocator do). Screenshares come first, then the cameras of participants who
//! speak, then the other cameras. Every track first gets its lowest layer while the budget
//! lasts; then, in the same order, each is raised as far as its wanted layer while the budget
//! lasts. A track that does not fit even at its lowest layer is not forwarded (`None`) until
//! the estimate grows.

/// What one track asks of the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Demand {
    /// Lower is more important.
    pub priority: u8,
    /// The highest layer the subscriber wants of it (its view and what the publisher sends);
    /// `None`: it wants nothing (paused).
    pub wanted: Option<u8>,
    /// Measured bitrate of each layer, bits per second (0: not measured yet, counted as free).
    pub layer_bps: [u64; crate::simulcast::MAX_LAYERS],
}

/// The most layer each demand gets within `budget_bps`, in the order of `demands`.
pub fn allocate(budget_bps: u64, demands: &[Demand]) -> Vec<Option<u8>> {
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by_key(|i| demands[*i].priority);
    let mut granted: Vec<Option<u8>> = vec![None; demands.len()];
    let mut spent: u64 = 0;
    for &i in &order {
        let d = &demands[i];
        if d.wanted.is_none() {
            continue;
        }
        if spent + d.layer_bps[0] <= budget_bps {
            spent += d.layer_bps[0];
            granted[i] = Some(0);
        }
    }
    for &i in &order {
        let d = &demands[i];
        let (Some(wanted), Some(mut layer)) = (d.wanted, granted[i]) else {
            continue;
        };
        while layer < wanted {
            let next = usize::from(layer) + 1;
            let more = d.layer_bps[next].saturating_sub(d.layer_bps[usize::from(layer)]);
            if spent + more > budget_bps {
                break;
            }
            spent += more;
            layer += 1;
        }
        granted[i] = Some(layer);
    }
    granted
}

/// What `demands` would cost at their wanted layers (what the bandwidth estimator should probe
/// for), and at the layers `granted`.
pub fn costs(demands: &[Demand], granted: &[Option<u8>]) -> (u64, u64) {
    let at = |d: &Demand, layer: Option<u8>| layer.map_or(0, |l| d.layer_bps[usize::from(l)]);
    let wanted = demands.iter().map(|d| at(d, d.wanted)).sum();
    let used = demands.iter().zip(granted).map(|(d, g)| at(d, *g)).sum();
    (wanted, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAMERA: [u64; 3] = [150_000, 500_000, 1_500_000];

    fn camera(priority: u8) -> Demand {
        Demand {
            priority,
            wanted: Some(2),
            layer_bps: CAMERA,
        }
    }

    #[test]
    fn the_budget_goes_to_the_most_important_first() {
        let screen = Demand {
            priority: 0,
            wanted: Some(0),
            layer_bps: [1_000_000, 0, 0],
        };
        let demands = [camera(2), screen, camera(1)];
        // Everyone's lowest first, then the speaker's camera up, then the other.
        assert_eq!(allocate(1_300_000, &demands), [Some(0), Some(0), Some(0)]);
        assert_eq!(allocate(1_700_000, &demands), [Some(0), Some(0), Some(1)]);
        assert_eq!(allocate(5_000_000, &demands), [Some(2), Some(0), Some(2)]);
        // Not even the lowest layers all fit: the least important goes without.
        assert_eq!(allocate(1_200_000, &demands), [None, Some(0), Some(0)]);
        let (wanted, used) = costs(&demands, &allocate(1_700_000, &demands));
        assert_eq!((wanted, used), (4_000_000, 1_650_000));
    }

    #[test]
    fn paused_and_unmeasured_tracks() {
        let paused = Demand {
            wanted: None,
            ..camera(0)
        };
        let unmeasured = Demand {
            layer_bps: [0; 3],
            ..camera(1)
        };
        assert_eq!(allocate(0, &[paused, unmeasured]), [None, Some(2)]);
    }
}
