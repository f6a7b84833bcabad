//! The two services of the `http_services` example (seed 004's propagation over HTTP):
//! `frontend` serves `/checkout/{sku}` and calls `inventory`'s `/stock/{sku}` with a
//! traced `reqwest` request, adding `tenant.id` baggage; both servers use
//! [`HttpServerLayer`]. Shared by the example and the coverage tests.

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use loupe::log_info;
use loupe::logs::Logger;
use loupe::metrics::Meter;
use loupe::propagation::{get_baggage, with_baggage, BaggageItem};
use loupe::trace::{Context, FutureExt, Tracer};
use loupe::web::{HttpServerLayer, TracedRequest};
use std::net::SocketAddr;
use std::time::Duration;

/// Serves `app` on an ephemeral loopback port.
pub async fn serve(app: Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// `inventory`: reads the caller's baggage and logs inside its server span.
pub fn inventory(tracer: Tracer, meter: &Meter, log: Logger) -> Router {
    Router::new()
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
        .layer(HttpServerLayer::new(tracer, meter))
}

/// `frontend`: adds baggage and calls `inventory` at `inventory_addr` with a traced
/// client request.
pub fn frontend(tracer: Tracer, meter: &Meter, inventory_addr: SocketAddr) -> Router {
    let client_tracer = tracer.clone();
    Router::new()
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
        .layer(HttpServerLayer::new(tracer, meter))
}
