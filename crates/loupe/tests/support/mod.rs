//! Shared by the integration tests that talk to real peers: the official OpenTelemetry
//! Python packages, Debian's Prometheus and VictoriaMetrics.
//!
//! A peer that is missing is installed (a virtualenv from PyPI, a Debian package); when that
//! fails the test fails with the reason, it never skips.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

mod http_recorder;
pub mod pki;
#[allow(unused_imports)]
pub use http_recorder::{HttpRecorder, Request};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The Python packages the peers need, pinned.
const PYTHON_PACKAGES: &[&str] = &[
    "opentelemetry-proto==1.45.2",
    "grpcio==1.85.1",
    "prometheus-client==0.26.0",
];

/// Runs a command to completion, failing the test with its output if it fails.
pub fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The virtualenv's `python`, with the pinned packages installed.
pub fn python() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("peers-venv");
        let python = dir.join("bin").join("python");
        let stamp = dir.join(format!("installed-{}", PYTHON_PACKAGES.join(",")));
        if !stamp.exists() {
            if !python.exists() {
                run(Command::new("python3").args(["-m", "venv"]).arg(&dir));
            }
            run(Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(PYTHON_PACKAGES));
            std::fs::write(&stamp, b"").expect("write venv stamp");
        }
        python
    })
    .clone()
}

/// The path of a program from a Debian package, installing the package when it is missing.
pub fn debian_program(program: &str, package: &str) -> PathBuf {
    static APT: Mutex<()> = Mutex::new(());
    let _guard = APT.lock().unwrap_or_else(|p| p.into_inner());
    let find = || {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(program))
                .find(|p| p.is_file())
        })
    };
    if let Some(path) = find() {
        return path;
    }
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if !install() {
        run(Command::new("apt-get").arg("update"));
        run(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive"));
    }
    find().unwrap_or_else(|| panic!("{program} is still missing after installing {package}"))
}

/// A child process killed when dropped, whose stdout lines arrive on a channel.
pub struct Peer {
    child: Child,
    lines: Receiver<String>,
    pub name: String,
}

impl Peer {
    /// Starts `cmd` with piped stdout (stderr as `cmd` says; the test's by default).
    pub fn start(name: &str, cmd: &mut Command) -> Peer {
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Peer {
            child,
            lines,
            name: name.to_string(),
        }
    }

    /// The next stdout line, waiting at most `timeout`.
    pub fn next_line(&self, timeout: Duration) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!("{} printed nothing within {timeout:?}", self.name)
            }
            Err(RecvTimeoutError::Disconnected) => panic!("{} exited", self.name),
        }
    }

    /// The next stdout line that is a JSON object satisfying `pred`, skipping others.
    pub fn next_json(
        &self,
        timeout: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{}: no matching line within {timeout:?}",
                self.name
            );
            let line = self.next_line(left);
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
                if pred(&value) {
                    return value;
                }
            }
        }
    }

    /// Every line that arrives within `window` (for asserting that nothing else came).
    pub fn drain(&self, window: Duration) -> Vec<String> {
        let deadline = Instant::now() + window;
        let mut out = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            out.push(line);
        }
        out
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` until it returns `Some`, failing after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A free TCP port on loopback (bound then released; fine for starting a peer right away).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// A blocking HTTP GET on loopback, returning status and body.
pub fn http_get(url: &str) -> Option<(u16, String)> {
    http_request("GET", url, &[]).map(|r| (r.status, r.body))
}

/// What [`http_request`] got back.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header lines, names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A blocking HTTP/1.0 request on loopback (no chunked bodies to decode), or `None` when
/// the server cannot be reached.
pub fn http_request(method: &str, url: &str, headers: &[(&str, &str)]) -> Option<HttpResponse> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut request = format!("{method} /{path} HTTP/1.0\r\nHost: {host}\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = String::from_utf8_lossy(&raw[split + 4..]).into_owned();
    let mut lines = head.lines();
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Starts the OTLP receiver built on the official Python packages
/// (`tests/peers/otlp_receiver.py`) in `mode` (`http` or `grpc`) and returns it with its
/// port.
pub fn otlp_receiver(mode: &str, args: &[&str]) -> (Peer, u16) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/otlp_receiver.py");
    let peer = Peer::start(
        &format!("otlp receiver ({mode})"),
        Command::new(python()).arg(script).arg(mode).args(args),
    );
    let line = peer.next_line(Duration::from_secs(60));
    let port = line
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (peer, port)
}

/// A configuration for `loupe::init` in tests: OTLP over HTTP/protobuf to a local peer on
/// `otlp_port` (no metric pushes), Prometheus and health endpoints on free loopback ports.
pub fn loopback_config(service: &str, otlp_port: u16) -> loupe::config::TelemetryConfig {
    loupe::config::TelemetryConfig::new(service.to_owned())
        .with_otlp_protocol("http/protobuf")
        .with_otlp_endpoint(format!("http://127.0.0.1:{otlp_port}"))
        .with_otlp_metrics(false)
        .with_prometheus_listen("127.0.0.1:0")
        .with_health_listen("127.0.0.1:0")
}
