//! Configuration: 001's `config/telemetry.yaml` loads as written, the layers follow
//! builder > environment > file > defaults, every OpenTelemetry variable the issue names is
//! honoured with the specification's parsing rules, and bad input gets a clear error or the
//! documented fallback.

use loupe::config::{resource, ExporterKind, SamplerKind, TelemetryConfig};
use loupe::export::otlp::Signal;
use std::collections::HashMap;
use std::time::Duration;

const SEED_YAML: &str = include_str!("fixtures/telemetry.yaml");

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn the_seed_yaml_loads_as_written() {
    let config =
        TelemetryConfig::from_yaml_str_with(SEED_YAML, env(&[("TELEMETRY_API_KEY", "k-123")]))
            .unwrap();
    assert!(config.tracing.enabled);
    assert_eq!(config.tracing.otlp_endpoint, "http://localhost:4317");
    assert_eq!(config.tracing.sampling_rate, 1.0);
    assert_eq!(config.tracing.max_links_per_span, 32);
    assert_eq!(config.tracing.export_delay_ms, 5000);
    assert_eq!(config.metrics.prometheus_path, "/metrics");
    assert_eq!(
        config.metrics.ttft_buckets,
        vec![0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0]
    );
    assert_eq!(config.metrics.duration_buckets.len(), 11);
    assert_eq!(config.logging.level, "info");
    assert_eq!(config.logging.export_delay_ms, 1000);
    assert!(config.analytics_hub.enabled);
    assert_eq!(config.analytics_hub.endpoint, "http://analytics-hub:8080");
    assert_eq!(config.analytics_hub.export_interval_secs, 300);
    assert_eq!(config.api_key.as_deref(), Some("k-123"));
}

#[test]
fn the_seed_yaml_without_its_variable_names_it() {
    let err = TelemetryConfig::from_yaml_str_with(SEED_YAML, env(&[])).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("TELEMETRY_API_KEY"), "{text}");
    assert!(text.contains("line 45"), "{text}");
}

#[test]
fn toml_loads_too() {
    let config = TelemetryConfig::from_toml_str_with(
        "[service]\nname = \"db\"\n[tracing]\nsampling_rate = 0.5\n[metrics]\nprometheus_listen = \"127.0.0.1:9100\"\n",
        env(&[]),
    )
    .unwrap();
    assert_eq!(config.service.name.as_deref(), Some("db"));
    assert_eq!(config.tracing.sampling_rate, 0.5);
    assert_eq!(config.metrics.prometheus_listen, "127.0.0.1:9100");
}

#[test]
fn builder_beats_environment_beats_file_beats_defaults() {
    let file = TelemetryConfig::from_yaml_str_with(
        "tracing:\n  sampling_rate: 0.5\nservice:\n  name: from-file\n",
        env(&[]),
    )
    .unwrap();
    assert_eq!(TelemetryConfig::default().tracing.sampling_rate, 1.0);
    let no_env = env(&[]);
    assert_eq!(
        file.resolve_with(&no_env).unwrap().tracing.sampling_rate,
        0.5
    );
    let with_env = env(&[
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ("OTEL_SERVICE_NAME", "from-env"),
    ]);
    let resolved = file.resolve_with(&with_env).unwrap();
    assert_eq!(resolved.tracing.sampling_rate, 0.25);
    assert_eq!(resolved.service.name.as_deref(), Some("from-env"));
    let coded = file
        .clone()
        .with_sampling_rate(0.1)
        .with_service_name("from-code");
    let resolved = coded.resolve_with(&with_env).unwrap();
    assert_eq!(resolved.tracing.sampling_rate, 0.1);
    assert_eq!(resolved.service.name.as_deref(), Some("from-code"));
}

#[test]
fn otlp_tls_files_come_from_the_file_and_the_environment_wins_per_file() {
    let file = TelemetryConfig::from_yaml_str_with(
        "otlp:\n  tls:\n    certificate: /file/ca.pem\n    client_certificate: /file/c.pem\n    client_key: /file/c.key\n",
        env(&[]),
    )
    .unwrap();
    let resolved = file
        .resolve_with(env(&[("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/env/c.key")]))
        .unwrap();
    let tls = &resolved.otlp.tls;
    assert_eq!(
        tls.certificate.as_deref(),
        Some(std::path::Path::new("/file/ca.pem"))
    );
    assert_eq!(
        tls.client_certificate.as_deref(),
        Some(std::path::Path::new("/file/c.pem"))
    );
    assert_eq!(
        tls.client_key.as_deref(),
        Some(std::path::Path::new("/env/c.key"))
    );
    let typo = TelemetryConfig::from_yaml_str_with("otlp:\n  tls:\n    ca_file: /x\n", env(&[]));
    assert!(typo.is_err(), "unknown TLS keys are rejected");
}

