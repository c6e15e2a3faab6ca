//! Which layer of each video track a subscriber can afford: its bandwidth estimate shared out
//! over the tracks it receives, most important first (as Jitsi Videobridge's allocator and
//! LiveKit's stream allocator do). Screenshares come first, then the cameras of participants who
//! speak, then the other cameras. Every track first gets its cheapest step while the budget
//! lasts; then, in the same order, each is raised step by step as far as its wanted layer while
//! the budget lasts. A track that does not fit even at its cheapest step is not forwarded
//! (`None`) until the estimate grows.
//!
//! The steps of a track are its simulcast layers, low to high; below its lowest layer at full
//! frame rate come that layer's temporal layers where the caller gives their rates (VP8/VP9
//! TID: the base layer alone, then with the next one), so a subscriber short of bandwidth sees
//! the track at a lower frame rate (as Jitsi Videobridge's ladder of 180p at 7.5, 15 and 30 fps
//! does). The engine gives them for tracks without simulcast only (`engine/allocate.rs` says
//! why).

use crate::simulcast::MAX_LAYERS;
use crate::temporal::ALL_TEMPORAL;

/// Temporal layers measured per track (TID 0-2).
pub const TEMPORAL_LAYERS: usize = 3;

/// What one track asks of the budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Demand {
    /// Lower is more important.
    pub priority: u8,
    /// The highest layer the subscriber wants of it (its view and what the publisher sends);
    /// `None`: it wants nothing (paused).
    pub wanted: Option<u8>,
    /// Measured bitrate of each layer, bits per second (0: not measured yet, counted as free).
    pub layer_bps: [u64; MAX_LAYERS],
    /// Measured bitrate of the lowest layer's temporal layers up to each TID (TL0 alone, TL0
    /// and TL1, ...), bits per second; all 0 when it has none.
    pub temporal_bps: [u64; TEMPORAL_LAYERS],
}

/// What a track gets: a simulcast layer, and the highest temporal layer of it
/// ([`ALL_TEMPORAL`]: all of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub layer: u8,
    pub temporal: u8,
}

impl Grant {
    /// `layer` at its full frame rate.
    pub fn full(layer: u8) -> Grant {
        Grant {
            layer,
            temporal: ALL_TEMPORAL,
        }
    }
}

impl Demand {
    /// The steps up to its wanted layer with their costs, cheapest first (empty: paused).
    fn ladder(&self) -> Vec<(Grant, u64)> {
        let Some(wanted) = self.wanted else {
            return Vec::new();
        };
        let full_low = self.layer_bps[0];
        let mut steps = Vec::with_capacity(usize::from(wanted) + TEMPORAL_LAYERS);
        let mut below = 0;
        for (tid, bps) in self.temporal_bps.iter().enumerate() {
            // A temporal step is worth taking only if it saves something on the full layer.
            if *bps > below && *bps < full_low {
                steps.push((
                    Grant {
                        layer: 0,
                        temporal: tid as u8,
                    },
                    *bps,
                ));
                below = *bps;
            }
        }
        for layer in 0..=wanted {
            steps.push((Grant::full(layer), self.layer_bps[usize::from(layer)]));
        }
        steps
    }
}

/// What each demand gets within `budget_bps`, in the order of `demands`.
pub fn allocate(budget_bps: u64, demands: &[Demand]) -> Vec<Option<Grant>> {
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by_key(|i| demands[*i].priority);
    let ladders: Vec<Vec<(Grant, u64)>> = demands.iter().map(Demand::ladder).collect();
    let mut step: Vec<Option<usize>> = vec![None; demands.len()];
    let mut spent: u64 = 0;
    for &i in &order {
        if let Some((_, cost)) = ladders[i].first()
            && spent + cost <= budget_bps
        {
            spent += cost;
            step[i] = Some(0);
        }
    }
    for &i in &order {
        let Some(mut at) = step[i] else {
            continue;
        };
        let ladder = &ladders[i];
        while at + 1 < ladder.len() {
            let more = ladder[at + 1].1.saturating_sub(ladder[at].1);
            if spent + more > budget_bps {
                break;
            }
            spent += more;
            at += 1;
        }
        step[i] = Some(at);
    }
    step.iter()
        .zip(&ladders)
        .map(|(at, ladder)| at.map(|at| ladder[at].0))
        .collect()
}

/// What `demands` would cost at their wanted layers (what the bandwidth estimator should probe
/// for), and at the grants `granted`.
pub fn costs(demands: &[Demand], granted: &[Option<Grant>]) -> (u64, u64) {
    let at = |d: &Demand, grant: Option<Grant>| match grant {
        None => 0,
        Some(g) if g.temporal == ALL_TEMPORAL => d.layer_bps[usize::from(g.layer)],
        Some(g) => d.temporal_bps[usize::from(g.temporal).min(TEMPORAL_LAYERS - 1)],
    };
    let wanted = demands
        .iter()
        .map(|d| at(d, d.wanted.map(Grant::full)))
        .sum();
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
            temporal_bps: [0; TEMPORAL_LAYERS],
        }
    }

    fn full(layers: &[Option<u8>]) -> Vec<Option<Grant>> {
        layers.iter().map(|l| l.map(Grant::full)).collect()
    }

    #[test]
    fn the_budget_goes_to_the_most_important_first() {
        let screen = Demand {
            priority: 0,
            wanted: Some(0),
            layer_bps: [1_000_000, 0, 0],
            temporal_bps: [0; TEMPORAL_LAYERS],
        };
        let demands = [camera(2), screen, camera(1)];
        // Everyone's lowest first, then the speaker's camera up, then the other.
        assert_eq!(
            allocate(1_300_000, &demands),
            full(&[Some(0), Some(0), Some(0)])
        );
        assert_eq!(
            allocate(1_700_000, &demands),
            full(&[Some(0), Some(0), Some(1)])
        );
        assert_eq!(
            allocate(5_000_000, &demands),
            full(&[Some(2), Some(0), Some(2)])
        );
        // Not even the lowest layers all fit: the least important goes without.
        assert_eq!(
            allocate(1_200_000, &demands),
            full(&[None, Some(0), Some(0)])
        );
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
        assert_eq!(allocate(0, &[paused, unmeasured]), full(&[None, Some(2)]));
    }

    #[test]
    fn short_of_the_lowest_layer_its_temporal_layers_come_first() {
        // 180p at 7.5, 15 and 30 fps: 60, 100 and 150 kbit/s.
        let with_temporal = Demand {
            temporal_bps: [60_000, 100_000, 150_000],
            ..camera(2)
        };
        let at = |budget| allocate(budget, &[with_temporal])[0];
        let tl = |temporal| Some(Grant { layer: 0, temporal });
        assert_eq!(at(50_000), None);
        assert_eq!(at(70_000), tl(0));
        assert_eq!(at(120_000), tl(1));
        assert_eq!(at(160_000), Some(Grant::full(0)));
        assert_eq!(at(2_000_000), Some(Grant::full(2)));
        // Everyone's base layer first: the screen gets it all, the camera its base layer.
        let screen = Demand {
            priority: 0,
            wanted: Some(0),
            layer_bps: [1_000_000, 0, 0],
            temporal_bps: [0; TEMPORAL_LAYERS],
        };
        assert_eq!(
            allocate(1_080_000, &[with_temporal, screen]),
            [tl(0), Some(Grant::full(0))]
        );
        let (wanted, used) = costs(&[with_temporal], &[tl(1)]);
        assert_eq!((wanted, used), (1_500_000, 100_000));
    }
}
