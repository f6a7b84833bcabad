//! Samplers decide, when a span starts, whether it is recorded and exported.

use super::ids::{validate_ratio, SpanContext, TraceId, TraceState};
use super::span::{Link, SpanKind};
use crate::common::attribute::KeyValue;
use crate::common::error::ConfigError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// What a sampler decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamplingDecision {
    /// Not recorded, not exported; the context still propagates (unsampled).
    Drop,
    /// Recorded (processors see it) but not exported; the sampled flag stays off.
    RecordOnly,
    /// Recorded and exported; the sampled flag is set.
    RecordAndSample,
}

/// A sampler's decision plus attributes to add and the trace state to use.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingResult {
    /// The decision.
    pub decision: SamplingDecision,
    /// Attributes the sampler adds to the span.
    pub attributes: Vec<KeyValue>,
    /// The trace state for the new span; `None` keeps the parent's.
    pub trace_state: Option<TraceState>,
}

impl SamplingResult {
    fn of(decision: SamplingDecision) -> Self {
        SamplingResult {
            decision,
            attributes: Vec::new(),
            trace_state: None,
        }
    }
}

/// What a sampler can look at.
#[derive(Debug)]
pub struct SamplingParams<'a> {
    /// The parent span's context, if the span has a (valid) parent.
    pub parent: Option<&'a SpanContext>,
    /// The trace id the span will have.
    pub trace_id: TraceId,
    /// The span name.
    pub name: &'a str,
    /// The span kind.
    pub kind: SpanKind,
    /// Attributes given at start.
    pub attributes: &'a [KeyValue],
    /// Links given at start.
    pub links: &'a [Link],
}

/// Decides whether a new span is sampled.
pub trait Sampler: Send + Sync + std::fmt::Debug + 'static {
    /// Makes the decision for one span.
    fn should_sample(&self, params: &SamplingParams<'_>) -> SamplingResult;
}

/// Samples every span.
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysOnSampler;

impl Sampler for AlwaysOnSampler {
    fn should_sample(&self, _: &SamplingParams<'_>) -> SamplingResult {
        SamplingResult::of(SamplingDecision::RecordAndSample)
    }
}

/// Samples nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysOffSampler;

impl Sampler for AlwaysOffSampler {
    fn should_sample(&self, _: &SamplingParams<'_>) -> SamplingResult {
        SamplingResult::of(SamplingDecision::Drop)
    }
}

/// Samples a fixed fraction of traces, decided from the trace id so every service that
/// uses the same ratio keeps the same traces.
#[derive(Clone, Copy, Debug)]
pub struct TraceIdRatioSampler {
    ratio: f64,
    threshold: u64,
}

impl TraceIdRatioSampler {
    /// `ratio` from 0.0 (none) to 1.0 (all); anything else is a configuration error.
    pub fn new(ratio: f64) -> Result<Self, ConfigError> {
        let ratio = validate_ratio("sampling_rate", ratio)?;
        // Compare the trace id's low 63 bits against ratio * 2^63, as opentelemetry does,
        // so ratios agree across SDKs.
        let threshold = (ratio * (1u64 << 63) as f64) as u64;
        Ok(TraceIdRatioSampler { ratio, threshold })
    }

    /// The configured ratio.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }
}

impl Sampler for TraceIdRatioSampler {
    fn should_sample(&self, params: &SamplingParams<'_>) -> SamplingResult {
        let bytes = params.trace_id.to_bytes();
        let low = u64::from_be_bytes([
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15],
        ]) >> 1;
        let sampled = self.ratio >= 1.0 || low < self.threshold;
        SamplingResult::of(if sampled {
            SamplingDecision::RecordAndSample
        } else {
            SamplingDecision::Drop
        })
    }
}

/// Follows the parent's decision; uses `root` for spans without a parent.
#[derive(Debug)]
pub struct ParentBasedSampler {
    root: Box<dyn Sampler>,
    remote_sampled: Box<dyn Sampler>,
    remote_not_sampled: Box<dyn Sampler>,
    local_sampled: Box<dyn Sampler>,
    local_not_sampled: Box<dyn Sampler>,
}

impl ParentBasedSampler {
    /// Parent-based with the given root sampler and the specification's defaults for the
    /// four parent cases (sampled parents → on, unsampled parents → off).
    pub fn new(root: impl Sampler) -> Self {
        ParentBasedSampler {
            root: Box::new(root),
            remote_sampled: Box::new(AlwaysOnSampler),
            remote_not_sampled: Box::new(AlwaysOffSampler),
            local_sampled: Box::new(AlwaysOnSampler),
            local_not_sampled: Box::new(AlwaysOffSampler),
        }
    }

    /// Overrides the sampler for spans whose remote parent was sampled.
    #[must_use]
    pub fn with_remote_parent_sampled(mut self, s: impl Sampler) -> Self {
        self.remote_sampled = Box::new(s);
        self
    }

    /// Overrides the sampler for spans whose remote parent was not sampled.
    #[must_use]
    pub fn with_remote_parent_not_sampled(mut self, s: impl Sampler) -> Self {
        self.remote_not_sampled = Box::new(s);
        self
    }

    /// Overrides the sampler for spans whose local parent was sampled.
    #[must_use]
    pub fn with_local_parent_sampled(mut self, s: impl Sampler) -> Self {
        self.local_sampled = Box::new(s);
        self
    }

