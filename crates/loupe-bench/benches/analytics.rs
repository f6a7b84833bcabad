//! The cost of an analytics snapshot (collect + summarise + analyse) over a realistic
//! provider, and the percentile accuracy it buys, printed once.
//!
//! `cargo bench -p loupe-bench --bench analytics`

use criterion::{criterion_group, criterion_main, Criterion};
use loupe::analytics::{
    Estimate, MetricsAggregator, Percentiles, PerformanceAnalyzer, Threshold, CPU_UTILIZATION,
};
use loupe::metrics::MeterProvider;
use loupe::KeyValue;
use std::hint::black_box;
use std::time::Duration;

const SAMPLES: usize = 1_000_000;
const ROUTES: usize = 20;

/// SplitMix64: a seeded, dependency-free source of uniform floats in (0, 1].
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Log-normal latency in ms: median 20 ms, sigma 1.
    fn latency_ms(&mut self) -> f64 {
        let (u1, u2) = (self.unit(), self.unit());
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        20.0 * z.exp()
    }
}

/// Worst relative error of p50/p90/p95/p99 over a million log-normal samples, and the
/// guaranteed bound the snapshot reports, for a histogram of `max_size` buckets.
fn worst_error(max_size: usize) -> (f64, f64) {
    let provider = MeterProvider::builder().build();
    let histogram = provider
        .meter("accuracy")
        .f64_histogram("latency")
        .with_exponential_buckets(max_size)
        .build()
        .expect("valid histogram");
    let bound = histogram.bind(&[]);
    let mut rng = Rng(42);
    let mut exact: Vec<f64> = (0..SAMPLES).map(|_| rng.latency_ms()).collect();
    for &v in &exact {
        bound.record(v);
    }
    exact.sort_by(f64::total_cmp);
    let snapshot = MetricsAggregator::new(&provider).snapshot();
    let summary = snapshot.histogram("latency", &[]).expect("recorded");
    let guaranteed = match summary.estimate {
        Estimate::Exponential {
            max_relative_error, ..
        } => max_relative_error,
        Estimate::Interpolated => f64::INFINITY,
    };
    let estimated = summary.percentiles.expect("not empty").to_array();
    let worst = Percentiles::QUANTILES
        .iter()
        .zip(estimated)
        .map(|(q, est)| {
            let truth = exact[(q * (SAMPLES - 1) as f64).round() as usize];
            (est - truth).abs() / truth
        })
        .fold(0.0, f64::max);
    (worst, guaranteed)
}

/// A service-like provider: per-route request counters and latency histograms, queue
/// and CPU gauges.
fn service(max_size: usize) -> MeterProvider {
    let provider = MeterProvider::builder().build();
    let meter = provider.meter("bench");
    let requests = meter.u64_counter("requests").build().expect("valid");
    let latency = meter
        .f64_histogram("request.duration")
        .with_unit("ms")
        .with_exponential_buckets(max_size)
        .build()
        .expect("valid");
    let queue = meter.i64_gauge("queue.depth").build().expect("valid");
    let cpu = meter.f64_gauge(CPU_UTILIZATION).build().expect("valid");
    let mut rng = Rng(7);
    for route in 0..ROUTES {
        let attrs = [KeyValue::new("http.route", format!("/api/{route}"))];
        for _ in 0..10_000 {
            requests.add(1, &attrs);
            latency.record(rng.latency_ms(), &attrs);
        }
        queue.record(route as i64, &attrs);
    }
    cpu.record(0.5, &[]);
    provider
}

fn snapshot_cost(c: &mut Criterion) {
    for (max_size, label) in [(160, "160"), (2048, "2048")] {
        let (worst, guaranteed) = worst_error(max_size);
        eprintln!(
            "{SAMPLES} log-normal samples, {label} buckets: worst relative error of \
             p50/p90/p95/p99 {:.4}% (guaranteed ≤ {:.4}%)",
            worst * 100.0,
            guaranteed * 100.0
        );
    }

    let mut g = c.benchmark_group("analytics_snapshot");
    for max_size in [160usize, 2048] {
        let provider = service(max_size);
        let plain = MetricsAggregator::new(&provider);
        let analyzer = PerformanceAnalyzer::builder()
            .latency_p99("request.duration", Threshold::new(100.0, 500.0))
            .queue_depth("queue.depth", Threshold::new(10.0, 15.0))
            .cpu_utilization(Threshold::new(0.8, 0.95))
            .build();
        let analysed = MetricsAggregator::new(&provider).with_analyzer(analyzer);
        g.bench_function(format!("{ROUTES}_routes_{max_size}_buckets"), |b| {
            b.iter(|| black_box(plain.snapshot()))
        });
        g.bench_function(
            format!("{ROUTES}_routes_{max_size}_buckets_analysed"),
            |b| b.iter(|| black_box(analysed.snapshot())),
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(30);
    targets = snapshot_cost
}
criterion_main!(benches);
