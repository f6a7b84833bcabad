//! `loupe::init`: one call from one configuration sends spans over OTLP (decoded by the
//! official Python protos), serves Prometheus metrics, and flushes everything on shutdown.

mod support;

use loupe::config::{ExporterKind, TelemetryConfig};
use loupe::KeyValue;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn init_wires_traces_to_otlp_and_metrics_to_prometheus_and_shutdown_flushes() {
    let (peer, port) = support::otlp_receiver("http", &[]);
    let config = support::loopback_config("checkout", port)
        .with_service_version("1.2.3")
        .with_environment("test")
        .with_logs_exporter(ExporterKind::None)
        // A long delay: only shutdown can deliver the span in time.
        .with(|c| c.tracing.export_delay_ms = 600_000);
    let telemetry = loupe::init(config).unwrap();

    let tracer = telemetry.tracer_provider().tracer("checkout.api");
    tracer.in_span("POST /orders", |span| {
        span.set_attribute("order.items", 3i64);
    });
    let orders = telemetry
        .meter_provider()
        .meter("checkout.api")
        .u64_counter("orders.created")
        .build()
        .unwrap();
    orders.add(5, &[KeyValue::new("region", "eu")]);

    let addr = telemetry
        .metrics_addr()
        .expect("the Prometheus endpoint is on");
    let (status, body) = support::http_get(&format!("http://{addr}/metrics")).unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains("orders_created_total{region=\"eu\""),
        "{body}"
    );
    assert!(body.contains("service_name=\"checkout\""), "{body}");
    assert!(body.contains("service_version=\"1.2.3\""), "{body}");
    assert!(
        body.contains("process_memory_usage_bytes{"),
        "process metrics: {body}"
    );
    assert!(
        body.contains("process_open_file_descriptor_count{"),
        "{body}"
    );

    telemetry.shutdown().unwrap();
    let got = peer.next_json(WAIT, |v| v["event"] == "decoded");
    let span = &got["spans"][0];
    assert_eq!(span["name"], "POST /orders");
    assert_eq!(span["attributes"]["order.items"], 3);
    assert_eq!(span["resource"]["service.name"], "checkout");
    assert_eq!(span["resource"]["deployment.environment"], "test");
    assert!(span["resource"]["host.name"].is_string());
    assert!(
        support::http_get(&format!("http://{addr}/metrics")).is_none(),
        "the listener stops on shutdown"
    );
}

#[test]
fn a_disabled_sdk_records_nothing_and_binds_nothing() {
    let telemetry = loupe::init(
        TelemetryConfig::new("off")
            .with_disabled(true)
            .with_prometheus_listen("127.0.0.1:0"),
    )
    .unwrap();
    assert!(telemetry.metrics_addr().is_none());
    let span = telemetry.tracer_provider().tracer("t").start("ignored");
    assert!(!span.is_recording());
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = loupe::init(
        TelemetryConfig::new("x")
            .with_traces_exporter(ExporterKind::None)
            .with_otlp_metrics(false)
            .with_logs_exporter(ExporterKind::None)
            .with_prometheus_listen(addr.clone()),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&addr) && text.contains("metrics"), "{text}");
}

#[test]
fn graceful_shutdown_turns_readiness_off_drains_then_stops() {
    let config = TelemetryConfig::new("drainer")
        .with_traces_exporter(ExporterKind::None)
        .with_otlp_metrics(false)
        .with_logs_exporter(ExporterKind::None)
        .with_prometheus_listen("127.0.0.1:0")
        .with(|c| {
            c.health.listen = c.metrics.prometheus_listen.clone();
            c.health.drain_period_secs = 1;
        });
    let telemetry = std::sync::Arc::new(loupe::init(config).unwrap());
    let addr = telemetry.health_addr().expect("health endpoints are on");
    assert_eq!(
        telemetry.metrics_addr(),
        Some(addr),
        "one listener serves both"
    );
    let get = |path: &str| support::http_get(&format!("http://{addr}{path}"));
    assert_eq!(get("/ready").unwrap().0, 200);
    assert_eq!(get("/metrics").unwrap().0, 200);

    let shutting = std::sync::Arc::clone(&telemetry);
    let done = std::thread::spawn(move || shutting.graceful_shutdown());
    // During the drain: not ready, still alive, the report says so.
    support::wait_for("readiness to turn off", WAIT, || {
        get("/ready").filter(|(status, _)| *status == 503)
    });
    assert_eq!(get("/live").unwrap().0, 200);
    let (_, body) = get("/health").unwrap();
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["status"], "shutting_down");
    done.join().unwrap().unwrap();
    assert!(
        get("/ready").is_none(),
        "the listener closed after the drain"
    );
}

