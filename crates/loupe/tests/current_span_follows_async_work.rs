//! The current span survives `.await` (even when the task moves threads) and is inherited
//! by spawned tasks, so their spans become children.

use loupe::trace::{Context, FutureExt, InMemorySpanExporter, SimpleSpanProcessor, TracerProvider};
use std::time::Duration;

fn pipeline() -> (TracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build()
        .unwrap();
    (provider, exporter)
}

fn current_span_id() -> Option<loupe::trace::SpanId> {
    Context::current().span_context().map(|sc| sc.span_id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_span_keeps_the_span_current_across_awaits_and_ends_it() {
    let (provider, exporter) = pipeline();
    let tracer = provider.tracer("test");
    let span = tracer.start("request");
    let id = span.span_context().span_id();
    let inner_tracer = tracer.clone();
    async move {
        for _ in 0..20 {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
            assert_eq!(current_span_id(), Some(id));
        }
        inner_tracer.start("db.query");
    }
    .in_span(span)
    .await;
    assert_eq!(
        current_span_id(),
        None,
        "the span is not current outside the future"
    );
    let request = exporter
        .span("request")
        .expect("ended when the future completed");
    assert_eq!(
        exporter.span("db.query").unwrap().parent_span_id,
        request.span_context.span_id()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_tasks_inherit_the_current_span() {
    let (provider, exporter) = pipeline();
    let tracer = provider.tracer("test");
    let parent = tracer.start("publish");
    let parent_id = parent.span_context().span_id();
    let handle = {
        let _current = parent.enter();
        let tracer = tracer.clone();
        loupe::trace::spawn(async move {
            tokio::task::yield_now().await;
            tracer.start("consume");
        })
    };
    handle.await.unwrap();
    drop(parent);
    assert_eq!(exporter.span("consume").unwrap().parent_span_id, parent_id);
}

#[tokio::test(flavor = "current_thread")]
async fn with_current_context_captures_the_context_at_creation() {
    let (provider, _exporter) = pipeline();
    let span = provider.tracer("test").start("outer");
    let id = span.span_context().span_id();
    let future = {
        let _current = span.enter();
        async move { current_span_id() }.with_current_context()
    };
    assert_eq!(current_span_id(), None);
    assert_eq!(future.await, Some(id));
}

#[tokio::test(flavor = "current_thread")]
async fn a_cancelled_future_still_ends_its_span() {
    let (provider, exporter) = pipeline();
    let span = provider.tracer("test").start("slow");
    let never = std::future::pending::<()>().in_span(span);
    let timed_out = tokio::time::timeout(Duration::from_millis(10), never).await;
    assert!(timed_out.is_err());
    assert!(
        exporter.span("slow").is_some(),
        "dropping the future ended the span"
    );
}
