//! The Prometheus endpoint: its text output passes `promtool check metrics` with no lint
//! problem, its OpenMetrics output passes the official Python parser, it negotiates the
//! format over HTTP, mounts into an axum app, and Debian's Prometheus server scrapes it and
//! answers queries with the values that were recorded.

mod support;

use loupe::export::prometheus::{Format, PrometheusExporter};
use loupe::metrics::{Counter, Histogram, MeterProvider};
use loupe::{KeyValue, Resource};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

struct Workload {
    provider: MeterProvider,
    requests: Counter<u64>,
    latency: Histogram<f64>,
}

/// A service with every kind of instrument, names and labels that need rewriting, and a
/// label value that needs escaping.
fn workload() -> Workload {
    let provider = MeterProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name("clusterdb")
                .with_attribute(KeyValue::new("deployment.environment", "test"))
                .build(),
        )
        .build();
    let meter = provider.meter("clusterdb.telemetry");
    let requests = meter
        .u64_counter("requests")
        .with_description("Requests handled.")
        .build()
        .unwrap();
    let latency = meter
        .f64_histogram("request.latency")
        .with_unit("s")
        .with_description("Request latency.")
        .with_boundaries(vec![0.1, 0.2, 0.5, 1.0])
        .build()
        .unwrap();
    let messages = meter
        .u64_counter("plugin.messages.received")
        .with_unit("{message}")
        .with_description("Messages received, per plugin.")
        .build()
        .unwrap();
    messages.add(3, &[KeyValue::new("plugin.name", "validator \"v2\"\n")]);
    let memory = meter
        .i64_up_down_counter("process.memory.usage")
        .with_unit("By")
        .with_description("Resident memory.")
        .build()
        .unwrap();
    memory.add(1 << 20, &[]);
    let util = meter
        .f64_gauge("buffer.utilization")
        .with_unit("1")
        .with_description("Buffer fill ratio.")
        .build()
        .unwrap();
    util.record(0.75, &[KeyValue::new("buffer", "ingest")]);
    let sizes = meter
        .f64_histogram("payload.size")
        .with_unit("By")
        .with_description("Payload sizes.")
        .with_exponential_buckets(160)
        .build()
        .unwrap();
    for v in [10.0, 100.0, 1000.0, 1000.0] {
        sizes.record(v, &[]);
    }
    Workload {
        provider,
        requests,
        latency,
    }
}

fn exporter(w: &Workload) -> PrometheusExporter {
    PrometheusExporter::new(&w.provider)
        .with_prefix("clusterdb")
        .with_const_label("region", "eu-1")
}

#[test]
fn text_output_passes_promtool_without_lint_problems() {
    let w = workload();
    w.requests.add(42, &[KeyValue::new("method", "GET")]);
    w.latency.record(0.05, &[]);
    // Any live exporter publishes its health next to the application's metrics.
    let _statsd = loupe::export::StatsdExporter::builder()
        .with_host("127.0.0.1:9")
        .build()
        .unwrap();
    let text = exporter(&w).render(Format::Text);
    for health in [
        "# TYPE clusterdb_loupe_sdk_exporter_exported_total counter",
        "clusterdb_loupe_sdk_exporter_exported_total{exporter=\"statsd\",signal=\"metrics\"",
        "clusterdb_loupe_sdk_exporter_failed_total{exporter=\"statsd\"",
        "clusterdb_loupe_sdk_exporter_retries_total{exporter=\"statsd\"",
        "clusterdb_loupe_sdk_exporter_duration_seconds_bucket{exporter=\"statsd\"",
    ] {
        assert!(text.contains(health), "missing {health:?} in:\n{text}");
    }
    for expected in [
        "# TYPE clusterdb_requests_total counter",
        "clusterdb_requests_total{method=\"GET\",region=\"eu-1\",otel_scope_name=\"clusterdb.telemetry\"} 42",
        "clusterdb_plugin_messages_received_total{plugin_name=\"validator \\\"v2\\\"\\n\"",
        "# TYPE clusterdb_request_latency_seconds histogram",
        "clusterdb_request_latency_seconds_bucket{region=\"eu-1\",otel_scope_name=\"clusterdb.telemetry\",le=\"0.1\"} 1",
        "clusterdb_request_latency_seconds_bucket{region=\"eu-1\",otel_scope_name=\"clusterdb.telemetry\",le=\"+Inf\"} 1",
        "clusterdb_request_latency_seconds_count{",
        "# TYPE clusterdb_process_memory_usage_bytes gauge",
        "clusterdb_buffer_utilization_ratio{buffer=\"ingest\"",
        "# TYPE clusterdb_payload_size_bytes histogram",
        "target_info{deployment_environment=\"test\",service_name=\"clusterdb\"",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let promtool = support::debian_program("promtool", "prometheus");
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool: {report}\n{text}");
    assert!(report.trim().is_empty(), "promtool lint: {report}\n{text}");
}

#[test]
fn openmetrics_output_passes_the_official_python_parser() {
    let w = workload();
    w.requests.add(42, &[KeyValue::new("method", "GET")]);
    w.latency.record(0.3, &[]);
    let text = exporter(&w).render(Format::OpenMetrics);
    assert!(text.ends_with("# EOF\n"));
    assert!(text.contains("# TYPE clusterdb_requests counter\n"));
    assert!(text.contains("# UNIT clusterdb_request_latency_seconds seconds\n"));
    assert!(text.contains("# TYPE target info\n"));
    let script = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
text = sys.stdin.read()
families = {f.name: f for f in text_string_to_metric_families(text)}
req = families["clusterdb_requests"]
assert req.type == "counter", req.type
[sample] = [s for s in req.samples if s.name == "clusterdb_requests_total"]
assert sample.value == 42 and sample.labels["method"] == "GET", sample
lat = families["clusterdb_request_latency_seconds"]
assert lat.type == "histogram" and lat.unit == "seconds", (lat.type, lat.unit)
buckets = {s.labels["le"]: s.value for s in lat.samples if s.name.endswith("_bucket")}
assert buckets["0.2"] == 0 and buckets["0.5"] == 1 and buckets["+Inf"] == 1, buckets
msgs = families["clusterdb_plugin_messages_received"]
assert msgs.samples[0].labels["plugin_name"] == 'validator "v2"\n', msgs.samples[0]
assert families["target"].type == "info"
print("ok", len(families))
"#;
    let mut child = Command::new(support::python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the OpenMetrics parser rejected the output: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok"));
}

#[test]
fn the_standalone_listener_negotiates_the_format_and_rejects_other_methods() {
    let w = workload();
    w.requests.add(1, &[]);
    let server = exporter(&w)
        .serve("127.0.0.1:0".parse().unwrap(), "/metrics")
        .unwrap();
    let url = format!("http://{}/metrics", server.local_addr());

    let text = support::http_request("GET", &url, &[("Accept", "text/plain")]).unwrap();
    assert_eq!(text.status, 200);
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(text.body.contains("clusterdb_requests_total"));
    assert!(!text.body.contains("# EOF"));

    let om = support::http_request(
        "GET",
        &url,
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )],
    )
    .unwrap();
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(om.body.ends_with("# EOF\n"));

    let post = support::http_request("POST", &url, &[("Content-Length", "0")]).unwrap();
    assert_eq!(post.status, 405);
    assert!(post.header("allow").is_some_and(|a| a.contains("GET")));
    let missing =
        support::http_request("GET", &format!("http://{}/nope", server.local_addr()), &[]).unwrap();
    assert_eq!(missing.status, 404);
    server.shutdown();
}

