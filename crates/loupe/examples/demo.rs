//! Loupe's demo: the seed workloads in one process, served and summarised live.
//!
//! `cargo run -p loupe --example demo -- [--listen ADDR] [--config FILE] [--duration SECS] [--headless]`
//!
//! A message bus (publisher plus validator, transcription and database plugins, seed 000)
//! and an LLM gateway (seed 001) run until Ctrl-C or `--duration` seconds. Loupe serves
//! `/metrics`, `/health`, `/ready` and `/live` on `--listen` (default `127.0.0.1:9464`),
//! exports OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, writes its logs to a file, and
//! prints a summary every second: spans/s, metric series, log records, drops, health and
//! the analyser's latest insight. Without a terminal (or with `--headless`) the summary is
//! one plain line per second. `--config FILE` loads a Loupe configuration (YAML or TOML)
//! instead of the demo's defaults.

use loupe::analytics::{MetricsAggregator, PerformanceAnalyzer, Threshold};
use loupe::config::{ExporterKind, LogSinkConfig, RotationConfig, TelemetryConfig};
use loupe::facade::attributes;
use loupe::logs::{CorrelationId, Logger};
use loupe::packs::llm::{LLMMetrics, LlmMetricsConfig, RequestSpan, TokenUsage};
use loupe::trace::{SpanKind, Tracer};
use loupe::{log_warn, CoreTelemetry, SpanStatus, Telemetry, TelemetryExt};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    listen: String,
    config: Option<String>,
    duration: Option<u64>,
    headless: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: "127.0.0.1:9464".into(),
        config: None,
        duration: None,
        headless: !std::io::stdout().is_terminal(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => args.listen = value("--listen")?,
            "--config" => args.config = Some(value("--config")?),
            "--duration" => {
                let v = value("--duration")?;
                args.duration = Some(v.parse().map_err(|_| {
                    format!("--duration {v:?}: expected a whole number of seconds")
                })?);
            }
            "--headless" => args.headless = true,
            "-h" | "--help" => {
                return Err(
                    "usage: demo [--listen ADDR] [--config FILE] [--duration SECS] [--headless]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

/// The demo's configuration: the file if one is given, else endpoints on `listen`, logs
/// in a rotated file, OTLP only when the standard variable asks for it.
fn config(args: &Args) -> Result<TelemetryConfig, String> {
    let listen = args.listen.clone();
    let base = match &args.config {
        Some(path) => TelemetryConfig::from_file(path).map_err(|e| e.to_string())?,
        None => {
            let otlp = std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
            let off = if otlp {
                ExporterKind::Otlp
            } else {
                ExporterKind::None
            };
            let log_file = std::env::temp_dir().join("loupe-demo.log");
            TelemetryConfig::new("loupe-demo")
                .with_service_version(env!("CARGO_PKG_VERSION"))
                .with_traces_exporter(off)
                .with_logs_exporter(off)
                .with_otlp_metrics(otlp)
                .with(move |c| {
                    c.health.drain_period_secs = 1;
                    c.logging.sinks = vec![LogSinkConfig::File {
                        path: log_file.clone(),
                        format: Some("json".into()),
                        rotation: Some(RotationConfig {
                            max_size_mb: 10,
                            max_files: 2,
                            compress: true,
                        }),
                    }];
                })
        }
    };
    Ok(base
        .with_prometheus_listen(listen.clone())
        .with_health_listen(listen))
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("demo: {e}");
        std::process::exit(2);
    });
    let telemetry = match config(&args).and_then(|c| loupe::init(c).map_err(|e| e.to_string())) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            eprintln!("demo: cannot start: {e}");
            std::process::exit(1);
        }
    };
    if let Some(addr) = telemetry.metrics_addr() {
        println!("metrics  http://{addr}/metrics");
    }
    if let Some(addr) = telemetry.health_addr() {
        println!("health   http://{addr}/health   http://{addr}/ready   http://{addr}/live");
    }
    for sink in &telemetry.config().logging.sinks {
        if let LogSinkConfig::File { path, .. } = sink {
            println!("logs     {}", path.display());
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let spans = Arc::new(AtomicU64::new(0));
    let tracer = telemetry.tracer_provider().tracer("demo");
    let logger = telemetry.logger("demo");
    let facade = Arc::new(CoreTelemetry::with_scope(
        telemetry.tracer_provider(),
        telemetry.meter_provider(),
        "echo-core",
    ));
    let llm = LLMMetrics::new(
        &telemetry.meter_provider().meter("llm-simulator"),
        LlmMetricsConfig::default(),
    )
    .expect("the LLM metrics register once");

    let mut workers = Vec::new();
    {
        let (stop, spans, tracer, logger) =
            (stop.clone(), spans.clone(), tracer.clone(), logger.clone());
        workers.push(std::thread::spawn(move || {
            message_bus(&facade, &tracer, &logger, &spans, &stop)
        }));
    }
    {
        let (stop, spans, tracer, logger) =
            (stop.clone(), spans.clone(), tracer.clone(), logger.clone());
        workers.push(std::thread::spawn(move || {
            llm_gateway(&llm, &tracer, &logger, &spans, &stop)
        }));
    }
    // Ctrl-C or SIGTERM: readiness off, drain, flush (the main loop sees it and stops).
    {
        let telemetry = telemetry.clone();
        std::thread::spawn(move || telemetry.shutdown_on_signal());
    }

    let analyzer = PerformanceAnalyzer::builder()
        .latency_p99(
            "llm_simulator_request_duration_seconds",
            Threshold::new(0.1, 1.0),
        )
        .error_rate(
            ("plugin.errors", &[]),
            ("plugin.messages.processed", &[]),
            Threshold::new(0.05, 0.2),
        )
        .build();
    let aggregator = MetricsAggregator::new(telemetry.meter_provider()).with_analyzer(analyzer);
    let started = Instant::now();
    let mut last = (Instant::now(), 0u64);
    let health = telemetry.health().expect("init always builds the registry");
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let done = args
            .duration
            .is_some_and(|d| started.elapsed() >= Duration::from_secs(d));
        if done || health.is_shutting_down() {
            break;
        }
        let snapshot = aggregator.snapshot();
        let total = spans.load(Ordering::Relaxed);
        let rate = (total - last.1) as f64 / last.0.elapsed().as_secs_f64();
        last = (Instant::now(), total);
        let (mut logs, mut drops) = (0, 0);
        for s in loupe::common::stats::exporter_stats() {
            if s.signal == "logs" {
                logs += s.exported.get();
            }
            drops += s.dropped.get();
        }
        let series = snapshot.counters.len() + snapshot.gauges.len() + snapshot.histograms.len();
        let insight = snapshot.insights.first().map_or("none".to_string(), |i| {
            format!("[{:?}] {}", i.severity, i.message)
        });
        let up = started.elapsed().as_secs();
        if args.headless {
            println!(
                "t={up}s spans/s={rate:.0} series={series} logs={logs} drops={drops} health={} insight={insight}",
                health.status()
            );
        } else {
            print!("\x1b[2J\x1b[H");
            println!("Loupe demo — {up}s (Ctrl-C to stop)\n");
            println!("  spans/s        {rate:.0}");
            println!("  metric series  {series}");
            println!("  log records    {logs}");
            println!("  dropped        {drops}");
            println!("  health         {}", health.status());
            println!("  insight        {insight}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    if let Err(e) = telemetry.shutdown() {
        eprintln!("demo: shutdown did not complete: {e}");
        std::process::exit(1);
    }
    println!(
        "demo: stopped after {}s, {} spans",
        started.elapsed().as_secs(),
        spans.load(Ordering::Relaxed)
    );
}

/// Seed 000: a publisher and three plugins; the trace context travels in the message.
fn message_bus(
    telemetry: &CoreTelemetry,
    tracer: &Tracer,
    logger: &Logger,
    spans: &AtomicU64,
    stop: &AtomicBool,
) {
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let mut publish = tracer
            .span_builder("message.publish")
            .with_kind(SpanKind::Producer)
            .start();
        publish.set_attribute("message.id", i);
        let carried = loupe::TraceContext::from_span_context(publish.span_context());
        publish.end();
        spans.fetch_add(1, Ordering::Relaxed);
        let parent = telemetry.parse_trace_context(&carried);
        for plugin in ["validator", "transcription", "database"] {
            let span = telemetry.create_span_with_parent(
                "plugin.process_message",
                Some(attributes::with_values(&[
                    ("plugin.name", plugin),
                    ("message.topic", "audio.uploaded"),
                ])),
                parent.as_ref(),
            );
            spans.fetch_add(1, Ordering::Relaxed);
            telemetry.with_span(span, || {
                if plugin == "validator" && i % 17 == 3 {
                    if let Some(span) = telemetry.current_span() {
                        span.set_status(SpanStatus::Error, Some("invalid message"));
                    }
                    telemetry.record_counter(
                        "plugin.errors",
                        1,
                        Some(attributes::with_value("error.type", "validation")),
                    );
                    log_warn!(logger, "message rejected", "message.id": i, plugin: plugin);
                }
                std::thread::sleep(Duration::from_micros(300 + fastrand::u64(0..700)));
            });
            telemetry.record_counter(
                "plugin.messages.processed",
                1,
                Some(attributes::with_value("plugin.name", plugin)),
            );
        }
    }
}

/// Seed 001: requests to simulated models with streaming, latency and failures.
fn llm_gateway(
    metrics: &LLMMetrics,
    tracer: &Tracer,
    logger: &Logger,
    spans: &AtomicU64,
    stop: &AtomicBool,
) {
    const MODELS: [(&str, &str); 3] = [
        ("openai", "gpt-4"),
        ("openai", "gpt-3.5-turbo"),
        ("anthropic", "claude-3-opus"),
    ];
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let (provider, model) = MODELS[fastrand::usize(..MODELS.len())];
        let mut span = RequestSpan::new(tracer, &format!("req-{n}"), CorrelationId::new_v4());
        span.set_provider(provider, model);
        let mut request = metrics.start_request(provider, model);
        std::thread::sleep(Duration::from_millis(fastrand::u64(5..40)));
        request.first_token();
        std::thread::sleep(Duration::from_millis(fastrand::u64(10..120)));
        let usage = TokenUsage::new(fastrand::u64(50..800), fastrand::u64(20..400));
        if fastrand::u8(..100) < 4 {
            request.fail("rate_limit", &usage);
            log_warn!(logger, "provider rate-limited the request", provider: provider, model: model);
        } else {
            request.complete(&usage);
        }
        span.complete();
        spans.fetch_add(1, Ordering::Relaxed);
    }
}
