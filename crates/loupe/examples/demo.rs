//! Loupe's demo: the seed workloads in one process, served and summarised live.
//!
//! `cargo run -p loupe --example demo -- [--listen ADDR] [--config FILE] [--duration SECS] [--headless]`
//!
//! The workloads of the `message_bus` (seed 000), `llm_gateway` (seed 001),
//! `clusterdb_component` (seed 002), `stream_pipeline` (seed 003) and `http_services`
//! (seed 004) examples — the same code, from `workloads/` — run together until Ctrl-C or
//! `--duration` seconds. Loupe serves
//! `/metrics`, `/health`, `/ready` and `/live` on `--listen` (default `127.0.0.1:9464`),
//! exports OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, writes its logs to a file, and
//! prints a summary every second: spans/s, metric series, log records, drops, health and
//! the analyser's latest insight. Without a terminal (or with `--headless`) the summary is
//! one plain line per second. `--config FILE` loads a Loupe configuration (YAML or TOML)
//! instead of the demo's defaults.

#[path = "workloads/bus.rs"]
#[allow(dead_code)]
mod bus;
#[path = "workloads/clusterdb.rs"]
mod clusterdb;
#[path = "workloads/http.rs"]
mod http;
#[path = "workloads/llm.rs"]
#[allow(dead_code)]
mod llm;
#[path = "workloads/stream.rs"]
#[allow(dead_code)]
mod stream;

use loupe::analytics::{MetricsAggregator, PerformanceAnalyzer, Threshold};
use loupe::config::{ExporterKind, LogSinkConfig, RotationConfig, TelemetryConfig};
use loupe::logs::Logger;
use loupe::packs::llm::{LLMMetrics, LlmMetricsConfig};
use loupe::trace::Tracer;
use loupe::{log_warn, CoreTelemetry, Telemetry};
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
    let facade: Arc<dyn Telemetry> = Arc::new(CoreTelemetry::with_scope(
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
        let (stop, spans, logger) = (stop.clone(), spans.clone(), logger.clone());
        workers.push(std::thread::spawn(move || {
            message_bus(facade, &logger, &spans, &stop)
        }));
    }
    {
        let (stop, spans, tracer, logger) =
            (stop.clone(), spans.clone(), tracer.clone(), logger.clone());
        let meter = telemetry.meter_provider().meter("eventflux");
        workers.push(std::thread::spawn(move || {
            stream_pipeline(&tracer, &meter, &logger, &spans, &stop)
        }));
    }
    {
        let (stop, spans) = (stop.clone(), spans.clone());
        let tracer = telemetry.tracer_provider().tracer("shop");
        let meter = telemetry.meter_provider().meter("shop");
        let logger = telemetry.logger("shop::inventory");
        workers.push(std::thread::spawn(move || {
            http_services(&tracer, &meter, logger, &spans, &stop)
        }));
    }
    {
        let (stop, spans) = (stop.clone(), spans.clone());
        let tracer = telemetry.tracer_provider().tracer("clusterdb.query");
        let meter = telemetry.meter_provider().meter("clusterdb.query");
        let logger = telemetry.logger("clusterdb::storage");
        workers.push(std::thread::spawn(move || {
            database(&tracer, &meter, logger, &spans, &stop)
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
    telemetry: Arc<dyn Telemetry>,
    logger: &Logger,
    spans: &AtomicU64,
    stop: &AtomicBool,
) {
    let bus = match bus::Bus::start(telemetry) {
        Ok(bus) => bus,
        Err(e) => {
            log_warn!(logger, "message bus did not start", error: e.to_string());
            return;
        }
    };
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let delivery = bus.deliver(seq);
        if delivery == bus::Delivery::Rejected {
            log_warn!(logger, "message rejected", "message.seq": seq, plugin: "validator");
        }
        spans.fetch_add(delivery.spans(), Ordering::Relaxed);
    }
    let _ = bus.stop();
}

/// Seed 001: requests to simulated models with streaming, latency and failures.
fn llm_gateway(
    metrics: &LLMMetrics,
    tracer: &Tracer,
    logger: &Logger,
    spans: &AtomicU64,
    stop: &AtomicBool,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            log_warn!(logger, "LLM gateway did not start", error: e.to_string());
            return;
        }
    };
    runtime.block_on(async {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let outcome = llm::handle(tracer, metrics, n, 0.5).await;
            if outcome != llm::Outcome::Completed {
                log_warn!(logger, "LLM request did not complete", request: n, outcome: format!("{outcome:?}"));
            }
            spans.fetch_add(2, Ordering::Relaxed);
        }
    });
}

/// Seed 004's propagation over HTTP: `frontend` calls `inventory`, ten checkouts a second.
fn http_services(
    tracer: &Tracer,
    meter: &loupe::metrics::Meter,
    logger: Logger,
    spans: &AtomicU64,
    stop: &AtomicBool,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            log_warn!(logger, "HTTP services did not start", error: e.to_string());
            return;
        }
    };
    runtime.block_on(async {
        let inventory = http::serve(http::inventory(tracer.clone(), meter, logger.clone()));
        let inventory = match inventory.await {
            Ok(addr) => addr,
            Err(e) => return log_warn!(logger, "inventory did not start", error: e.to_string()),
        };
        let frontend = match http::serve(http::frontend(tracer.clone(), meter, inventory)).await {
            Ok(addr) => addr,
            Err(e) => return log_warn!(logger, "frontend did not start", error: e.to_string()),
        };
        let client = reqwest::Client::new();
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let url = format!("http://{frontend}/checkout/sku-{}", n % 20);
            if let Err(e) = client.get(url).send().await {
                log_warn!(logger, "checkout failed", error: e.to_string());
            }
            // Two server spans and the client span between them.
            spans.fetch_add(3, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// Seed 002: a database node's queries, a hundred a second at most.
fn database(
    tracer: &Tracer,
    meter: &loupe::metrics::Meter,
    logger: Logger,
    spans: &AtomicU64,
    stop: &AtomicBool,
) {
    let queries = match clusterdb::Queries::new(tracer, meter, logger.clone(), 1.0) {
        Ok(queries) => queries,
        Err(e) => return log_warn!(logger, "database did not start", error: e.to_string()),
    };
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        queries.run(n);
        spans.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Seed 003: the query pipeline, one batch of 500 events every 50 ms.
fn stream_pipeline(
    tracer: &Tracer,
    meter: &loupe::metrics::Meter,
    logger: &Logger,
    spans: &AtomicU64,
    stop: &AtomicBool,
) {
    let mut pipeline = match stream::Pipeline::new(tracer, meter) {
        Ok(pipeline) => pipeline,
        Err(e) => {
            log_warn!(logger, "stream pipeline did not start", error: e.to_string());
            return;
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let before = pipeline.sampled_spans();
        pipeline.run_batch();
        spans.fetch_add(pipeline.sampled_spans() - before, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(50));
    }
    pipeline.finish();
}
