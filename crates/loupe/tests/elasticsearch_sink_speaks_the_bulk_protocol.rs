//! The Elasticsearch sink speaks the `_bulk` protocol to a strict stand-in server
//! (`tests/peers/bulk_server.py`), which validates every request as Elasticsearch does and
//! is read back through its `_count` and `_search` endpoints.

mod support;

use loupe::common::stats::{exporter_stats, ExporterStats};
use loupe::export::tls::TlsConfig;
use loupe::export::RetryPolicy;
use loupe::logs::{ElasticsearchSink, LogRecord, LoggerProvider, Severity};
use loupe::trace::TracerProvider;
use loupe::{InstrumentationScope, KeyValue, Resource};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::{http_get, python, wait_for, Peer};

const WAIT: Duration = Duration::from_secs(20);
/// 2025-10-11T10:30:45.123Z and 2025-10-12T00:00:01Z.
const DAY_ONE_MS: u64 = 1_760_178_645_123;
const DAY_TWO_MS: u64 = 1_760_227_201_000;

/// Tests that build a sink run one at a time, so each can tell its own
/// `exporter="elasticsearch"` counters from another test's.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts the stand-in server; returns it and its base URL.
fn bulk_server(args: &[&str]) -> (Peer, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/bulk_server.py");
    let peer = Peer::start("bulk server", Command::new(python()).arg(script).args(args));
    let line = peer.next_line(Duration::from_secs(30));
    let port: u16 = line
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let scheme = if args.contains(&"--tls") {
        "https"
    } else {
        "http"
    };
    (peer, format!("{scheme}://127.0.0.1:{port}"))
}

fn get_json(url: &str) -> Value {
    let (status, body) = http_get(url).unwrap_or_else(|| panic!("GET {url} failed"));
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 4,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    }
}

/// Builds a provider around `sink` and returns it with the sink's own counters.
fn provider_with(sink: ElasticsearchSink) -> (LoggerProvider, Arc<ExporterStats>) {
    let before = exporter_stats();
    let provider = LoggerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name("checkout")
                .with_service_version("2.1.0")
                .build(),
        )
        .with_sink(sink)
        .build()
        .unwrap();
    let stats = exporter_stats()
        .into_iter()
        .find(|s| {
            s.exporter == "elasticsearch"
                && s.signal == "logs"
                && !before.iter().any(|b| Arc::ptr_eq(b, s))
        })
        .expect("the sink registers exporter=elasticsearch, signal=logs counters");
    (provider, stats)
}

fn scope() -> &'static InstrumentationScope {
    static SCOPE: std::sync::OnceLock<&'static InstrumentationScope> = std::sync::OnceLock::new();
    SCOPE.get_or_init(|| Box::leak(Box::new(InstrumentationScope::new("checkout::api"))))
}

/// A record at `millis` since the epoch with a `seq` field and, if given, a `fault` the
/// server acts on.
fn record(millis: u64, seq: i64, fault: Option<&str>) -> LogRecord {
    let mut r = LogRecord::new(Severity::Info, "order placed")
        .with_scope(scope())
        .with_attribute(KeyValue::new("seq", seq))
        .with_attribute(KeyValue::new("order.total", 99.5));
    if let Some(fault) = fault {
        r = r.with_attribute(KeyValue::new("fault", fault.to_string()));
    }
    r.timestamp = Some(UNIX_EPOCH + Duration::from_millis(millis));
    r
}

fn seqs(search: &Value) -> BTreeSet<i64> {
    search["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_source"]["fields"]["seq"].as_i64().unwrap())
        .collect()
}

