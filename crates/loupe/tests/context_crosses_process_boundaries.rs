//! A trace continues across process boundaries: HTTP headers (as a `HashMap` or an
//! `http::HeaderMap`), messages on a bus (a `TraceContext` inside the message, as seed
//! 000 §6 carries it), with baggage alongside, and per the W3C test suite's rules.

use http::{HeaderMap, HeaderValue};
use loupe::propagation::{
    extract_context, extract_from_headers, from_names, get_baggage, inject_context,
    inject_into_headers, with_baggage, Baggage, BaggageItem, BaggagePropagator, Extractor,
    TextMapPropagator, TraceContextPropagator,
};
use loupe::trace::{
    Context, InMemorySpanExporter, SimpleSpanProcessor, SpanContext, SpanData, SpanId, SpanKind,
    TraceFlags, TraceId, TraceState, TracerProvider,
};
use loupe::TraceContext;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One "service": its own provider and exporter.
fn service() -> (TracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build()
        .unwrap();
    (provider, exporter)
}

fn only_span(exporter: &InMemorySpanExporter) -> SpanData {
    let mut spans = exporter.finished_spans();
    assert_eq!(spans.len(), 1, "{spans:?}");
    spans.remove(0)
}

fn assert_child_of(child: &SpanData, parent: &SpanData) {
    assert_eq!(
        child.span_context.trace_id(),
        parent.span_context.trace_id()
    );
    assert_eq!(child.parent_span_id, parent.span_context.span_id());
    assert!(child.parent_is_remote);
    assert_eq!(
        child.span_context.trace_flags(),
        parent.span_context.trace_flags()
    );
}

#[test]
fn a_hash_map_carrier_makes_the_server_span_a_child_of_the_client_span() {
    let (caller, caller_spans) = service();
    let (callee, callee_spans) = service();

    let mut headers = HashMap::new();
    {
        let client = caller
            .tracer("caller")
            .span_builder("GET /orders")
            .with_kind(SpanKind::Client)
            .start();
        let _current = client.enter();
        inject_context(&Context::current(), &mut headers);
    }

    // The seed 004 way: extract, attach, start spans.
    let cx = extract_from_headers(&headers);
    {
        let _attached = cx.attach();
        callee
            .tracer("callee")
            .span_builder("GET /orders")
            .with_kind(SpanKind::Server)
            .start();
    }
    assert_child_of(&only_span(&callee_spans), &only_span(&caller_spans));
}

#[test]
fn an_http_header_map_carries_the_context_and_tracestate() {
    let (caller, caller_spans) = service();
    let (callee, callee_spans) = service();
    let tracer = caller.tracer("caller");

    let mut headers = HeaderMap::new();
    let upstream = Context::new().with_span_context(SpanContext::new(
        TraceId::random(),
        SpanId::random(),
        TraceFlags::SAMPLED,
        true,
        TraceState::from_header("vendor=abc").unwrap(),
    ));
    {
        let client = tracer
            .span_builder("call")
            .with_parent_context(&upstream)
            .start();
        let cx = Context::new().with_span_context(client.span_context().clone());
        inject_into_headers(&cx, &mut headers);
    }
    assert_eq!(
        headers.get("tracestate").and_then(|v| v.to_str().ok()),
        Some("vendor=abc")
    );
    // A proxy added its own member in a second header: both are read, in order.
    headers.append("TraceState", HeaderValue::from_static("proxy=1"));

    let cx = TraceContextPropagator::new().extract_with_context(&Context::new(), &headers);
    let server = callee
        .tracer("callee")
        .span_builder("serve")
        .with_parent_context(&cx)
        .start();
    assert_eq!(
        server.span_context().trace_state().as_header(),
        "vendor=abc,proxy=1"
    );
    drop(server);
    assert_child_of(&only_span(&callee_spans), &only_span(&caller_spans));
}

/// The seed's `BaseMessage`, reduced to what the hop needs.
#[derive(Serialize, Deserialize)]
struct BaseMessage {
    source: String,
    data: serde_json::Value,
    trace_context: Option<TraceContext>,
    /// Message headers, for what the typed trace context does not carry (baggage).
    headers: HashMap<String, String>,
}

