//! The analytics aggregator reports exact counter totals and gauge values and histogram
//! percentiles within 1% of the exact ones, publishes snapshots periodically to a channel
//! or callback, and its analyser explains what crossed a configured threshold — and
//! nothing that did not.

use loupe::analytics::{
    AnalyticsSnapshot, Estimate, InsightCategory, MetricsAggregator, Percentiles,
    PerformanceAnalyzer, Severity, Threshold, CPU_UTILIZATION, MEMORY_USAGE,
};
use loupe::metrics::{MeterProvider, NumberValue};
use loupe::KeyValue;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SAMPLES: usize = 1_000_000;

/// Log-normal latencies in ms: median 20 ms, sigma 1 (heavy right tail).
fn log_normal(rng: &mut fastrand::Rng) -> f64 {
    // Box–Muller; 1 - u keeps ln away from 0.
    let (u1, u2) = (1.0 - rng.f64(), rng.f64());
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    20.0 * z.exp()
}

/// Pareto with x_m = 1 ms and alpha = 1.16 (the "80/20" tail).
fn pareto(rng: &mut fastrand::Rng) -> f64 {
    (1.0 - rng.f64()).powf(-1.0 / 1.16)
}

/// Records `SAMPLES` values into an exponential histogram of `max_size` buckets and
/// returns the worst relative error of p50/p90/p95/p99 against the exact ones, and the
/// bound the snapshot reports.
fn worst_error(draw: fn(&mut fastrand::Rng) -> f64, max_size: usize) -> (f64, f64) {
    let provider = MeterProvider::builder().build();
    let histogram = provider
        .meter("accuracy")
        .f64_histogram("latency")
        .with_unit("ms")
        .with_exponential_buckets(max_size)
        .build()
        .unwrap();
    let bound = histogram.bind(&[]);
    let mut rng = fastrand::Rng::with_seed(0x1005e);
    let mut exact: Vec<f64> = (0..SAMPLES).map(|_| draw(&mut rng)).collect();
    for &v in &exact {
        bound.record(v);
    }
    exact.sort_by(f64::total_cmp);
    let snapshot = MetricsAggregator::new(&provider).snapshot();
    let summary = snapshot.histogram("latency", &[]).unwrap();
    assert_eq!(summary.count, SAMPLES as u64);
    let Estimate::Exponential {
        max_relative_error, ..
    } = summary.estimate
    else {
        panic!(
            "expected an exponential estimate, got {:?}",
            summary.estimate
        );
    };
    let estimated = summary.percentiles.unwrap().to_array();
    let worst = Percentiles::QUANTILES
        .iter()
        .zip(estimated)
        .map(|(q, est)| {
            let truth = exact[(q * (SAMPLES - 1) as f64).round() as usize];
            (est - truth).abs() / truth
        })
        .fold(0.0, f64::max);
    (worst, max_relative_error)
}

#[test]
fn percentiles_of_a_million_heavy_tailed_samples_are_within_one_percent() {
    for (name, draw, max_size) in [
        (
            "log-normal",
            log_normal as fn(&mut fastrand::Rng) -> f64,
            2048,
        ),
        ("pareto", pareto, 4096),
    ] {
        let (worst, bound) = worst_error(draw, max_size);
        println!(
            "{name}, {max_size} buckets: worst relative error {:.4}% (guaranteed ≤ {:.4}%)",
            worst * 100.0,
            bound * 100.0
        );
        assert!(bound <= 0.01, "{name}: bound {bound} above 1%");
        assert!(worst <= bound, "{name}: {worst} above its bound {bound}");
        assert!(worst <= 0.01, "{name}: {worst} above 1%");
    }
    // Smaller histograms carry a looser guarantee; the error still stays within it.
    for max_size in [160, 320] {
        let (worst, bound) = worst_error(log_normal, max_size);
        println!(
            "log-normal, {max_size} buckets: worst relative error {:.4}% (guaranteed ≤ {:.4}%)",
            worst * 100.0,
            bound * 100.0
        );
        assert!(worst <= bound);
    }
}

