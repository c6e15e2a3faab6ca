//! Least-squares trend of a series after warm-up, in units per hour, with its standard error,
//! and the verdict on whether the series grows.
//!
//! Samples 10 s apart are strongly autocorrelated (an allocator's RSS wanders for minutes), so
//! the textbook standard error of a least-squares slope, which assumes independent residuals,
//! is far too small. The standard error used here comes from **batch means**: the window is cut
//! into [`BATCHES`] consecutive batches, and a line is fitted through the batch averages.

/// A fitted line `y = intercept + slope * t` (t in seconds since the load started).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Trend {
    /// Samples used.
    pub n: usize,
    /// Mean of the series over them.
    pub mean: f64,
    /// Units per hour.
    pub slope_per_hour: f64,
    /// Standard error of the slope, units per hour.
    pub stderr_per_hour: f64,
    /// Value of the line at t = 0.
    pub intercept: f64,
    /// First and last value used.
    pub first: f64,
    /// Last value used.
    pub last: f64,
}

/// Batches of the batch-means standard error.
pub const BATCHES: usize = 10;

/// Fits `(t, y)` points (NaN values are skipped): slope and intercept by least squares over
/// every point, standard error by batch means (with fewer than `3 * BATCHES` points, the
/// ordinary one). `None` with fewer than 3 points.
pub fn fit(points: &[(f64, f64)]) -> Option<Trend> {
    let points: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(t, y)| t.is_finite() && y.is_finite())
        .collect();
    let mut trend = least_squares(&points)?;
    if points.len() >= 3 * BATCHES {
        let size = points.len().div_ceil(BATCHES);
        let means: Vec<(f64, f64)> = points
            .chunks(size)
            .map(|batch| {
                let n = batch.len() as f64;
                (
                    batch.iter().map(|p| p.0).sum::<f64>() / n,
                    batch.iter().map(|p| p.1).sum::<f64>() / n,
                )
            })
            .collect();
        if let Some(batched) = least_squares(&means) {
            trend.stderr_per_hour = batched.stderr_per_hour;
        }
    }
    Some(trend)
}

/// Ordinary least squares with the ordinary standard error.
fn least_squares(points: &[(f64, f64)]) -> Option<Trend> {
    let n = points.len();
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let stt: f64 = points.iter().map(|p| (p.0 - mean_t).powi(2)).sum();
    if stt <= 0.0 {
        return None;
    }
    let sty: f64 = points.iter().map(|p| (p.0 - mean_t) * (p.1 - mean_y)).sum();
    let slope = sty / stt;
    let intercept = mean_y - slope * mean_t;
    let residuals: f64 = points
        .iter()
        .map(|p| (p.1 - intercept - slope * p.0).powi(2))
        .sum();
    let stderr = (residuals / (nf - 2.0) / stt).sqrt();
    Some(Trend {
        n,
        mean: mean_y,
        slope_per_hour: slope * 3600.0,
        stderr_per_hour: stderr * 3600.0,
        intercept,
        first: points[0].1,
        last: points[n - 1].1,
    })
}

/// Growth per hour, as a share of the mean, above which a trend that is also statistically
/// clear (slope more than three standard errors above zero) counts as growing.
pub const GROWTH_LIMIT_PER_HOUR: f64 = 0.05;

/// Smallest growth per hour taken seriously for a series whose mean is near zero (a count
/// that is 0 or 1 most of the time): one unit per hour.
pub const ABSOLUTE_FLOOR_PER_HOUR: f64 = 1.0;

impl Trend {
    /// Whether the series grows: the slope is clear of noise (more than 3 standard errors) and
    /// larger than [`GROWTH_LIMIT_PER_HOUR`] of the mean (or the absolute floor) per hour.
    pub fn grows(&self) -> bool {
        let limit = (self.mean.abs() * GROWTH_LIMIT_PER_HOUR).max(ABSOLUTE_FLOOR_PER_HOUR);
        self.slope_per_hour > 3.0 * self.stderr_per_hour && self.slope_per_hour > limit
    }

    /// Slope per hour as a percentage of the mean (NaN for a zero mean).
    pub fn percent_per_hour(&self) -> f64 {
        if self.mean == 0.0 {
            f64::NAN
        } else {
            self.slope_per_hour / self.mean * 100.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_fitted_exactly() {
        // 2 units per second = 7200 per hour.
        let points: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 5.0 + 2.0 * i as f64)).collect();
        let t = fit(&points).expect("fit");
        assert!((t.slope_per_hour - 7200.0).abs() < 1e-6);
        assert!((t.intercept - 5.0).abs() < 1e-9);
        assert!(t.stderr_per_hour < 1e-6);
        assert!(t.grows());
    }

    #[test]
    fn flat_noise_does_not_grow() {
        let points: Vec<(f64, f64)> = (0..180)
            .map(|i| (i as f64 * 10.0, 100.0 + if i % 2 == 0 { 3.0 } else { -3.0 }))
            .collect();
        let t = fit(&points).expect("fit");
        assert!(t.slope_per_hour.abs() < 1.0, "{t:?}");
        assert!(!t.grows());
    }

    #[test]
    fn slow_growth_under_the_limit_is_flat() {
        // 1% of the mean per hour, perfectly clean: clear, but under 5%.
        let points: Vec<(f64, f64)> = (0..180)
            .map(|i| {
                let t = i as f64 * 10.0;
                (t, 1000.0 + 10.0 * t / 3600.0)
            })
            .collect();
        assert!(!fit(&points).expect("fit").grows());
    }

    #[test]
    fn leaks_are_caught() {
        // 50 MiB base, +20% per hour with noise.
        let points: Vec<(f64, f64)> = (0..150)
            .map(|i| {
                let t = i as f64 * 10.0;
                (
                    t,
                    50.0 + 10.0 * t / 3600.0 + if i % 3 == 0 { 0.5 } else { -0.25 },
                )
            })
            .collect();
        let t = fit(&points).expect("fit");
        assert!(t.grows(), "{t:?}");
        assert!((t.percent_per_hour() - 18.0).abs() < 3.0, "{t:?}");
    }

    #[test]
    fn a_slow_wander_is_not_growth() {
        // Like the SQLite run's anonymous RSS: 15.4-16.6 MiB in slow swings of minutes, no
        // trend. The ordinary standard error calls it growth; batch means does not.
        let swing = [
            15.5, 15.9, 15.7, 15.5, 15.4, 16.0, 16.1, 16.6, 16.3, 15.9, 15.8,
        ];
        let points: Vec<(f64, f64)> = (0..150)
            .map(|i| {
                let t = 300.0 + i as f64 * 10.0;
                (
                    t,
                    swing[i * swing.len() / 150] + if i % 2 == 0 { 0.02 } else { -0.02 },
                )
            })
            .collect();
        let ordinary = least_squares(&points).expect("fit");
        let batched = fit(&points).expect("fit");
        assert_eq!(ordinary.slope_per_hour, batched.slope_per_hour);
        assert!(
            batched.stderr_per_hour > 2.0 * ordinary.stderr_per_hour,
            "{batched:?}"
        );
        assert!(!batched.grows(), "{batched:?}");
    }

    #[test]
    fn too_few_or_degenerate_points() {
        assert!(fit(&[(0.0, 1.0), (1.0, 2.0)]).is_none());
        assert!(fit(&[(1.0, 1.0), (1.0, 2.0), (1.0, 3.0)]).is_none());
        assert!(fit(&[(0.0, f64::NAN), (1.0, f64::NAN), (2.0, 1.0)]).is_none());
    }
}
