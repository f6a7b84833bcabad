//! A log sink that indexes records into Elasticsearch or OpenSearch through the `_bulk` API.
//! The protocol details users need are documented on [`ElasticsearchSink`].

use super::format::{json_str, LogFormat};
use super::sink::{LogSink, SinkContext};
use super::LogRecord;
use crate::common::error::{report_once, ConfigError, ExportError};
use crate::common::resource::{Resource, SERVICE_NAME, SERVICE_VERSION};
use crate::common::stats::ExporterStats;
use crate::common::time::Utc;
use crate::export::tls::{tls_fields, TlsConfig};
use crate::export::transport::{self, check_http_url, post_once, Failure, HttpTarget, RetryPolicy};
use bytes::Bytes;
use response::BulkOutcome;
use std::fmt;
use std::ops::Range;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const DEFAULT_INDEX_PATTERN: &str = "logs-%Y.%m.%d";
const DEFAULT_BUFFER_SIZE: usize = 1000;
const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// A request body is sent once it reaches this size, well below Elasticsearch's default
/// `http.max_content_length` of 100 MB.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Configures an [`ElasticsearchSink`]; see [`ElasticsearchSink::builder`].
#[must_use]
pub struct ElasticsearchSinkBuilder {
    url: String,
    index_pattern: String,
    buffer_size: usize,
    flush_interval: Duration,
    timeout: Duration,
    retry: RetryPolicy,
    headers: Vec<(String, String)>,
    authorization: Option<String>,
    tls: TlsConfig,
}

impl fmt::Debug for ElasticsearchSinkBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values and credentials are left out.
        f.debug_struct("ElasticsearchSinkBuilder")
            .field("url", &self.url)
            .field("index_pattern", &self.index_pattern)
            .field("buffer_size", &self.buffer_size)
            .field("flush_interval", &self.flush_interval)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("authorization", &self.authorization.is_some())
            .field("tls", &self.tls)
            .finish()
    }
}

impl ElasticsearchSinkBuilder {
    /// The index each record goes to; `%Y`, `%m`, `%d`, `%H`, `%M` and `%S` are taken from
    /// the record's timestamp in UTC. Default `logs-%Y.%m.%d`.
    pub fn with_index_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.index_pattern = pattern.into();
        self
    }

    /// Records buffered before a request is sent (at least 1); default 1000.
    pub fn with_buffer_size(mut self, records: usize) -> Self {
        self.buffer_size = records.max(1);
        self
    }

    /// The longest a record waits in the buffer before it is sent; default 1 s.
    pub fn with_flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// How long one flush may take, retries included; default 10 s.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How failed requests and documents answered 429 are retried; default
    /// [`RetryPolicy::default`] (5 retries, 0.5 s back-off doubling up to 30 s, never past
    /// the timeout). [`RetryPolicy::none`] disables retrying.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Adds an HTTP header to every request.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Authenticates with a user name and password (`Authorization: Basic …`); replaces an
    /// API key set before.
    pub fn with_basic_auth(mut self, user: impl AsRef<str>, password: impl AsRef<str>) -> Self {
        let credentials = format!("{}:{}", user.as_ref(), password.as_ref());
        self.authorization = Some(format!("Basic {}", base64(credentials.as_bytes())));
        self
    }

    /// Authenticates with an API key, given in the encoded form Elasticsearch returns
    /// (`Authorization: ApiKey …`); replaces basic credentials set before.
    pub fn with_api_key(mut self, key: impl AsRef<str>) -> Self {
        self.authorization = Some(format!("ApiKey {}", key.as_ref()));
        self
    }

    /// Which servers an `https://` URL is trusted against, and the client certificate to
    /// present. Elasticsearch 8 secures its HTTP layer with a certificate authority of its
    /// own (`http_ca.crt`): give it as [`TlsConfig::with_certificate`]. Default: the
    /// system's trust store.
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Checks the configuration and builds the sink. No connection is made until the
    /// first flush.
    pub fn build(self) -> Result<ElasticsearchSink, ConfigError> {
        let url = bulk_url(&self.url)?;
        check_index_pattern(&self.index_pattern)?;
        if self.flush_interval.is_zero() {
            return Err(ConfigError::new(
                "elasticsearch.flush_interval",
                format!("{:?}", self.flush_interval),
                "a duration above zero, such as 1s",
            ));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::new(
                "elasticsearch.timeout",
                format!("{:?}", self.timeout),
                "a duration above zero, such as 10s",
            ));
        }
        let mut headers = self.headers;
        if let Some(value) = self.authorization {
            headers.push(("authorization".into(), value));
        }
        let tls = self.tls.load(&tls_fields!("elasticsearch.tls"))?;
        let target = HttpTarget::new(
            "elasticsearch.headers",
            url,
            &[("content-type", "application/x-ndjson")],
            &headers,
            &tls,
        )?;
        Ok(ElasticsearchSink {
            target,
            index: IndexNames::new(self.index_pattern),
            buffer_size: self.buffer_size,
            flush_interval: self.flush_interval,
            timeout: self.timeout,
            retry: self.retry,
            body: Vec::new(),
            items: Vec::new(),
            line: Vec::with_capacity(512),
            service: None,
            rejection_reported: false,
        })
    }
}

