//! Code instrumented with the Rust facades — `tracing`, `log`, `metrics` — lands in
//! Loupe's pipelines through the bridges: spans with the right parents and attributes,
//! events and log lines as log records tied to their span, metrics in collection.

use loupe::bridge::tracing::LoupeLayer;
use loupe::logs::{InMemoryLogSink, LogRecord, LoggerProvider};
use loupe::metrics::{MeterProvider, MetricData, NumberValue};
use loupe::propagation::{extract_context, inject_context};
use loupe::trace::{
    Context, InMemorySpanExporter, SimpleSpanProcessor, SpanData, SpanId, SpanKind, Status,
    TraceId, Tracer, TracerProvider,
};
use loupe::{KeyValue, Value};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;
use tracing::instrument::WithSubscriber as _;
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

// ---------------------------------------------------------------- plumbing

/// Counts allocations per thread, to show that disabled events cost none.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

struct Spans {
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
}

impl Spans {
    fn new() -> Self {
        let exporter = InMemorySpanExporter::default();
        let provider = TracerProvider::builder()
            .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
            .build()
            .unwrap();
        Spans { provider, exporter }
    }

    fn tracer(&self) -> Tracer {
        self.provider.tracer("bridge-test")
    }

    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::registry().with(LoupeLayer::new(self.tracer()))
    }

    fn named(&self, name: &str) -> SpanData {
        self.exporter
            .span(name)
            .unwrap_or_else(|| panic!("no span named {name}"))
    }

    fn all_named(&self, name: &str) -> Vec<SpanData> {
        let spans = self.exporter.finished_spans();
        spans.into_iter().filter(|s| s.name == name).collect()
    }
}

/// Every record reaches an in-memory sink.
#[derive(Clone, Default)]
struct Captured(InMemoryLogSink);

impl Captured {
    fn provider(&self, filter: &str) -> LoggerProvider {
        LoggerProvider::builder()
            .with_filter(filter.parse().unwrap())
            .with_sink(self.0.clone())
            .build()
            .unwrap()
    }

    fn records(&self, provider: &LoggerProvider) -> Vec<LogRecord> {
        provider.force_flush(Duration::from_secs(5)).unwrap();
        self.0.records()
    }
}

fn attribute<'a>(record: &'a LogRecord, key: &str) -> Option<&'a Value> {
    record
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn current_span_id() -> Option<SpanId> {
    Context::current().span_context().map(|sc| sc.span_id())
}

// ---------------------------------------------------------------- tracing: spans

#[tracing::instrument(fields(found = tracing::field::Empty))]
fn load_user(user_id: u64, region: &str) -> bool {
    lookup_cache(user_id);
    tracing::Span::current().record("found", true);
    true
}

#[tracing::instrument(skip_all, fields(otel.kind = "client", cache.hit_ratio = 0.5))]
fn lookup_cache(_key: u64) {}

#[test]
fn instrumented_functions_become_nested_loupe_spans_with_typed_attributes() {
    let spans = Spans::new();
    tracing::subscriber::with_default(spans.subscriber(), || {
        assert!(load_user(42, "eu-west"));
        assert_eq!(current_span_id(), None, "nothing stays current afterwards");
    });

    let user = spans.named("load_user");
    let cache = spans.named("lookup_cache");
    assert_eq!(user.parent_span_id, SpanId::INVALID, "a root span");
    assert_eq!(cache.parent_span_id, user.span_context.span_id());
    assert_eq!(cache.span_context.trace_id(), user.span_context.trace_id());
    assert_eq!(user.attribute("user_id"), Some(&Value::I64(42)));
    assert_eq!(user.attribute("region"), Some(&Value::from("eu-west")));
    assert_eq!(
        user.attribute("found"),
        Some(&Value::Bool(true)),
        "recorded later"
    );
    assert_eq!(cache.attribute("cache.hit_ratio"), Some(&Value::F64(0.5)));
    assert_eq!(cache.kind, SpanKind::Client);
    assert_eq!(
        cache.attribute("otel.kind"),
        None,
        "special fields are not attributes"
    );
    assert_eq!(user.kind, SpanKind::Internal);
    assert!(matches!(
        user.attribute("code.line.number"),
        Some(Value::I64(_))
    ));
    assert!(user.end_time >= cache.end_time && cache.start_time >= user.start_time);
}

#[tracing::instrument(skip(tracer))]
async fn handle_request(request_id: u64, tracer: Tracer) -> usize {
    let local = fetch("local").await;
    // A spawned task, on whichever worker thread: the span goes with it explicitly.
    let remote = tokio::spawn(fetch("remote").in_current_span().with_current_subscriber())
        .await
        .unwrap();
    // A native Loupe span started inside the tracing span is its child.
    drop(tracer.start("native.child"));
    let _ = request_id;
    local + remote
}