#[test]
fn init_inside_a_tokio_runtime_describes_that_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let telemetry = rt
        .block_on(async {
            loupe::init(
                TelemetryConfig::new("async-svc")
                    .with_traces_exporter(ExporterKind::None)
                    .with_otlp_metrics(false)
                    .with_logs_exporter(ExporterKind::None)
                    .with_prometheus_listen("127.0.0.1:0")
                    .with_health_listen("127.0.0.1:0"),
            )
        })
        .unwrap();
    let addr = telemetry.metrics_addr().unwrap();
    let (_, body) = support::http_get(&format!("http://{addr}/metrics")).unwrap();
    let workers = body
        .lines()
        .find(|l| l.starts_with("tokio_workers{"))
        .unwrap_or_else(|| panic!("no tokio_workers in {body}"));
    assert!(workers.ends_with(" 2"), "{workers}");
    drop(telemetry);
}

#[test]
fn the_logging_section_feeds_a_file_and_otlp_with_redaction_and_trace_ids() {
    use loupe::config::{LogProcessorConfig, LogSinkConfig};
    let (peer, port) = support::otlp_receiver("http", &[]);
    let dir = std::env::temp_dir().join(format!("loupe-init-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("app.log");
    let sink_path = path.clone();
    let config = support::loopback_config("api-service", port)
        .with_traces_exporter(ExporterKind::None)
        .with(move |c| {
            c.logging.level = "warn,api::db=debug".into();
            c.logging.sinks = vec![LogSinkConfig::File {
                path: sink_path.clone(),
                format: Some("json".into()),
                rotation: None,
            }];
            c.logging.processors = vec![
                LogProcessorConfig::AddFields {
                    fields: [("version".to_string(), "1.0.0".to_string())].into(),
                },
                LogProcessorConfig::Filter {
                    field: "path".into(),
                    exclude: vec!["/health".into(), "/metrics".into()],
                },
            ];
        });
    let telemetry = loupe::init(config).unwrap();
    let tracer = telemetry.tracer_provider().tracer("api");
    let http = telemetry.logger("api::http");
    let db = loupe::logs::logger("api::db"); // the process-wide provider is init's
    let span = tracer.start("GET /users");
    let trace_id = span.span_context().trace_id().to_string();
    {
        let _in = span.enter();
        loupe::log_error!(http, "request failed", path: "/users", token: "secret-token-1");
        loupe::log_warn!(http, "probe slow", path: "/health");
        loupe::log_info!(http, "below the level", path: "/users");
        loupe::log_debug!(db, "query", statement: "SELECT 1");
    }
    drop(span);
    telemetry.shutdown().unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["request failed", "query"], "{text}");
    assert_eq!(lines[0]["fields"]["token"], "[REDACTED]");
    assert_eq!(lines[0]["fields"]["version"], "1.0.0");
    assert_eq!(lines[0]["span"]["trace_id"], trace_id.as_str());
    assert!(!text.contains("secret-token-1"));

    let got = peer.next_json(WAIT, |v| v["event"] == "decoded" && v["signal"] == "logs");
    let records = got["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{got}");
    assert_eq!(records[0]["body"], "request failed");
    assert_eq!(records[0]["severity_text"], "ERROR");
    assert_eq!(records[0]["severity_number"], 17);
    assert_eq!(records[0]["attributes"]["token"], "[REDACTED]");
    assert_eq!(records[0]["trace_id"], trace_id.as_str());
    assert_eq!(records[0]["scope"]["name"], "api::http");
    assert_eq!(records[0]["resource"]["service.name"], "api-service");
    assert!(
        loupe::logs::logger_provider().is_none(),
        "shutdown uninstalls the provider"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
