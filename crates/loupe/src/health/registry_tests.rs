use super::*;
use crate::health::{check_fn, CheckResult};
use crate::metrics::{MetricData, NumberValue};
use std::sync::atomic::AtomicU32;

const WAIT: Duration = Duration::from_secs(10);

/// Polls `f` until it holds, failing after [`WAIT`].
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn slot(options: CheckOptions) -> Slot {
    Slot {
        name: "db".into(),
        options,
        state: Mutex::new(SlotState {
            status: CheckStatus::Pending,
            consecutive_failures: 0,
            consecutive_successes: 0,
            message: None,
            last_error: None,
            last_checked: None,
            last_duration: None,
            counts: TransitionCounts::default(),
        }),
    }
}

fn fast() -> CheckOptions {
    CheckOptions::default()
        .with_interval(Duration::from_millis(10))
        .with_unhealthy_threshold(2)
        .with_healthy_threshold(2)
}

/// A check whose answer the test flips, counting its runs.
fn switch(healthy: &Arc<AtomicBool>, runs: &Arc<AtomicU32>) -> impl HealthCheck {
    let (healthy, runs) = (Arc::clone(healthy), Arc::clone(runs));
    check_fn(move || {
        runs.fetch_add(1, Ordering::SeqCst);
        let ok = healthy.load(Ordering::SeqCst);
        async move {
            if ok {
                CheckResult::healthy()
            } else {
                CheckResult::unhealthy("down")
            }
        }
    })
}

#[test]
fn thresholds_turn_results_into_a_status_both_ways() {
    let slot = slot(CheckOptions::default()); // 3 failures, 2 successes
    let ok = || CheckResult::healthy();
    let bad = || CheckResult::unhealthy("connection refused");
    let took = Duration::from_millis(1);

    assert_eq!(slot.apply(ok(), took), None, "pending → healthy is silent");
    assert_eq!(slot.report().status, CheckStatus::Healthy);
    assert_eq!(slot.apply(bad(), took), None);
    assert_eq!(slot.apply(bad(), took), None);
    let report = slot.report();
    assert_eq!(report.status, CheckStatus::Healthy);
    assert_eq!(report.consecutive_failures, 2);
    assert_eq!(report.last_error.as_deref(), Some("connection refused"));

    let down = slot
        .apply(bad(), took)
        .expect("the third failure is a transition");
    assert_eq!(
        (down.from, down.to, down.consecutive),
        (CheckStatus::Healthy, CheckStatus::Unhealthy, 3)
    );
    assert_eq!(
        down.to_string(),
        "health check `db` (critical) is unhealthy after 3 failures in a row: connection refused"
    );
    assert_eq!(slot.apply(bad(), took), None, "no second transition");

    assert_eq!(slot.apply(ok(), took), None, "one success is not enough");
    let report = slot.report();
    assert_eq!(report.status, CheckStatus::Unhealthy);
    assert_eq!(report.last_error.as_deref(), Some("connection refused"));
    let up = slot.apply(ok(), took).expect("the second success recovers");
    assert_eq!((up.to, up.consecutive), (CheckStatus::Healthy, 2));
    assert_eq!(slot.report().last_error, None);

    // A failure between successes restarts the count.
    for result in [bad(), bad(), bad(), ok(), bad(), ok()] {
        slot.apply(result, took);
    }
    assert_eq!(slot.report().status, CheckStatus::Unhealthy);
    assert_eq!(
        lock(&slot.state).counts,
        TransitionCounts {
            to_unhealthy: 2,
            to_healthy: 1
        }
    );
}

#[test]
fn a_check_that_never_succeeded_turns_unhealthy_from_pending() {
    let slot = slot(CheckOptions::default().with_unhealthy_threshold(1));
    let t = slot
        .apply(CheckResult::unhealthy("no route"), Duration::ZERO)
        .unwrap();
    assert_eq!(
        (t.from, t.to),
        (CheckStatus::Pending, CheckStatus::Unhealthy)
    );
}

