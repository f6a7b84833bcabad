//! Seed 002's telemetry component for a database node, assembled from Loupe's parts.
//!
//! `cargo run -p loupe --example clusterdb_component`
//!
//! Metrics go to two collectors at once — a Prometheus endpoint and DogStatsD over UDP
//! (a local socket stands in for the agent and counts what arrives) — traces are sampled
//! at most 50 per second, logs go to a rotating JSON file, and TCP, HTTP and script health
//! checks run with 002's thresholds. A bounded workload of simulated queries runs for
//! about two seconds; then the example prints the health report, a slice of the
//! Prometheus scrape, what StatsD received and where the logs are, and exits.

use loupe::export::prometheus::PrometheusExporter;
use loupe::export::statsd::{StatsdExporter, StatsdFlavor};
use loupe::health::{CheckOptions, CommandCheck, HealthPaths, HealthRegistry, HttpCheck, TcpCheck};
use loupe::logs::{FileSink, LogFormat, LoggerProvider, Redact, RotationPolicy};
use loupe::metrics::MeterProvider;
use loupe::trace::{RateLimitingSampler, TracerProvider};
use loupe::{log_info, Resource};
use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::time::{Duration, Instant};

#[path = "workloads/clusterdb.rs"]
mod clusterdb;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let resource = Resource::builder()
        .with_service_name("clusterdb")
        .with_service_version("0.9.0")
        .build();

    // Collectors: Prometheus pull and DogStatsD push, from one meter provider.
    let statsd_agent = UdpSocket::bind("127.0.0.1:0")?;
    statsd_agent.set_read_timeout(Some(Duration::from_millis(200)))?;
    let statsd = StatsdExporter::builder()
        .with_host(statsd_agent.local_addr()?.to_string())
        .with_prefix("clusterdb")
        .with_flavor(StatsdFlavor::DogStatsd)
        .with_flush_interval(Duration::from_millis(250))
        .build()?;
    let meters = MeterProvider::builder()
        .with_resource(resource.clone())
        .with_reader(statsd.into_periodic_reader())
        .build();
    let prometheus = PrometheusExporter::new(&meters).serve("127.0.0.1:0".parse()?, "/metrics")?;
    let metrics_url = format!("http://{}/metrics", prometheus.local_addr());

    // Tracing: 002's rate-limiting sampler.
    let traces = TracerProvider::builder()
        .with_resource(resource.clone())
        .with_sampler(RateLimitingSampler::new(50.0)?)
        .build()?;
    let tracer = traces.tracer("clusterdb.query");

    // Logging: a rotating JSON file, secrets redacted.
    let log_path = std::env::temp_dir()
        .join("clusterdb-example")
        .join("app.log");
    let logs = LoggerProvider::builder()
        .with_resource(resource)
        .with_processor(Redact::default())
        .with_sink(
            FileSink::builder(&log_path)
                .with_format(LogFormat::Json)
                .with_rotation(
                    RotationPolicy::default()
                        .with_max_size(1 << 20)
                        .with_max_files(3),
                )
                .build()?,
        )
        .build()?;
    let log = logs.logger("clusterdb::storage");

    // Health: TCP (a stand-in database port), HTTP (our own scrape), script.
    let database = TcpListener::bind("127.0.0.1:0")?;
    let fast = CheckOptions::default()
        .with_interval(Duration::from_millis(200))
        .with_unhealthy_threshold(3)
        .with_healthy_threshold(2);
    let health = HealthRegistry::builder()
        .with_version("0.9.0")
        .with_meter_provider(&meters)
        .build()?;
    health.register(
        "database",
        TcpCheck::to(database.local_addr()?),
        fast.clone(),
    )?;
    health.register(
        "metrics-endpoint",
        HttpCheck::builder(metrics_url.clone())
            .expected_status(200)
            .build()?,
        fast.clone(),
    )?;
    health.register(
        "disk-space",
        CommandCheck::from_argv(["sh", "-c", "test -w /tmp"])?,
        fast.non_critical(),
    )?;
    let endpoints = loupe::health::serve(
        health.router(&HealthPaths::default())?,
        "127.0.0.1:0".parse()?,
    )?;

    // The workload: simulated queries for about two seconds.
    let workload =
        clusterdb::Queries::new(&tracer, &meters.meter("clusterdb.query"), log.clone(), 1.0)?;
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(2) {
        n += 1;
        workload.run(n);
    }
    log_info!(log, "workload finished", queries: n);

    // Results.
    let report = health.report();
    println!("health: {} ({} checks)", report.status, report.checks.len());
    for check in &report.checks {
        println!("  {:<18} {}", check.name, check.status);
    }
    let mut scrape = String::new();
    let mut stream = std::net::TcpStream::connect(prometheus.local_addr())?;
    std::io::Write::write_all(&mut stream, b"GET /metrics HTTP/1.0\r\n\r\n")?;
    stream.read_to_string(&mut scrape)?;
    println!("\nscrape of {metrics_url} (db_* lines):");
    for line in scrape.lines().filter(|l| l.starts_with("db_queries")) {
        println!("  {line}");
    }
    meters.force_flush(Duration::from_secs(5))?;
    let mut datagrams = 0;
    let mut sample = String::new();
    let mut buf = [0u8; 65_536];
    while let Ok(len) = statsd_agent.recv(&mut buf) {
        datagrams += 1;
        if sample.is_empty() {
            sample = String::from_utf8_lossy(&buf[..len])
                .lines()
                .next()
                .unwrap_or("")
                .to_owned();
        }
    }
    println!("\nstatsd: {datagrams} datagrams, e.g. {sample}");
    logs.shutdown(Duration::from_secs(5))?;
    println!("logs: {}", log_path.display());
    println!(
        "health endpoints were at http://{}/health",
        endpoints.local_addr()
    );
    traces.shutdown(Duration::from_secs(5))?;
    meters.shutdown(Duration::from_secs(5))?;
    Ok(())
}