    /// Overrides the sampler for spans whose local parent was not sampled.
    #[must_use]
    pub fn with_local_parent_not_sampled(mut self, s: impl Sampler) -> Self {
        self.local_not_sampled = Box::new(s);
        self
    }
}

impl Sampler for ParentBasedSampler {
    fn should_sample(&self, params: &SamplingParams<'_>) -> SamplingResult {
        let delegate = match params.parent {
            None => &self.root,
            Some(p) => match (p.is_remote(), p.is_sampled()) {
                (true, true) => &self.remote_sampled,
                (true, false) => &self.remote_not_sampled,
                (false, true) => &self.local_sampled,
                (false, false) => &self.local_not_sampled,
            },
        };
        delegate.should_sample(params)
    }
}

/// Samples at most `traces_per_second` root traces per second (the clusterdb
/// `Sampling::RateLimiting { rate }`), with bursts up to one second's worth.
///
/// Lock-free: one compare-and-swap on a "theoretical arrival time" (the GCRA algorithm).
/// Combine with [`ParentBasedSampler`] so children follow their root.
#[derive(Debug)]
pub struct RateLimitingSampler {
    interval_ns: u64,
    burst_ns: u64,
    /// Nanoseconds since `epoch()` at which the next trace is allowed without burst credit.
    tat: AtomicU64,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl RateLimitingSampler {
    /// At most `traces_per_second` (> 0, finite) sampled traces per second.
    pub fn new(traces_per_second: f64) -> Result<Self, ConfigError> {
        if !(traces_per_second.is_finite() && traces_per_second > 0.0) {
            return Err(ConfigError::new(
                "sampling.rate",
                traces_per_second,
                "a positive number of traces per second",
            ));
        }
        let interval_ns = ((1e9 / traces_per_second) as u64).max(1);
        // Allow a burst of one second's worth (at least one trace).
        let burst_ns = 1_000_000_000u64.max(interval_ns);
        let _ = epoch();
        Ok(RateLimitingSampler {
            interval_ns,
            burst_ns,
            tat: AtomicU64::new(0),
        })
    }

    fn try_acquire(&self) -> bool {
        let now = epoch().elapsed().as_nanos() as u64 + self.burst_ns;
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let start = tat.max(now - self.burst_ns);
            let next = start + self.interval_ns;
            if next > now {
                return false;
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => tat = actual,
            }
        }
    }
}

impl Sampler for RateLimitingSampler {
    fn should_sample(&self, _: &SamplingParams<'_>) -> SamplingResult {
        SamplingResult::of(if self.try_acquire() {
            SamplingDecision::RecordAndSample
        } else {
            SamplingDecision::Drop
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{SpanId, TraceFlags};

    fn params(parent: Option<&SpanContext>, trace_id: TraceId) -> SamplingParams<'_> {
        SamplingParams {
            parent,
            trace_id,
            name: "s",
            kind: SpanKind::Internal,
            attributes: &[],
            links: &[],
        }
    }

    #[test]
    fn ratio_sampler_keeps_about_the_ratio() {
        let s = TraceIdRatioSampler::new(0.25).unwrap();
        let kept = (0..20_000)
            .filter(|_| {
                s.should_sample(&params(None, TraceId::random())).decision
                    == SamplingDecision::RecordAndSample
            })
            .count();
        assert!((4_000..6_000).contains(&kept), "kept {kept} of 20000");
        let all = TraceIdRatioSampler::new(1.0).unwrap();
        assert_eq!(
            all.should_sample(&params(None, TraceId::from_bytes([0xff; 16])))
                .decision,
            SamplingDecision::RecordAndSample
        );
    }

    #[test]
    fn invalid_ratios_are_configuration_errors() {
        for bad in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            let err = TraceIdRatioSampler::new(bad).unwrap_err();
            assert_eq!(err.field, "sampling_rate");
            assert!(err.to_string().contains("0.0 to 1.0"));
        }
        assert!(RateLimitingSampler::new(0.0).is_err());
        assert!(RateLimitingSampler::new(f64::NAN).is_err());
    }

    #[test]
    fn parent_based_follows_the_parent() {
        let s = ParentBasedSampler::new(AlwaysOffSampler);
        let sampled = SpanContext::new(
            TraceId::random(),
            SpanId::random(),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        );
        let unsampled = SpanContext::new(
            TraceId::random(),
            SpanId::random(),
            TraceFlags::NONE,
            false,
            TraceState::NONE,
        );
        assert_eq!(
            s.should_sample(&params(Some(&sampled), sampled.trace_id()))
                .decision,
            SamplingDecision::RecordAndSample
        );
        assert_eq!(
            s.should_sample(&params(Some(&unsampled), unsampled.trace_id()))
                .decision,
            SamplingDecision::Drop
        );
        assert_eq!(
            s.should_sample(&params(None, TraceId::random())).decision,
            SamplingDecision::Drop
        );
    }

    #[test]
    fn rate_limiter_admits_a_burst_then_refuses() {
        let s = RateLimitingSampler::new(10.0).unwrap();
        let admitted = (0..1000).filter(|_| s.try_acquire()).count();
        // One second of burst at 10/s, plus at most a couple granted while the loop ran.
        assert!((10..=12).contains(&admitted), "admitted {admitted}");
    }
}
