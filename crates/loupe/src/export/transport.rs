//! What the network exporters share: a private I/O runtime, retries with back-off, and HTTP
//! posting that tells retryable failures from permanent ones.
//!
//! Exporters are called on the SDK's own worker threads (or, with a simple processor, on
//! whatever thread ended the span). They must never need the host's Tokio runtime, so all
//! network I/O runs on one small runtime owned by Loupe: a single `loupe-io` thread, started
//! the first time an exporter needs it. A caller waits for its request with a deadline and
//! abandons it (cancelling the task) when the deadline passes.

use crate::common::error::{ConfigError, ExportError};
use crate::common::stats::ExporterStats;
use crate::export::tls::LoadedTls;
use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The runtime every Loupe network exporter and listener runs on.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("loupe-io")
            .enable_all()
            .build()
            // Creating a runtime only fails when the OS refuses a thread or an epoll
            // instance; nothing can be exported then, and this is not on a recording path.
            .expect("loupe: cannot start the I/O runtime thread")
    })
}

/// Runs `future` on the I/O runtime and waits for it at most `timeout`, from any thread
/// (including one inside another Tokio runtime). On timeout the task is cancelled.
pub(crate) fn block_on<F>(future: F, timeout: Duration) -> Result<F::Output, ExportError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let task = runtime().spawn(async move {
        let _ = tx.send(future.await);
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => Ok(out),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            task.abort();
            Err(ExportError::Timeout(timeout))
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(ExportError::failed(
            "the export task ended without an answer (the exporter panicked)",
        )),
    }
}

/// How an exporter retries a failed export.
///
/// Only retryable failures are retried (connection errors, HTTP 429/502/503/504, the
/// retryable gRPC codes), with exponential back-off and jitter, never past the export's
/// deadline. A `Retry-After` (or gRPC `RetryInfo`-style) delay from the server replaces the
/// computed back-off when it is given.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 disables retrying.
    pub max_retries: u32,
    /// The back-off before the first retry.
    pub initial_backoff: Duration,
    /// The longest back-off between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The back-off before retry number `retry` (0-based): `initial × 2^retry`, capped, with
    /// "equal jitter" (a random point in its upper half), so clients spread out.
    pub fn backoff(&self, retry: u32) -> Duration {
        let base = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        let half = base / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// Why one attempt failed, and whether trying again may help.
#[derive(Debug)]
pub(crate) struct Failure {
    pub error: ExportError,
    pub retryable: bool,
    /// The server's requested delay (`Retry-After`), if any.
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub fn permanent(error: ExportError) -> Self {
        Failure {
            error,
            retryable: false,
            retry_after: None,
        }
    }

    pub fn retryable(error: ExportError, retry_after: Option<Duration>) -> Self {
        Failure {
            error,
            retryable: true,
            retry_after,
        }
    }
}

/// Calls `attempt` until it succeeds, fails permanently, runs out of retries or would pass
/// `deadline`. Retries are counted in `stats`.
pub(crate) async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    deadline: Instant,
    stats: &ExporterStats,
    mut attempt: F,
) -> Result<T, ExportError>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut retry = 0;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(ExportError::Timeout(Duration::ZERO));
        }
        let failure = match attempt(remaining).await {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        if !failure.retryable || retry >= policy.max_retries {
            return Err(failure.error);
        }
        // The server's own delay is honoured as given; the deadline still bounds it.
        let wait = failure.retry_after.unwrap_or_else(|| policy.backoff(retry));
        if Instant::now() + wait >= deadline {
            return Err(failure.error);
        }
        tokio::time::sleep(wait).await;
        stats.retries.bump();
        retry += 1;
    }
}

/// An HTTP endpoint exporters POST to.
#[derive(Clone, Debug)]
pub(crate) struct HttpTarget {
    pub client: reqwest::Client,
    pub url: String,
    pub headers: http::HeaderMap,
}

impl HttpTarget {
    /// A POST target at `url` with the protocol's fixed headers, Loupe's `User-Agent`, and
    /// the user's `extra` headers (kept out of debug output, as they often hold
    /// credentials). A malformed extra header is an error on `field` that names the header,
    /// never its value.
    pub(crate) fn new(
        field: &'static str,
        url: String,
        protocol: &[(&'static str, &'static str)],
        extra: &[(String, String)],
        tls: &LoadedTls,
    ) -> Result<HttpTarget, ConfigError> {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::USER_AGENT,
            http::HeaderValue::from_static(concat!("loupe/", env!("CARGO_PKG_VERSION"))),
        );
        for (name, value) in protocol {
            headers.insert(*name, http::HeaderValue::from_static(value));
        }
        for (name, value) in extra {
            let parsed = http::HeaderName::from_bytes(name.as_bytes())
                .ok()
                .zip(http::HeaderValue::from_str(value).ok());
            let Some((name, mut value)) = parsed else {
                return Err(ConfigError::new(
                    field,
                    name,
                    "an HTTP header name (letters, digits, `-`) with a value of visible ASCII characters",
                ));
            };
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let builder = reqwest::Client::builder();
        #[cfg(feature = "tls")]
        let builder = tls.http_client(builder).map_err(|e| {
            ConfigError::new(
                "tls",
                error_chain(&e),
                "certificates and a key this system's TLS library accepts",
            )
        })?;
        #[cfg(not(feature = "tls"))]
        let _ = tls;
        let client = builder.build().map_err(|e| {
            ConfigError::new(
                "http client",
                error_chain(&e),
                "an HTTP client this system can create",
            )
        })?;
        Ok(HttpTarget {
            client,
            url,
            headers,
        })
    }
}