/// Indexes records into Elasticsearch or OpenSearch with the `_bulk` API (the seed's
/// `LogSink::Elasticsearch`).
///
/// Records are buffered and sent as one `POST {url}/_bulk` request (`Content-Type:
/// application/x-ndjson`) when `buffer_size` records are waiting, when `flush_interval`
/// has passed, on [`LoggerProvider::force_flush`](super::LoggerProvider::force_flush) and
/// at shutdown (and, whatever the count, before a request body passes 8 MiB). Each record
/// is an action line naming its index, then the document, each line ending in a newline:
///
/// ```text
/// {"index":{"_index":"logs-2025.10.11"}}
/// {"@timestamp":"2025-10-11T10:30:45.123Z","service":{"name":"api-service","version":"1.0.0"},"timestamp":"2025-10-11T10:30:45.123Z","level":"INFO","target":"api","message":"Processing request","fields":{"method":"GET","path":"/api/users"},"span":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}}
/// ```
///
/// **The document** is the [`LogFormat::Json`] object (`timestamp`, `level`, `target`,
/// `message`, `event`, `fields`, `span`) preceded by `@timestamp` (the field Kibana and
/// OpenSearch Dashboards sort by) and the resource's `service.name` and `service.version`
/// as an ECS-style `service` object (`service.name` when queried). Field keys with dots,
/// such as `query.id`, are object paths to Elasticsearch, as usual.
///
/// **The index** is the pattern with `%Y`, `%m`, `%d`, `%H`, `%M` and `%S` filled in from
/// the record's own timestamp in UTC, so a record logged just before midnight lands in
/// that day's index even if it is sent after midnight.
///
/// **Failures.** Connection errors, HTTP 429, 502, 503 and 504 retry the whole request
/// with back-off ([`RetryPolicy`], honouring `Retry-After`); other answers (400, 401,
/// 403, 413, …) fail the request at once. In a bulk answer with `"errors": true`,
/// documents answered 429 (Elasticsearch pushing back) are sent again, alone, with
/// back-off; any other failed document (a mapping conflict, say) is counted in
/// `loupe.sdk.exporter.rejected` and its reason printed once on stderr. All retries of one
/// flush share the policy's `max_retries` and the sink's timeout. Whatever is lost for good
/// is counted in `loupe.sdk.exporter.failed` (`exporter="elasticsearch"`,
/// `signal="logs"`). The sink runs on its own thread, so waiting never blocks logging;
/// while it waits, new records queue up to the provider's queue size.
///
/// `https://` URLs are checked against the system's trust store, or the authority given to
/// [`ElasticsearchSinkBuilder::with_tls`] (with the default `tls` feature).
///
/// Limits: bodies are not compressed; documents are written with the
/// `index` action, so a data stream (which only takes `create`) cannot be the target.
///
/// ```
/// use loupe::logs::{ElasticsearchSink, LoggerProvider};
/// use loupe::Resource;
/// use std::time::Duration;
///
/// let sink = ElasticsearchSink::builder("http://elasticsearch:9200")
///     .with_index_pattern("logs-%Y.%m.%d")
///     .with_buffer_size(1000)
///     .with_flush_interval(Duration::from_secs(1))
///     .with_api_key("VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==")
///     .build()?;
/// assert_eq!(sink.endpoint(), "http://elasticsearch:9200/_bulk");
/// let provider = LoggerProvider::builder()
///     .with_resource(Resource::builder().with_service_name("api-service").build())
///     .with_sink(sink)
///     .build()?;
/// # provider.shutdown(Duration::from_secs(1))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ElasticsearchSink {
    target: HttpTarget,
    index: IndexNames,
    buffer_size: usize,
    flush_interval: Duration,
    timeout: Duration,
    retry: RetryPolicy,
    /// The NDJSON request body being built.
    body: Vec<u8>,
    /// Each buffered record's two lines in `body`.
    items: Vec<Range<usize>>,
    /// The record being formatted.
    line: Vec<u8>,
    /// The `"service":{…},` fragment, made from the resource on the first record.
    service: Option<Vec<u8>>,
    rejection_reported: bool,
}