#[tracing::instrument]
async fn fetch(key: &'static str) -> usize {
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1)).await;
        tokio::task::yield_now().await;
    }
    key.len()
}

#[test]
fn async_instrumented_functions_keep_their_parents_across_threads() {
    let spans = Spans::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tracer = spans.tracer();
    let total = runtime.block_on(
        async {
            let mut handles = Vec::new();
            for id in 0..4u64 {
                let task = handle_request(id, tracer.clone()).with_current_subscriber();
                handles.push(tokio::spawn(task));
            }
            let mut total = 0;
            for h in handles {
                total += h.await.unwrap();
            }
            total
        }
        .with_subscriber(spans.subscriber()),
    );
    assert_eq!(total, 4 * ("local".len() + "remote".len()));
    drop(runtime);

    let requests = spans.all_named("handle_request");
    assert_eq!(requests.len(), 4);
    let fetches = spans.all_named("fetch");
    let natives = spans.all_named("native.child");
    assert_eq!(fetches.len(), 8);
    assert_eq!(natives.len(), 4);
    for request in &requests {
        let id = request.span_context.span_id();
        let children: Vec<_> = fetches.iter().filter(|f| f.parent_span_id == id).collect();
        assert_eq!(children.len(), 2, "local and remote fetch under {id:?}");
        let keys: Vec<_> = children
            .iter()
            .map(|c| c.attribute("key").cloned())
            .collect();
        assert!(keys.contains(&Some(Value::from("local"))));
        assert!(keys.contains(&Some(Value::from("remote"))));
        assert!(children
            .iter()
            .all(|c| c.span_context.trace_id() == request.span_context.trace_id()));
        assert_eq!(
            natives.iter().filter(|n| n.parent_span_id == id).count(),
            1,
            "the native span is a child of the tracing span it started in"
        );
        assert!(matches!(
            request.attribute("request_id"),
            Some(Value::I64(0..=3))
        ));
        assert!(
            request.end_time.duration_since(request.start_time).unwrap()
                >= Duration::from_millis(6),
            "the span covers the awaited work"
        );
    }
}

#[test]
fn a_context_extracted_from_headers_parents_a_tracing_span_and_inject_sees_it() {
    let spans = Spans::new();
    let mut incoming = HashMap::new();
    incoming.insert(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    );
    let mut outgoing = HashMap::<String, String>::new();
    tracing::subscriber::with_default(spans.subscriber(), || {
        let _remote = extract_context(&incoming).attach();
        let server = tracing::info_span!("GET /users", otel.kind = "server");
        let _entered = server.enter();
        inject_context(&Context::current(), &mut outgoing);
    });

    let server = spans.named("GET /users");
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(
        server.span_context.trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
    );
    assert_eq!(
        server.parent_span_id,
        SpanId::from_hex("00f067aa0ba902b7").unwrap()
    );
    assert!(server.parent_is_remote);
    let traceparent = &outgoing["traceparent"];
    assert!(
        traceparent.contains(&server.span_context.span_id().to_string()),
        "{traceparent} carries the tracing span's id"
    );
}

#[test]
fn explicit_parents_links_status_and_name_follow_the_tracing_fields() {
    let spans = Spans::new();
    tracing::subscriber::with_default(spans.subscriber(), || {
        let batch = tracing::info_span!("batch");
        let consumer = tracing::info_span!(
            parent: &batch,
            "consume",
            otel.name = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            otel.status_message = tracing::field::Empty,
        );
        let unrelated = tracing::info_span!("unrelated");
        let _in_unrelated = unrelated.enter();
        consumer.follows_from(&unrelated);
        consumer.record("otel.name", "orders process");
        consumer.record("otel.status_message", "poison message");
        consumer.record("otel.status_code", "ERROR");
        let root = tracing::info_span!(parent: None, "detached");
        drop(root);
    });

    let batch = spans.named("batch");
    let unrelated = spans.named("unrelated");
    let consumer = spans.named("orders process");
    assert_eq!(
        consumer.parent_span_id,
        batch.span_context.span_id(),
        "explicit parent"
    );
    assert_eq!(consumer.links.len(), 1);
    assert_eq!(
        consumer.links[0].span_context.span_id(),
        unrelated.span_context.span_id()
    );
    assert_eq!(consumer.status, Status::error("poison message"));
    assert_eq!(spans.named("detached").parent_span_id, SpanId::INVALID);
}