#[test]
fn records_land_in_their_day_index_and_pushed_back_ones_are_retried() {
    let _serial = serial();
    let (server, url) = bulk_server(&["--unavailable-first", "1", "--api-key", "k3y"]);
    let sink = ElasticsearchSink::builder(&url)
        .with_api_key("k3y")
        .with_flush_interval(Duration::from_secs(3600)) // only the explicit flush sends
        .with_retry_policy(fast_retries())
        .build()
        .unwrap();
    let (provider, stats) = provider_with(sink);

    // Seq 0 is logged inside a real span; its trace ids must reach the document.
    let tracer_provider = TracerProvider::builder().build().unwrap();
    let (trace_id, span_id) = tracer_provider
        .tracer("checkout")
        .in_span("place_order", |span| {
            provider.emit(record(DAY_ONE_MS, 0, None).with_current_trace_context());
            (
                span.span_context().trace_id(),
                span.span_context().span_id(),
            )
        });
    provider.emit(record(DAY_ONE_MS + 1, 1, None));
    provider.emit(record(DAY_ONE_MS + 2, 2, None));
    provider.emit(record(DAY_TWO_MS, 3, None));
    provider.emit(record(DAY_TWO_MS + 1, 4, None));
    provider.emit(record(DAY_ONE_MS + 3, 5, Some("throttle-once")));
    provider.emit(record(DAY_ONE_MS + 4, 6, Some("throttle-once")));
    provider.emit(record(DAY_ONE_MS + 5, 7, Some("reject")));
    provider.force_flush(WAIT).unwrap();

    // What the server saw: a 503 for the whole request, then eight documents of which two
    // were pushed back and one refused, then the two pushed back, stored.
    let first = server.next_json(WAIT, |v| v.get("bulk").is_some());
    assert_eq!(first["status"], 503, "{first}");
    let second = server.next_json(WAIT, |v| v.get("bulk").is_some());
    assert_eq!(second["content_type"], "application/x-ndjson");
    assert_eq!(
        second["statuses"],
        serde_json::json!([201, 201, 201, 201, 201, 429, 429, 400]),
        "{second}"
    );
    let third = server.next_json(WAIT, |v| v.get("bulk").is_some());
    assert_eq!(third["statuses"], serde_json::json!([201, 201]), "{third}");

    let indices = get_json(&format!("{url}/_cat/indices?format=json"));
    let names: Vec<&str> = indices
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["index"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["logs-2025.10.11", "logs-2025.10.12"]);
    assert_eq!(
        get_json(&format!("{url}/logs-2025.10.11/_count"))["count"],
        5
    );
    assert_eq!(
        get_json(&format!("{url}/logs-2025.10.12/_count"))["count"],
        2
    );

    let day_one = get_json(&format!("{url}/logs-2025.10.11/_search"));
    assert_eq!(seqs(&day_one), BTreeSet::from([0, 1, 2, 5, 6]));
    let day_two = get_json(&format!("{url}/logs-2025.10.12/_search"));
    assert_eq!(seqs(&day_two), BTreeSet::from([3, 4]));

    let hits = day_one["hits"]["hits"].as_array().unwrap();
    let doc = &hits
        .iter()
        .find(|h| h["_source"]["fields"]["seq"] == 0)
        .unwrap()["_source"];
    assert_eq!(doc["@timestamp"], "2025-10-11T10:30:45.123Z");
    assert_eq!(doc["timestamp"], "2025-10-11T10:30:45.123Z");
    assert_eq!(
        doc["service"],
        serde_json::json!({"name": "checkout", "version": "2.1.0"})
    );
    assert_eq!(doc["level"], "INFO");
    assert_eq!(doc["target"], "checkout::api");
    assert_eq!(doc["message"], "order placed");
    assert_eq!(doc["fields"]["order.total"], 99.5);
    assert_eq!(doc["span"]["trace_id"], trace_id.to_string());
    assert_eq!(doc["span"]["span_id"], span_id.to_string());
    let plain = &hits
        .iter()
        .find(|h| h["_source"]["fields"]["seq"] == 1)
        .unwrap()["_source"];
    assert!(plain.get("span").is_none(), "{plain}");
    assert_eq!(
        day_two["hits"]["hits"][0]["_source"]["@timestamp"]
            .as_str()
            .unwrap()
            .get(..10),
        Some("2025-10-12")
    );

    assert_eq!(stats.exported.get(), 7);
    assert_eq!(stats.rejected.get(), 1);
    assert_eq!(stats.failed.get(), 0);
    assert_eq!(stats.retries.get(), 2);
    assert_eq!(stats.dropped.get(), 0);
    provider.shutdown(WAIT).unwrap();
}