impl fmt::Debug for ElasticsearchSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Headers are left out: they hold credentials.
        f.debug_struct("ElasticsearchSink")
            .field("endpoint", &self.target.url)
            .field("index_pattern", &self.index.pattern)
            .field("buffer_size", &self.buffer_size)
            .field("flush_interval", &self.flush_interval)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("buffered", &self.items.len())
            .finish()
    }
}

impl ElasticsearchSink {
    /// A sink for the cluster at `url` (such as `http://elasticsearch:9200`) with the
    /// defaults: index `logs-%Y.%m.%d`, 1000 records per request, at least every second.
    pub fn new(url: impl Into<String>) -> Result<ElasticsearchSink, ConfigError> {
        ElasticsearchSink::builder(url).build()
    }

    /// Starts configuring a sink for the cluster at `url`; every other setting has a
    /// default. A URL with a path (a proxy prefix) keeps it: `http://proxy/es` posts to
    /// `http://proxy/es/_bulk`.
    pub fn builder(url: impl Into<String>) -> ElasticsearchSinkBuilder {
        ElasticsearchSinkBuilder {
            url: url.into(),
            index_pattern: DEFAULT_INDEX_PATTERN.into(),
            buffer_size: DEFAULT_BUFFER_SIZE,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            headers: Vec::new(),
            authorization: None,
            tls: TlsConfig::default(),
        }
    }

    /// The URL requests are POSTed to (ending in `/_bulk`).
    pub fn endpoint(&self) -> &str {
        &self.target.url
    }

