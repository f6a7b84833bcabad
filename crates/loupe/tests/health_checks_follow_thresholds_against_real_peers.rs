//! Health checks against real peers on loopback and real commands: a TCP listener that
//! goes away and comes back on the same port, an HTTP server whose answer changes, one that
//! never answers, commands that succeed, fail and hang past their timeout (and are killed),
//! a disk threshold that cannot be met, and Loupe's own pipeline with a failing Zipkin
//! exporter and a batch queue that fills up.

mod support;
#[path = "support/tcp_service.rs"]
mod tcp_service;

use loupe::export::zipkin::ZipkinExporter;
use loupe::export::RetryPolicy;
use loupe::health::{
    CheckOptions, CheckStatus, CommandCheck, DiskSpaceCheck, HealthRegistry, HealthStatus,
    HttpCheck, PipelineCheck, TcpCheck, Transition, TransitionCounts,
};
use loupe::trace::{
    BatchConfig, BatchSpanProcessor, SimpleSpanProcessor, SpanBatch, SpanExporter, TracerProvider,
};
use loupe::ExportError;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use support::{wait_for, HttpRecorder};
use tcp_service::TcpService;

const WAIT: Duration = Duration::from_secs(20);

/// A registry whose transitions are recorded for the test (and not logged).
fn registry() -> (HealthRegistry, Arc<Mutex<Vec<Transition>>>) {
    let transitions = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&transitions);
    let registry = HealthRegistry::builder()
        .on_transition(move |t| sink.lock().unwrap().push(t.clone()))
        .build()
        .unwrap();
    (registry, transitions)
}

/// Runs every 20 ms; unhealthy after 3 failures, healthy after 2 successes (002's
/// thresholds).
fn fast() -> CheckOptions {
    CheckOptions::default()
        .with_interval(Duration::from_millis(20))
        .with_timeout(Duration::from_secs(5))
}

fn wait_status(registry: &HealthRegistry, name: &str, status: CheckStatus) {
    wait_for(&format!("`{name}` to be {status}"), WAIT, || {
        (registry.check_report(name)?.status == status).then_some(())
    });
}

fn last_error(registry: &HealthRegistry, name: &str) -> String {
    registry
        .check_report(name)
        .and_then(|c| c.last_error)
        .unwrap_or_default()
}

#[test]
fn a_tcp_check_turns_unhealthy_when_its_listener_closes_and_recovers_when_it_is_back() {
    let database = TcpService::start("127.0.0.1:0");
    let addr = database.addr();
    let (registry, transitions) = registry();
    registry
        .register("database", TcpCheck::to(addr), fast())
        .unwrap();
    wait_status(&registry, "database", CheckStatus::Healthy);
    assert_eq!(registry.status(), HealthStatus::Healthy);
    let report = registry.check_report("database").unwrap();
    assert!(report
        .message
        .unwrap()
        .starts_with(&format!("connected to {addr}")));

    drop(database);
    wait_status(&registry, "database", CheckStatus::Unhealthy);
    assert_eq!(registry.status(), HealthStatus::Unhealthy);
    assert!(!registry.is_ready());
    let error = last_error(&registry, "database");
    assert!(
        error.starts_with(&format!("cannot connect to {addr}: Connection refused")),
        "{error}"
    );

    let database = TcpService::start(&addr.to_string()); // the same port again
    wait_status(&registry, "database", CheckStatus::Healthy);
    assert_eq!(registry.status(), HealthStatus::Healthy);
    assert_eq!(last_error(&registry, "database"), "");
    drop(database);

    wait_for("the recovery callback", WAIT, || {
        (transitions.lock().unwrap().len() == 2).then_some(())
    });
    let transitions = transitions.lock().unwrap().clone();
    assert_eq!(transitions[0].from, CheckStatus::Healthy);
    assert_eq!(transitions[0].to, CheckStatus::Unhealthy);
    assert_eq!(
        transitions[0].consecutive, 3,
        "exactly the unhealthy threshold"
    );
    assert!(transitions[0].critical);
    assert_eq!(transitions[1].to, CheckStatus::Healthy);
    assert_eq!(
        transitions[1].consecutive, 2,
        "exactly the healthy threshold"
    );
    assert_eq!(
        registry.transitions("database"),
        Some(TransitionCounts {
            to_unhealthy: 1,
            to_healthy: 1
        })
    );
}

