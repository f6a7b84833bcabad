//! Loupe's recording hot paths side by side with the peers, in one run.
//!
//! `cargo bench -p loupe-bench --bench overhead`
//!
//! Every span benchmark goes through a batch processor to an exporter that discards, so
//! the cost includes hand-off to (and collection by) the export thread. Queues are sized
//! generously; the span group reports how many spans Loupe dropped anyway.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[path = "pipelines/mod.rs"]
mod pipelines;
use pipelines::{loupe_tracer_provider, otel_tracer_provider};

/// Runs `op` on `threads` threads at once, `iters` times each; returns the wall time, so
/// the reported figure is the time per operation per thread.
fn contended<F: Fn() + Sync>(threads: usize, iters: u64, op: F) -> Duration {
    let barrier = Barrier::new(threads);
    let start = std::sync::Mutex::new(None::<Instant>);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                barrier.wait();
                start.lock().unwrap().get_or_insert_with(Instant::now);
                for _ in 0..iters {
                    op();
                }
            });
        }
    });
    start
        .into_inner()
        .unwrap()
        .map(|t| t.elapsed())
        .unwrap_or_default()
}

fn threads_variant<F: Fn() + Sync>(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    op: F,
) {
    for threads in [1usize, 2] {
        c.bench_with_input(
            BenchmarkId::new(name, format!("{threads}t")),
            &threads,
            |b, &threads| b.iter_custom(|iters| contended(threads, iters, &op)),
        );
    }
}

// ---------------------------------------------------------------- peers' plumbing

struct FastraceNoop;

impl fastrace::collector::Reporter for FastraceNoop {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        black_box(spans);
    }
}

// ---------------------------------------------------------------- counters

fn counters(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_bound_add");
    let bare = AtomicU64::new(0);
    g.bench_function("bare_atomic_relaxed", |b| {
        b.iter(|| bare.fetch_add(black_box(1), Ordering::Relaxed))
    });

    let provider = loupe::metrics::MeterProvider::builder().build();
    let counter = provider
        .meter("bench")
        .u64_counter("requests")
        .build()
        .unwrap();
    let bound = counter.bind(&[loupe::KeyValue::new("route", "/")]);
    g.bench_function("loupe", |b| b.iter(|| bound.add(black_box(1))));

    let metrics_counter = metrics::Counter::from_arc(Arc::new(AtomicU64::new(0)));
    g.bench_function("metrics", |b| {
        b.iter(|| metrics_counter.increment(black_box(1)))
    });

    let prom: prometheus_client::metrics::counter::Counter<u64> = Default::default();
    g.bench_function("prometheus_client", |b| {
        b.iter(|| prom.inc_by(black_box(1)))
    });

    use opentelemetry::metrics::MeterProvider as _;
    // Without a reader the SDK's instruments record nothing; give it one, as in a service.
    let otel_provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(opentelemetry_sdk::metrics::ManualReader::builder().build())
        .build();
    let otel_counter = otel_provider.meter("bench").u64_counter("requests").build();
    let otel_attrs = [opentelemetry::KeyValue::new("route", "/")];
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| otel_counter.add(black_box(1), &otel_attrs))
    });

    // Two threads on the same series: striping should keep per-thread cost flat.
    threads_variant(&mut g, "loupe_threads", || bound.add(black_box(1)));
    let shared = AtomicU64::new(0);
    threads_variant(&mut g, "bare_atomic_threads", || {
        shared.fetch_add(black_box(1), Ordering::Relaxed);
    });
    threads_variant(&mut g, "opentelemetry_sdk_threads", || {
        otel_counter.add(black_box(1), &otel_attrs)
    });
    g.finish();

    let mut g = c.benchmark_group("counter_add_3_attributes");
    let attrs = [
        loupe::KeyValue::new("http.method", "GET"),
        loupe::KeyValue::new("http.route", "/api/users"),
        loupe::KeyValue::new("http.status_code", 200i64),
    ];
    g.bench_function("loupe", |b| {
        b.iter(|| counter.add(black_box(1), black_box(&attrs)))
    });
    let otel_attrs3 = [
        opentelemetry::KeyValue::new("http.method", "GET"),
        opentelemetry::KeyValue::new("http.route", "/api/users"),
        opentelemetry::KeyValue::new("http.status_code", 200i64),
    ];
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| otel_counter.add(black_box(1), black_box(&otel_attrs3)))
    });
    let family = prometheus_client::metrics::family::Family::<
        Vec<(&'static str, String)>,
        prometheus_client::metrics::counter::Counter,
    >::default();
    let labels = vec![
        ("http_method", "GET".to_owned()),
        ("http_route", "/api/users".to_owned()),
        ("http_status_code", "200".to_owned()),
    ];
    g.bench_function("prometheus_client", |b| {
        b.iter(|| family.get_or_create(black_box(&labels)).inc())
    });
    threads_variant(&mut g, "loupe_threads", || {
        counter.add(black_box(1), black_box(&attrs))
    });
    threads_variant(&mut g, "opentelemetry_sdk_threads", || {
        otel_counter.add(black_box(1), black_box(&otel_attrs3))
    });
    g.finish();
}

