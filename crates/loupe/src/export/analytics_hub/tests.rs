use super::*;
use crate::metrics::{MeterProvider, MetricExporter, Temporality};

#[test]
fn defaults_are_the_seeds() {
    let config = AnalyticsHubConfig::default();
    assert!(!config.enabled);
    assert_eq!(config.endpoint, "http://localhost:8080");
    assert_eq!(config.export_interval_secs, 300);
    assert_eq!(config.batch_size, 100);
    assert_eq!(config.max_retries, 3);
    assert_eq!(config.retry_delay_ms, 1000);
    assert_eq!(config.timeout_secs, 30);
}

#[test]
fn the_seeds_section_deserializes_with_defaults_for_missing_fields() {
    let config: AnalyticsHubConfig = serde_json::from_str(
        r#"{"enabled": true, "endpoint": "http://analytics-hub:8080", "export_interval_secs": 60}"#,
    )
    .unwrap();
    assert!(config.enabled);
    assert_eq!(config.export_interval_secs, 60);
    assert_eq!(config.batch_size, 100);
    assert_eq!(config.max_retries, 3);
}

#[test]
fn the_api_key_is_never_printed() {
    let config = AnalyticsHubConfig {
        api_key: Some("s3cr3t".into()),
        ..AnalyticsHubConfig::default()
    };
    assert!(!format!("{config:?}").contains("s3cr3t"));
    let exporter = AnalyticsHubExporter::new(config).unwrap();
    assert!(!format!("{exporter:?}").contains("s3cr3t"));
    let error = AnalyticsHubExporter::new(AnalyticsHubConfig {
        api_key: Some("s3cr3t\nvalue".into()),
        ..AnalyticsHubConfig::default()
    })
    .unwrap_err();
    assert_eq!(error.field, "api_key");
    assert!(!error.to_string().contains("s3cr3t"), "{error}");
}

#[test]
fn bad_settings_name_their_field() {
    let check = |config: AnalyticsHubConfig, field: &str| {
        let error = AnalyticsHubExporter::new(config).unwrap_err();
        assert_eq!(error.field, field);
    };
    let base = AnalyticsHubConfig::default;
    for endpoint in ["analytics-hub:8080", "ftp://hub", "", "http://hub/?x=1"] {
        check(
            AnalyticsHubConfig {
                endpoint: endpoint.into(),
                ..base()
            },
            "analytics_hub.endpoint",
        );
    }
    check(
        AnalyticsHubConfig {
            export_interval_secs: 0,
            ..base()
        },
        "analytics_hub.export_interval_secs",
    );
    check(
        AnalyticsHubConfig {
            batch_size: 0,
            ..base()
        },
        "analytics_hub.batch_size",
    );
    check(
        AnalyticsHubConfig {
            timeout_secs: 0,
            ..base()
        },
        "analytics_hub.timeout_secs",
    );
}

#[test]
fn the_metrics_path_is_appended_to_the_endpoint() {
    assert_eq!(
        metrics_url("http://analytics-hub:8080").unwrap(),
        "http://analytics-hub:8080/api/v1/metrics"
    );
    assert_eq!(
        metrics_url("https://hub.example.com/tenant-a/").unwrap(),
        "https://hub.example.com/tenant-a/api/v1/metrics"
    );
}

#[test]
fn a_disabled_config_gives_no_reader() {
    assert!(AnalyticsHubConfig::default()
        .periodic_reader()
        .unwrap()
        .is_none());
    let enabled = AnalyticsHubConfig {
        enabled: true,
        ..AnalyticsHubConfig::default()
    };
    assert!(enabled.periodic_reader().unwrap().is_some());
}

#[test]
fn instruments_map_to_the_seeds_metric_types() {
    let provider = MeterProvider::builder().build();
    let meter = provider.meter("llm");
    let requests = meter.u64_counter("llm_requests_total").build().unwrap();
    requests.add(
        3,
        &[KeyValue::new("model", "gpt-4"), KeyValue::new("ok", true)],
    );
    let active = meter
        .i64_up_down_counter("llm_active_requests")
        .build()
        .unwrap();
    active.add(2, &[]);
    let cost = meter.f64_gauge("llm_cost_usd").build().unwrap();
    cost.record(0.5, &[]);
    let duration = meter
        .f64_histogram("llm_request_duration_seconds")
        .build()
        .unwrap();
    duration.record(1.5, &[]);
    duration.record(2.5, &[]);

    let (metrics, non_finite) = hub_metrics(&provider.collect());
    assert_eq!(non_finite, 0);
    let find = |name: &str| {
        metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} in {metrics:?}"))
    };
    let requests = find("llm_requests_total");
    assert_eq!(
        (requests.value, requests.metric_type),
        (3.0, HubMetricType::Counter)
    );
    assert_eq!(requests.labels["model"], "gpt-4");
    assert_eq!(requests.labels["ok"], "true");
    assert_eq!(
        find("llm_active_requests").metric_type,
        HubMetricType::Gauge
    );
    assert_eq!(find("llm_cost_usd").value, 0.5);
    let histogram = find("llm_request_duration_seconds");
    assert_eq!(
        (histogram.value, histogram.metric_type),
        (4.0, HubMetricType::Histogram)
    );
    let count = find("llm_request_duration_seconds_count");
    assert_eq!(
        (count.value, count.metric_type),
        (2.0, HubMetricType::Counter)
    );

    let json = serde_json::to_value(requests).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "name": "llm_requests_total",
            "value": 3.0,
            "labels": {"model": "gpt-4", "ok": "true"},
            "metric_type": "Counter",
        })
    );
}

#[test]
fn the_exporter_asks_for_cumulative_totals() {
    let exporter = AnalyticsHubExporter::new(AnalyticsHubConfig::default()).unwrap();
    assert_eq!(exporter.temporality(), Temporality::Cumulative);
}

#[test]
fn service_and_environment_come_from_the_resource() {
    let resource = Resource::new([
        KeyValue::new("service.name", "llm-simulator"),
        KeyValue::new("deployment.environment.name", "staging"),
    ]);
    assert_eq!(service_name(&resource), "llm-simulator");
    assert_eq!(environment(&resource), "staging");
    assert_eq!(environment(&Resource::empty()), "development");
}
