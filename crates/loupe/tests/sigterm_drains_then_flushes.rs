//! 003's graceful shutdown, driven by a real SIGTERM: a child process runs `loupe::init`
//! and `shutdown_on_signal`; after `kill -TERM`, `/ready` turns 503 for the drain period,
//! the span recorded before the signal reaches the OTLP peer, and the process exits 0.
//!
//! The child is this same test binary, re-run on the `child` test with an environment
//! variable set.

mod support;

use loupe::config::ExporterKind;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "LOUPE_SIGTERM_CHILD_OTLP_PORT";
const WAIT: Duration = Duration::from_secs(30);

/// In the child: set up, print the health address, record a span, wait for the signal.
#[test]
fn child() {
    let Ok(port) = std::env::var(CHILD_ENV) else {
        return; // run directly: nothing to do
    };
    let telemetry = loupe::init(
        support::loopback_config("draining", port.parse().unwrap())
            .with_logs_exporter(ExporterKind::None)
            .with(|c| {
                c.health.drain_period_secs = 2;
                c.tracing.export_delay_ms = 600_000; // only shutdown delivers the span
                c.logging.sinks.clear();
            }),
    )
    .unwrap();
    drop(
        telemetry
            .tracer_provider()
            .tracer("child")
            .start("before the signal"),
    );
    println!("HEALTH {}", telemetry.health_addr().unwrap());
    telemetry.shutdown_on_signal().unwrap();
    println!("DONE");
}

#[test]
fn sigterm_turns_readiness_off_drains_and_flushes() {
    let (peer, port) = support::otlp_receiver("http", &[]);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the child prints its address").unwrap();
        // The harness may print `test child ... ` on the same line first.
        if let Some((_, addr)) = line.split_once("HEALTH ") {
            break addr.trim().to_owned();
        }
    };
    let ready = format!("http://{addr}/ready");
    support::wait_for("the child to be ready", WAIT, || {
        support::http_get(&ready).filter(|(s, _)| *s == 200)
    });

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // During the drain period the listener still answers, and readiness is off.
    let (code, body) = support::wait_for("readiness to turn off", WAIT, || {
        support::http_get(&ready).filter(|(s, _)| *s == 503)
    });
    assert_eq!(code, 503, "{body}");

    let got = peer.next_json(WAIT, |v| v["event"] == "decoded");
    assert_eq!(got["spans"][0]["name"], "before the signal");

    let deadline = Instant::now() + WAIT;
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the child did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("DONE")), "{rest:?}");
}