    /// One POST with what is left of the flush's time.
    fn post(&self, body: Bytes, deadline: Instant) -> Result<Bytes, Failure> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(Failure::permanent(ExportError::Timeout(self.timeout)));
        }
        let target = self.target.clone();
        let attempt = async move { post_once(&target, body, remaining, false).await };
        transport::block_on(attempt, remaining).unwrap_or_else(|e| Err(Failure::permanent(e)))
    }

    /// Sends `body` (whose records are `items`) until every record is stored, rejected, or
    /// out of retries or time, counting each in `stats`.
    fn deliver(
        &mut self,
        mut body: Bytes,
        mut items: Vec<Range<usize>>,
        deadline: Instant,
        stats: &ExporterStats,
    ) -> Result<(), ExportError> {
        let mut retry = 0;
        loop {
            let failure = match self.post(body.clone(), deadline) {
                Err(failure) => failure,
                Ok(answer) => {
                    let outcome = match BulkOutcome::read(&answer, items.len()) {
                        Ok(outcome) => outcome,
                        Err(e) => {
                            stats.failed.add(items.len() as u64);
                            return Err(e);
                        }
                    };
                    stats.exported.add(outcome.accepted);
                    stats.rejected.add(outcome.rejected);
                    stats.failed.add(outcome.unanswered);
                    if let Some(reason) = outcome.first_rejection {
                        self.report_rejection(&reason);
                    }
                    if outcome.throttled.is_empty() {
                        return Ok(());
                    }
                    (body, items) = select(&body, &items, &outcome.throttled);
                    Failure::retryable(
                        ExportError::failed(format!(
                            "Elasticsearch kept answering 429 Too Many Requests for {} log records",
                            items.len()
                        )),
                        None,
                    )
                }
            };
            if !failure.retryable || retry >= self.retry.max_retries {
                stats.failed.add(items.len() as u64);
                return Err(failure.error);
            }
            let wait = failure
                .retry_after
                .unwrap_or_else(|| self.retry.backoff(retry));
            if Instant::now() + wait >= deadline {
                stats.failed.add(items.len() as u64);
                return Err(failure.error);
            }
            // The sink has its own thread: sleeping here delays no one but this sink.
            std::thread::sleep(wait);
            stats.retries.bump();
            retry += 1;
        }
    }

    fn report_rejection(&mut self, reason: &str) {
        if std::mem::replace(&mut self.rejection_reported, true) {
            return;
        }
        report_once(
            "elasticsearch log sink",
            &ExportError::failed(format!(
                "Elasticsearch rejected a log record ({reason}); rejected records are not \
                 retried and are counted in loupe.sdk.exporter.rejected"
            )),
        );
    }
}

impl LogSink for ElasticsearchSink {
    fn name(&self) -> &'static str {
        "elasticsearch"
    }

    fn emit(&mut self, record: &LogRecord, cx: SinkContext<'_>) -> Result<(), ExportError> {
        let at = record.timestamp.unwrap_or(record.observed_timestamp);
        let service = self
            .service
            .get_or_insert_with(|| service_fragment(cx.resource));
        let start = self.body.len();
        self.body.extend_from_slice(b"{\"index\":{\"_index\":");
        json_str(self.index.name_for(at), &mut self.body);
        self.body.extend_from_slice(b"}}\n");
        write_document(record, at, service, &mut self.line, &mut self.body);
        self.items.push(start..self.body.len());
        if self.items.len() >= self.buffer_size || self.body.len() >= MAX_BODY_BYTES {
            return self.flush(cx);
        }
        Ok(())
    }

    fn flush(&mut self, cx: SinkContext<'_>) -> Result<(), ExportError> {
        if self.items.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let body = Bytes::from(std::mem::take(&mut self.body));
        let items = std::mem::take(&mut self.items);
        let result = self.deliver(body, items, started + self.timeout, cx.stats);
        cx.stats.record_duration(started.elapsed());
        result
    }

    fn flush_interval(&self) -> Option<Duration> {
        Some(self.flush_interval)
    }
}

/// Index names for record timestamps, computed once per period the pattern can tell
/// apart (a day for `logs-%Y.%m.%d`).
struct IndexNames {
    pattern: String,
    period_secs: u64,
    last: Option<(u64, String)>,
}

impl IndexNames {
    fn new(pattern: String) -> IndexNames {
        let period_secs = if pattern.contains("%S") {
            1
        } else if pattern.contains("%M") {
            60
        } else if pattern.contains("%H") {
            3600
        } else {
            86_400
        };
        IndexNames {
            pattern,
            period_secs,
            last: None,
        }
    }

    fn name_for(&mut self, at: SystemTime) -> &str {
        let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let period = secs / self.period_secs;
        match &mut self.last {
            Some((p, _)) if *p == period => {}
            last => *last = Some((period, Utc::of(at).format(&self.pattern))),
        }
        self.last.as_ref().map_or("", |(_, name)| name.as_str())
    }
}