#[test]
fn an_error_event_marks_its_span_failed_unless_the_status_was_set() {
    let spans = Spans::new();
    tracing::subscriber::with_default(spans.subscriber(), || {
        tracing::info_span!("charge").in_scope(|| {
            tracing::warn!("retrying");
            tracing::error!(code = 402, "card declined");
            tracing::error!("second failure");
        });
        let parent = tracing::info_span!("refund");
        tracing::error!(parent: &parent, "refund failed");
        drop(parent);
        tracing::info_span!("probe", otel.status_code = "ok").in_scope(|| {
            tracing::error!("logged, but the span says ok");
        });
        tracing::info_span!("quiet").in_scope(|| tracing::warn!("only a warning"));
    });
    assert_eq!(spans.named("charge").status, Status::error("card declined"));
    assert_eq!(spans.named("refund").status, Status::error("refund failed"));
    assert_eq!(spans.named("probe").status, Status::Ok);
    assert_eq!(spans.named("quiet").status, Status::Unset);

    let spans = Spans::new();
    let subscriber = tracing_subscriber::registry()
        .with(LoupeLayer::new(spans.tracer()).with_error_events_to_status(false));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("charge").in_scope(|| tracing::error!("card declined"));
    });
    assert_eq!(spans.named("charge").status, Status::Unset);
}

#[test]
fn entering_out_of_order_and_on_several_threads_keeps_the_current_span_right() {
    let spans = Spans::new();
    let tracer = spans.tracer();
    let dispatch = tracing::Dispatch::new(spans.subscriber());
    tracing::dispatcher::with_default(&dispatch, || {
        let a = tracing::info_span!("a");
        let b = tracing::info_span!("b");
        let a_id = a.enter();
        let b_id = b.enter();
        drop(a_id); // out of order: `b` stays current
        let b_loupe = current_span_id().expect("b is current");
        drop(tracer.start("under_b"));
        drop(b_id);
        assert_eq!(current_span_id(), None);

        // The same span entered several times and on several threads at once.
        let shared = tracing::info_span!("shared");
        let _outer = shared.enter();
        let _again = shared.enter();
        std::thread::scope(|s| {
            for _ in 0..2 {
                let shared = shared.clone();
                let dispatch = dispatch.clone();
                s.spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        let _entered = shared.enter();
                        tracing::info_span!("worker").in_scope(|| {});
                    });
                    assert_eq!(current_span_id(), None);
                });
            }
        });
        drop(_again);
        assert!(current_span_id().is_some(), "still entered once");
        drop(_outer);
        assert_eq!(current_span_id(), None);
        assert_eq!(spans.named("under_b").parent_span_id, b_loupe);
    });
    let shared = spans.named("shared");
    let workers = spans.all_named("worker");
    assert_eq!(workers.len(), 2);
    assert!(workers
        .iter()
        .all(|w| w.parent_span_id == shared.span_context.span_id()));
}

#[test]
fn a_span_ends_when_it_was_last_exited_not_when_its_handle_drops() {
    let spans = Spans::new();
    let (exited, dropped) = tracing::subscriber::with_default(spans.subscriber(), || {
        let span = tracing::info_span!("short");
        span.in_scope(|| std::thread::sleep(Duration::from_millis(2)));
        let exited = std::time::SystemTime::now();
        // Some time passes between the last exit and the handle being dropped.
        while std::time::SystemTime::now() <= exited {
            std::hint::spin_loop();
        }
        let dropped = std::time::SystemTime::now();
        drop(span);
        (exited, dropped)
    });
    let short = spans.named("short");
    let took = short.end_time.duration_since(short.start_time).unwrap();
    assert!(took >= Duration::from_millis(2), "{took:?}");
    assert!(
        short.end_time <= exited,
        "ended at the last exit, not at the drop"
    );
    assert!(short.end_time < dropped);
}

// ---------------------------------------------------------------- tracing: events

#[derive(Debug)]
struct Timeout;

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream timed out")
    }
}

impl std::error::Error for Timeout {}