// ---------------------------------------------------------------- histograms

fn histograms(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram_record");
    let provider = loupe::metrics::MeterProvider::builder().build();
    let hist = provider
        .meter("bench")
        .f64_histogram("latency")
        .with_unit("s")
        .build()
        .unwrap();
    let attrs = [
        loupe::KeyValue::new("http.method", "GET"),
        loupe::KeyValue::new("http.route", "/api/users"),
        loupe::KeyValue::new("http.status_code", 200i64),
    ];
    let bound = hist.bind(&attrs);
    g.bench_function("loupe_bound", |b| b.iter(|| bound.record(black_box(0.042))));
    g.bench_function("loupe_3_attributes", |b| {
        b.iter(|| hist.record(black_box(0.042), black_box(&attrs)))
    });
    let expo = provider
        .meter("bench")
        .f64_histogram("latency_expo")
        .with_exponential_buckets(160)
        .build()
        .unwrap();
    let expo_bound = expo.bind(&attrs);
    g.bench_function("loupe_exponential_bound", |b| {
        b.iter(|| expo_bound.record(black_box(0.042)))
    });

    use opentelemetry::metrics::MeterProvider as _;
    // Without a reader the SDK's instruments record nothing; give it one, as in a service.
    let otel_provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(opentelemetry_sdk::metrics::ManualReader::builder().build())
        .build();
    let otel_hist = otel_provider
        .meter("bench")
        .f64_histogram("latency")
        .build();
    let otel_attrs = [
        opentelemetry::KeyValue::new("http.method", "GET"),
        opentelemetry::KeyValue::new("http.route", "/api/users"),
        opentelemetry::KeyValue::new("http.status_code", 200i64),
    ];
    g.bench_function("opentelemetry_sdk_3_attributes", |b| {
        b.iter(|| otel_hist.record(black_box(0.042), black_box(&otel_attrs)))
    });
    let prom = prometheus_client::metrics::histogram::Histogram::new(
        loupe::metrics::DEFAULT_HISTOGRAM_BOUNDARIES,
    );
    g.bench_function("prometheus_client_bound", |b| {
        b.iter(|| prom.observe(black_box(0.042)))
    });
    g.finish();
}

// ---------------------------------------------------------------- spans

/// Lets every ended span go where it is: what recording costs without a hand-off.
#[derive(Debug)]
struct DiscardInPlace;

impl loupe::trace::SpanProcessor for DiscardInPlace {
    fn on_end(&self, span: loupe::trace::SpanData) {
        drop(black_box(span));
    }

    fn on_end_in_place(&self, span: &mut loupe::trace::SpanData) {
        black_box(span);
    }

    fn force_flush(&self, _: Duration) -> Result<(), loupe::ExportError> {
        Ok(())
    }

    fn shutdown(&self, _: Duration) -> Result<(), loupe::ExportError> {
        Ok(())
    }
}

/// The span every Loupe row records: three attributes, ended where it is, as
/// `opentelemetry_sdk`'s `span.end()` below (ending it hands it to the processor, which
/// the optimiser cannot remove).
fn loupe_span_on(tracer: &loupe::trace::Tracer) {
    let span = tracer
        .span_builder("op")
        .with_attribute("http.method", "GET")
        .with_attribute("http.route", "/api/users")
        .with_attribute("http.status_code", 200i64)
        .start();
    drop(span);
}