#[test]
fn critical_checks_make_the_service_unhealthy_and_others_degraded() {
    let registry = HealthRegistry::builder()
        .on_transition(|_| {})
        .build()
        .unwrap();
    let (cache_ok, cache_runs) = (Arc::new(AtomicBool::new(true)), Arc::default());
    let (db_ok, db_runs) = (Arc::new(AtomicBool::new(true)), Arc::default());
    registry
        .register(
            "cache",
            switch(&cache_ok, &cache_runs),
            fast().non_critical(),
        )
        .unwrap();
    registry
        .register("db", switch(&db_ok, &db_runs), fast())
        .unwrap();
    assert_eq!(registry.check_names(), ["cache", "db"]);
    wait_until("both checks to be healthy", || {
        registry
            .report()
            .checks
            .iter()
            .all(|c| c.status == CheckStatus::Healthy)
    });
    assert_eq!(registry.status(), HealthStatus::Healthy);
    assert!(registry.is_ready());

    cache_ok.store(false, Ordering::SeqCst);
    wait_until("degraded", || registry.status() == HealthStatus::Degraded);
    assert!(registry.is_ready(), "a degraded service still serves");

    db_ok.store(false, Ordering::SeqCst);
    wait_until("unhealthy", || registry.status() == HealthStatus::Unhealthy);
    assert_eq!(
        registry.not_ready_reason().as_deref(),
        Some("critical check `db` is unhealthy")
    );
    let report = registry.report();
    assert_eq!(report.status, HealthStatus::Unhealthy);
    assert!(!report.ready);

    db_ok.store(true, Ordering::SeqCst);
    cache_ok.store(true, Ordering::SeqCst);
    wait_until("healthy again", || {
        registry.status() == HealthStatus::Healthy
    });
    assert_eq!(
        registry.transitions("db"),
        Some(TransitionCounts {
            to_unhealthy: 1,
            to_healthy: 1
        })
    );
    assert_eq!(registry.transitions("nope"), None);

    registry.begin_shutdown();
    assert_eq!(registry.status(), HealthStatus::ShuttingDown);
    assert_eq!(registry.report().status, HealthStatus::ShuttingDown);
    assert_eq!(
        registry.not_ready_reason().as_deref(),
        Some("shutting down")
    );
}

#[test]
fn readiness_follows_set_ready() {
    let registry = HealthRegistry::builder()
        .with_initially_ready(false)
        .build()
        .unwrap();
    assert_eq!(
        registry.not_ready_reason().as_deref(),
        Some("not marked ready")
    );
    registry.set_ready(true);
    assert!(registry.is_ready());
    assert!(registry.report().ready);
}

#[test]
fn hanging_and_panicking_checks_fail_without_stopping_the_registry() {
    let registry = HealthRegistry::builder()
        .on_transition(|_| {})
        .build()
        .unwrap();
    let hang = check_fn(std::future::pending::<CheckResult>);
    registry
        .register(
            "hangs",
            hang,
            fast()
                .with_timeout(Duration::from_millis(20))
                .with_unhealthy_threshold(1),
        )
        .unwrap();
    let panics = check_fn(|| async { panic!("check exploded") });
    registry
        .register("panics", panics, fast().with_unhealthy_threshold(1))
        .unwrap();
    wait_until("both to be unhealthy", || {
        registry
            .report()
            .checks
            .iter()
            .all(|c| c.status == CheckStatus::Unhealthy)
    });
    let hangs = registry.check_report("hangs").unwrap();
    assert_eq!(
        hangs.last_error.as_deref(),
        Some("timed out after 20ms; the run was cancelled")
    );
    let panics = registry.check_report("panics").unwrap();
    assert!(panics.last_error.unwrap().contains("panicked"));
    // Both keep being run.
    let runs = registry
        .check_report("panics")
        .unwrap()
        .consecutive_failures;
    wait_until("more runs", || {
        registry
            .check_report("panics")
            .unwrap()
            .consecutive_failures
            > runs
    });
}

#[test]
fn bad_registrations_are_errors() {
    let registry = HealthRegistry::new();
    let ok = || check_fn(|| async { CheckResult::healthy() });
    registry
        .register("db", ok(), CheckOptions::default())
        .unwrap();
    assert!(matches!(
        registry.register("db", ok(), CheckOptions::default()),
        Err(HealthError::DuplicateCheck(name)) if name == "db"
    ));
    let err = registry
        .register(
            "x",
            ok(),
            CheckOptions::default().with_unhealthy_threshold(0),
        )
        .unwrap_err();
    assert!(matches!(err, HealthError::Config(ref e) if e.field == "unhealthy_threshold"));
    assert!(err.to_string().contains("at least 1"));
    let err = registry
        .register(
            "x",
            ok(),
            CheckOptions::default().with_interval(Duration::ZERO),
        )
        .unwrap_err();
    assert!(matches!(err, HealthError::Config(ref e) if e.field == "interval"));
    let err = registry
        .register(" ", ok(), CheckOptions::default())
        .unwrap_err();
    assert!(matches!(err, HealthError::Config(ref e) if e.field == "name"));
}