#[test]
fn an_http_check_follows_the_status_a_real_server_answers() {
    let status = Arc::new(AtomicU16::new(200));
    let answer = Arc::clone(&status);
    let server = HttpRecorder::start(move |_| answer.load(Ordering::SeqCst));
    let check = HttpCheck::builder(format!("{}/health", server.url()))
        .method("get")
        .header("X-Probe", "loupe")
        .expected_status(200)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let (registry, _) = registry();
    registry
        .register("redis", check, fast().non_critical())
        .unwrap();
    wait_status(&registry, "redis", CheckStatus::Healthy);
    let request = &server.wait_for(1, WAIT)[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.path, "/health");
    assert_eq!(request.header("x-probe"), Some("loupe"));

    status.store(503, Ordering::SeqCst);
    wait_status(&registry, "redis", CheckStatus::Unhealthy);
    assert_eq!(registry.status(), HealthStatus::Degraded, "non-critical");
    assert!(registry.is_ready());
    assert_eq!(
        last_error(&registry, "redis"),
        format!(
            "GET {}/health answered 503 Service Unavailable, expected 200: status 503",
            server.url()
        )
    );

    status.store(200, Ordering::SeqCst);
    wait_status(&registry, "redis", CheckStatus::Healthy);
    assert_eq!(registry.status(), HealthStatus::Healthy);
}

#[test]
fn an_http_check_times_out_on_a_server_that_never_answers() {
    // The kernel completes the handshake into the backlog; nobody ever reads the request.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/health", silent.local_addr().unwrap());
    let check = HttpCheck::builder(&url)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let (registry, _) = registry();
    registry
        .register("slow", check, fast().with_unhealthy_threshold(1))
        .unwrap();
    wait_status(&registry, "slow", CheckStatus::Unhealthy);
    assert_eq!(
        last_error(&registry, "slow"),
        format!("GET {url} timed out after 200ms")
    );
}

#[test]
fn command_checks_judge_real_exit_codes() {
    let (registry, _) = registry();
    let once = || fast().with_unhealthy_threshold(1);
    registry
        .register("true", CommandCheck::new("true"), once())
        .unwrap();
    registry
        .register("false", CommandCheck::new("false"), once())
        .unwrap();
    registry
        .register(
            "exit-3-expected",
            CommandCheck::from_argv(["sh", "-c", "echo all good; exit 3"])
                .unwrap()
                .with_success_code(3),
            once(),
        )
        .unwrap();
    registry
        .register(
            "exit-3",
            CommandCheck::new("sh").args(["-c", "echo 95% used >&2; exit 3"]),
            once(),
        )
        .unwrap();
    registry
        .register("missing", CommandCheck::new("/no/such/program"), once())
        .unwrap();
    for name in ["true", "exit-3-expected"] {
        wait_status(&registry, name, CheckStatus::Healthy);
    }
    for name in ["false", "exit-3", "missing"] {
        wait_status(&registry, name, CheckStatus::Unhealthy);
    }
    assert_eq!(
        registry
            .check_report("exit-3-expected")
            .unwrap()
            .message
            .as_deref(),
        Some("`sh -c echo all good; exit 3` exited with 3: all good")
    );
    assert_eq!(
        last_error(&registry, "false"),
        "`false` exited with code 1 (expected 0)"
    );
    assert_eq!(
        last_error(&registry, "exit-3"),
        "`sh -c echo 95% used >&2; exit 3` exited with code 3 (expected 0): 95% used"
    );
    let missing = last_error(&registry, "missing");
    assert!(
        missing.starts_with("cannot run `/no/such/program`: No such file or directory"),
        "{missing}"
    );
}

