//! Prometheus remote write, checked by Debian's VictoriaMetrics: the samples written are
//! read back through its export API with the names, labels and values recorded, over
//! plain HTTP and over TLS with a private certificate authority; and the protocol's
//! headers, sorted labels and retry rules, checked on a scripted server.

mod support;

use loupe::export::remote_write::{proto::WriteRequest, RemoteWriteExporter};
use loupe::export::tls::TlsConfig;
use loupe::export::transport::RetryPolicy;
use loupe::metrics::{MeterProvider, MetricExporter};
use loupe::{KeyValue, Resource};
use prost::Message;
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn provider() -> MeterProvider {
    let provider = MeterProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name("clusterdb")
                .with_attribute(KeyValue::new("service.instance.id", "node-7"))
                .build(),
        )
        .build();
    let meter = provider.meter("clusterdb.telemetry");
    let requests = meter.u64_counter("requests").build().unwrap();
    requests.add(42, &[KeyValue::new("method", "GET")]);
    let latency = meter
        .f64_histogram("request.latency")
        .with_unit("s")
        .with_boundaries(vec![0.1, 0.5])
        .build()
        .unwrap();
    for v in [0.05, 0.2, 0.3, 2.0] {
        latency.record(v, &[KeyValue::new("method", "GET")]);
    }
    let depth = meter.i64_up_down_counter("queue.depth").build().unwrap();
    depth.add(5, &[]);
    provider
}

const EXPORT_QUERY: &str =
    "/api/v1/export?match%5B%5D=%7B__name__%3D~%22clusterdb_.%2A%7Ctarget_info%22%7D";

/// `metric labels → last value` for every series VictoriaMetrics exports.
fn exported(api: &str) -> Option<HashMap<String, f64>> {
    let (status, body) = support::http_get(&format!("{api}{EXPORT_QUERY}"))?;
    if status != 200 {
        return None;
    }
    parse_export(&body)
}

/// A GET over TLS with Debian's `curl`, trusting only `ca`: the body of a 2xx answer.
fn https_get(url: &str, ca: &std::path::Path) -> Option<String> {
    let curl = support::debian_program("curl", "curl");
    let out = Command::new(curl)
        .args(["--silent", "--fail", "--max-time", "5", "--cacert"])
        .arg(ca)
        .arg(url)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn parse_export(body: &str) -> Option<HashMap<String, f64>> {
    let mut out = HashMap::new();
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let json: serde_json::Value = serde_json::from_str(line).ok()?;
        let metric = json["metric"].as_object()?;
        let mut labels: Vec<String> = metric
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect();
        labels.sort();
        let value = json["values"].as_array()?.last()?.as_f64()?;
        out.insert(labels.join(","), value);
    }
    Some(out)
}

/// Debian's VictoriaMetrics on a free loopback port, serving TLS with `tls`'s server
/// certificate when given: the running peer, its port and its data directory.
fn start_victoria_metrics(
    name: &str,
    tls: Option<&support::pki::Pki>,
) -> (support::Peer, u16, std::path::PathBuf) {
    let binary = support::debian_program("victoria-metrics", "victoria-metrics");
    let dir = std::env::temp_dir().join(format!("loupe-{name}-{}", std::process::id()));
    let port = support::free_port();
    let mut command = Command::new(binary);
    command
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg(format!("-storageDataPath={}", dir.display()))
        .arg("-retentionPeriod=1d")
        .stderr(Stdio::null());
    if let Some(pki) = tls {
        command
            .arg("-tls")
            .arg(format!("-tlsCertFile={}", pki.server_cert.display()))
            .arg(format!("-tlsKeyFile={}", pki.server_key.display()));
    }
    (support::Peer::start(name, &mut command), port, dir)
}