#[test]
fn the_004_builder_reads_like_the_seed() {
    let config = TelemetryConfig::new("stream-processor")
        .with_otlp_endpoint("http://collector:4317")
        .with_service_version("2.1.0")
        .with_environment("production")
        .resolve_with(env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://other:4317",
        )]))
        .unwrap();
    assert_eq!(config.service.name.as_deref(), Some("stream-processor"));
    assert_eq!(config.service.version.as_deref(), Some("2.1.0"));
    assert_eq!(config.service.environment.as_deref(), Some("production"));
    assert_eq!(config.tracing.otlp_endpoint, "http://collector:4317");
    assert_eq!(config.metrics.otlp_endpoint, "http://collector:4317");
    assert_eq!(
        config.otlp.signals[Signal::Traces as usize].endpoint,
        None,
        "the endpoint set in code wins over the per-signal variable"
    );
}

#[test]
fn every_named_variable_is_honoured() {
    let vars = env(&[
        ("OTEL_SDK_DISABLED", "TRUE"),
        ("OTEL_SERVICE_NAME", "checkout"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.version=3.0,deployment.environment=prod,team=pay%20ments,service.namespace=shop",
        ),
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.3"),
        ("OTEL_PROPAGATORS", "b3,tracecontext"),
        ("OTEL_BSP_SCHEDULE_DELAY", "250"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "7000"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "4096"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "256"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "300"),
        ("OTEL_BLRP_EXPORT_TIMEOUT", "9000"),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "1024"),
        ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "128"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "15000"),
        ("OTEL_METRIC_EXPORT_TIMEOUT", "5000"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "200"),
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "50"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "60"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "70"),
        ("OTEL_SPAN_LINK_COUNT_LIMIT", "8"),
        ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "9"),
        ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "10"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc,x-team=a%2Cb"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4318/custom"),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"),
        ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "1234"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem"),
        ("OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY", "/etc/logs.key"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_EXPORTER_ZIPKIN_ENDPOINT", "http://zipkin.internal:9411/api/v2/spans"),
        ("OTEL_EXPORTER_ZIPKIN_TIMEOUT", "2500"),
        ("OTEL_METRICS_EXPORTER", "prometheus"),
        ("OTEL_LOGS_EXPORTER", "none"),
    ]);
    let c = TelemetryConfig::default().resolve_with(vars).unwrap();
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    assert!(c.disabled);
    assert_eq!(c.service.name.as_deref(), Some("checkout"));
    assert_eq!(c.service.version.as_deref(), Some("3.0"));
    assert_eq!(c.service.environment.as_deref(), Some("prod"));
    assert_eq!(c.service.namespace.as_deref(), Some("shop"));
    assert_eq!(c.service.resource_attributes["team"], "pay ments");
    assert_eq!(c.tracing.sampler, SamplerKind::TraceIdRatio);
    assert_eq!(c.tracing.sampling_rate, 0.3);
    assert_eq!(c.propagators, vec!["b3", "tracecontext"]);
    assert_eq!(c.tracing.export_delay_ms, 250);
    assert_eq!(c.tracing.export_timeout_secs, 7);
    assert_eq!(c.tracing.max_queue_size, 4096);
    assert_eq!(c.tracing.batch_size, 256);
    assert_eq!(c.logging.export_delay_ms, 300);
    assert_eq!(c.logging.export_timeout_secs, 9);
    assert_eq!(c.logging.max_queue_size, 1024);
    assert_eq!(c.logging.batch_size, 128);
    assert_eq!(c.metrics.export_interval_secs, 15);
    assert_eq!(c.metrics.export_timeout_secs, 5);
    assert_eq!(
        c.tracing.max_attribute_value_length,
        Some(200),
        "span-specific wins"
    );
    assert_eq!(c.tracing.max_attributes_per_span, 60, "span-specific wins");
    assert_eq!(c.tracing.max_events_per_span, 70);
    assert_eq!(c.tracing.max_links_per_span, 8);
    assert_eq!(c.tracing.max_attributes_per_event, 9);
    assert_eq!(c.tracing.max_attributes_per_link, 10);
    assert_eq!(c.tracing.otlp_endpoint, "http://collector:4318");
    assert_eq!(c.logging.otlp_endpoint, "http://collector:4318");
    assert_eq!(c.otlp.protocol, "http/protobuf");
    assert_eq!(c.otlp.headers["api-key"], "abc");
    assert_eq!(c.otlp.headers["x-team"], "a,b");
    assert_eq!(c.otlp.timeout_ms, 2000);
    assert_eq!(c.otlp.compression, "gzip");
    assert_eq!(c.otlp.temporality, "delta");
    let traces = &c.otlp.signals[Signal::Traces as usize];
    assert_eq!(
        traces.endpoint.as_deref(),
        Some("http://traces:4318/custom")
    );
    let metrics = &c.otlp.signals[Signal::Metrics as usize];
    assert_eq!(
        metrics.protocol,
        Some(loupe::export::otlp::Protocol::HttpJson)
    );
    let logs = &c.otlp.signals[Signal::Logs as usize];
    assert_eq!(logs.timeout, Some(Duration::from_millis(1234)));
    assert_eq!(
        c.otlp.tls.certificate.as_deref(),
        Some(std::path::Path::new("/etc/ca.pem"))
    );
    assert_eq!(
        logs.tls.client_key.as_deref(),
        Some(std::path::Path::new("/etc/logs.key"))
    );
    assert_eq!(c.tracing.exporter, ExporterKind::Zipkin);
    assert_eq!(
        c.tracing.zipkin_endpoint,
        "http://zipkin.internal:9411/api/v2/spans"
    );
    assert_eq!(c.tracing.zipkin_timeout_ms, 2500);
    assert!(c.metrics.prometheus_enabled && !c.metrics.otlp_enabled);
    assert_eq!(c.logging.exporter, ExporterKind::None);
}

