use super::*;
use crate::metrics::{ManualReader, MetricData, NumberValue, ResourceMetrics, Temporality};
use crate::KeyValue;

fn provider() -> MeterProvider {
    MeterProvider::builder().build()
}

fn sum_points(rm: &ResourceMetrics, name: &str) -> Vec<(Vec<KeyValue>, NumberValue)> {
    match &rm
        .metric(name)
        .unwrap_or_else(|| panic!("metric {name} missing"))
        .data
    {
        MetricData::Sum { points, .. } | MetricData::Gauge { points } => points
            .iter()
            .map(|p| (p.attributes.to_vec(), p.value))
            .collect(),
        other => panic!("not a sum or gauge: {other:?}"),
    }
}

#[test]
fn registering_the_same_name_returns_the_same_instrument() {
    let p = provider();
    let m = p.meter("svc");
    let a = m
        .u64_counter("requests")
        .with_unit("{request}")
        .build()
        .unwrap();
    let b = m
        .u64_counter("requests")
        .with_unit("{request}")
        .build()
        .unwrap();
    a.add(1, &[]);
    b.add(2, &[]);
    assert_eq!(
        sum_points(&p.collect(), "requests")[0].1,
        NumberValue::U64(3)
    );
}

#[test]
fn a_different_kind_or_unit_under_the_same_name_is_a_clear_error() {
    let p = provider();
    let m = p.meter("svc");
    m.u64_counter("requests")
        .with_unit("{request}")
        .build()
        .unwrap();
    let err = m.f64_gauge("requests").build().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("duplicate metric name `requests`"), "{text}");
    assert!(
        text.contains("Counter<u64>") && text.contains("Gauge<f64>"),
        "{text}"
    );
    let err = m
        .u64_counter("requests")
        .with_unit("s")
        .build()
        .unwrap_err();
    assert!(matches!(err, MetricError::Conflict { .. }), "{err}");
    // Another scope may use the name.
    assert!(p.meter("other").f64_gauge("requests").build().is_ok());
}