#[test]
fn a_consumer_span_is_a_child_of_the_publisher_span_across_a_message() {
    let (publisher, publisher_spans) = service();
    let (consumer, consumer_spans) = service();

    let json = {
        let publish = publisher
            .tracer("bus")
            .span_builder("message.publish")
            .with_kind(SpanKind::Producer)
            .start();
        let _current = publish.enter();
        let cx = with_baggage(
            &Context::current(),
            [BaggageItem::new("tenant-id", "acme corp").with_metadata("ttl=60")],
        );
        let mut headers = HashMap::new();
        BaggagePropagator::new().inject_context(&cx, &mut headers);
        let message = BaseMessage {
            source: "orders".into(),
            data: serde_json::json!({ "order": 42 }),
            trace_context: TraceContext::current(),
            headers,
        };
        serde_json::to_string(&message).unwrap()
    };
    assert!(
        json.contains("\"trace_flags\":3"),
        "sampled + random: {json}"
    );

    let message: BaseMessage = serde_json::from_str(&json).unwrap();
    assert_eq!(message.source, "orders");
    let parent = message
        .trace_context
        .as_ref()
        .map(TraceContext::to_context)
        .unwrap_or_default();
    let cx = BaggagePropagator::new().extract_with_context(&parent, &message.headers);
    {
        let _attached = cx.attach();
        let span = consumer
            .tracer("bus")
            .span_builder("message.process")
            .with_kind(SpanKind::Consumer)
            .start();
        let _current = span.enter();
        let baggage = Baggage::current();
        let tenant = baggage.item("tenant-id").unwrap();
        assert_eq!((tenant.value(), tenant.metadata()), ("acme corp", "ttl=60"));
    }
    let publish = only_span(&publisher_spans);
    let process = only_span(&consumer_spans);
    assert_child_of(&process, &publish);
}

#[test]
fn a_message_without_trace_context_starts_a_new_trace() {
    let message: BaseMessage = serde_json::from_str(
        r#"{"source":"legacy","data":null,"trace_context":null,"headers":{}}"#,
    )
    .unwrap();
    let cx = message
        .trace_context
        .as_ref()
        .map(TraceContext::to_context)
        .unwrap_or_default();
    assert!(cx.span_context().is_none());
}

#[test]
fn baggage_crosses_two_hops_with_values_intact() {
    let first = with_baggage(
        &Context::new(),
        [
            BaggageItem::new("user-id", "12345"),
            BaggageItem::new("note", "ünïcode, spaces; and = signs"),
        ],
    );
    let mut hop1 = HashMap::new();
    inject_context(&first, &mut hop1);
    assert_eq!(
        hop1["baggage"],
        "user-id=12345,note=%C3%BCn%C3%AFcode%2C%20spaces%3B%20and%20=%20signs"
    );

    // The middle service adds an entry and forwards the rest.
    let middle = with_baggage(&extract_context(&hop1), [BaggageItem::new("hop", "2")]);
    let mut hop2 = HeaderMap::new();
    inject_context(&middle, &mut hop2);

    let last = extract_context(&hop2);
    assert_eq!(get_baggage(&last, "user-id"), Some("12345"));
    assert_eq!(
        get_baggage(&last, "note"),
        Some("ünïcode, spaces; and = signs")
    );
    assert_eq!(get_baggage(&last, "hop"), Some("2"));
}

