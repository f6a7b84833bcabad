//! Two services on loopback, one calling the other, in one trace.
//!
//! `cargo run -p loupe --example http_services`
//!
//! `frontend` serves `/checkout/{sku}` and calls `inventory`'s `/stock/{sku}` with a
//! traced `reqwest` request; both servers use [`HttpServerLayer`]. The context crosses
//! the hop in the W3C `traceparent` and `baggage` headers, logs carry the trace id, and
//! at the end the example prints every trace as a tree and exits.

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use loupe::logs::{ConsoleSink, LogFormat, LoggerProvider};
use loupe::metrics::MeterProvider;
use loupe::propagation::{get_baggage, with_baggage, BaggageItem};
use loupe::trace::{
    Context, FutureExt, InMemorySpanExporter, SimpleSpanProcessor, SpanData, TracerProvider,
};
use loupe::web::{HttpServerLayer, TracedRequest};
use loupe::{log_info, Resource};
use std::net::SocketAddr;
use std::time::Duration;

fn traces(service: &'static str, exporter: &InMemorySpanExporter) -> TracerProvider {
    TracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(service).build())
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build()
        .expect("a valid tracer provider")
}

async fn serve(app: Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spans = InMemorySpanExporter::default();
    let (frontend, inventory) = (traces("frontend", &spans), traces("inventory", &spans));
    let meters = MeterProvider::builder().build();
    let logs = LoggerProvider::builder()
        .with_sink(ConsoleSink::stdout(LogFormat::Pretty { color: true }))
        .build()?;

    // inventory: reads the caller's baggage, logs inside its server span.
    let log = logs.logger("inventory::stock");
    let stock = Router::new()
        .route(
            "/stock/{sku}",
            get(move |Path(sku): Path<String>| async move {
                let tenant = get_baggage(&Context::current(), "tenant.id")
                    .unwrap_or("-")
                    .to_owned();
                log_info!(log, "reserving stock", sku: sku.clone(), tenant: tenant.clone());
                tokio::time::sleep(Duration::from_millis(5)).await;
                format!("{sku} reserved for {tenant}")
            }),
        )
        .layer(HttpServerLayer::new(
            inventory.tracer("inventory"),
            &meters.meter("inventory"),
        ));
    let inventory_addr = serve(stock).await?;

    // frontend: adds baggage and calls inventory with a traced client request.
    let tracer = frontend.tracer("frontend");
    let client_tracer = tracer.clone();
    let checkout = Router::new()
        .route(
            "/checkout/{sku}",
            get(move |Path(sku): Path<String>| {
                let tracer = client_tracer.clone();
                let cx = with_baggage(&Context::current(), [BaggageItem::new("tenant.id", "acme")]);
                async move {
                    let url = format!("http://{inventory_addr}/stock/{sku}");
                    match reqwest::Client::new().get(url).send_traced(&tracer).await {
                        Ok(response) => response.text().await.unwrap_or_default(),
                        Err(e) => format!("inventory unreachable: {e}"),
                    }
                }
                .with_context(cx)
            }),
        )
        .layer(HttpServerLayer::new(
            tracer.clone(),
            &meters.meter("frontend"),
        ));
    let frontend_addr = serve(checkout).await?;

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
