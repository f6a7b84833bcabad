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

#[path = "pipelines/mod.rs"]
mod pipelines;
use pipelines::{loupe_tracer_provider, otel_tracer_provider};

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

/// Runs the benchmarks of one group under each subscriber.
fn compare(c: &mut Criterion, group: &str, op: fn()) {
    use opentelemetry::trace::TracerProvider as _;
    let mut g = c.benchmark_group(format!("bridges/{group}"));

    let (provider, bsp) = loupe_tracer_provider(true);
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

    let otel = otel_tracer_provider(true);
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

    let otel_defaults = otel_tracer_provider(true);
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
