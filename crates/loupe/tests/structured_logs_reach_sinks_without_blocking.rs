//! The structured logger end to end: seed-shaped JSON with context fields, correlation
//! ids and the current trace; filtering by target; processors; and a stalled sink that
//! must not stall the code that logs.

use loupe::common::stats::exporter_stats;
use loupe::logs::{
    AddFields, CorrelationId, ExcludeByField, LogFormat, LogRecord, LogSink, LoggerProvider,
    Redact, Severity, SinkContext,
};
use loupe::trace::{InMemorySpanExporter, SimpleSpanProcessor, TracerProvider};
use loupe::{log_error, log_info, ExportError, KeyValue};
use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A sink that keeps what it receives, rendered as JSON like a file sink would write it.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<serde_json::Value>>>);

impl LogSink for Capture {
    fn name(&self) -> &'static str {
        "capture"
    }
    fn emit(&mut self, record: &LogRecord, cx: SinkContext<'_>) -> Result<(), ExportError> {
        let line = LogFormat::Json.to_string(record);
        let value = serde_json::from_str(&line).expect("the JSON format writes valid JSON");
        self.0.lock().unwrap().push(value);
        cx.stats.exported.bump();
        Ok(())
    }
}

impl Capture {
    fn lines(&self) -> Vec<serde_json::Value> {
        self.0.lock().unwrap().clone()
    }
}

const FLUSH: Duration = Duration::from_secs(10);

#[test]
fn records_carry_fields_context_correlation_and_the_current_trace() {
    let capture = Capture::default();
    let provider = LoggerProvider::builder()
        .with_sink(capture.clone())
        .build()
        .unwrap();
    let tracer_provider = TracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(InMemorySpanExporter::default()))
        .build()
        .unwrap();
    let id = CorrelationId::parse("9b2f2a4e-51d3-4d8e-9a0c-2f4f0f6a1b7c").unwrap();
    let logger = provider
        .logger("llm_simulator::api")
        .with_context("service", "llm-simulator")
        .with_context("version", "1.0.0")
        .with_correlation_id(id);

    let span = tracer_provider.tracer("api").start("handle_request");
    let trace_id = span.span_context().trace_id().to_string();
    let span_id = span.span_context().span_id().to_string();
    {
        let _entered = span.enter();
        log_info!(logger, "Request processed", request_id: "req-123", duration_ms: 150, "http.status": 200);
    }
    // The seed's map form works too, outside any span.
    logger.warn(
        "slow provider",
        HashMap::from([("latency_ms".to_string(), serde_json::json!(2500.5))]),
    );
    provider.force_flush(FLUSH).unwrap();

    let lines = capture.lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let first = &lines[0];
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["target"], "llm_simulator::api");
    assert_eq!(first["message"], "Request processed");
    assert_eq!(first["fields"]["request_id"], "req-123");
    assert_eq!(first["fields"]["duration_ms"], 150);
    assert_eq!(first["fields"]["http.status"], 200);
    assert_eq!(first["fields"]["service"], "llm-simulator");
    assert_eq!(first["fields"]["correlation_id"], id.to_string());
    assert_eq!(first["span"]["trace_id"], trace_id);
    assert_eq!(first["span"]["span_id"], span_id);
    let second = &lines[1];
    assert_eq!(second["level"], "WARN");
    assert_eq!(second["fields"]["latency_ms"], 2500.5);
    assert!(
        second.get("span").is_none(),
        "no span was current: {second}"
    );
}