#[test]
fn tracing_events_become_log_records_tied_to_their_span() {
    let spans = Spans::new();
    let captured = Captured::default();
    let logs = captured.provider("info,chatty=warn");
    let layer = LoupeLayer::new(spans.tracer()).with_logs(logs.clone());
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "app::startup", "outside any span");
        let checkout = tracing::info_span!("checkout");
        checkout.in_scope(|| {
            tracing::info!(
                user_id = 42u64,
                premium = true,
                ratio = 0.25,
                "signed in {}",
                "alice"
            );
            tracing::debug!("below the filter");
            tracing::info!(target: "chatty", "below chatty's level");
            let error = Timeout;
            tracing::error!(error = &error as &dyn std::error::Error, "payment failed");
        });
        tracing::warn!(parent: &checkout, "explicit parent, not entered");
    });

    let records = captured.records(&logs);
    let bodies: Vec<_> = records
        .iter()
        .map(|r| r.body.as_ref().map(|b| b.to_string()).unwrap_or_default())
        .collect();
    assert_eq!(
        bodies,
        [
            "outside any span",
            "signed in alice",
            "payment failed",
            "explicit parent, not entered"
        ]
    );
    let checkout = spans.named("checkout");

    let outside = &records[0];
    assert_eq!(outside.scope.name, "app::startup");
    assert!(!outside.trace_id.is_valid());

    let signed_in = &records[1];
    assert_eq!(signed_in.severity_number, 9);
    assert_eq!(signed_in.severity_text, "INFO");
    assert_eq!(signed_in.scope.name, module_path!());
    assert_eq!(signed_in.trace_id, checkout.span_context.trace_id());
    assert_eq!(signed_in.span_id, checkout.span_context.span_id());
    assert!(signed_in.trace_flags.is_sampled());
    assert_eq!(attribute(signed_in, "user_id"), Some(&Value::I64(42)));
    assert_eq!(attribute(signed_in, "premium"), Some(&Value::Bool(true)));
    assert_eq!(attribute(signed_in, "ratio"), Some(&Value::F64(0.25)));
    assert_eq!(
        attribute(signed_in, "message"),
        None,
        "the message is the body"
    );

    let failed = &records[2];
    assert_eq!(failed.severity_text, "ERROR");
    assert_eq!(
        attribute(failed, "exception.message"),
        Some(&Value::from("upstream timed out"))
    );
    assert_eq!(
        attribute(failed, "error"),
        Some(&Value::from("upstream timed out"))
    );

    let explicit = &records[3];
    assert_eq!(explicit.severity_number, 13);
    assert_eq!(explicit.span_id, checkout.span_context.span_id());
}

#[test]
fn events_inside_a_native_loupe_span_carry_its_ids() {
    let spans = Spans::new();
    let captured = Captured::default();
    let logs = captured.provider("info");
    let subscriber = tracing_subscriber::registry()
        .with(LoupeLayer::new(spans.tracer()).with_logs(logs.clone()));
    let native = spans.tracer().start("native");
    tracing::subscriber::with_default(subscriber, || {
        let _current = native.enter();
        tracing::info!("inside the native span");
    });
    let records = captured.records(&logs);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].span_id, native.span_context().span_id());
}

fn chatty_event(n: u64) {
    tracing::debug!(n, payload = ?[n; 4], "retrying {} after {:?}", n, Duration::from_millis(n));
}

#[test]
fn events_below_the_log_filter_allocate_nothing() {
    let spans = Spans::new();
    let captured = Captured::default();
    let logs = captured.provider("info");
    let subscriber = tracing_subscriber::registry()
        .with(LoupeLayer::new(spans.tracer()).with_logs(logs.clone()));
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("request");
        let _entered = span.enter();
        chatty_event(0); // registers the callsite
        let allocations = allocations_in(|| {
            for n in 0..100 {
                chatty_event(n);
            }
        });
        assert_eq!(allocations, 0);
    });
    assert!(captured.records(&logs).is_empty());
}

// ---------------------------------------------------------------- log

fn log_capture() -> &'static (Captured, LoggerProvider) {
    // `log` has one logger per process: install it once for this file.
    static INSTALLED: OnceLock<(Captured, LoggerProvider)> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let captured = Captured::default();
        let provider = captured.provider("warn,my_app=debug");
        loupe::bridge::log::install(provider.clone()).expect("the first logger");
        (captured, provider)
    })
}