#[test]
fn invalid_names_and_boundaries_are_rejected() {
    let m = provider().meter("svc");
    for bad in ["", "9lives", "has space", &"x".repeat(256)] {
        assert!(
            matches!(
                m.u64_counter(bad).build(),
                Err(MetricError::InvalidName { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(m.u64_counter("plugin.messages.received").build().is_ok());
    let err = m
        .f64_histogram("h")
        .with_boundaries(vec![1.0, 1.0])
        .build()
        .unwrap_err();
    assert!(matches!(err, MetricError::InvalidBoundaries { .. }));
    let err = m
        .f64_histogram("h2")
        .with_boundaries(vec![1.0, f64::NAN])
        .build()
        .unwrap_err();
    assert!(matches!(err, MetricError::InvalidBoundaries { .. }));
    assert!(matches!(
        m.u64_counter("c").with_cardinality_limit(1).build(),
        Err(MetricError::InvalidCardinalityLimit { .. })
    ));
}

#[test]
fn bound_and_dynamic_paths_share_the_series() {
    let p = provider();
    let c = p.meter("svc").u64_counter("hits").build().unwrap();
    let attrs = [KeyValue::new("route", "/"), KeyValue::new("method", "GET")];
    let bound = c.bind(&attrs);
    bound.add(5);
    c.add(1, &attrs);
    c.add(1, &[attrs[1].clone(), attrs[0].clone()]);
    let points = sum_points(&p.collect(), "hits");
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].1, NumberValue::U64(7));
}

#[test]
fn all_instrument_kinds_collect_with_their_shapes() {
    let p = provider();
    let m = p.meter("svc");
    m.f64_counter("cost").build().unwrap().add(0.25, &[]);
    let udc = m.i64_up_down_counter("active").build().unwrap();
    udc.add(3, &[]);
    udc.add(-5, &[]);
    m.f64_gauge("temp").build().unwrap().record(21.5, &[]);
    m.i64_gauge("lag").build().unwrap().record(-4, &[]);
    let h = m
        .f64_histogram("latency")
        .with_boundaries(vec![0.1, 1.0])
        .build()
        .unwrap();
    for v in [0.05, 0.1, 0.5, 2.0] {
        h.record(v, &[]);
    }
    let rm = p.collect();
    assert_eq!(sum_points(&rm, "cost")[0].1, NumberValue::F64(0.25));
    assert_eq!(sum_points(&rm, "active")[0].1, NumberValue::I64(-2));
    assert!(matches!(
        rm.metric("active").unwrap().data,
        MetricData::Sum {
            is_monotonic: false,
            ..
        }
    ));
    assert_eq!(sum_points(&rm, "temp")[0].1, NumberValue::F64(21.5));
    assert_eq!(sum_points(&rm, "lag")[0].1, NumberValue::I64(-4));
    let MetricData::Histogram { points, .. } = &rm.metric("latency").unwrap().data else {
        panic!()
    };
    assert_eq!(points[0].bucket_counts, vec![2, 1, 1]);
    assert_eq!(
        (points[0].count, points[0].min, points[0].max),
        (4, Some(0.05), Some(2.0))
    );
}

#[test]
fn default_histogram_buckets_are_the_seed_duration_buckets() {
    let p = provider();
    p.meter("svc")
        .f64_histogram("d")
        .build()
        .unwrap()
        .record(0.3, &[]);
    let rm = p.collect();
    let MetricData::Histogram { points, .. } = &rm.metric("d").unwrap().data else {
        panic!()
    };
    assert_eq!(&points[0].bounds[..], &DEFAULT_HISTOGRAM_BOUNDARIES[..]);
}

#[test]
fn exponential_histograms_give_accurate_percentiles() {
    let p = provider();
    let h = p
        .meter("svc")
        .f64_histogram("latency")
        .with_exponential_buckets(320)
        .build()
        .unwrap();
    for i in 1..=10_000 {
        h.record(i as f64 / 100.0, &[]);
    }
    let rm = p.collect();
    let MetricData::ExponentialHistogram { points, .. } = &rm.metric("latency").unwrap().data
    else {
        panic!("exponential expected")
    };
    for (q, exact) in [(0.5, 50.0), (0.9, 90.0), (0.99, 99.0)] {
        let got = points[0].quantile(q).unwrap();
        assert!((got - exact).abs() / exact < 0.01, "p{q}: {got} vs {exact}");
    }
}

#[test]
fn bad_measurements_are_dropped_and_counted() {
    let p = provider();
    let m = p.meter("svc");
    let c = m.f64_counter("c").build().unwrap();
    let h = m.f64_histogram("h").build().unwrap();
    c.add(-1.0, &[]);
    c.add(f64::NAN, &[]);
    c.add(2.0, &[]);
    h.record(f64::INFINITY, &[]);
    h.record(f64::NAN, &[]);
    h.record(1.0, &[]);
    let rm = p.collect();
    assert_eq!(sum_points(&rm, "c")[0].1, NumberValue::F64(2.0));
    let MetricData::Histogram { points, .. } = &rm.metric("h").unwrap().data else {
        panic!()
    };
    assert_eq!(points[0].count, 1);
    let dropped = sum_points(&rm, "loupe.sdk.metric.measurements_dropped");
    let of = |name: &str| {
        dropped
            .iter()
            .find(|(a, _)| a[0].value == crate::Value::from(name.to_owned()))
            .map(|p| p.1)
    };
    assert_eq!(of("c"), Some(NumberValue::U64(2)));
    assert_eq!(of("h"), Some(NumberValue::U64(2)));
}

#[test]
fn cardinality_overflow_is_marked_and_counted() {
    let p = MeterProvider::builder().with_cardinality_limit(5).build();
    let c = p.meter("svc").u64_counter("by_user").build().unwrap();
    for user in 0..10i64 {
        c.add(1, &[KeyValue::new("user", user)]);
    }
    let rm = p.collect();
    let points = sum_points(&rm, "by_user");
    assert_eq!(points.len(), 5);
    let overflow = points
        .iter()
        .find(|(a, _)| a == &[KeyValue::new("otel.metric.overflow", true)])
        .unwrap();
    assert_eq!(overflow.1, NumberValue::U64(6));
    let counted = sum_points(&rm, "loupe.sdk.metric.cardinality_overflow");
    assert_eq!(counted[0].1, NumberValue::U64(6));
}

#[test]
fn delta_readers_report_changes_since_their_last_collection() {
    let p = provider();
    let m = p.meter("svc");
    let c = m.u64_counter("c").build().unwrap();
    let udc = m.i64_up_down_counter("u").build().unwrap();
    let h = m.f64_histogram("h").build().unwrap();
    let delta = ManualReader::new(&p, Temporality::Delta);
    let cumulative = ManualReader::new(&p, Temporality::Cumulative);
    c.add(5, &[]);
    udc.add(5, &[]);
    h.record(1.0, &[]);
    let first = delta.collect();
    assert_eq!(sum_points(&first, "c")[0].1, NumberValue::U64(5));
    c.add(2, &[]);
    udc.add(-1, &[]);
    h.record(2.0, &[]);
    h.record(3.0, &[]);
    let second = delta.collect();
    assert_eq!(sum_points(&second, "c")[0].1, NumberValue::U64(2));
    assert!(matches!(
        second.metric("c").unwrap().data,
        MetricData::Sum {
            temporality: Temporality::Delta,
            ..
        }
    ));
    // Up-down counters stay cumulative under the delta preference.
    assert_eq!(sum_points(&second, "u")[0].1, NumberValue::I64(4));
    let MetricData::Histogram {
        points,
        temporality,
    } = &second.metric("h").unwrap().data
    else {
        panic!()
    };
    assert_eq!(
        (*temporality, points[0].count, points[0].sum),
        (Temporality::Delta, 2, 5.0)
    );
    // Nothing new: no points for the counter.
    assert!(delta.collect().metric("c").is_none());
    // A second reader keeps its own cumulative view.
    assert_eq!(
        sum_points(&cumulative.collect(), "c")[0].1,
        NumberValue::U64(7)
    );
}

#[test]
fn observable_instruments_report_what_their_callback_observes() {
    let p = provider();
    let m = p.meter("svc");
    let depth = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(3));
    let seen = std::sync::Arc::clone(&depth);
    m.u64_observable_gauge("queue.depth")
        .with_callback(move |o| {
            o.observe_u64(
                seen.load(std::sync::atomic::Ordering::Relaxed),
                &[KeyValue::new("q", "a")],
            )
        })
        .build()
        .unwrap();
    assert_eq!(
        sum_points(&p.collect(), "queue.depth")[0].1,
        NumberValue::U64(3)
    );
    depth.store(9, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        sum_points(&p.collect(), "queue.depth")[0].1,
        NumberValue::U64(9)
    );
    let err = m
        .u64_observable_gauge("queue.depth")
        .with_callback(|_| {})
        .build()
        .unwrap_err();
    assert!(matches!(err, MetricError::Conflict { .. }));
}

#[test]
fn noop_instruments_record_nothing() {
    let c = crate::metrics::Counter::<u64>::noop();
    c.add(1, &[]);
    c.bind(&[]).add(1);
    assert!(c.descriptor().is_none());
}

#[test]
fn a_noop_meter_hands_out_instruments_that_record_nothing() {
    let meter = Meter::noop();
    assert!(!meter.is_enabled());
    let counter = meter.u64_counter("requests").build().unwrap();
    assert!(
        counter.descriptor().is_none(),
        "a no-op counter has no core"
    );
    counter.add(1, &[KeyValue::new("route", "/")]);
    counter.bind(&[]).add(1);
    let histogram = meter.f64_histogram("latency").build().unwrap();
    histogram.record(0.5, &[]);
    let observed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = observed.clone();
    let gauge = meter
        .u64_observable_gauge("threads")
        .with_callback(move |_| flag.store(true, std::sync::atomic::Ordering::Relaxed))
        .build()
        .unwrap();
    assert_eq!(gauge.descriptor().name, "threads");
    assert!(!observed.load(std::sync::atomic::Ordering::Relaxed));
    // Builders still validate what they are given.
    assert!(matches!(
        meter.u64_counter("1bad").build(),
        Err(MetricError::InvalidName { .. })
    ));
    assert!(matches!(
        meter
            .f64_histogram("h")
            .with_boundaries(vec![2.0, 1.0])
            .build(),
        Err(MetricError::InvalidBoundaries { .. })
    ));
    assert!(provider().meter("real").is_enabled());
}
