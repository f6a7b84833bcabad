//! HTTP integration: a tower layer for servers (axum) and traced `reqwest` calls for
//! clients, so one trace follows a request from service to service.
//!
//! The server side, [`HttpServerLayer`], extracts the caller's context with the global
//! propagator ([`crate::propagation::set_text_map_propagator`]; W3C Trace Context and
//! Baggage by default), starts a `SERVER` span named `{method} {route}` with the
//! semantic-convention attributes (`http.request.method`, `http.route`, `url.path`,
//! `url.scheme`, `server.address`, `http.response.status_code`, …), keeps it current
//! while the handler runs, and records the `http.server.request.duration` histogram.
//!
//! The client side, [`send`] (or [`TracedRequest::send_traced`]), starts a `CLIENT`
//! span — a fresh span id for the hop — injects it into the outgoing headers, and records
//! `http.client.request.duration`.
//!
//! ```no_run
//! # async fn demo(tracer: loupe::trace::Tracer, meter: loupe::metrics::Meter) -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{routing::get, Router};
//! use loupe::web::{HttpServerLayer, TracedRequest};
//!
//! // Server: every request gets a server span, child of the caller's span.
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "ok" }))
//!     .layer(HttpServerLayer::new(tracer.clone(), &meter));
//!
//! // Client: the call gets a client span, and the callee sees it as its parent.
//! let response = reqwest::Client::new()
//!     .get("http://127.0.0.1:8080/users/7")
//!     .send_traced(&tracer)
//!     .await?;
//! # drop((app, response)); Ok(()) }
//! ```

use crate::common::attribute::KeyValue;
use crate::metrics::{Histogram, Meter};
use crate::propagation::with_text_map_propagator;
use crate::trace::{Context, FutureExt, Span, SpanKind, Status, Tracer, WithContext};
use pin_project_lite::pin_project;
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

/// The semantic conventions' advisory buckets for HTTP durations, in seconds.
pub const HTTP_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

fn duration_histogram(
    meter: &Meter,
    name: &'static str,
    description: &'static str,
) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(HTTP_DURATION_BUCKETS.to_vec())
        .build()
        // Registered here first or identically elsewhere; a conflicting registration by the
        // application is reported by the meter and the layer records nothing.
        .unwrap_or_else(|_| Histogram::noop())
}

/// `server.address` and `server.port` from the `Host` header (or the URI's authority).
fn server_address(req_uri: &http::Uri, headers: &http::HeaderMap) -> Option<(String, Option<u16>)> {
    let authority = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<http::uri::Authority>().ok())
        .or_else(|| req_uri.authority().cloned())?;
    Some((authority.host().to_owned(), authority.port_u16()))
}

fn method_attr(method: &http::Method) -> Cow<'static, str> {
    // Known methods are static strings; others are `_OTHER`, as the conventions ask, so a
    // client cannot create unbounded series.
    Cow::Borrowed(match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::PATCH => "PATCH",
        http::Method::HEAD => "HEAD",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::CONNECT => "CONNECT",
        http::Method::TRACE => "TRACE",
        _ => "_OTHER",
    })
}

fn protocol_version(v: http::Version) -> Option<&'static str> {
    Some(match v {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_11 => "1.1",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// A tower layer that traces and measures every request a server handles. Add it with
/// `Router::layer` so that the matched route (`/users/{id}`) names spans and series.
#[derive(Clone)]
pub struct HttpServerLayer {
    tracer: Tracer,
    duration: Histogram<f64>,
}

impl std::fmt::Debug for HttpServerLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServerLayer")
            .field("scope", &self.tracer.scope().name)
            .finish()
    }
}

impl HttpServerLayer {
    /// Server spans from `tracer`; `http.server.request.duration` on `meter`.
    pub fn new(tracer: Tracer, meter: &Meter) -> Self {
        HttpServerLayer {
            tracer,
            duration: duration_histogram(
                meter,
                "http.server.request.duration",
                "Duration of HTTP server requests.",
            ),
        }
    }
}

impl<S> tower_layer::Layer<S> for HttpServerLayer {
    type Service = HttpServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpServerService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`HttpServerLayer`] wraps around a handler.
#[derive(Clone, Debug)]
pub struct HttpServerService<S> {
    inner: S,
    layer: HttpServerLayer,
}

impl<S, B, ResB> tower_service::Service<http::Request<B>> for HttpServerService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<ResB>>,
{
    type Response = http::Response<ResB>;
    type Error = S::Error;
    type Future = ServerFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let parent = with_text_map_propagator(|p| {
            p.extract_with_context(&Context::current(), req.headers())
        });
        let method = method_attr(req.method());
        let route = req
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map(|p| p.as_str().to_owned());
        let name = match &route {
            Some(route) => format!("{method} {route}"),
            None => method.to_string(),
        };
        let mut attributes = vec![
            KeyValue::new("http.request.method", method.clone()),
            KeyValue::new("url.path", req.uri().path().to_owned()),
            KeyValue::new(
                "url.scheme",
                req.uri().scheme_str().unwrap_or("http").to_owned(),
            ),
        ];
        if let Some(route) = &route {
            attributes.push(KeyValue::new("http.route", route.clone()));
        }
        if let Some(query) = req.uri().query() {
            attributes.push(KeyValue::new("url.query", query.to_owned()));
        }
        if let Some((host, port)) = server_address(req.uri(), req.headers()) {
            attributes.push(KeyValue::new("server.address", host));
            if let Some(port) = port {
                attributes.push(KeyValue::new("server.port", i64::from(port)));
            }
        }
        if let Some(v) = protocol_version(req.version()) {
            attributes.push(KeyValue::new("network.protocol.version", v));
        }
        if let Some(agent) = req
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
        {
            attributes.push(KeyValue::new("user_agent.original", agent.to_owned()));
        }
        let span = self
            .layer
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_parent_context(&parent)
            .with_attributes(attributes)
            .start();
        let cx = parent.with_span_context(span.span_context().clone());
        ServerFuture {
            inner: self.inner.call(req).with_context(cx),
            span: Some(span),
            started,
            method,
            route,
            duration: self.layer.duration.clone(),
        }
    }
}

