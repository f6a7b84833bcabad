//! Two services on loopback, one calling the other, in one trace.
//!
//! `cargo run -p loupe --example http_services`
//!
//! `frontend` serves `/checkout/{sku}` and calls `inventory`'s `/stock/{sku}` with a
//! traced `reqwest` request; both servers use [`HttpServerLayer`]. The context crosses
//! the hop in the W3C `traceparent` and `baggage` headers, logs carry the trace id, and
//! at the end the example prints every trace as a tree and exits. The services are in
//! `workloads/http.rs`, shared with the coverage tests.

#[path = "workloads/http.rs"]
mod http;

use loupe::logs::{ConsoleSink, LogFormat, LoggerProvider};
use loupe::metrics::MeterProvider;
use loupe::trace::{InMemorySpanExporter, SimpleSpanProcessor, SpanData, TracerProvider};
use loupe::Resource;
use std::time::Duration;

fn traces(service: &'static str, exporter: &InMemorySpanExporter) -> TracerProvider {
    TracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(service).build())
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build()
        .expect("a valid tracer provider")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spans = InMemorySpanExporter::default();
    let (frontend, inventory) = (traces("frontend", &spans), traces("inventory", &spans));
    let meters = MeterProvider::builder().build();
    let logs = LoggerProvider::builder()
        .with_sink(ConsoleSink::stdout(LogFormat::Pretty { color: true }))
        .build()?;

    let stock = http::inventory(
        inventory.tracer("inventory"),
        &meters.meter("inventory"),
        logs.logger("inventory::stock"),
    );
    let inventory_addr = http::serve(stock).await?;
    let checkout = http::frontend(
        frontend.tracer("frontend"),
        &meters.meter("frontend"),
        inventory_addr,
    );
    let frontend_addr = http::serve(checkout).await?;

    // A bounded workload: three checkouts from a plain (untraced) client.
    for sku in ["sku-1", "sku-2", "sku-3"] {
        let body = reqwest::get(format!("http://{frontend_addr}/checkout/{sku}"))
            .await?
            .text()
            .await?;
        println!("frontend answered: {body}");
    }
    logs.force_flush(Duration::from_secs(5))?;

    // One tree per trace: the frontend's server span at the root.
    let finished = spans.finished_spans();
    for root in finished.iter().filter(|s| !s.parent_span_id.is_valid()) {
        println!("\ntrace {}", root.span_context.trace_id());
        print_tree(&finished, root, 1);
    }
    Ok(())
}

fn print_tree(all: &[SpanData], span: &SpanData, depth: usize) {
    let took = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    println!(
        "{:indent$}{} [{:?}] {} {:.1?}",
        "",
        span.name,
        span.kind,
        span.span_context.span_id(),
        took,
        indent = depth * 2
    );
    let mut children: Vec<_> = all
        .iter()
        .filter(|c| c.parent_span_id == span.span_context.span_id())
        .collect();
    children.sort_by_key(|c| c.start_time);
    for child in children {
        print_tree(all, child, depth + 1);
    }
}