fn spans(c: &mut Criterion) {
    let mut g = c.benchmark_group("span_sampled_3_attributes");
    let (provider, bsp) = loupe_tracer_provider(true);
    let tracer = provider.tracer("bench");
    let loupe_span = || loupe_span_on(&tracer);
    g.bench_function("loupe", |b| b.iter(loupe_span));

    // Not a peer comparison: the recording thread's own share, with the span ended into
    // a processor that lets it go where it is (no hand-off, no export thread).
    let discarding = loupe::trace::TracerProvider::builder()
        .with_span_processor(DiscardInPlace)
        .build()
        .expect("valid config");
    let discarding_tracer = discarding.tracer("bench");
    g.bench_function("loupe_recording_only", |b| {
        b.iter(|| loupe_span_on(&discarding_tracer))
    });

    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    let otel_provider = otel_tracer_provider(true);
    let otel_tracer = otel_provider.tracer("bench");
    let otel_span = || {
        let mut span = otel_tracer
            .span_builder("op")
            .with_attributes([
                opentelemetry::KeyValue::new("http.method", "GET"),
                opentelemetry::KeyValue::new("http.route", "/api/users"),
                opentelemetry::KeyValue::new("http.status_code", 200i64),
            ])
            .start(&otel_tracer);
        span.end();
    };
    g.bench_function("opentelemetry_sdk", |b| b.iter(otel_span));

    fastrace::set_reporter(FastraceNoop, fastrace::collector::Config::default());
    let fastrace_span = || {
        let root = fastrace::Span::root("op", fastrace::collector::SpanContext::random())
            .with_properties(|| {
                [
                    ("http.method", "GET"),
                    ("http.route", "/api/users"),
                    ("http.status_code", "200"),
                ]
            });
        drop(black_box(root));
    };
    g.bench_function("fastrace", |b| b.iter(fastrace_span));

    let subscriber = tracing_subscriber::registry();
    tracing::subscriber::with_default(subscriber, || {
        g.bench_function("tracing_registry", |b| {
            b.iter(|| {
                let span = tracing::info_span!(
                    "op",
                    http.method = "GET",
                    http.route = "/api/users",
                    http.status_code = 200
                );
                drop(black_box(span));
            })
        });
    });

    threads_variant(&mut g, "loupe_threads", loupe_span);
    threads_variant(&mut g, "opentelemetry_sdk_threads", otel_span);
    threads_variant(&mut g, "fastrace_threads", fastrace_span);
    g.finish();
    provider.force_flush(Duration::from_secs(30)).unwrap();
    let stats = bsp.stats();
    // Dropped spans cost less than exported ones, so report how many there were.
    eprintln!(
        "loupe batch processor: {} exported, {} dropped ({:.3}%)",
        stats.exported,
        stats.dropped_queue_full,
        100.0 * stats.dropped_queue_full as f64
            / (stats.exported + stats.dropped_queue_full).max(1) as f64
    );
    fastrace::flush();

    let mut g = c.benchmark_group("span_unsampled");
    let (off, _) = loupe_tracer_provider(false);
    let off_tracer = off.tracer("bench");
    g.bench_function("loupe", |b| {
        b.iter(|| drop(black_box(off_tracer.start("op"))))
    });
    let otel_off = otel_tracer_provider(false);
    let otel_off_tracer = otel_off.tracer("bench");
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| black_box(otel_off_tracer.start("op")).end())
    });
    g.bench_function("fastrace", |b| {
        b.iter(|| {
            drop(black_box(fastrace::Span::root(
                "op",
                fastrace::collector::SpanContext::random().sampled(false),
            )))
        })
    });
    g.finish();
}

// ---------------------------------------------------------------- noop

fn noop(c: &mut Criterion) {
    use loupe::Telemetry as _;
    let mut g = c.benchmark_group("noop");
    let noop = loupe::NoopTelemetry;
    g.bench_function("loupe_create_span", |b| {
        b.iter(|| black_box(black_box(&noop).create_span("op", None)))
    });
    g.bench_function("loupe_record_counter", |b| {
        b.iter(|| black_box(&noop).record_counter("requests", black_box(1), None))
    });
    let dyn_noop: Arc<dyn loupe::Telemetry> = Arc::new(loupe::NoopTelemetry);
    g.bench_function("loupe_dyn_record_counter", |b| {
        b.iter(|| black_box(&dyn_noop).record_counter("requests", black_box(1), None))
    });
    let counter = loupe::metrics::Counter::<u64>::noop();
    g.bench_function("loupe_noop_counter_add", |b| {
        b.iter(|| counter.add(black_box(1), &[]))
    });
    g.bench_function("tracing_no_subscriber_span", |b| {
        b.iter(|| drop(black_box(tracing::info_span!("op"))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(30);
    targets = counters, histograms, spans, noop
}
criterion_main!(benches);
