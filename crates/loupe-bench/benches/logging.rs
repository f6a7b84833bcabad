//! A log record with five fields, rendered as JSON and discarded — Loupe's logger beside
//! `tracing-subscriber`'s JSON layer and the `tracing` → OpenTelemetry appender bridge.
//!
//! `cargo bench -p loupe-bench --bench logging`
//!
//! Loupe renders on its sink thread, so `loupe` times the whole pipeline: records logged
//! and then flushed, i.e. until every one was rendered. `loupe_caller` is what the code
//! that logs pays. The peers render on the calling thread.

use criterion::{criterion_group, criterion_main, Criterion};
use loupe::logs::{LogFormat, LogRecord, LogSink, LoggerProvider, SinkContext};
use std::hint::black_box;
use std::io::Write as _;
use std::time::{Duration, Instant};

/// Renders each record as a JSON line into a buffer that is then thrown away.
struct DiscardJson(Vec<u8>);

impl LogSink for DiscardJson {
    fn name(&self) -> &'static str {
        "bench_discard"
    }
    fn emit(&mut self, record: &LogRecord, _: SinkContext<'_>) -> Result<(), loupe::ExportError> {
        LogFormat::Json.write(record, &mut self.0);
        black_box(&self.0);
        self.0.clear();
        Ok(())
    }
}

/// The OpenTelemetry SDK's side: an exporter that renders the same JSON shape.
#[derive(Debug)]
struct OtelDiscardJson;

impl opentelemetry_sdk::logs::LogExporter for OtelDiscardJson {
    async fn export(
        &self,
        batch: opentelemetry_sdk::logs::LogBatch<'_>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        use opentelemetry::logs::AnyValue;
        let mut out = Vec::with_capacity(256);
        for (record, scope) in batch.iter() {
            let _ = write!(out, "{{\"timestamp\":{:?},\"level\":", record.timestamp());
            let _ = serde_json::to_writer(&mut out, record.severity_text().unwrap_or(""));
            out.extend_from_slice(b",\"target\":");
            let _ = serde_json::to_writer(&mut out, scope.name());
            out.extend_from_slice(b",\"message\":");
            if let Some(AnyValue::String(s)) = record.body() {
                let _ = serde_json::to_writer(&mut out, s.as_str());
            }
            out.extend_from_slice(b",\"fields\":{");
            for (i, (k, v)) in record.attributes_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut out, k.as_str());
                out.push(b':');
                let _ = match v {
                    AnyValue::Int(i) => serde_json::to_writer(&mut out, i),
                    AnyValue::Double(d) => serde_json::to_writer(&mut out, d),
                    AnyValue::Boolean(b) => serde_json::to_writer(&mut out, b),
                    AnyValue::String(s) => serde_json::to_writer(&mut out, s.as_str()),
                    other => serde_json::to_writer(&mut out, &format!("{other:?}")),
                };
            }
            out.extend_from_slice(b"}}\n");
            black_box(&out);
            out.clear();
        }
        Ok(())
    }
}

fn log_json(c: &mut Criterion) {
    let mut group = c.benchmark_group("logging/json_5_fields");

    let provider = LoggerProvider::builder()
        .with_queue_size(1 << 16)
        .with_sink(DiscardJson(Vec::with_capacity(512)))
        .build()
        .unwrap();
    let logger = provider.logger("bench::logging");
    let log = |i: u64| {
        loupe::log_info!(logger, "request handled",
            http_method: "GET", http_route: "/api/users", http_status: 200,
            duration_ms: i as i64, cache_hit: true);
    };
    group.bench_function("loupe", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                log(i);
                if i % 8192 == 8191 {
                    provider.force_flush(Duration::from_secs(30)).unwrap();
                }
            }
            provider.force_flush(Duration::from_secs(30)).unwrap();
            start.elapsed()
        })
    });
    group.bench_function("loupe_caller", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut i = 0;
            while i < iters {
                let n = (iters - i).min(8192);
                let start = Instant::now();
                for j in i..i + n {
                    log(j);
                }
                spent += start.elapsed();
                provider.force_flush(Duration::from_secs(30)).unwrap();
                i += n;
            }
            spent
        })
    });
    group.bench_function("loupe_render_only", |b| {
        let mut out = Vec::with_capacity(512);
        let mut i = 0i64;
        b.iter(|| {
            i += 1;
            let record = LogRecord::new(loupe::logs::Severity::Info, "request handled")
                .with_attribute(loupe::KeyValue::new("http_method", "GET"))
                .with_attribute(loupe::KeyValue::new("http_route", "/api/users"))
                .with_attribute(loupe::KeyValue::new("http_status", 200))
                .with_attribute(loupe::KeyValue::new("duration_ms", i))
                .with_attribute(loupe::KeyValue::new("cache_hit", true));
            LogFormat::Json.write(&record, &mut out);
            black_box(&out);
            out.clear();
        })
    });
    group.bench_function("loupe_render_prebuilt", |b| {
        let mut out = Vec::with_capacity(512);
        let record = LogRecord::new(loupe::logs::Severity::Info, "request handled")
            .with_attribute(loupe::KeyValue::new("http_method", "GET"))
            .with_attribute(loupe::KeyValue::new("http_route", "/api/users"))
            .with_attribute(loupe::KeyValue::new("http_status", 200))
            .with_attribute(loupe::KeyValue::new("duration_ms", 12))
            .with_attribute(loupe::KeyValue::new("cache_hit", true));
        b.iter(|| {
            LogFormat::Json.write(black_box(&record), &mut out);
            black_box(&out);
            out.clear();
        })
    });
    let dropped: u64 = loupe::common::stats::exporter_stats()
        .iter()
        .filter(|s| s.exporter == "bench_discard")
        .map(|s| s.dropped.get())
        .sum();
    assert_eq!(dropped, 0, "the benchmark must not measure dropped records");

    let tracing_json = {
        use tracing_subscriber::layer::SubscriberExt;
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(std::io::sink),
        )
    };
    tracing::subscriber::with_default(tracing_json, || {
        group.bench_function("tracing_subscriber_json", |b| {
            let mut i = 0i64;
            b.iter(|| {
                i += 1;
                tracing::info!(target: "bench::logging",
                    http_method = "GET", http_route = "/api/users", http_status = 200,
                    duration_ms = i, cache_hit = true, "request handled");
            })
        });
    });

    let otel_provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
        .with_simple_exporter(OtelDiscardJson)
        .build();
    let otel_bridge = {
        use tracing_subscriber::layer::SubscriberExt;
        tracing_subscriber::registry().with(
            opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(&otel_provider),
        )
    };
    tracing::subscriber::with_default(otel_bridge, || {
        group.bench_function("opentelemetry_appender_tracing", |b| {
            let mut i = 0i64;
            b.iter(|| {
                i += 1;
                tracing::info!(target: "bench::logging",
                    http_method = "GET", http_route = "/api/users", http_status = 200,
                    duration_ms = i, cache_hit = true, "request handled");
            })
        });
    });
    group.finish();
}

criterion_group!(benches, log_json);
criterion_main!(benches);