#[test]
fn victoria_metrics_stores_what_was_written() {
    let (_vm, port, dir) = start_victoria_metrics("victoria-metrics", None);
    let api = format!("http://127.0.0.1:{port}");
    support::wait_for("VictoriaMetrics to start", WAIT, || {
        support::http_get(&format!("{api}/health")).filter(|(s, _)| *s == 200)
    });

    let exporter = RemoteWriteExporter::builder(format!("{api}/api/v1/write"))
        .with_prefix("clusterdb")
        .build()
        .unwrap();
    let stats = exporter.stats();
    exporter.export(&provider().collect()).unwrap();

    let scope = "otel_scope_name=clusterdb.telemetry";
    let base = "instance=node-7,job=clusterdb";
    let series = support::wait_for("the samples to be searchable", WAIT, || {
        exported(&api).filter(|m| m.len() >= 8)
    });
    let get = |labels: &str| {
        *series
            .get(labels)
            .unwrap_or_else(|| panic!("no series {labels} in {series:#?}"))
    };
    assert_eq!(
        get(&format!(
            "__name__=clusterdb_requests_total,{base},method=GET,{scope}"
        )),
        42.0
    );
    let hist = |suffix: &str, le: Option<&str>| {
        let le = le.map(|l| format!(",le={l}")).unwrap_or_default();
        get(&format!(
            "__name__=clusterdb_request_latency_seconds{suffix},{base}{le},method=GET,{scope}"
        ))
    };
    // VictoriaMetrics keeps `le` values as sent.
    assert_eq!(hist("_bucket", Some("0.1")), 1.0);
    assert_eq!(hist("_bucket", Some("0.5")), 3.0);
    assert_eq!(hist("_bucket", Some("+Inf")), 4.0);
    assert_eq!(hist("_count", None), 4.0);
    assert!((hist("_sum", None) - 2.55).abs() < 1e-9);
    assert_eq!(
        get(&format!("__name__=clusterdb_queue_depth,{base},{scope}")),
        5.0
    );
    assert!(series
        .keys()
        .any(|k| k.starts_with("__name__=target_info,") && k.contains("service_name=clusterdb")));
    assert_eq!(stats.failed.get(), 0);
    assert!(stats.exported.get() >= 8);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn victoria_metrics_serving_tls_is_reached_with_a_private_authority() {
    let pki = support::pki::pki("remote-write");
    let (_vm, port, dir) = start_victoria_metrics("victoria-metrics-tls", Some(&pki));
    let api = format!("https://127.0.0.1:{port}");
    support::wait_for("VictoriaMetrics to serve TLS", WAIT, || {
        https_get(&format!("{api}/health"), &pki.ca)
    });

    // Trusting the system's store only, the private authority's server is refused.
    let untrusting = RemoteWriteExporter::builder(format!("{api}/api/v1/write"))
        .with_timeout(Duration::from_secs(2))
        .with_retry(RetryPolicy::none())
        .build()
        .unwrap();
    let refused = untrusting.stats();
    assert!(untrusting.export(&provider().collect()).is_err());
    assert!(refused.failed.get() > 0);

    let exporter = RemoteWriteExporter::builder(format!("{api}/api/v1/write"))
        .with_prefix("clusterdb")
        .with_tls(TlsConfig::default().with_certificate(&pki.ca))
        .build()
        .unwrap();
    let stats = exporter.stats();
    exporter.export(&provider().collect()).unwrap();
    let series = support::wait_for("the samples to be searchable over TLS", WAIT, || {
        https_get(&format!("{api}{EXPORT_QUERY}"), &pki.ca)
            .and_then(|body| parse_export(&body))
            .filter(|m| m.len() >= 8)
    });
    let requests = "__name__=clusterdb_requests_total,instance=node-7,job=clusterdb,method=GET,otel_scope_name=clusterdb.telemetry";
    assert_eq!(series.get(requests), Some(&42.0), "{series:#?}");
    assert_eq!(stats.failed.get(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_tls_files_are_config_errors_naming_the_setting() {
    let missing = std::path::Path::new("/nonexistent/ca.pem");
    let err = RemoteWriteExporter::builder("https://x/api/v1/write")
        .with_tls(TlsConfig::default().with_certificate(missing))
        .build()
        .unwrap_err();
    assert_eq!(err.field, "remote_write.tls.certificate");
    let err = loupe::export::ZipkinExporter::builder()
        .with_endpoint("https://zipkin:9411")
        .with_tls(TlsConfig::default().with_certificate(missing))
        .build()
        .unwrap_err();
    assert_eq!(err.field, "zipkin.tls.certificate");
    let err = loupe::export::AnalyticsHubExporter::new(loupe::export::AnalyticsHubConfig {
        endpoint: "https://hub:8080".into(),
        tls: TlsConfig::default().with_certificate(missing),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.field, "analytics_hub.tls.certificate");
}

#[test]
fn requests_carry_the_protocol_headers_and_sorted_labels_and_5xx_is_retried() {
    let server = support::HttpRecorder::start(|n| [500, 503, 204][n.min(2)]);
    let exporter = RemoteWriteExporter::builder(format!("{}/api/v1/write", server.url()))
        .with_header("X-Scope-OrgID", "tenant-1")
        .with_retry(RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
        })
        .build()
        .unwrap();
    let stats = exporter.stats();
    exporter.export(&provider().collect()).unwrap();
    let requests = server.wait_for(3, WAIT);
    assert_eq!(requests.len(), 3);
    let request = &requests[2];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/api/v1/write");
    assert_eq!(request.header("content-encoding"), Some("snappy"));
    assert_eq!(
        request.header("content-type"),
        Some("application/x-protobuf")
    );
    assert_eq!(
        request.header("x-prometheus-remote-write-version"),
        Some("0.1.0")
    );
    assert_eq!(request.header("x-scope-orgid"), Some("tenant-1"));
    let body = snap::raw::Decoder::new()
        .decompress_vec(&request.body)
        .expect("a snappy block");
    let write = WriteRequest::decode(body.as_slice()).expect("a WriteRequest");

    assert!(!write.timeseries.is_empty());
    for ts in &write.timeseries {
        let names: Vec<&str> = ts.labels.iter().map(|l| l.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted, "labels sorted and unique");
        assert!(names.contains(&"__name__"));
        assert_eq!(ts.samples.len(), 1);
    }
    assert_eq!(stats.retries.get(), 2);
}

#[test]
fn a_4xx_is_not_retried() {
    let server = support::HttpRecorder::start(|_| 400);
    let exporter = RemoteWriteExporter::builder(format!("{}/api/v1/write", server.url()))
        .with_retry(RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
        })
        .build()
        .unwrap();
    let stats = exporter.stats();
    let err = exporter.export(&provider().collect()).unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
    // The export returned: every request it made has been answered and recorded.
    assert_eq!(server.requests().len(), 1, "retried a 400");
    assert_eq!(stats.retries.get(), 0);
}

#[test]
fn a_bad_url_is_a_config_error() {
    for url in ["not a url", "ftp://x/api/v1/write", "http:///api/v1/write"] {
        let err = RemoteWriteExporter::builder(url).build().unwrap_err();
        assert_eq!(err.field, "remote_write.url");
    }
    // With the default `tls` feature an https:// receiver is accepted.
    assert!(RemoteWriteExporter::builder("https://x/api/v1/write")
        .build()
        .is_ok());
}