/// Whether process `pid` has ended: gone, or a zombie waiting for its parent.
fn has_ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn read_pid(path: &Path) -> u32 {
    wait_for(&format!("{}", path.display()), WAIT, || {
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    })
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("health-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A script that records its pid and its child's, then waits on a 30 s sleep.
fn hanging_script(dir: &Path) -> CommandCheck {
    CommandCheck::new("sh").arg("-c").arg(format!(
        "echo $$ > {0}/sh.pid; sleep 30 & echo $! > {0}/sleep.pid; wait",
        dir.display()
    ))
}

#[test]
fn a_command_past_its_timeout_is_killed_with_what_it_started() {
    let dir = scratch("command-timeout");
    let check = hanging_script(&dir).with_timeout(Duration::from_millis(300));
    let (registry, _) = registry();
    registry
        .register(
            "hangs",
            check,
            fast()
                .with_interval(Duration::from_secs(60))
                .with_unhealthy_threshold(1),
        )
        .unwrap();
    wait_status(&registry, "hangs", CheckStatus::Unhealthy);
    let report = registry.check_report("hangs").unwrap();
    let error = report.last_error.unwrap();
    assert!(
        error.ends_with("timed out after 300ms and was killed"),
        "{error}"
    );
    assert!(
        report.last_duration_ms.unwrap() < 3000.0,
        "not the 30 s sleep"
    );
    let (sh, sleep) = (
        read_pid(&dir.join("sh.pid")),
        read_pid(&dir.join("sleep.pid")),
    );
    // The script itself was reaped by the check; its sleep was killed with its group.
    assert!(
        !Path::new(&format!("/proc/{sh}")).exists(),
        "sh {sh} is still there"
    );
    wait_for(&format!("sleep {sleep} to end"), WAIT, || {
        has_ended(sleep).then_some(())
    });
}

#[test]
fn a_command_the_registry_cancels_at_its_timeout_is_killed_too() {
    let dir = scratch("registry-timeout");
    // The command's own timeout (30 s) is longer than the registry's (300 ms).
    let (registry, _) = registry();
    registry
        .register(
            "hangs",
            hanging_script(&dir),
            fast()
                .with_interval(Duration::from_secs(60))
                .with_timeout(Duration::from_millis(300))
                .with_unhealthy_threshold(1),
        )
        .unwrap();
    wait_status(&registry, "hangs", CheckStatus::Unhealthy);
    assert_eq!(
        last_error(&registry, "hangs"),
        "timed out after 300ms; the run was cancelled"
    );
    let (sh, sleep) = (
        read_pid(&dir.join("sh.pid")),
        read_pid(&dir.join("sleep.pid")),
    );
    wait_for("the script and its sleep to end", WAIT, || {
        (has_ended(sh) && has_ended(sleep)).then_some(())
    });
}

#[test]
fn a_disk_check_with_an_impossible_threshold_is_unhealthy() {
    let dir = env!("CARGO_TARGET_TMPDIR");
    let (registry, _) = registry();
    let once = || fast().with_unhealthy_threshold(1);
    registry
        .register(
            "impossible",
            DiskSpaceCheck::builder(dir)
                .min_free_bytes(u64::MAX)
                .build()
                .unwrap(),
            once(),
        )
        .unwrap();
    registry
        .register(
            "modest",
            DiskSpaceCheck::builder(dir)
                .min_free_bytes(1)
                .min_free_percent(0.0)
                .build()
                .unwrap(),
            once(),
        )
        .unwrap();
    registry
        .register(
            "missing",
            DiskSpaceCheck::builder("/no/such/dir").build().unwrap(),
            once(),
        )
        .unwrap();
    wait_status(&registry, "impossible", CheckStatus::Unhealthy);
    wait_status(&registry, "modest", CheckStatus::Healthy);
    wait_status(&registry, "missing", CheckStatus::Unhealthy);
    let error = last_error(&registry, "impossible");
    assert!(error.starts_with(&format!("{dir}: ")), "{error}");
    assert!(
        error.ends_with("below the minimum of 16384.0 PiB"),
        "{error}"
    );
    let modest = registry.check_report("modest").unwrap().message.unwrap();
    assert!(modest.contains(" free of "), "{modest}");
    assert_eq!(
        last_error(&registry, "missing"),
        "cannot read the free space of /no/such/dir: No such file or directory (os error 2)"
    );
}

#[test]
fn the_pipeline_check_sees_a_failing_exporter_and_its_recovery() {
    let status = Arc::new(AtomicU16::new(400));
    let answer = Arc::clone(&status);
    let collector = HttpRecorder::start(move |_| answer.load(Ordering::SeqCst));
    let exporter = ZipkinExporter::builder()
        .with_endpoint(format!("{}/api/v2/spans", collector.url()))
        .with_retry(RetryPolicy::none())
        .build()
        .unwrap();
    let provider = TracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(exporter))
        .build()
        .unwrap();
    let tracer = provider.tracer("checkout");
    let (registry, _) = registry();
    registry
        .register(
            "telemetry",
            PipelineCheck::builder().build().unwrap(),
            fast().non_critical(),
        )
        .unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        // The application keeps ending spans; the collector answers what `status` says.
        scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                tracer.in_span("request", |_| {});
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        status.store(400, Ordering::SeqCst);
        wait_status(&registry, "telemetry", CheckStatus::Unhealthy);
        let error = last_error(&registry, "telemetry");
        assert!(
            error.starts_with("exporter `zipkin` (traces) is failing: "),
            "{error}"
        );
        assert!(
            error.ends_with("items failed and none were exported since the last check"),
            "{error}"
        );
        assert_eq!(registry.status(), HealthStatus::Degraded);

        status.store(202, Ordering::SeqCst);
        wait_status(&registry, "telemetry", CheckStatus::Healthy);
        assert_eq!(registry.status(), HealthStatus::Healthy);
        stop.store(true, Ordering::SeqCst);
    });
    assert!(collector.requests().len() > 2);
    provider.shutdown(Duration::from_secs(5)).unwrap();
}