#[test]
fn log_macros_land_as_records_with_their_target_level_and_span() {
    let (captured, provider) = log_capture();
    assert_eq!(log::max_level(), log::LevelFilter::Debug);
    let spans = Spans::new();
    let span = spans.tracer().start("job");
    {
        let _current = span.enter();
        log::debug!(target: "my_app::db", "connected to {} in {}ms", "primary", 12);
    }
    log::info!(target: "hyper::client", "dropped: the default is warn");
    log::trace!(target: "my_app", "dropped: my_app keeps debug and up");
    log::error!(target: "hyper::client", "static message");
    let disabled = allocations_in(|| {
        for n in 0..100 {
            log::info!(target: "hyper::client", "dropped {n}: the default is warn");
        }
    });
    assert_eq!(disabled, 0, "disabled log lines allocate nothing");

    let records = captured.records(provider);
    assert_eq!(records.len(), 2, "{records:#?}");
    let db = &records[0];
    assert_eq!(db.scope.name, "my_app::db");
    assert_eq!(db.severity_text, "DEBUG");
    assert_eq!(db.severity_number, 5);
    assert_eq!(db.body, Some(Value::from("connected to primary in 12ms")));
    assert_eq!(db.span_id, span.span_context().span_id());
    assert_eq!(db.trace_id, span.span_context().trace_id());
    let error = &records[1];
    assert_eq!(error.scope.name, "hyper::client");
    assert_eq!(error.severity_number, 17);
    assert_eq!(error.body, Some(Value::from("static message")));
    assert!(!error.trace_id.is_valid());
}

// ---------------------------------------------------------------- metrics

fn sum_points(metrics: &loupe::metrics::ResourceMetrics, name: &str) -> Vec<(Vec<KeyValue>, f64)> {
    let metric = metrics
        .metric(name)
        .unwrap_or_else(|| panic!("no metric {name}"));
    match &metric.data {
        MetricData::Sum { points, .. } | MetricData::Gauge { points } => points
            .iter()
            .map(|p| (p.attributes.to_vec(), p.value.as_f64()))
            .collect(),
        other => panic!("{name} is not a sum or gauge: {other:?}"),
    }
}

#[test]
fn metrics_macros_are_collected_from_loupe_instruments() {
    let provider = MeterProvider::builder().build();
    let recorder = loupe::bridge::metrics::LoupeRecorder::new(provider.meter("my_app"));
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_counter!("jobs.done", metrics::Unit::Count, "Jobs finished");
        metrics::describe_histogram!("job.duration", metrics::Unit::Seconds, "Job time");
        metrics::counter!("jobs.done", "queue" => "email").increment(2);
        let again = metrics::counter!("jobs.done", "queue" => "email");
        again.increment(3);
        let imported = metrics::counter!("jobs.imported");
        imported.absolute(10);
        imported.absolute(7); // stale: ignored
        imported.absolute(12);

        let depth = metrics::gauge!("queue.depth", "queue" => "email");
        depth.set(5.0);
        depth.increment(2.5);
        depth.decrement(1.0);
        metrics::gauge!("queue.depth", "queue" => "sms").set(-3.0);

        let duration = metrics::histogram!("job.duration");
        duration.record(0.2);
        duration.record(0.02);
        metrics::histogram!("job.duration").record(f64::NAN); // dropped and counted
    });

    let collected = provider.collect();
    let done = sum_points(&collected, "jobs.done");
    assert_eq!(
        done,
        [(vec![KeyValue::new("queue", "email")], 5.0)],
        "one series for one key"
    );
    let done_metric = collected.metric("jobs.done").unwrap();
    assert_eq!(done_metric.unit, "{count}");
    assert_eq!(done_metric.description, "Jobs finished");
    assert!(matches!(
        &done_metric.data,
        MetricData::Sum { is_monotonic: true, points, .. } if points[0].value == NumberValue::U64(5)
    ));
    assert_eq!(sum_points(&collected, "jobs.imported"), [(vec![], 12.0)]);

    let mut depth = sum_points(&collected, "queue.depth");
    depth.sort_by(|a, b| a.1.total_cmp(&b.1));
    assert_eq!(
        depth,
        [
            (vec![KeyValue::new("queue", "sms")], -3.0),
            (vec![KeyValue::new("queue", "email")], 6.5),
        ]
    );

    let duration = collected.metric("job.duration").unwrap();
    assert_eq!(duration.unit, "s");
    let MetricData::Histogram { points, .. } = &duration.data else {
        panic!("{duration:?}")
    };
    assert_eq!(points[0].count, 2);
    assert!((points[0].sum - 0.22).abs() < 1e-9);
}

#[test]
fn a_name_registered_as_two_kinds_records_only_the_first() {
    let provider = MeterProvider::builder().build();
    let recorder = loupe::bridge::metrics::LoupeRecorder::new(provider.meter("my_app"));
    let conflicts = loupe::common::stats::sdk_stats().instrument_conflicts.get();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("queue").increment(1);
        metrics::gauge!("queue").set(4.0); // a conflict: a no-op handle
        metrics::counter!("queue").increment(1);
    });
    assert_eq!(sum_points(&provider.collect(), "queue"), [(vec![], 2.0)]);
    assert!(loupe::common::stats::sdk_stats().instrument_conflicts.get() > conflicts);
}