#[test]
fn an_unsampled_caller_keeps_its_decision_downstream() {
    let mut headers = HashMap::new();
    headers.insert(
        "traceparent".to_string(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".to_string(),
    );
    let (callee, callee_spans) = service();
    let cx = extract_context(&headers);
    let span = callee
        .tracer("callee")
        .span_builder("serve")
        .with_parent_context(&cx)
        .start();
    assert!(
        !span.is_recording(),
        "parent-based sampling follows the caller"
    );
    let mut downstream = HashMap::new();
    inject_context(
        &Context::new().with_span_context(span.span_context().clone()),
        &mut downstream,
    );
    assert!(downstream["traceparent"].starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert!(downstream["traceparent"].ends_with("-00"));
    drop(span);
    assert!(callee_spans.finished_spans().is_empty());
}

#[test]
fn a_b3_caller_continues_into_a_w3c_callee() {
    let service_propagator = from_names(["b3multi", "tracecontext"]).unwrap();
    let mut incoming = HashMap::new();
    for (k, v) in [
        ("X-B3-TraceId", "463ac35c9f6413ad48485a3953bb6124"),
        ("X-B3-SpanId", "a2fb4a1d1a96d312"),
        ("X-B3-Sampled", "1"),
    ] {
        incoming.insert(k.to_string(), v.to_string());
    }
    let cx = service_propagator.extract_with_context(&Context::new(), &incoming);
    let mut outgoing = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut outgoing);
    assert_eq!(
        outgoing["traceparent"],
        "00-463ac35c9f6413ad48485a3953bb6124-a2fb4a1d1a96d312-01"
    );
}

/// Cases from the W3C trace-context test suite (`test/test.py`): what a vendor must
/// accept, and what it must ignore (restarting the trace).
#[test]
fn traceparent_follows_the_w3c_test_suite() {
    const TRACE_ID: &str = "12345678901234567890123456789012";
    let accepted = [
        "00-12345678901234567890123456789012-1234567890123456-01",
        "00-12345678901234567890123456789012-1234567890123456-00",
        // Unknown flags are kept.
        "00-12345678901234567890123456789012-1234567890123456-ff",
        // Future versions, with and without more fields.
        "01-12345678901234567890123456789012-1234567890123456-01",
        "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
        "fe-12345678901234567890123456789012-1234567890123456-01-",
        // Optional white space around the value.
        " 00-12345678901234567890123456789012-1234567890123456-01",
        "00-12345678901234567890123456789012-1234567890123456-01\t",
    ];
    for header in accepted {
        let cx = extract_one("traceparent", header);
        let sc = cx
            .span_context()
            .unwrap_or_else(|| panic!("{header:?} rejected"));
        assert_eq!(sc.trace_id().to_string(), TRACE_ID, "{header:?}");
    }

    let rejected = [
        // Illegal characters and case.
        "00-1234567890123456789012345678901A-1234567890123456-01",
        "00-12345678901234567890123456789012-123456789012345A-01",
        "00-12345678901234567890123456789012-1234567890123456-0A",
        "0A-12345678901234567890123456789012-1234567890123456-01",
        "00-12345678901234567890123456789012-1234567890123456-.1",
        "00-1234567890123456789012345678901.-1234567890123456-01",
        // Version ff, and version 00 with trailing data.
        "ff-12345678901234567890123456789012-1234567890123456-01",
        "00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
        "00-12345678901234567890123456789012-1234567890123456-01-",
        // Future version without a dash after the flags.
        "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-not-be-like",
        // All-zero ids.
        "00-00000000000000000000000000000000-1234567890123456-01",
        "00-12345678901234567890123456789012-0000000000000000-01",
        // Wrong lengths.
        "00-1234567890123456789012345678901-1234567890123456-01",
        "00-123456789012345678901234567890123-1234567890123456-01",
        "00-12345678901234567890123456789012-123456789012345-01",
        "00-12345678901234567890123456789012-12345678901234567-01",
        "00-12345678901234567890123456789012-1234567890123456-1",
        "0-12345678901234567890123456789012-1234567890123456-01",
        "",
    ];
    for header in rejected {
        assert!(
            extract_one("traceparent", header).span_context().is_none(),
            "{header:?} accepted"
        );
    }

    // Two traceparent headers: ambiguous, so a new trace starts.
    let mut headers = HeaderMap::new();
    headers.append("traceparent", HeaderValue::from_static(accepted[0]));
    headers.append(
        "traceparent",
        HeaderValue::from_static("00-12345678901234567890123456789011-1234567890123456-01"),
    );
    assert!(extract_context(&headers).span_context().is_none());
}

#[test]
fn tracestate_follows_the_w3c_test_suite() {
    const PARENT: &str = "00-12345678901234567890123456789012-1234567890123456-01";
    let state = |values: &[&str]| {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static(PARENT));
        for v in values {
            headers.append("tracestate", HeaderValue::from_str(v).unwrap());
        }
        let cx = TraceContextPropagator::new().extract_with_context(&Context::new(), &headers);
        let sc = cx
            .span_context()
            .expect("a bad tracestate never loses the traceparent");
        sc.trace_state().as_header().to_owned()
    };
    let key_256 = format!("{}=v", "k".repeat(256));
    let key_257 = format!("{}=v", "k".repeat(257));
    let tenant_key = format!("{}@{}=v", "t".repeat(241), "s".repeat(14));
    let system_15 = format!("t@{}=v", "s".repeat(15));
    let thirty_two = (0..32)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    let thirty_three = format!("{thirty_two},k32=v");

    assert_eq!(state(&["foo=1", "bar=2"]), "foo=1,bar=2");
    assert_eq!(state(&["foo=1,bar=2", " baz=3 "]), "foo=1,bar=2,baz=3");
    assert_eq!(state(&["foo=1 , \t bar=2"]), "foo=1,bar=2");
    assert_eq!(state(&[" "]), "");
    assert_eq!(state(&[&key_256]), key_256);
    assert_eq!(state(&[&tenant_key]), tenant_key);
    assert_eq!(state(&[&thirty_two]), thirty_two);

    let dropped: [&[&str]; 9] = [
        &["foo=1,foo=2"],
        &["foo=1", "foo=2"],
        &["FOO=1"],
        &["foo=1,bar="],
        &["foo=1,=bar"],
        &["foo=1,bar"],
        &["foo=a=b"],
        &[&key_257, &system_15],
        &[&thirty_three],
    ];
    for values in dropped {
        assert_eq!(state(values), "", "{values:?}");
    }
    assert_eq!(state(&[&key_257]), "");
    assert_eq!(state(&[&system_15]), "");
}

fn extract_one(key: &str, value: &str) -> Context {
    let carrier: HashMap<String, String> = [(key.to_string(), value.to_string())].into();
    assert_eq!(Extractor::get(&carrier, key), Some(value));
    TraceContextPropagator::new().extract_with_context(&Context::new(), &carrier)
}
