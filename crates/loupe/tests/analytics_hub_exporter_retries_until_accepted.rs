//! The Analytics Hub exporter POSTs the seed's JSON batch to a real HTTP server on loopback,
//! retrying 503s with back-off until the hub accepts, and never retrying a 400.

mod support;

use loupe::export::analytics_hub::{AnalyticsHubConfig, AnalyticsHubExporter};
use loupe::metrics::{MeterProvider, PeriodicReader};
use loupe::{KeyValue, Resource};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use support::{HttpRecorder, Request};

const WAIT: Duration = Duration::from_secs(20);

fn config(hub: &HttpRecorder, max_retries: u32) -> AnalyticsHubConfig {
    AnalyticsHubConfig {
        enabled: true,
        endpoint: hub.url(),
        export_interval_secs: 3600,
        max_retries,
        retry_delay_ms: 20,
        api_key: Some("key123".into()),
        environment: Some("test".into()),
        ..AnalyticsHubConfig::default()
    }
}

/// Records the seed's LLM metrics and flushes them through `exporter`; returns what the
/// flush returned.
fn record_and_flush(exporter: &Arc<AnalyticsHubExporter>) -> Result<(), loupe::ExportError> {
    let provider = MeterProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name("llm-simulator")
                .build(),
        )
        .with_reader(
            PeriodicReader::builder(Arc::clone(exporter))
                .with_interval(Duration::from_secs(3600))
                .build(),
        )
        .build();
    let meter = provider.meter("llm");
    let requests = meter.u64_counter("llm_requests_total").build().unwrap();
    requests.add(3, &[KeyValue::new("model", "gpt-4")]);
    let active = meter
        .i64_up_down_counter("llm_active_requests")
        .build()
        .unwrap();
    active.add(2, &[]);
    let duration = meter
        .f64_histogram("llm_request_duration_seconds")
        .build()
        .unwrap();
    duration.record(1.5, &[KeyValue::new("model", "gpt-4")]);
    duration.record(2.5, &[KeyValue::new("model", "gpt-4")]);
    provider.force_flush(WAIT)
}

fn metric<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["metrics"]
        .as_array()
        .expect("a metrics array")
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

fn assert_is_a_batch_request(request: &Request) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/api/v1/metrics");
    assert_eq!(request.header("x-api-key"), Some("key123"));
    assert_eq!(request.header("content-type"), Some("application/json"));
}

#[test]
fn a_batch_refused_with_503_is_retried_until_the_hub_accepts_it() {
    let hub = HttpRecorder::start(|n| if n < 2 { 503 } else { 200 });
    let exporter = Arc::new(AnalyticsHubExporter::new(config(&hub, 3)).unwrap());

    record_and_flush(&exporter).expect("accepted on the third attempt");

    let requests = hub.wait_for(3, WAIT);
    assert_eq!(requests.len(), 3, "two refusals, then the accepted attempt");
    for request in &requests {
        assert_is_a_batch_request(request);
        assert_eq!(
            request.body, requests[0].body,
            "every attempt sends the same batch"
        );
    }
    let body = requests[2].json();
    let timestamp = body["timestamp"].as_str().unwrap();
    assert!(
        timestamp.len() >= 20 && timestamp.ends_with('Z') && timestamp.as_bytes()[10] == b'T',
        "RFC 3339 UTC: {timestamp}"
    );
    assert_eq!(body["service"], "llm-simulator");
    assert_eq!(body["environment"], "test");
    assert_eq!(
        metric(&body, "llm_requests_total"),
        &json!({"name": "llm_requests_total", "value": 3.0, "labels": {"model": "gpt-4"}, "metric_type": "Counter"})
    );
    assert_eq!(
        metric(&body, "llm_active_requests"),
        &json!({"name": "llm_active_requests", "value": 2.0, "labels": {}, "metric_type": "Gauge"})
    );
    assert_eq!(
        metric(&body, "llm_request_duration_seconds"),
        &json!({"name": "llm_request_duration_seconds", "value": 4.0, "labels": {"model": "gpt-4"}, "metric_type": "Histogram"})
    );
    assert_eq!(
        metric(&body, "llm_request_duration_seconds_count")["value"],
        2.0
    );

    let stats = exporter.stats();
    assert_eq!(stats.retries.get(), 2);
    assert_eq!(stats.failed.get(), 0);
    assert_eq!(
        stats.exported.get(),
        body["metrics"].as_array().unwrap().len() as u64
    );
}

#[test]
fn retrying_stops_after_max_retries() {
    let hub = HttpRecorder::start(|_| 503);
    let exporter = Arc::new(AnalyticsHubExporter::new(config(&hub, 2)).unwrap());

    let error = record_and_flush(&exporter).unwrap_err();
    assert!(error.to_string().contains("503"), "{error}");

    // Export is synchronous: when the flush returned, every attempt had been made.
    assert_eq!(hub.requests().len(), 3, "the first attempt and two retries");
    assert_eq!(exporter.stats().retries.get(), 2);
    assert!(exporter.stats().failed.get() > 0);
    assert_eq!(exporter.stats().exported.get(), 0);
}

#[test]
fn a_batch_rejected_with_400_is_not_retried() {
    let hub = HttpRecorder::start(|_| 400);
    let exporter = Arc::new(AnalyticsHubExporter::new(config(&hub, 3)).unwrap());

    let error = record_and_flush(&exporter).unwrap_err();
    assert!(error.to_string().contains("400"), "{error}");

    let requests = hub.requests();
    assert_eq!(requests.len(), 1, "a 400 fails the same way every time");
    assert_is_a_batch_request(&requests[0]);
    assert_eq!(exporter.stats().retries.get(), 0);
}

#[test]
fn a_large_export_is_split_into_batches_of_batch_size() {
    let hub = HttpRecorder::start(|_| 200);
    let exporter = Arc::new(
        AnalyticsHubExporter::new(AnalyticsHubConfig {
            batch_size: 2,
            ..config(&hub, 0)
        })
        .unwrap(),
    );

    record_and_flush(&exporter).unwrap();

    let requests = hub.requests();
    assert!(requests.len() >= 2, "4+ metrics in batches of 2");
    let mut names = Vec::new();
    for request in &requests {
        let body = request.json();
        let metrics = body["metrics"].as_array().unwrap();
        assert!(!metrics.is_empty() && metrics.len() <= 2, "{body}");
        assert_eq!(body["timestamp"], requests[0].json()["timestamp"]);
        names.extend(
            metrics
                .iter()
                .map(|m| m["name"].as_str().unwrap().to_owned()),
        );
    }
    for name in [
        "llm_requests_total",
        "llm_active_requests",
        "llm_request_duration_seconds",
        "llm_request_duration_seconds_count",
    ] {
        assert_eq!(names.iter().filter(|n| *n == name).count(), 1, "{name}");
    }
}
