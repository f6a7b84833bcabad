//! Exporter encoding costs: OTLP protobuf encoding of spans, and Prometheus text rendering
//! of 10,000 series beside `prometheus-client`'s encoder, in one run.
//!
//! `cargo bench -p loupe-bench --bench exporters`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use loupe::export::prometheus::{Format, PrometheusExporter};
use loupe::metrics::MeterProvider;
use loupe::trace::{SimpleSpanProcessor, TracerProvider};
use loupe::{KeyValue, Resource};
use std::hint::black_box;

const SPANS: usize = 512;
const SERIES: usize = 10_000;

fn otlp_encoding(c: &mut Criterion) {
    let memory = loupe::export::InMemorySpanExporter::default();
    let resource = Resource::builder().with_service_name("bench").build();
    let provider = TracerProvider::builder()
        .with_resource(resource.clone())
        .with_span_processor(SimpleSpanProcessor::new(memory.clone()))
        .build()
        .unwrap();
    let tracer = provider.tracer("bench");
    for i in 0..SPANS {
        let mut span = tracer.start("GET /api/orders");
        span.set_attribute("http.request.method", "GET");
        span.set_attribute("http.route", "/api/orders");
        span.set_attribute("http.response.status_code", 200i64);
        span.set_attribute("user.id", i as i64);
        span.set_attribute("cache.hit", true);
    }
    let spans = memory.finished_spans();
    assert_eq!(spans.len(), SPANS);
    let bytes = loupe::export::otlp::encode_spans(&resource, &spans).len();
    let mut group = c.benchmark_group("otlp_encode");
    group.throughput(Throughput::Elements(SPANS as u64));
    // As the OTLP exporter does: one encoder kept across exports (its scratch buffers
    // keep their capacity), a fresh body per export (it is handed to the HTTP client).
    let mut encoder = loupe::export::otlp::SpanEncoder::new();
    group.bench_function("loupe/protobuf_512_spans_5_attrs", |b| {
        b.iter(|| {
            let mut body = Vec::new();
            encoder.encode(&resource, black_box(&spans), &mut body);
            black_box(body)
        })
    });
    group.bench_function("loupe/protobuf_512_spans_5_attrs_reused_body", |b| {
        let mut body = Vec::new();
        b.iter(|| {
            body.clear();
            encoder.encode(&resource, black_box(&spans), &mut body);
            black_box(&body);
        })
    });
    group.bench_function("loupe/encode_spans_one_shot", |b| {
        b.iter(|| {
            black_box(loupe::export::otlp::encode_spans(
                &resource,
                black_box(&spans),
            ))
        })
    });
    // The OpenTelemetry SDK's path (what `opentelemetry-otlp` does): convert its span
    // data to the generated types with `opentelemetry-proto`'s transform, then encode
    // with prost. The batch is cloned outside the timing, since the transform consumes it.
    let (otel_spans, otel_resource) = otel_finished_spans();
    group.bench_function("opentelemetry_proto/transform_and_encode", |b| {
        use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
        use prost::Message;
        b.iter_batched(
            || otel_spans.clone(),
            |batch| {
                let request =
                    opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
                        resource_spans: group_spans_by_resource_and_scope(batch, &otel_resource),
                    };
                black_box(request.encode_to_vec())
            },
            criterion::BatchSize::LargeInput,
        )
    });
    // prost's floor: encoding the same request with every generated message already
    // built, so no conversion at all. What any encoder built on the generated types pays.
    let prebuilt = {
        use prost::Message;
        let bytes = loupe::export::otlp::encode_spans(&resource, &spans);
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
            bytes.as_slice(),
        )
        .unwrap()
    };
    group.bench_function("prost/encode_prebuilt_request", |b| {
        use prost::Message;
        let mut body = Vec::new();
        b.iter(|| {
            body.clear();
            black_box(&prebuilt).encode(&mut body).unwrap();
            black_box(&body);
        })
    });
    // The floor per span of any encoder that goes through the generated `Span` message:
    // each of the 512 spans, already converted, encoded on its own by prost (its nested
    // attribute messages included), without the request around them.
    let prebuilt_spans: Vec<_> = prebuilt.resource_spans[0].scope_spans[0].spans.clone();
    assert_eq!(prebuilt_spans.len(), SPANS);
    group.bench_function("prost/encode_prebuilt_span_messages_only", |b| {
        let mut body = Vec::new();
        b.iter(|| {
            body.clear();
            for span in black_box(&prebuilt_spans) {
                prost::encoding::message::encode(2, span, &mut body);
            }
            black_box(&body);
        })
    });
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("loupe/protobuf_512_spans_5_attrs_bytes", |b| {
        b.iter(|| {
            let mut body = Vec::new();
            encoder.encode(&resource, black_box(&spans), &mut body);
            black_box(body)
        })
    });
    group.finish();
}

