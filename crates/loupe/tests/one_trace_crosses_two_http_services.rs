//! Two axum services on loopback, one calling the other through `reqwest`: the trace
//! context crosses the HTTP hop (W3C `traceparent` and `baggage`), every span lands in
//! one trace with the right parents, and the server layer records
//! `http.server.request.duration` by route.

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use loupe::metrics::{MeterProvider, MetricData};
use loupe::propagation::{get_baggage, with_baggage, BaggageItem};
use loupe::trace::{
    Context, FutureExt, InMemorySpanExporter, SimpleSpanProcessor, SpanKind, Status, Tracer,
    TracerProvider,
};
use loupe::web::{HttpServerLayer, TracedRequest};
use loupe::{Resource, Value};
use std::net::SocketAddr;

fn provider(service: &'static str, exporter: &InMemorySpanExporter) -> TracerProvider {
    TracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(service).build())
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build()
        .unwrap()
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The inventory service: reads the caller's baggage and does some traced work.
fn inventory(tracer: Tracer, meters: &MeterProvider) -> Router {
    let work = tracer.clone();
    Router::new()
        .route(
            "/stock/{sku}",
            get(move |Path(sku): Path<String>| {
                let tracer = work.clone();
                async move {
                    let tenant = get_baggage(&Context::current(), "tenant.id")
                        .unwrap_or("none")
                        .to_owned();
                    let mut span = tracer.start("reserve_stock");
                    span.set_attribute("sku", sku.clone());
                    span.set_attribute("tenant.id", tenant.clone());
                    format!("{sku} reserved for {tenant}")
                }
            }),
        )
        .route(
            "/fail",
            get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down") }),
        )
        .layer(HttpServerLayer::new(tracer, &meters.meter("inventory")))
}

