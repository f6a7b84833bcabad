//! The README's first command: the demo runs the seed workloads, serves its endpoints,
//! prints live numbers, stops by itself after `--duration`, and refuses a bad config or
//! a port in use with a clear message and a non-zero exit.
//!
//! The demo binary is the one `cargo test` builds with the examples
//! (`target/<profile>/examples/demo`).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn demo() -> Command {
    // target/<profile>/deps/<this test> → target/<profile>/examples/demo
    let exe = std::env::current_exe().unwrap();
    let path: PathBuf = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples").join("demo"))
        .unwrap();
    assert!(
        path.exists(),
        "{} is missing: `cargo test -p loupe` builds it (a filtered `--test` run does not; \
         run `cargo build -p loupe --example demo` first)",
        path.display()
    );
    let mut cmd = Command::new(path);
    cmd.env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("RUST_LOG");
    cmd
}

/// Runs to completion within `timeout`, returning (exit code, stdout, stderr).
fn finish(mut cmd: Command, timeout: Duration) -> (Option<i32>, String, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let (mut out, mut err) = (String::new(), String::new());
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code(), out, err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the demo did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The value after `key=` in a headless summary line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|part| part.strip_prefix(key)?.strip_prefix('='))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_its_endpoints_and_prints_live_numbers_until_its_duration() {
    let mut child = demo()
        .args(["--listen", "127.0.0.1:0", "--duration", "5", "--headless"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_line = |deadline: Instant| {
        lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|e| panic!("no output from the demo before the deadline: {e}"))
    };

    // The URLs come first.
    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics_url = next_line(deadline);
    let metrics_url = metrics_url
        .strip_prefix("metrics  ")
        .unwrap_or_else(|| panic!("first line: {metrics_url}"))
        .to_owned();
    let health_line = next_line(deadline);
    let health_url = health_line
        .strip_prefix("health   ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("second line: {health_line}"))
        .to_owned();

    // Then one summary line per second, with live numbers.
    let mut summaries = Vec::new();
    while summaries.len() < 2 {
        let line = next_line(deadline);
        if line.starts_with("t=") {
            summaries.push(line);
        }
    }
    let last = summaries.last().unwrap();
    let spans_per_second: f64 = field(last, "spans/s").unwrap().parse().unwrap();
    let series: u64 = field(last, "series").unwrap().parse().unwrap();
    assert!(spans_per_second > 0.0, "{last}");
    assert!(series > 0, "{last}");
    assert_eq!(field(last, "health"), Some("healthy"), "{last}");

    // The endpoints answer while it runs, with the three workloads' metrics.
    let scrape = reqwest::get(&metrics_url).await.unwrap();
    assert_eq!(scrape.status(), 200);
    let scrape = scrape.text().await.unwrap();
    for family in [
        "plugin_messages_received",
        "llm_simulator_requests_total",
        "query_events_processed_total",
        "db_queries",
        "http_server_request_duration_seconds_bucket",
    ] {
        assert!(
            scrape.lines().any(|l| l.starts_with(family)),
            "{family} missing from the scrape"
        );
    }
    let health = reqwest::get(&health_url).await.unwrap();
    assert_eq!(health.status(), 200);

    // It stops by itself after --duration, cleanly.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the demo outlived --duration");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "exit {status}: {stderr}");
    let rest: Vec<String> = lines.try_iter().collect();
    assert!(
        rest.iter().any(|l| l.starts_with("demo: stopped after")),
        "{rest:?}"
    );
}

#[test]
fn a_port_in_use_is_refused_with_a_clear_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut cmd = demo();
    cmd.args(["--listen", &addr, "--duration", "1", "--headless"]);
    let (code, _, stderr) = finish(cmd, Duration::from_secs(30));
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("demo: cannot start"), "{stderr}");
    assert!(
        stderr.contains(&addr),
        "the message names the address: {stderr}"
    );
}

#[test]
fn a_bad_config_is_refused_with_a_clear_message() {
    let dir = std::env::temp_dir().join(format!("loupe-demo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.yaml");
    std::fs::write(
        &path,
        "service:\n  name: demo\ntraces:\n  sampler: sometimes\n",
    )
    .unwrap();
    let mut cmd = demo();
    cmd.args(["--config", path.to_str().unwrap(), "--duration", "1"]);
    let (code, _, stderr) = finish(cmd, Duration::from_secs(30));
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("demo: cannot start"), "{stderr}");
    assert!(
        stderr.contains("`traces`") && stderr.contains("line 3"),
        "the message names the key and where it is: {stderr}"
    );

    let mut cmd = demo();
    cmd.args(["--duration", "soon"]);
    let (code, _, stderr) = finish(cmd, Duration::from_secs(30));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--duration"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}