#[test]
fn spec_fallbacks_are_reported_not_silent() {
    let c = TelemetryConfig::default()
        .resolve_with(env(&[
            ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
            ("OTEL_TRACES_SAMPLER_ARG", "2.5"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=core,broken,region=eu"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "-1"),
            ("OTEL_SDK_DISABLED", "yes"),
            ("OTEL_PROPAGATORS", "tracecontext,xray"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1500"),
            ("OTEL_EXPORTER_ZIPKIN_TIMEOUT", "soon"),
        ]))
        .unwrap();
    let defaults = TelemetryConfig::default();
    assert_eq!(c.tracing.sampler, defaults.tracing.sampler);
    assert_eq!(c.tracing.sampling_rate, 1.0);
    assert!(
        c.service.resource_attributes.is_empty(),
        "a malformed OTEL_RESOURCE_ATTRIBUTES is discarded whole"
    );
    assert_eq!(c.tracing.max_queue_size, 2048);
    assert!(!c.disabled);
    assert_eq!(c.propagators, vec!["tracecontext"]);
    assert_eq!(c.metrics.export_interval_secs, 2);
    assert_eq!(c.tracing.zipkin_timeout_ms, 10_000);
    let warnings = c.warnings().join("\n");
    for name in [
        "OTEL_TRACES_SAMPLER=",
        "OTEL_TRACES_SAMPLER_ARG",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "OTEL_SDK_DISABLED",
        "xray",
        "OTEL_METRIC_EXPORT_INTERVAL",
        "OTEL_EXPORTER_ZIPKIN_TIMEOUT",
    ] {
        assert!(
            warnings.contains(name),
            "no warning about {name}:\n{warnings}"
        );
    }
}

#[test]
fn malformed_exporter_settings_are_errors_naming_the_variable() {
    for (var, value) in [
        // (A scheme-less `collector:4317` is valid: `https://`, or `http://` when
        // `OTEL_EXPORTER_OTLP_INSECURE` is true.)
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector:4317"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "yes"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "no-equals-sign"),
    ] {
        let err = TelemetryConfig::default()
            .resolve_with(env(&[(var, value)]))
            .unwrap_err();
        assert_eq!(err.field, var, "{err}");
    }
}

#[test]
fn invalid_values_in_code_are_errors_naming_the_field() {
    let err = TelemetryConfig::new("x")
        .with_sampling_rate(-0.5)
        .resolve_with(env(&[]))
        .unwrap_err();
    assert_eq!(err.field, "tracing.sampling_rate");
    let err = TelemetryConfig::new("x")
        .with(|c| c.tracing.batch_size = 5000)
        .resolve_with(env(&[]))
        .unwrap_err();
    assert_eq!(err.field, "tracing.batch_size");
    assert!(err.to_string().contains("5000"));
    let err = TelemetryConfig::new("x")
        .with_prometheus_listen("localhost")
        .resolve_with(env(&[]))
        .unwrap_err();
    assert_eq!(err.field, "metrics.prometheus_listen");
    let err = TelemetryConfig::new("x")
        .with(|c| c.tracing.zipkin_timeout_ms = 0)
        .resolve_with(env(&[]))
        .unwrap_err();
    assert_eq!(err.field, "tracing.zipkin_timeout_ms");
}

#[test]
fn resource_detection_names_the_service_and_the_host() {
    let unnamed = TelemetryConfig::default().resolve_with(env(&[])).unwrap();
    let r = resource::detect(&unnamed);
    let name = r.get("service.name").unwrap().to_string();
    assert!(name.starts_with("unknown_service:"), "{name}");
    assert!(r.get("host.name").is_some());
    assert!(r.get("process.pid").is_some());
    assert_eq!(r.get("telemetry.sdk.name").unwrap().to_string(), "loupe");
    let id = r.get("service.instance.id").unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    let legacy = TelemetryConfig::default()
        .resolve_with(env(&[("SERVICE_NAME", "llm-sim")]))
        .unwrap();
    assert_eq!(
        resource::detect(&legacy)
            .get("service.name")
            .unwrap()
            .to_string(),
        "llm-sim"
    );
    let both = TelemetryConfig::default()
        .resolve_with(env(&[
            ("SERVICE_NAME", "llm-sim"),
            ("OTEL_SERVICE_NAME", "otel-name"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=attr-name,k8s.pod.name=p%3D1",
            ),
        ]))
        .unwrap();
    let r = resource::detect(&both);
    assert_eq!(r.get("service.name").unwrap().to_string(), "otel-name");
    assert_eq!(r.get("k8s.pod.name").unwrap().to_string(), "p=1");
}
