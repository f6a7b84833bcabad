//! Coverage (seed 000 §8.3): every plugin and component of the examples produces the
//! spans and counters it should, checked through `MockTelemetry`. The components are the
//! examples' own code (`examples/workloads/`), not copies.

#[path = "../examples/workloads/bus.rs"]
#[allow(dead_code)]
mod bus;
#[path = "../examples/workloads/clusterdb.rs"]
#[allow(dead_code)]
mod clusterdb;
#[path = "../examples/workloads/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "../examples/workloads/llm.rs"]
#[allow(dead_code)]
mod llm;
#[path = "../examples/workloads/stream.rs"]
#[allow(dead_code)]
mod stream;

use loupe::facade::MockSpan;
use loupe::facade::SpanStatus;
use loupe::logs::{InMemoryLogSink, LoggerProvider};
use loupe::packs::llm::{LLMMetrics, LlmMetricsConfig};
use loupe::packs::plugin::names;
use loupe::MockTelemetry;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn ended(mock: &MockTelemetry) -> Vec<MockSpan> {
    mock.spans().into_iter().filter(|s| s.ended).collect()
}

#[test]
fn every_plugin_of_the_message_bus_records_spans_and_counters() {
    let mock = MockTelemetry::new();
    let bus = bus::Bus::start(Arc::new(mock.clone()))
        .unwrap()
        .with_pace(0.0);
    for seq in 0..30 {
        bus.deliver(seq);
    }
    bus.stop().unwrap();

    for plugin in ["validator", "transcription", "database"] {
        let spans: Vec<_> = mock
            .spans()
            .into_iter()
            .filter(|s| s.attributes.get("plugin.name").map(String::as_str) == Some(plugin))
            .collect();
        assert!(
            spans.iter().any(|s| s.name == names::PROCESS_MESSAGE_SPAN),
            "plugin {plugin} recorded no {} span",
            names::PROCESS_MESSAGE_SPAN
        );
        assert!(
            spans.iter().all(|s| s.ended),
            "plugin {plugin} left a span open"
        );
        let received: u64 = mock
            .counter_calls()
            .iter()
            .filter(|(name, _, attrs)| {
                name == names::MESSAGES_RECEIVED
                    && attrs.get("plugin.name").map(String::as_str) == Some(plugin)
            })
            .map(|(_, value, _)| value)
            .sum();
        assert!(received > 0, "plugin {plugin} counted no received message");
        let lifecycle = mock
            .counter_calls()
            .iter()
            .filter(|(name, _, attrs)| {
                name == names::LIFECYCLE_EVENTS
                    && attrs.get("plugin.name").map(String::as_str) == Some(plugin)
            })
            .count();
        assert_eq!(lifecycle, 2, "plugin {plugin}: init and shutdown");
    }
    // Messages 7, 17 and 27 fail validation; 5 and 18 meet the failing provider.
    assert_eq!(mock.counter_total(names::MESSAGES_RECEIVED), 30 + 27 + 25);
    let errors = mock.counter_calls();
    let errors: Vec<_> = errors
        .iter()
        .filter(|(name, ..)| name == names::ERRORS)
        .collect();
    assert!(
        errors
            .iter()
            .any(|(_, _, attrs)| attrs.get("error.type").map(String::as_str)
                == Some("external_service")),
        "the transcription failure is classified: {errors:?}"
    );
    assert!(mock
        .spans()
        .iter()
        .any(|s| s.name == names::PROCESS_MESSAGE_SPAN
            && matches!(s.status, Some((SpanStatus::Error, _)))));
    assert!(!mock.histogram_values(names::QUEUE_LATENCY_MS).is_empty());
    assert!(!mock
        .histogram_values(names::END_TO_END_LATENCY_MS)
        .is_empty());
}

#[test]
fn each_delivery_records_the_spans_the_demo_counts_in_one_trace() {
    let mock = MockTelemetry::new();
    let bus = bus::Bus::start(Arc::new(mock.clone()))
        .unwrap()
        .with_pace(0.0);
    // 7: rejected by the validator; 5: failed in transcription; 1: stored.
    for (seq, expected) in [
        (7, bus::Delivery::Rejected),
        (5, bus::Delivery::Failed),
        (1, bus::Delivery::Stored),
    ] {
        mock.reset();
        assert_eq!(bus.deliver(seq), expected);
        let spans = ended(&mock);
        assert_eq!(
            spans.len() as u64,
            expected.spans(),
            "{expected:?}: {spans:#?}"
        );
        let publish = spans
            .iter()
            .find(|s| s.name == names::PUBLISH_SPAN)
            .expect("a publish span");
        assert!(
            spans.iter().all(|s| s.trace_id == publish.trace_id),
            "{expected:?}: one trace per message"
        );
    }
}