/// An exporter that holds every export until the gate opens.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }
}

impl SpanExporter for Gate {
    fn export(&self, _batch: SpanBatch<'_>) -> Result<(), ExportError> {
        let (open, changed) = &*self.0;
        let mut open = open.lock().unwrap();
        while !*open {
            open = changed.wait(open).unwrap();
        }
        Ok(())
    }
}

#[test]
fn the_pipeline_check_sees_a_saturated_batch_queue_and_its_draining() {
    let gate = Gate::default();
    let config = BatchConfig {
        max_queue_size: 64,
        max_export_batch_size: 8,
        scheduled_delay: Duration::from_millis(10),
        ..BatchConfig::default()
    };
    let processor = BatchSpanProcessor::with_config(gate.clone(), config).unwrap();
    let check = PipelineCheck::builder()
        .without_exporters()
        .with_span_queue("traces", &processor, config.max_queue_size)
        .build()
        .unwrap();
    let provider = TracerProvider::builder()
        .with_span_processor(processor)
        .build()
        .unwrap();
    let tracer = provider.tracer("ingest");
    let (registry, _) = registry();
    registry
        .register(
            "telemetry",
            check,
            fast().with_unhealthy_threshold(1).with_healthy_threshold(2),
        )
        .unwrap();
    wait_status(&registry, "telemetry", CheckStatus::Healthy);

    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        // The application keeps recording under load.
        scope.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                // About 1000 spans a second: more than a stuck exporter's queue holds,
                // far less than a working one drains.
                for _ in 0..5 {
                    tracer.in_span("event", |_| {});
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        // The exporter is stuck: spans pile up until the queue is full and drops them.
        wait_status(&registry, "telemetry", CheckStatus::Unhealthy);
        let error = last_error(&registry, "telemetry");
        assert!(
            error.contains("queue `traces` is saturated: ")
                || error.contains("queue `traces` dropped "),
            "{error}"
        );
        assert_eq!(registry.status(), HealthStatus::Unhealthy);

        // Unstuck, it keeps up with the load again.
        gate.open();
        wait_status(&registry, "telemetry", CheckStatus::Healthy);
        stop.store(true, Ordering::SeqCst);
    });
    provider.shutdown(Duration::from_secs(5)).unwrap();
}