/// The document line: `@timestamp`, `service`, then the JSON format's fields.
fn write_document(
    record: &LogRecord,
    at: SystemTime,
    service: &[u8],
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    scratch.clear();
    LogFormat::Json.write(record, scratch);
    out.extend_from_slice(b"{\"@timestamp\":\"");
    Utc::of(at).write_millis(out);
    out.extend_from_slice(b"\",");
    out.extend_from_slice(service);
    // The JSON format writes one object and a newline: splice its members in after ours.
    out.extend_from_slice(scratch.strip_prefix(b"{").unwrap_or(scratch));
}

/// `"service":{"name":…,"version":…},`, or nothing when the resource has neither.
fn service_fragment(resource: &Resource) -> Vec<u8> {
    let mut out = Vec::new();
    let name = resource.get(SERVICE_NAME.as_str());
    let version = resource.get(SERVICE_VERSION.as_str());
    if name.is_none() && version.is_none() {
        return out;
    }
    out.extend_from_slice(b"\"service\":{");
    if let Some(name) = name {
        out.extend_from_slice(b"\"name\":");
        json_str(&name.as_str(), &mut out);
    }
    if let Some(version) = version {
        if name.is_some() {
            out.push(b',');
        }
        out.extend_from_slice(b"\"version\":");
        json_str(&version.as_str(), &mut out);
    }
    out.extend_from_slice(b"},");
    out
}

/// A new body holding only the records at `keep` (indexes into `items`).
fn select(body: &[u8], items: &[Range<usize>], keep: &[usize]) -> (Bytes, Vec<Range<usize>>) {
    let mut out = Vec::with_capacity(keep.iter().map(|&i| items[i].len()).sum());
    let mut ranges = Vec::with_capacity(keep.len());
    for &i in keep {
        let start = out.len();
        out.extend_from_slice(&body[items[i].clone()]);
        ranges.push(start..out.len());
    }
    (Bytes::from(out), ranges)
}

/// Appends `/_bulk` to the cluster URL, unless it is there already.
fn bulk_url(url: &str) -> Result<String, ConfigError> {
    const FIELD: &str = "elasticsearch.url";
    check_http_url(FIELD, url)?;
    let mut parsed = reqwest::Url::parse(url.trim()).map_err(|_| {
        ConfigError::new(
            FIELD,
            format!("{url:?}"),
            "an absolute http:// URL such as http://elasticsearch:9200",
        )
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Credentials in the URL would show in every error message.
        return Err(ConfigError::new(
            FIELD,
            "a URL with credentials",
            "a URL without user or password; use with_basic_auth or with_api_key",
        ));
    }
    let has_bulk = parsed
        .path_segments()
        .and_then(|mut segments| segments.rfind(|s| !s.is_empty()))
        == Some("_bulk");
    if !has_bulk {
        if let Ok(mut segments) = parsed.path_segments_mut() {
            segments.pop_if_empty().push("_bulk");
        }
    }
    Ok(parsed.to_string())
}

/// Checks that the pattern makes names Elasticsearch accepts as index names.
fn check_index_pattern(pattern: &str) -> Result<(), ConfigError> {
    const ALLOWED: &str = "an index name, optionally with %Y %m %d %H %M %S: lowercase, at most \
        255 bytes, not starting with -, _ or +, without spaces or any of \\ / * ? \" < > | , # :";
    // The widest date the conversions produce.
    let sample = Utc::of(UNIX_EPOCH + Duration::from_secs(4_102_444_799)).format(pattern);
    let valid = !sample.is_empty()
        && sample.len() <= 255
        && sample != "."
        && sample != ".."
        && !sample.starts_with(['-', '_', '+'])
        && !sample
            .chars()
            .any(|c| c.is_uppercase() || c.is_whitespace() || "\\/*?\"<>|,#:".contains(c));
    if valid {
        Ok(())
    } else {
        Err(ConfigError::new(
            "elasticsearch.index_pattern",
            format!("{pattern:?}"),
            ALLOWED,
        ))
    }
}

/// Standard base64 with padding, for `Authorization: Basic`.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

mod response;
#[cfg(test)]
mod tests;