#[test]
fn the_llm_gateway_records_every_request_on_every_path() {
    let mock = MockTelemetry::new();
    let metrics = LLMMetrics::new(mock.meter(), LlmMetricsConfig::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let outcomes: Vec<_> = runtime.block_on(async {
        let mut outcomes = Vec::new();
        for n in 0..20 {
            outcomes.push(llm::handle(mock.tracer(), &metrics, n, 0.1).await);
        }
        outcomes
    });
    let count = |o| outcomes.iter().filter(|x| **x == o).count() as u64;
    assert!(count(llm::Outcome::Failed) >= 1, "{outcomes:?}");
    assert!(count(llm::Outcome::TimedOut) >= 1, "{outcomes:?}");

    assert_eq!(mock.counter_total("llm_simulator_requests_total"), 20);
    assert_eq!(
        mock.counter_total("llm_simulator_errors_total"),
        count(llm::Outcome::Failed) + count(llm::Outcome::TimedOut)
    );
    assert_eq!(
        mock.counter_total("llm_simulator_active_requests"),
        0,
        "every path ends its request"
    );
    assert_eq!(
        mock.histogram_count("llm_simulator_request_duration_seconds"),
        20
    );
    let requests: Vec<_> = ended(&mock)
        .into_iter()
        .filter(|s| s.name == "llm.request")
        .collect();
    assert_eq!(requests.len(), 20);
    for request in &requests {
        assert!(request.attributes.contains_key("llm.provider"));
        let calls: Vec<_> = ended(&mock)
            .into_iter()
            .filter(|s| s.parent_id.as_ref() == Some(&request.span_id))
            .collect();
        assert_eq!(calls.len(), 1, "one provider call under {request:?}");
        assert_eq!(calls[0].name, "llm.provider.call");
    }
    let failed = requests
        .iter()
        .filter(|s| matches!(s.status, Some((SpanStatus::Error, _))))
        .count() as u64;
    assert_eq!(
        failed,
        count(llm::Outcome::Failed) + count(llm::Outcome::TimedOut)
    );
}

#[test]
fn the_stream_pipeline_records_the_stage_hierarchy_and_the_query_metrics() {
    let mock = MockTelemetry::new();
    let mut pipeline = stream::Pipeline::new(mock.tracer(), mock.meter()).unwrap();
    for _ in 0..4 {
        pipeline.run_batch();
    }
    pipeline.finish();
    let events = 4 * stream::BATCH as u64;

    let spans = ended(&mock);
    // The mock's tracer samples everything.
    assert_eq!(spans.len() as u64, pipeline.sampled_spans());
    let roots: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "query.execution")
        .collect();
    assert_eq!(roots.len(), 4 * pipeline.queries.len());
    for root in roots {
        let mut stages: Vec<_> = spans
            .iter()
            .filter(|s| s.parent_id.as_ref() == Some(&root.span_id))
            .map(|s| s.name.as_str())
            .collect();
        stages.sort_unstable();
        assert_eq!(
            stages,
            [
                "aggregation.processing",
                "event.ingestion",
                "filter.processing",
                "output.emission",
                "window.processing",
            ],
            "the stages of {root:?}"
        );
    }
    assert_eq!(
        mock.counter_total("query_events_processed_total"),
        events * pipeline.queries.len() as u64
    );
    assert_eq!(mock.counter_total("stream_events_received_total"), events);
    // avg_price passes everything: two windows of 1,000 fired.
    assert!(mock.counter_total("processor.window.triggers") >= 2);
    assert!(mock.counter_total("query_events_emitted_total") >= 2);
    assert_eq!(
        mock.histogram_count("query_latency_seconds"),
        4 * pipeline.queries.len() as u64
    );
}

#[test]
fn the_database_node_records_a_span_a_count_and_a_duration_per_query() {
    let mock = MockTelemetry::new();
    let captured = InMemoryLogSink::default();
    let logs = LoggerProvider::builder()
        .with_sink(captured.clone())
        .build()
        .unwrap();
    let queries =
        clusterdb::Queries::new(mock.tracer(), mock.meter(), logs.logger("clusterdb"), 0.05)
            .unwrap();
    for n in 1..=50 {
        queries.run(n);
    }
    logs.force_flush(Duration::from_secs(5)).unwrap();

    assert_eq!(mock.counter_total("db.queries"), 50);
    assert_eq!(mock.histogram_count("db.query.duration"), 50);
    let spans = ended(&mock);
    assert_eq!(spans.len(), 50);
    let writes = spans
        .iter()
        .filter(|s| s.attributes.get("db.operation.name").map(String::as_str) == Some("write"))
        .count();
    assert_eq!(writes, 12);
    // Queries 25 and 50 are slow by construction; others may be slow on a busy machine.
    let slow = captured.records().len();
    assert!(slow >= 2, "{slow} slow-query warnings");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_http_services_record_server_and_client_spans_in_one_trace() {
    let mock = MockTelemetry::new();
    let logs = LoggerProvider::builder().build().unwrap();
    let inventory = http::serve(http::inventory(
        mock.tracer().clone(),
        mock.meter(),
        logs.logger("inventory"),
    ))
    .await
    .unwrap();
    let frontend = http::serve(http::frontend(
        mock.tracer().clone(),
        mock.meter(),
        inventory,
    ))
    .await
    .unwrap();
    let body = reqwest::get(format!("http://{frontend}/checkout/sku-1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "sku-1 reserved for acme");

    // Server spans end once the response is on its way: wait for all three.
    let deadline = Instant::now() + Duration::from_secs(10);
    let spans = loop {
        let spans = ended(&mock);
        if spans.len() >= 3 || Instant::now() > deadline {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let named = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
    };
    let checkout = named("GET /checkout/{sku}");
    let stock = named("GET /stock/{sku}");
    let client = named("GET");
    assert_eq!(client.parent_id.as_ref(), Some(&checkout.span_id));
    assert_eq!(stock.parent_id.as_ref(), Some(&client.span_id));
    assert!(spans.iter().all(|s| s.trace_id == checkout.trace_id));
    assert_eq!(mock.histogram_count("http.server.request.duration"), 2);
}
