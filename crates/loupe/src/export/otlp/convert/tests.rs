use super::*;
use crate::trace::{SimpleSpanProcessor, TracerProvider};
use prost::Message;

#[test]
fn the_reusing_encoder_produces_the_same_request_as_the_generated_types() {
    let memory = crate::export::InMemorySpanExporter::default();
    let resource = Resource::builder().with_service_name("svc").build();
    let provider = TracerProvider::builder()
        .with_resource(resource.clone())
        .with_span_processor(SimpleSpanProcessor::new(memory.clone()))
        .build()
        .unwrap();
    let a = provider.tracer("a");
    let b = provider.tracer(InstrumentationScope::new("b").with_version("2"));
    a.in_span("outer", |span| {
        span.set_attribute("s", "x");
        span.set_attribute("n", 1i64);
        span.add_event("e", vec![KeyValue::new("k", "v")]);
        let mut inner = b.start("inner");
        inner.set_attribute("f", 1.5);
        inner.set_status(Status::error("bad"));
    });
    let mut plain = a.start("plain");
    plain.set_attribute("s", 7i64);
    drop(plain);
    let spans = memory.finished_spans();
    let expected = trace_request(&resource, &spans);
    let mut encoder = SpanEncoder::default();
    for _ in 0..2 {
        let mut out = Vec::new();
        encoder.encode(&resource, &spans, &mut out);
        let decoded = ExportTraceServiceRequest::decode(out.as_slice()).unwrap();
        assert_eq!(decoded, expected);
        // Byte for byte what prost writes for the whole generated request (with no
        // schema_url set; with one, fields come in another valid order).
        assert_eq!(out, expected.encode_to_vec());
    }
}