pin_project! {
    /// The response future of [`HttpServerService`]: ends the span and records the
    /// duration when the response is ready (or the request fails or is cancelled).
    pub struct ServerFuture<F> {
        #[pin]
        inner: WithContext<F>,
        span: Option<Span>,
        started: Instant,
        method: Cow<'static, str>,
        route: Option<String>,
        duration: Histogram<f64>,
    }
}

impl<F, ResB, E> Future for ServerFuture<F>
where
    F: Future<Output = Result<http::Response<ResB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match this.inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        let mut attrs = vec![KeyValue::new("http.request.method", this.method.clone())];
        if let Some(route) = this.route.as_ref() {
            attrs.push(KeyValue::new("http.route", route.clone()));
        }
        let mut span = this.span.take();
        match &result {
            Ok(response) => {
                let status = response.status().as_u16();
                attrs.push(KeyValue::new(
                    "http.response.status_code",
                    i64::from(status),
                ));
                if let Some(span) = span.as_mut() {
                    span.set_attribute("http.response.status_code", i64::from(status));
                    // Server spans are errors on 5xx only; 4xx is the client's problem.
                    if status >= 500 {
                        span.set_status(Status::error(""));
                        span.set_attribute("error.type", status.to_string());
                    }
                }
                if status >= 500 {
                    attrs.push(KeyValue::new("error.type", status.to_string()));
                }
            }
            Err(_) => {
                attrs.push(KeyValue::new("error.type", "_OTHER"));
                if let Some(span) = span.as_mut() {
                    span.set_status(Status::error("the service failed"));
                    span.set_attribute("error.type", "_OTHER");
                }
            }
        }
        attrs.push(KeyValue::new("url.scheme", "http"));
        this.duration
            .record(this.started.elapsed().as_secs_f64(), &attrs);
        if let Some(mut span) = span {
            span.end();
        }
        Poll::Ready(result)
    }
}

/// Sends `request` inside a `CLIENT` span (a child of the current span), with the span's
/// context injected into the headers by the global propagator. The span records the
/// method, `url.full`, `server.address`/`server.port` and the response status; 4xx and
/// 5xx responses and transport errors mark it as an error.
#[cfg(feature = "http-export")]
pub async fn send(
    tracer: &Tracer,
    request: reqwest::RequestBuilder,
) -> reqwest::Result<reqwest::Response> {
    let (client, request) = request.build_split();
    let mut request = request?;
    let method = method_attr(request.method());
    let url = request.url();
    let mut attributes = vec![
        KeyValue::new("http.request.method", method.clone()),
        KeyValue::new("url.full", redact_url(url)),
    ];
    if let Some(host) = url.host_str() {
        attributes.push(KeyValue::new("server.address", host.to_owned()));
    }
    if let Some(port) = url.port_or_known_default() {
        attributes.push(KeyValue::new("server.port", i64::from(port)));
    }
    let mut span = tracer
        .span_builder(method.clone())
        .with_kind(SpanKind::Client)
        .with_attributes(attributes)
        .start();
    let cx = Context::current().with_span_context(span.span_context().clone());
    with_text_map_propagator(|p| p.inject_context(&cx, request.headers_mut()));
    let result = client.execute(request).with_context(cx).await;
    match &result {
        Ok(response) => {
            let status = response.status().as_u16();
            span.set_attribute("http.response.status_code", i64::from(status));
            if status >= 400 {
                span.set_status(Status::error(""));
                span.set_attribute("error.type", status.to_string());
            }
        }
        Err(e) => {
            span.record_error(e);
            span.set_attribute(
                "error.type",
                if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connect"
                } else {
                    "_OTHER"
                },
            );
        }
    }
    span.end();
    result
}

/// `url.full` without credentials, as the conventions require.
#[cfg(feature = "http-export")]
fn redact_url(url: &reqwest::Url) -> String {
    if url.password().is_none() && url.username().is_empty() {
        return url.as_str().to_owned();
    }
    let mut clean = url.clone();
    let _ = clean.set_username("REDACTED");
    let _ = clean.set_password(Some("REDACTED"));
    clean.to_string()
}

/// `.send_traced(&tracer)` on a `reqwest::RequestBuilder`: [`send`] as a method.
#[cfg(feature = "http-export")]
pub trait TracedRequest {
    /// Sends the request in a client span with the trace context injected.
    fn send_traced(
        self,
        tracer: &Tracer,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send;
}

#[cfg(feature = "http-export")]
impl TracedRequest for reqwest::RequestBuilder {
    fn send_traced(
        self,
        tracer: &Tracer,
    ) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send {
        let tracer = tracer.clone();
        async move { send(&tracer, self).await }
    }
}