/// The checkout service: calls inventory with a traced client request.
fn checkout(tracer: Tracer, meters: &MeterProvider, inventory: SocketAddr) -> Router {
    let client_tracer = tracer.clone();
    Router::new()
        .route(
            "/checkout/{sku}",
            get(move |Path(sku): Path<String>| {
                let tracer = client_tracer.clone();
                async move {
                    let cx = with_baggage(
                        &Context::current(),
                        [BaggageItem::new("tenant.id", "acme-corp")],
                    );
                    async move {
                        reqwest::Client::new()
                            .get(format!("http://{inventory}/stock/{sku}"))
                            .send_traced(&tracer)
                            .await
                            .unwrap()
                            .text()
                            .await
                            .unwrap()
                    }
                    .with_context(cx)
                    .await
                }
            }),
        )
        .layer(HttpServerLayer::new(tracer, &meters.meter("checkout")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_through_two_services_is_one_trace() {
    let exporter = InMemorySpanExporter::default();
    let (checkout_traces, inventory_traces) = (
        provider("checkout", &exporter),
        provider("inventory", &exporter),
    );
    let meters = MeterProvider::builder().build();
    let inventory_addr = serve(inventory(inventory_traces.tracer("inventory"), &meters)).await;
    let checkout_addr = serve(checkout(
        checkout_traces.tracer("checkout"),
        &meters,
        inventory_addr,
    ))
    .await;

    // An outside caller with its own trace: the whole chain must join it.
    let caller_traces = provider("caller", &exporter);
    let caller = caller_traces.tracer("caller");
    let root = caller.start("user_click");
    let root_cx = Context::current().with_span_context(root.span_context().clone());
    let body = reqwest::Client::new()
        .get(format!("http://{checkout_addr}/checkout/sku-42?qty=1"))
        .send_traced(&caller)
        .with_context(root_cx)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "sku-42 reserved for acme-corp");
    drop(root);

    let spans = exporter.finished_spans();
    let find = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name} in {:#?}", spans))
    };
    let root = find("user_click");
    let caller_client = spans
        .iter()
        .find(|s| s.kind == SpanKind::Client && s.parent_span_id == root.span_context.span_id())
        .expect("the caller's client span");
    let checkout_server = find("GET /checkout/{sku}");
    let checkout_client = spans
        .iter()
        .find(|s| {
            s.kind == SpanKind::Client && s.parent_span_id == checkout_server.span_context.span_id()
        })
        .expect("checkout's client span");
    let inventory_server = find("GET /stock/{sku}");
    let reserve = find("reserve_stock");

    let trace_id = root.span_context.trace_id();
    for s in [
        caller_client,
        checkout_server,
        checkout_client,
        inventory_server,
        reserve,
    ] {
        assert_eq!(
            s.span_context.trace_id(),
            trace_id,
            "{} left the trace",
            s.name
        );
    }
    assert_eq!(checkout_server.kind, SpanKind::Server);
    assert_eq!(
        checkout_server.parent_span_id,
        caller_client.span_context.span_id()
    );
    assert_eq!(
        inventory_server.parent_span_id,
        checkout_client.span_context.span_id()
    );
    assert_eq!(
        reserve.parent_span_id,
        inventory_server.span_context.span_id()
    );
    assert!(checkout_server.span_context.is_sampled());

    // Semantic-convention attributes on both sides of the hop.
    let attr = |s: &loupe::trace::SpanData, k: &str| s.attribute(k).cloned();
    assert_eq!(
        attr(checkout_server, "http.route"),
        Some(Value::from("/checkout/{sku}"))
    );
    assert_eq!(
        attr(checkout_server, "http.request.method"),
        Some(Value::from("GET"))
    );
    assert_eq!(
        attr(checkout_server, "url.path"),
        Some(Value::from("/checkout/sku-42"))
    );
    assert_eq!(
        attr(checkout_server, "url.query"),
        Some(Value::from("qty=1"))
    );
    assert_eq!(
        attr(checkout_server, "http.response.status_code"),
        Some(Value::I64(200))
    );
    assert_eq!(
        attr(checkout_client, "url.full"),
        Some(Value::from(format!("http://{inventory_addr}/stock/sku-42")))
    );
    assert_eq!(
        attr(checkout_client, "server.port"),
        Some(Value::I64(i64::from(inventory_addr.port())))
    );
    // Baggage crossed the hop with the trace.
    assert_eq!(attr(reserve, "tenant.id"), Some(Value::from("acme-corp")));

    // A 5xx marks the server span as an error, and every request was measured by route.
    let failed = reqwest::get(format!("http://{inventory_addr}/fail"))
        .await
        .unwrap();
    assert_eq!(failed.status().as_u16(), 503);
    let spans = exporter.finished_spans();
    let fail = spans.iter().find(|s| s.name == "GET /fail").unwrap();
    assert!(
        matches!(fail.status, Status::Error { .. }),
        "{:?}",
        fail.status
    );
    assert_eq!(fail.attribute("error.type"), Some(&Value::from("503")));

    let metrics = meters.collect();
    let routes: Vec<(String, u64)> = metrics
        .metrics()
        .filter(|(_, m)| m.name == "http.server.request.duration")
        .flat_map(|(_, m)| match &m.data {
            MetricData::Histogram { points, .. } => points
                .iter()
                .map(|p| {
                    let route = p
                        .attributes
                        .iter()
                        .find(|kv| kv.key.as_str() == "http.route")
                        .map(|kv| kv.value.to_string())
                        .unwrap_or_default();
                    (route, p.count)
                })
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    for route in ["/checkout/{sku}", "/stock/{sku}", "/fail"] {
        assert!(
            routes.iter().any(|(r, n)| r == route && *n == 1),
            "{route} not measured once: {routes:?}"
        );
    }
    let unit = metrics
        .metrics()
        .find(|(_, m)| m.name == "http.server.request.duration")
        .map(|(_, m)| m.unit.clone());
    assert_eq!(unit.as_deref(), Some("s"));
}