#[test]
fn the_router_mounts_into_an_existing_axum_app() {
    let w = workload();
    w.requests.add(7, &[]);
    let app = axum::Router::new()
        .route("/hello", axum::routing::get(|| async { "hi" }))
        .merge(exporter(&w).router("/internal/metrics"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move { axum::serve(listener, app).await });
    let hello = support::http_get(&format!("http://{addr}/hello")).unwrap();
    assert_eq!(hello, (200, "hi".to_string()));
    let (status, body) = support::http_get(&format!("http://{addr}/internal/metrics")).unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains(
            "clusterdb_requests_total{region=\"eu-1\",otel_scope_name=\"clusterdb.telemetry\"} 7"
        ),
        "{body}"
    );
}

fn query(prometheus: &str, promql: &str) -> Option<f64> {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (status, body) = support::http_get(&format!("{prometheus}/api/v1/query?query={encoded}"))?;
    if status != 200 {
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(&body).ok()?;
    let result = json["data"]["result"].as_array()?.first()?.clone();
    result["value"][1].as_str()?.parse().ok()
}

#[test]
fn a_real_prometheus_server_scrapes_and_queries_the_recorded_values() {
    let w = workload();
    let server = exporter(&w)
        .serve("127.0.0.1:0".parse().unwrap(), "/metrics")
        .unwrap();
    // Before the first scrape: 42 requests, and the latency series bound but empty, so
    // every bucket starts at zero (rate() then extrapolates all buckets alike).
    w.requests.add(42, &[KeyValue::new("method", "GET")]);
    let latency = w.latency.bind(&[]);

    let dir = std::env::temp_dir().join(format!("loupe-prometheus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: loupe\n    static_configs:\n      - targets: ['{}']\n",
            server.local_addr()
        ),
    )
    .unwrap();
    let port = support::free_port();
    let prometheus_bin = support::debian_program("prometheus", "prometheus");
    let _prometheus = support::Peer::start(
        "prometheus",
        Command::new(prometheus_bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stderr(Stdio::null()),
    );
    let api = format!("http://127.0.0.1:{port}");

    let first = support::wait_for("the first scrape", WAIT, || {
        query(&api, "clusterdb_requests_total{method=\"GET\"}")
    });
    assert_eq!(first, 42.0);
    let empty = query(&api, "clusterdb_request_latency_seconds_count");
    assert_eq!(
        empty,
        Some(0.0),
        "the bound series is scraped before it is used"
    );
    // The latencies whose 99th percentile is asked: 90 fast, 10 in (0.2, 0.5].
    for _ in 0..90 {
        latency.record(0.05);
    }
    for _ in 0..10 {
        latency.record(0.3);
    }
    support::wait_for("a scrape with every latency", WAIT, || {
        query(&api, "clusterdb_request_latency_seconds_count").filter(|c| *c == 100.0)
    });
    let p99 = query(
        &api,
        "histogram_quantile(0.99, rate(clusterdb_request_latency_seconds_bucket[1m]))",
    )
    .expect("a p99");
    // Linear interpolation within (0.2, 0.5]: 0.2 + 0.3 × 9/10 over the increase since the
    // first scrape.
    assert!((p99 - 0.47).abs() < 1e-6, "p99 = {p99}");
    let info = query(&api, "target_info{service_name=\"clusterdb\"}");
    assert_eq!(info, Some(1.0));
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