#[test]
fn filters_and_processors_apply_before_the_sink() {
    let capture = Capture::default();
    let provider = LoggerProvider::builder()
        .with_filter("warn,app::db=debug".parse().unwrap())
        .with_processor(AddFields::new([KeyValue::new("environment", "production")]))
        .with_processor(ExcludeByField::new("path", ["/health", "/metrics"]))
        .with_processor(Redact::default())
        .with_sink(capture.clone())
        .build()
        .unwrap();
    let db = provider.logger("app::db::pool");
    let http = provider.logger("app::http");
    log_info!(http, "request", path: "/api/users"); // below warn: filtered
    log_error!(http, "request failed", path: "/api/users", api_key: "sk-live-123");
    log_error!(http, "probe failed", path: "/health"); // excluded by field
    log_info!(db, "connected with password=hunter2", pool_size: 8);
    assert!(!http.enabled(Severity::Info));
    assert!(db.enabled(Severity::Debug));
    provider.force_flush(FLUSH).unwrap();

    let lines = capture.lines();
    let messages: Vec<_> = lines.iter().map(|l| l["message"].clone()).collect();
    assert_eq!(
        messages,
        ["request failed", "connected with password=[REDACTED]"],
        "{lines:#?}"
    );
    assert_eq!(lines[0]["fields"]["api_key"], "[REDACTED]");
    assert_eq!(lines[0]["fields"]["environment"], "production");
    assert_eq!(lines[1]["fields"]["pool_size"], 8);
    let rendered = serde_json::to_string(&lines).unwrap();
    assert!(!rendered.contains("sk-live-123") && !rendered.contains("hunter2"));
}

/// A sink that waits at a gate until the test opens it.
struct Stalled {
    gate: Arc<(Mutex<bool>, Condvar)>,
}

impl LogSink for Stalled {
    fn name(&self) -> &'static str {
        "stalled"
    }
    fn emit(&mut self, _: &LogRecord, cx: SinkContext<'_>) -> Result<(), ExportError> {
        let (open, cv) = &*self.gate;
        let mut open = open.lock().unwrap();
        while !*open {
            open = cv.wait(open).unwrap();
        }
        cx.stats.exported.bump();
        Ok(())
    }
}

#[test]
fn a_stalled_sink_drops_and_counts_instead_of_blocking_the_caller() {
    const RECORDS: u64 = 5_000;
    const QUEUE: usize = 100;
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let provider = LoggerProvider::builder()
        .with_queue_size(QUEUE)
        .with_sink(Stalled { gate: gate.clone() })
        .build()
        .unwrap();
    let logger = provider.logger("busy");

    // Log from another thread; if logging blocked on the stalled sink, `done` would never
    // arrive.
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        for i in 0..RECORDS {
            log_info!(logger, "tick", i: i);
        }
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(Duration::from_secs(30))
        .expect("logging returned while the only sink was stalled");

    let stats = exporter_stats()
        .into_iter()
        .find(|s| s.exporter == "stalled")
        .unwrap();
    // At most a full queue plus the batch the sink is stuck in got through.
    assert!(
        stats.dropped.get() >= RECORDS - 2 * QUEUE as u64,
        "dropped {}",
        stats.dropped.get()
    );
    let (open, cv) = &*gate;
    *open.lock().unwrap() = true;
    cv.notify_all();
    provider.force_flush(FLUSH).unwrap();
    assert_eq!(stats.exported.get() + stats.dropped.get(), RECORDS);
    provider.shutdown(FLUSH).unwrap();
    // After shutdown nothing is accepted, and that is counted too.
    log_info!(provider.logger("busy"), "late");
    assert_eq!(stats.exported.get() + stats.dropped.get(), RECORDS + 1);
}

/// Tests that use the process-wide provider take turns.
static GLOBAL_PROVIDER: Mutex<()> = Mutex::new(());

#[test]
fn without_a_provider_logging_is_a_cheap_no_op() {
    let _turn = GLOBAL_PROVIDER.lock().unwrap_or_else(|p| p.into_inner());
    let logger = loupe::logs::logger("nobody::listens");
    assert!(!logger.enabled(Severity::Fatal));
    log_info!(logger, "ignored", n: 1);
}