#[test]
fn transitions_are_counted_as_metrics_and_given_to_the_callback() {
    let provider = MeterProvider::builder().build();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let registry = HealthRegistry::builder()
        .with_meter_provider(&provider)
        .on_transition(move |t| lock(&sink).push(t.clone()))
        .build()
        .unwrap();
    let (ok, runs) = (Arc::new(AtomicBool::new(false)), Arc::default());
    registry.register("db", switch(&ok, &runs), fast()).unwrap();
    wait_until("unhealthy", || registry.status() == HealthStatus::Unhealthy);
    ok.store(true, Ordering::SeqCst);
    // The callback runs just after the status changed.
    wait_until("both transitions", || lock(&seen).len() == 2);
    assert_eq!(registry.status(), HealthStatus::Healthy);

    let seen = lock(&seen).clone();
    let directions: Vec<_> = seen.iter().map(|t| (t.from, t.to)).collect();
    assert_eq!(
        directions,
        [
            (CheckStatus::Pending, CheckStatus::Unhealthy),
            (CheckStatus::Unhealthy, CheckStatus::Healthy)
        ]
    );
    let metrics = provider.collect();
    let metric = metrics.metric("loupe.health.transitions").unwrap();
    let MetricData::Sum { points, .. } = &metric.data else {
        panic!("a counter is a sum: {metric:?}");
    };
    let count = |to: &str| {
        points
            .iter()
            .find(|p| {
                p.attributes
                    .iter()
                    .any(|kv| kv.key.as_str() == "to" && kv.value.as_str() == to)
                    && p.attributes
                        .iter()
                        .any(|kv| kv.key.as_str() == "check" && kv.value.as_str() == "db")
            })
            .map(|p| p.value)
    };
    assert_eq!(count("unhealthy"), Some(NumberValue::U64(1)));
    assert_eq!(count("healthy"), Some(NumberValue::U64(1)));
}

#[test]
fn dropping_the_registry_stops_its_checks() {
    let registry = HealthRegistry::new();
    let (ok, runs) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicU32::new(0)));
    registry.register("db", switch(&ok, &runs), fast()).unwrap();
    wait_until("a few runs", || runs.load(Ordering::SeqCst) >= 3);
    drop(registry);
    // Cancelling happens on the I/O thread, a moment later. A check still scheduled every
    // 10 ms would never stay unchanged for 100 ms.
    wait_until("the runs to stop", || {
        let before = runs.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        runs.load(Ordering::SeqCst) == before
    });
}

#[test]
fn details_join_the_report_without_replacing_its_fields() {
    let registry = HealthRegistry::builder()
        .with_version("2.0.1")
        .with_details(|| {
            let mut map = serde_json::Map::new();
            map.insert("queries_running".into(), 5.into());
            map.insert("status".into(), "hijacked".into());
            map
        })
        .build()
        .unwrap();
    let json = registry.report().to_json();
    assert_eq!(json["queries_running"], 5);
    assert_eq!(json["status"], "healthy");
    assert_eq!(json["version"], "2.0.1");
    assert!(json["uptime_seconds"].is_u64());
}

#[test]
fn the_monitor_publishes_reports_and_the_channel_drops_when_full() {
    let registry = HealthRegistry::builder()
        .with_version("1.0.0")
        .build()
        .unwrap();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&reports);
    let monitor = registry
        .monitor(Duration::from_millis(10), move |r| {
            lock(&sink).push(r.clone())
        })
        .unwrap();
    wait_until("three reports", || lock(&reports).len() >= 3);
    monitor.stop();
    let count = lock(&reports).len();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(lock(&reports).len(), count, "nothing after stop");
    assert_eq!(lock(&reports)[0].version.as_deref(), Some("1.0.0"));

    let (monitor, mut rx) = registry
        .monitor_channel(Duration::from_millis(5), 2)
        .unwrap();
    wait_until("drops on a full channel", || monitor.dropped() >= 2);
    assert_eq!(monitor.published(), 2);
    let first = rx.blocking_recv().unwrap();
    assert_eq!(first.status, HealthStatus::Healthy);
    assert!(matches!(
        registry.monitor_channel(Duration::from_millis(5), 0),
        Err(HealthError::Config(_))
    ));
    assert!(matches!(
        registry.monitor(Duration::ZERO, |_| {}),
        Err(HealthError::Config(_))
    ));
}