/// Checks that `url` is an absolute `http://` (or, with the `tls` feature, `https://`) URL
/// with a host. Without TLS, `https://` is refused with a message saying why.
pub(crate) fn check_http_url(field: &'static str, url: &str) -> Result<(), ConfigError> {
    #[cfg(feature = "tls")]
    const ALLOWED: &str = "an absolute http:// or https:// URL such as http://localhost:4318";
    #[cfg(not(feature = "tls"))]
    const ALLOWED: &str = "an absolute http:// URL such as http://localhost:4318 (https:// needs Loupe's `tls` feature, which this build does not include)";
    let uri: http::Uri = url
        .trim()
        .parse()
        .map_err(|_| ConfigError::new(field, format!("{url:?}"), ALLOWED))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http"), Some(host)) if !host.is_empty() => Ok(()),
        #[cfg(feature = "tls")]
        (Some("https"), Some(host)) if !host.is_empty() => Ok(()),
        _ => Err(ConfigError::new(field, format!("{url:?}"), ALLOWED)),
    }
}

/// Whether a status is worth retrying: 429, 502, 503 and 504, as the OTLP specification
/// says (remote write additionally retries every 5xx; see `retry_all_5xx`).
pub(crate) fn retryable_status(status: u16, retry_all_5xx: bool) -> bool {
    matches!(status, 429 | 502 | 503 | 504) || (retry_all_5xx && (500..600).contains(&status))
}

/// Reads a `Retry-After` header given in seconds (an HTTP date is ignored, and the
/// computed back-off is used instead).
pub(crate) fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// The most of a server's error body that goes into an error message.
const MAX_ERROR_BODY: usize = 512;

/// One POST: success gives the response body; a failure says whether to retry.
pub(crate) async fn post_once(
    target: &HttpTarget,
    body: bytes::Bytes,
    timeout: Duration,
    retry_all_5xx: bool,
) -> Result<bytes::Bytes, Failure> {
    let response = target
        .client
        .post(&target.url)
        .headers(target.headers.clone())
        .timeout(timeout)
        .body(body)
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            let message = format!("POST {} failed: {}", target.url, error_chain(&e));
            return Err(Failure::retryable(
                ExportError::from_source(message, e),
                None,
            ));
        }
    };
    let status = response.status();
    let after = retry_after(response.headers());
    let body = response.bytes().await.unwrap_or_default();
    if status.is_success() {
        return Ok(body);
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_BODY)]).into_owned();
    let error = ExportError::failed(format!(
        "POST {} answered {}: {}",
        target.url,
        status,
        text.trim()
    ));
    if retryable_status(status.as_u16(), retry_all_5xx) {
        Err(Failure::retryable(error, after))
    } else {
        Err(Failure::permanent(error))
    }
}

pub(crate) use crate::common::error::{error_chain, report_once};

/// Gzip-compresses a request body.
pub(crate) fn gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        for _ in 0..100 {
            let first = policy.backoff(0);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = policy.backoff(2);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            assert!(policy.backoff(30) <= Duration::from_secs(1));
        }
    }

    #[test]
    fn only_the_specified_statuses_are_retryable() {
        for s in [429, 502, 503, 504] {
            assert!(retryable_status(s, false), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 500, 501] {
            assert!(!retryable_status(s, false), "{s}");
        }
        assert!(retryable_status(500, true));
        assert!(!retryable_status(400, true));
    }

    #[test]
    fn retry_after_seconds_is_read_and_dates_are_ignored() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            http::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn block_on_times_out_and_works_inside_a_runtime() {
        let slow = block_on(
            async { tokio::time::sleep(Duration::from_secs(5)).await },
            Duration::from_millis(20),
        );
        assert!(matches!(slow, Err(ExportError::Timeout(_))));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let value = rt.block_on(async { block_on(async { 7 }, Duration::from_secs(5)) });
        assert_eq!(value.unwrap(), 7);
    }
}