#[test]
fn a_full_buffer_and_the_flush_interval_each_send_without_being_asked() {
    let _serial = serial();
    let (server, url) = bulk_server(&[]);

    let by_size = ElasticsearchSink::builder(&url)
        .with_buffer_size(3)
        .with_flush_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let (provider, stats) = provider_with(by_size);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    for seq in 0..3 {
        provider.emit(record(now, seq, None));
    }
    let sent = server.next_json(WAIT, |v| v.get("bulk").is_some());
    assert_eq!(sent["bulk"], 3, "{sent}");
    wait_for("the three records to be counted", WAIT, || {
        (stats.exported.get() == 3).then_some(())
    });
    provider.shutdown(WAIT).unwrap();

    let by_time = ElasticsearchSink::builder(&url)
        .with_flush_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    let (provider, stats) = provider_with(by_time);
    provider.emit(record(now, 3, None));
    let sent = server.next_json(WAIT, |v| v.get("bulk").is_some());
    assert_eq!(sent["bulk"], 1, "{sent}");
    wait_for("the record to be counted", WAIT, || {
        (stats.exported.get() == 1).then_some(())
    });
    assert_eq!(
        get_json(&format!("{url}/logs-*/_count"))["count"],
        4,
        "every record stored once"
    );
    provider.shutdown(WAIT).unwrap();
}

#[test]
fn an_https_cluster_is_reached_through_its_own_authority() {
    let _serial = serial();
    let pki = support::pki::pki("elasticsearch");
    let (server, url) = bulk_server(&[
        "--tls",
        pki.server_cert.to_str().unwrap(),
        pki.server_key.to_str().unwrap(),
    ]);
    assert!(url.starts_with("https://"));
    let sink = ElasticsearchSink::builder(&url)
        .with_buffer_size(1)
        .with_tls(TlsConfig::default().with_certificate(&pki.ca))
        .build()
        .unwrap();
    let (provider, stats) = provider_with(sink);
    provider.emit(record(DAY_ONE_MS, 1, None));
    let sent = server.next_json(WAIT, |v| v.get("bulk").is_some());
    assert_eq!(sent["bulk"], 1, "{sent}");
    wait_for("the record to be counted", WAIT, || {
        (stats.exported.get() == 1).then_some(())
    });
    provider.shutdown(WAIT).unwrap();

    let missing = ElasticsearchSink::builder(&url)
        .with_tls(TlsConfig::default().with_certificate("/nonexistent/http_ca.crt"))
        .build()
        .unwrap_err();
    assert_eq!(missing.field, "elasticsearch.tls.certificate", "{missing}");
}

#[test]
fn refused_credentials_fail_at_once_and_are_counted() {
    let _serial = serial();
    let (server, url) = bulk_server(&["--api-key", "right"]);
    let sink = ElasticsearchSink::builder(&url)
        .with_api_key("wrong")
        .with_flush_interval(Duration::from_secs(3600))
        .with_retry_policy(fast_retries())
        .build()
        .unwrap();
    let (provider, stats) = provider_with(sink);
    provider.emit(record(DAY_ONE_MS, 0, None));
    provider.emit(record(DAY_ONE_MS, 1, None));
    provider.force_flush(WAIT).unwrap();
    let seen = server.next_json(WAIT, |v| v.get("bulk").is_some());
    assert_eq!(seen["status"], 401, "{seen}");
    assert_eq!(stats.failed.get(), 2);
    assert_eq!(stats.exported.get(), 0);
    assert_eq!(stats.retries.get(), 0, "a 401 is not worth retrying");
    provider.shutdown(WAIT).unwrap();
}

#[test]
fn settings_elasticsearch_cannot_use_are_refused_when_building() {
    let ftp = ElasticsearchSink::new("ftp://elasticsearch:9200").unwrap_err();
    assert_eq!(ftp.field, "elasticsearch.url");
    assert!(ftp.to_string().contains("https://"), "{ftp}");
    let upper = ElasticsearchSink::builder("http://elasticsearch:9200")
        .with_index_pattern("Logs-%Y")
        .build()
        .unwrap_err();
    assert_eq!(upper.field, "elasticsearch.index_pattern");
    let sink = ElasticsearchSink::new("http://elasticsearch:9200/").unwrap();
    assert_eq!(sink.endpoint(), "http://elasticsearch:9200/_bulk");
}