#[test]
fn counters_gauges_and_histograms_appear_with_exact_values() {
    let provider = MeterProvider::builder().build();
    let meter = provider.meter("plugin-host");
    let received = meter.u64_counter("messages.received").build().unwrap();
    let in_flight = meter
        .i64_up_down_counter("messages.in_flight")
        .build()
        .unwrap();
    let depth = meter.i64_gauge("queue.depth").build().unwrap();
    let sizes = meter
        .f64_histogram("message.size")
        .with_unit("By")
        .with_exponential_buckets(2048)
        .build()
        .unwrap();
    let validator = [KeyValue::new("plugin.name", "validator")];
    let transcriber = [KeyValue::new("plugin.name", "transcriber")];
    for i in 1..=1000u64 {
        received.add(i, &validator);
        sizes.record(i as f64, &validator);
    }
    received.add(7, &transcriber);
    in_flight.add(5, &[]);
    in_flight.add(-2, &[]);
    depth.record(42, &validator);
    depth.record(17, &transcriber);

    let snapshot = MetricsAggregator::new(&provider).snapshot();

    assert_eq!(snapshot.counter_total("messages.received"), Some(500_507.0));
    assert_eq!(
        snapshot.counter_total_where("messages.received", &validator),
        Some(500_500.0)
    );
    let series = snapshot
        .counters
        .iter()
        .find(|c| c.name == "messages.received" && c.attributes == transcriber)
        .unwrap();
    assert_eq!(
        (series.total, series.is_monotonic),
        (NumberValue::U64(7), true)
    );
    assert_eq!(snapshot.counter_total("messages.in_flight"), Some(3.0));
    assert_eq!(snapshot.gauge("queue.depth", &validator), Some(42.0));
    assert_eq!(snapshot.gauge("queue.depth", &transcriber), Some(17.0));
    assert_eq!(snapshot.level_max("queue.depth"), Some(42.0));
    assert_eq!(snapshot.counter_total("absent"), None);

    let h = snapshot.histogram("message.size", &validator).unwrap();
    assert_eq!(
        (h.count, h.sum, h.min, h.max),
        (1000, 500_500.0, Some(1.0), Some(1000.0))
    );
    assert_eq!(h.unit, "By");
    assert_eq!(h.mean(), Some(500.5));
    let p = h.percentiles.unwrap();
    for (est, truth) in p.to_array().into_iter().zip([501.0, 900.0, 950.0, 990.0]) {
        assert!((est - truth).abs() / truth <= 0.01, "{est} vs {truth}");
    }
}

#[test]
fn explicit_bucket_histograms_are_interpolated_without_a_bound() {
    let provider = MeterProvider::builder().build();
    let h = provider
        .meter("m")
        .f64_histogram("d")
        .with_boundaries(vec![10.0, 20.0])
        .build()
        .unwrap();
    for v in 1..=20 {
        h.record(f64::from(v), &[]);
    }
    let snapshot = MetricsAggregator::new(&provider).snapshot();
    let summary = snapshot.histogram("d", &[]).unwrap();
    assert_eq!(summary.estimate, Estimate::Interpolated);
    let p50 = summary.percentiles.unwrap().p50;
    assert!((10.0..=11.0).contains(&p50), "{p50}");
}

/// Waits on `rx` until a snapshot satisfies `want` or the deadline passes.
fn wait_for(
    rx: &mpsc::Receiver<AnalyticsSnapshot>,
    deadline: Duration,
    want: impl Fn(&AnalyticsSnapshot) -> bool,
) -> Option<AnalyticsSnapshot> {
    let end = Instant::now() + deadline;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(s) if want(&s) => return Some(s),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
    None
}

#[test]
fn the_publisher_delivers_fresh_snapshots_to_a_channel_and_a_callback() {
    let provider = MeterProvider::builder().build();
    let counter = provider.meter("m").u64_counter("jobs").build().unwrap();
    counter.add(1, &[]);
    let aggregator = MetricsAggregator::new(&provider);

    let (publisher, rx) = aggregator
        .publish_channel(Duration::from_millis(20), 4)
        .unwrap();
    let first = wait_for(&rx, Duration::from_secs(10), |s| {
        s.counter_total("jobs") == Some(1.0)
    });
    assert!(first.is_some(), "no snapshot within 10 s");
    counter.add(41, &[]);
    let later = wait_for(&rx, Duration::from_secs(10), |s| {
        s.counter_total("jobs") == Some(42.0)
    });
    assert!(
        later.is_some(),
        "the new total was not published within 10 s"
    );
    // Two snapshots arrived; each is counted just after delivery, so the first surely is.
    assert!(publisher.published() >= 1);
    publisher.stop();

    let (tx, callback_rx) = mpsc::channel();
    let publisher = aggregator
        .publish(Duration::from_millis(20), move |s| {
            let _ = tx.send(s.clone());
        })
        .unwrap();
    let got = wait_for(&callback_rx, Duration::from_secs(10), |s| {
        s.counter_total("jobs") == Some(42.0)
    });
    assert!(got.is_some(), "the callback got no snapshot within 10 s");
    drop(publisher);

    assert!(aggregator.publish_channel(Duration::ZERO, 1).is_err());
    assert!(aggregator
        .publish_channel(Duration::from_secs(1), 0)
        .is_err());
}

