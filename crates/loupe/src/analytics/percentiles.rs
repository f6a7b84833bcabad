//! Percentile estimates from collected histogram points.
//!
//! Exponential histograms give a guaranteed bound: an estimate lies in the same bucket as
//! the exact value, so its relative error is at most the bucket width, `2^(2^-scale) - 1`
//! (0.54% at scale 7, 1.09% at scale 6). Explicit-bucket histograms give no such bound:
//! the estimate is a linear interpolation inside a bucket whose width the user chose.

use crate::metrics::exponential::ExpoSnapshot;
use crate::metrics::HistogramPoint;
use std::sync::Arc;

/// The p50, p90, p95 and p99 of a histogram, in the histogram's unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percentiles {
    /// The median.
    pub p50: f64,
    /// The 90th percentile.
    pub p90: f64,
    /// The 95th percentile.
    pub p95: f64,
    /// The 99th percentile.
    pub p99: f64,
}

impl Percentiles {
    /// The quantiles these fields hold, in field order.
    pub const QUANTILES: [f64; 4] = [0.5, 0.9, 0.95, 0.99];

    /// The four values in field order (p50, p90, p95, p99).
    pub fn to_array(self) -> [f64; 4] {
        [self.p50, self.p90, self.p95, self.p99]
    }
}

/// How a histogram's percentiles were estimated, and how far off they can be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Estimate {
    /// From a base-2 exponential histogram at `scale`: every percentile is within
    /// `max_relative_error` of the exact one (of rank `round(q·(count−1))`).
    Exponential {
        /// The histogram's scale when collected.
        scale: i8,
        /// The bucket width, `2^(2^-scale) - 1`: the worst relative error.
        max_relative_error: f64,
    },
    /// From explicit buckets by linear interpolation inside the bucket holding the rank.
    /// There is no error bound: within a wide bucket the estimate can be far off. Record
    /// with `with_exponential_buckets` when percentiles matter.
    Interpolated,
}

/// The buckets a summary keeps so that any quantile can be asked for later.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Buckets {
    Exponential(ExpoSnapshot),
    Explicit {
        bounds: Arc<[f64]>,
        counts: Vec<u64>,
        min: Option<f64>,
        max: Option<f64>,
    },
}

impl Buckets {
    pub(crate) fn explicit(point: &HistogramPoint) -> Self {
        Buckets::Explicit {
            bounds: Arc::clone(&point.bounds),
            counts: point.bucket_counts.clone(),
            min: point.min,
            max: point.max,
        }
    }

    pub(crate) fn estimate(&self) -> Estimate {
        match self {
            Buckets::Exponential(s) => Estimate::Exponential {
                scale: s.scale,
                max_relative_error: bucket_width(s.scale),
            },
            Buckets::Explicit { .. } => Estimate::Interpolated,
        }
    }

    /// The q-quantile (0.0–1.0); `None` when empty or `q` is out of range.
    pub(crate) fn quantile(&self, q: f64) -> Option<f64> {
        match self {
            Buckets::Exponential(s) => s.quantile(q),
            Buckets::Explicit {
                bounds,
                counts,
                min,
                max,
            } => explicit_quantile(bounds, counts, *min, *max, q),
        }
    }

    pub(crate) fn percentiles(&self) -> Option<Percentiles> {
        let [p50, p90, p95, p99] = Percentiles::QUANTILES.map(|q| self.quantile(q));
        Some(Percentiles {
            p50: p50?,
            p90: p90?,
            p95: p95?,
            p99: p99?,
        })
    }
}

/// Relative width of a bucket at `scale`: `base - 1` with `base = 2^(2^-scale)`.
pub(crate) fn bucket_width(scale: i8) -> f64 {
    (-f64::from(scale)).exp2().exp2() - 1.0
}

/// Linear interpolation inside the bucket that holds rank `round(q·(count−1))`; the open
/// ends are closed by the recorded min and max when known.
fn explicit_quantile(
    bounds: &[f64],
    counts: &[u64],
    min: Option<f64>,
    max: Option<f64>,
    q: f64,
) -> Option<f64> {
    let total = counts.iter().fold(0u64, |a, &c| a.saturating_add(c));
    if total == 0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = (q * (total - 1) as f64).round() as u64;
    let mut seen = 0u64;
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 || rank >= seen.saturating_add(c) {
            seen = seen.saturating_add(c);
            continue;
        }
        let lower = if i == 0 {
            None
        } else {
            bounds.get(i - 1).copied()
        };
        let upper = bounds.get(i).copied();
        let lower = lower.or(min).or(upper).unwrap_or(0.0);
        let upper = upper.or(max).unwrap_or(lower);
        let frac = ((rank - seen) as f64 + 0.5) / c as f64;
        let v = lower + (upper - lower) * frac;
        // Not f64::clamp: a hand-made point could hold min > max.
        let v = min.map_or(v, |m| v.max(m));
        return Some(max.map_or(v, |m| v.min(m)));
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_width_halves_per_scale_step() {
        assert!((bucket_width(0) - 1.0).abs() < 1e-12);
        assert!(bucket_width(6) > 0.01 && bucket_width(7) < 0.01);
    }

    #[test]
    fn explicit_quantile_interpolates_inside_the_bucket() {
        // 100 values in (0, 10], 100 in (10, 20]; ranks round(q * 199) are 50 and 149.
        let q = |q| explicit_quantile(&[10.0, 20.0], &[100, 100, 0], Some(0.0), Some(20.0), q);
        let near = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-9;
        assert!(near(q(0.25), 5.05));
        assert!(near(q(0.75), 14.95));
        assert_eq!(q(1.5), None);
        assert_eq!(explicit_quantile(&[1.0], &[0, 0], None, None, 0.5), None);
    }

    #[test]
    fn explicit_quantile_uses_max_for_the_open_bucket() {
        let v = explicit_quantile(&[1.0], &[0, 10], Some(2.0), Some(4.0), 0.99).unwrap();
        assert!((2.0..=4.0).contains(&v) && v > 1.0);
    }
}