#[test]
fn the_echo_core_facade_logs_with_its_span_and_message_context() {
    use loupe::{CoreTelemetry, TelemetryContext};
    let _turn = GLOBAL_PROVIDER.lock().unwrap_or_else(|p| p.into_inner());
    let capture = Capture::default();
    let provider = LoggerProvider::builder()
        .with_sink(capture.clone())
        .build()
        .unwrap();
    // The facade logs through the process-wide provider.
    loupe::logs::set_logger_provider(provider.clone());
    let traces = TracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(InMemorySpanExporter::default()))
        .build()
        .unwrap();
    let meters = loupe::metrics::MeterProvider::builder().build();
    let telemetry = TelemetryContext::new(Arc::new(CoreTelemetry::new(&traces, &meters)));
    let id = uuid::Uuid::new_v4();
    telemetry.set_current_message_context("orders".into(), id);
    let span = telemetry
        .create_span(
            "plugin.process",
            Some(HashMap::from([(
                "plugin.name".to_string(),
                "validator".to_string(),
            )])),
        )
        .unwrap();
    let trace_id = span.span_context().unwrap().trace_id().to_string();
    let _active = telemetry.telemetry().enter_span(&span);
    loupe::facade::log_with_context(
        Severity::Warn,
        "schema mismatch",
        Some(HashMap::from([("field".to_string(), "amount".to_string())])),
        &telemetry,
    );
    provider.force_flush(FLUSH).unwrap();
    loupe::logs::take_logger_provider();
    let lines = capture.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert_eq!(line["target"], "echo_core");
    assert_eq!(line["fields"]["plugin.name"], "validator");
    assert_eq!(line["fields"]["field"], "amount");
    assert_eq!(line["fields"]["message.topic"], "orders");
    assert_eq!(line["fields"]["message.id"], id.to_string());
    assert_eq!(line["span"]["trace_id"], trace_id);
}

/// Sinks give finished records back for reuse. A reused record must carry nothing of the
/// one before: not its fields, its redactions, its trace or its event name, whether one
/// sink or two read it and whether processors changed it in place.
#[test]
fn reused_records_carry_nothing_over_from_earlier_ones() {
    let (one, two) = (
        loupe::logs::InMemoryLogSink::default(),
        loupe::logs::InMemoryLogSink::default(),
    );
    let provider = LoggerProvider::builder()
        .with_processor(Redact::default())
        .with_processor(AddFields::new([KeyValue::new("service", "checkout")]))
        .with_sink(one.clone())
        .with_sink(two.clone())
        .build()
        .unwrap();
    let logger = provider.logger("reuse");
    let spans = InMemorySpanExporter::default();
    let tracer_provider = TracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(spans))
        .build()
        .unwrap();
    let tracer = tracer_provider.tracer("reuse");
    for round in 0..3_000i64 {
        if round % 2 == 0 {
            let span = tracer.start("in_a_span");
            let _entered = span.enter();
            log_error!(logger, "even", round: round, password: "hunter2", a: 1, b: 2, c: 3);
        } else {
            log_info!(logger, "odd", round: round);
        }
        if round % 500 == 499 {
            provider.force_flush(FLUSH).unwrap();
        }
    }
    provider.force_flush(FLUSH).unwrap();
    for sink in [&one, &two] {
        let records = sink.records();
        assert_eq!(records.len(), 3_000);
        for (round, r) in records.iter().enumerate() {
            let keys: Vec<&str> = r.attributes.iter().map(|kv| kv.key.as_str()).collect();
            let message = r.body.as_ref().map(|b| b.as_str().into_owned());
            if round % 2 == 0 {
                assert_eq!(keys, ["round", "password", "a", "b", "c", "service"]);
                assert_eq!(r.attributes[1].value.as_str(), loupe::logs::REDACTED);
                assert_eq!(message.as_deref(), Some("even"));
                assert_eq!(r.severity_text, "ERROR");
                assert!(r.trace_id.is_valid());
            } else {
                assert_eq!(keys, ["round", "service"], "record {round}");
                assert_eq!(message.as_deref(), Some("odd"));
                assert_eq!(r.severity_text, "INFO");
                assert!(!r.trace_id.is_valid() && !r.span_id.is_valid());
            }
            assert_eq!(r.attributes[0].value, loupe::Value::I64(round as i64));
            assert!(r.event_name.is_none());
        }
    }
}