#[test]
fn a_full_channel_drops_snapshots_instead_of_blocking() {
    let provider = MeterProvider::builder().build();
    let (publisher, rx) = MetricsAggregator::new(&provider)
        .publish_channel(Duration::from_millis(1), 1)
        .unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while publisher.dropped() == 0 && Instant::now() < end {
        std::thread::yield_now();
    }
    assert!(publisher.dropped() > 0, "nothing was dropped within 10 s");
    assert!(rx.try_recv().is_ok());
}

/// A provider whose metrics sit exactly at `level` for every rule in `analyzer` below.
fn analyse(level_scale: f64) -> Vec<loupe::analytics::Insight> {
    let provider = MeterProvider::builder().build();
    let meter = provider.meter("service");
    let requests = meter.u64_counter("requests").build().unwrap();
    let queue = meter.i64_gauge("queue.depth").build().unwrap();
    let cpu = meter.f64_gauge(CPU_UTILIZATION).build().unwrap();
    let memory = meter.i64_gauge(MEMORY_USAGE).build().unwrap();
    let latency = meter
        .f64_histogram("request.duration")
        .with_unit("ms")
        .with_exponential_buckets(2048)
        .build()
        .unwrap();
    // 1000 requests, errors = 50 × scale; queue 100 × scale; cpu 0.8 × scale; 1 GB × scale.
    let errors = (50.0 * level_scale).round() as u64;
    requests.add(1000 - errors, &[KeyValue::new("outcome", "ok")]);
    requests.add(errors, &[KeyValue::new("outcome", "error")]);
    queue.record((100.0 * level_scale).round() as i64, &[]);
    cpu.record(0.8 * level_scale, &[]);
    memory.record((1e9 * level_scale).round() as i64, &[]);
    for ms in 1..=1000 {
        latency.record(f64::from(ms) * level_scale, &[]);
    }

    let analyzer = PerformanceAnalyzer::builder()
        // p99 ≈ 990 ms × scale.
        .latency_p99("request.duration", Threshold::new(1000.0, 2000.0))
        .error_rate(
            ("requests", &[KeyValue::new("outcome", "error")]),
            ("requests", &[]),
            Threshold::new(0.05, 0.5),
        )
        .queue_depth("queue.depth", Threshold::new(100.0, 150.0).with_info(50.0))
        .cpu_utilization(Threshold::new(0.8, 0.99))
        .memory_usage(Threshold::new(1e9, 2e9))
        .build();
    MetricsAggregator::new(&provider)
        .with_analyzer(analyzer)
        .snapshot()
        .insights
}

#[test]
fn insights_fire_above_their_thresholds_and_not_at_or_below() {
    // At the warning levels (p99 990 ms is below 1000): only the queue's info level.
    let at = analyse(1.0);
    assert_eq!(at.len(), 1, "{at:#?}");
    assert_eq!(
        (at[0].category, at[0].severity, at[0].value),
        (InsightCategory::Queue, Severity::Info, 100.0)
    );

    // 1.2× over: every rule warns; the queue (120) is between warning and critical.
    let above = analyse(1.2);
    assert_eq!(above.len(), 5, "{above:#?}");
    let mut categories: Vec<_> = above.iter().map(|i| i.category).collect();
    categories.sort();
    assert_eq!(
        categories,
        [
            InsightCategory::Latency,
            InsightCategory::Errors,
            InsightCategory::Queue,
            InsightCategory::Resources,
            InsightCategory::Resources,
        ]
    );
    assert!(above.iter().all(|i| i.severity == Severity::Warning));
    assert!(above.iter().all(|i| !i.recommendations.is_empty()));
    let errors = above
        .iter()
        .find(|i| i.category == InsightCategory::Errors)
        .unwrap();
    assert_eq!(errors.value, 0.06);
    assert!(errors.message.contains("6.00%"), "{}", errors.message);
    let latency = above
        .iter()
        .find(|i| i.category == InsightCategory::Latency)
        .unwrap();
    assert!((latency.value - 1188.0).abs() / 1188.0 <= 0.01);
    assert!(
        latency
            .message
            .starts_with("p99 of `request.duration` is 11"),
        "{}",
        latency.message
    );
    assert!(
        latency.message.contains("ms (warning above 1000 ms)"),
        "{}",
        latency.message
    );

    // 2.5× over: critical everywhere except the error rate (12.5% < 50%).
    let far = analyse(2.5);
    assert_eq!(far.len(), 5);
    assert_eq!(far[0].severity, Severity::Critical);
    let warnings: Vec<_> = far
        .iter()
        .filter(|i| i.severity == Severity::Warning)
        .collect();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].category, InsightCategory::Errors);
}
