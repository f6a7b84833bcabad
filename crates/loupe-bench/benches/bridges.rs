//! The `tracing` bridge: a span through `#[tracing::instrument]` recorded by Loupe's layer,
//! beside the same span recorded by `tracing-opentelemetry` into the OpenTelemetry SDK.
//!
//! `cargo bench -p loupe-bench --bench bridges`
//!
//! Both pipelines sample everything and hand spans to a batch processor whose exporter
//! discards them, as in the `overhead` bench. Both layers make the span current in their
//! own context on enter and record the code location (file, line, module), so the spans
//! carry the same attributes: `tracing_opentelemetry` turns off the extras
//! `tracing-opentelemetry` adds by default (thread id and name, busy/idle timings, target);
//! `tracing_opentelemetry_defaults` keeps them, for reference.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt as _;

const QUEUE: usize = 1 << 18;

#[tracing::instrument]
fn handle(user_id: u64, route: &str) -> u64 {
    black_box(user_id)
}

#[tracing::instrument]
fn outer(user_id: u64) -> u64 {
    inner(user_id)
}

#[tracing::instrument]
fn inner(user_id: u64) -> u64 {
    black_box(user_id)
}

#[derive(Debug)]
struct OtelNoopExporter;

impl opentelemetry_sdk::trace::SpanExporter for OtelNoopExporter {
    fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> impl std::future::Future<Output = opentelemetry_sdk::error::OTelSdkResult> + Send {
        drop(batch);
        async { Ok(()) }
    }
}

fn otel_provider() -> opentelemetry_sdk::trace::SdkTracerProvider {
    use opentelemetry_sdk::trace::{
        BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
    };
    let processor = BatchSpanProcessor::builder(OtelNoopExporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(QUEUE)
                .build(),
        )
        .build();
    SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(Sampler::AlwaysOn)
        .build()
}

fn loupe_provider() -> (
    loupe::trace::TracerProvider,
    loupe::trace::BatchSpanProcessor,
) {
    use loupe::trace::{
        AlwaysOnSampler, BatchConfig, BatchSpanProcessor, NoopSpanExporter, TracerProvider,
    };
    let bsp = BatchSpanProcessor::with_config(
        NoopSpanExporter,
        BatchConfig {
            max_queue_size: QUEUE,
            ..Default::default()
        },
    )
    .expect("valid config");
    let provider = TracerProvider::builder()
        .with_span_processor(bsp.clone())
        .with_sampler(AlwaysOnSampler)
        .build()
        .expect("valid config");
    (provider, bsp)
}

/// Runs the benchmarks of one group under each subscriber.
fn compare(c: &mut Criterion, group: &str, op: fn()) {
    use opentelemetry::trace::TracerProvider as _;
    let mut g = c.benchmark_group(format!("bridges/{group}"));

    let (provider, bsp) = loupe_provider();
    let loupe = tracing_subscriber::registry()
        .with(loupe::bridge::tracing::layer(provider.tracer("bench")));
    tracing::subscriber::with_default(loupe, || {
        g.bench_function("loupe", |b| b.iter(op));
    });
    provider.force_flush(Duration::from_secs(30)).unwrap();
    let stats = bsp.stats();
    // Dropped spans cost less than exported ones, so report how many there were.
    eprintln!(
        "loupe batch processor: {} exported, {} dropped",
        stats.exported, stats.dropped_queue_full
    );

    let otel = otel_provider();
    let matched = tracing_subscriber::registry().with(
        tracing_opentelemetry::layer()
            .with_tracer(otel.tracer("bench"))
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_target(false),
    );
    tracing::subscriber::with_default(matched, || {
        g.bench_function("tracing_opentelemetry", |b| b.iter(op));
    });

    let otel_defaults = otel_provider();
    let defaults = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(otel_defaults.tracer("bench")));
    tracing::subscriber::with_default(defaults, || {
        g.bench_function("tracing_opentelemetry_defaults", |b| b.iter(op));
    });
    g.finish();
    let _ = otel.shutdown();
    let _ = otel_defaults.shutdown();
}

fn instrument_span(c: &mut Criterion) {
    compare(c, "instrument_span", || {
        black_box(handle(black_box(42), black_box("/api/users")));
    });
}

fn instrument_nested(c: &mut Criterion) {
    compare(c, "instrument_nested", || {
        black_box(outer(black_box(42)));
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(30);
    targets = instrument_span, instrument_nested
}
criterion_main!(benches);