/// The same 512 spans, recorded with opentelemetry_sdk and collected by a tiny exporter.
fn otel_finished_spans() -> (
    Vec<opentelemetry_sdk::trace::SpanData>,
    opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema,
) {
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use std::sync::{Arc, Mutex};
    #[derive(Debug, Default, Clone)]
    struct Collect(Arc<Mutex<Vec<opentelemetry_sdk::trace::SpanData>>>);
    impl opentelemetry_sdk::trace::SpanExporter for Collect {
        async fn export(
            &self,
            batch: Vec<opentelemetry_sdk::trace::SpanData>,
        ) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.lock().unwrap().extend(batch);
            Ok(())
        }
    }
    let collect = Collect::default();
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("bench")
        .build();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_simple_exporter(collect.clone())
        .build();
    let tracer = provider.tracer("bench");
    for i in 0..SPANS {
        let mut span = tracer.start("GET /api/orders");
        span.set_attribute(opentelemetry::KeyValue::new("http.request.method", "GET"));
        span.set_attribute(opentelemetry::KeyValue::new("http.route", "/api/orders"));
        span.set_attribute(opentelemetry::KeyValue::new(
            "http.response.status_code",
            200i64,
        ));
        span.set_attribute(opentelemetry::KeyValue::new("user.id", i as i64));
        span.set_attribute(opentelemetry::KeyValue::new("cache.hit", true));
    }
    let spans = std::mem::take(&mut *collect.0.lock().unwrap());
    assert_eq!(spans.len(), SPANS);
    (spans, (&resource).into())
}

fn prometheus_text(c: &mut Criterion) {
    let provider = MeterProvider::builder().build();
    let counter = provider
        .meter("bench")
        .u64_counter("http.requests")
        .with_cardinality_limit(SERIES + 1)
        .build()
        .unwrap();
    for i in 0..SERIES {
        counter.add(
            i as u64 + 1,
            &[
                KeyValue::new("route", format!("/api/{}", i % 100)),
                KeyValue::new("instance", format!("node-{}", i / 100)),
            ],
        );
    }
    let exporter = PrometheusExporter::new(&provider)
        .without_scope_labels()
        .without_target_info();
    let collected = provider.collect();

    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Labels {
        route: String,
        instance: String,
    }
    let mut registry = prometheus_client::registry::Registry::default();
    let family = Family::<Labels, Counter>::default();
    registry.register("http_requests", "Requests", family.clone());
    for i in 0..SERIES {
        family
            .get_or_create(&Labels {
                route: format!("/api/{}", i % 100),
                instance: format!("node-{}", i / 100),
            })
            .inc_by(i as u64 + 1);
    }

    let mut group = c.benchmark_group("prometheus_text_10k_series");
    group.throughput(Throughput::Elements(SERIES as u64));
    group.bench_function("loupe/collect_and_render", |b| {
        b.iter(|| black_box(exporter.render(Format::Text)))
    });
    group.bench_function("loupe/render_only", |b| {
        b.iter(|| black_box(exporter.render_metrics(&collected, Format::Text)))
    });
    group.bench_function("prometheus_client/encode", |b| {
        b.iter(|| {
            let mut out = String::with_capacity(1 << 20);
            prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
            black_box(out)
        })
    });
    group.finish();
}

criterion_group!(benches, otlp_encoding, prometheus_text);
criterion_main!(benches);
