//! OTLP exporter settings, from code and from the `OTEL_EXPORTER_OTLP_*` variables.

use crate::common::error::ConfigError;
use crate::export::tls::{LoadedTls, TlsConfig, TlsFields};
use crate::export::transport::RetryPolicy;
use crate::metrics::Temporality;
use std::time::Duration;

/// The wire protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// gRPC (`grpc`), default port 4317.
    Grpc,
    /// Protobuf over HTTP (`http/protobuf`, the specification's default), port 4318.
    #[default]
    HttpProtobuf,
    /// JSON over HTTP (`http/json`), port 4318.
    HttpJson,
}

impl Protocol {
    /// Parses the names the specification uses: `grpc`, `http/protobuf`, `http/json`.
    pub fn parse(field: &'static str, value: &str) -> Result<Protocol, ConfigError> {
        match value.trim() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            "http/json" => Ok(Protocol::HttpJson),
            other => Err(ConfigError::new(
                field,
                format!("{other:?}"),
                "grpc, http/protobuf, http/json",
            )),
        }
    }

    /// The name used in configuration and in Loupe's own metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
        }
    }
}

/// Request-body compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    /// Uncompressed (the specification's default).
    #[default]
    None,
    /// gzip.
    Gzip,
}

impl Compression {
    fn parse(field: &'static str, value: &str) -> Result<Compression, ConfigError> {
        match value.trim() {
            "gzip" => Ok(Compression::Gzip),
            "none" | "" => Ok(Compression::None),
            other => Err(ConfigError::new(field, format!("{other:?}"), "gzip, none")),
        }
    }
}

/// The three OTLP signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Spans, `/v1/traces`.
    Traces,
    /// Metrics, `/v1/metrics`.
    Metrics,
    /// Log records, `/v1/logs`.
    Logs,
}

impl Signal {
    /// `traces`, `metrics` or `logs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Settings that one signal may override (`OTEL_EXPORTER_OTLP_TRACES_*`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SignalOverrides {
    /// The full URL for this signal, used as-is (no `/v1/...` appended).
    pub endpoint: Option<String>,
    /// The protocol for this signal.
    pub protocol: Option<Protocol>,
    /// Headers for this signal; they replace the shared ones.
    pub headers: Option<Vec<(String, String)>>,
    /// The export timeout for this signal.
    pub timeout: Option<Duration>,
    /// The compression for this signal.
    pub compression: Option<Compression>,
    /// TLS files for this signal; each field set here replaces the shared one.
    pub tls: TlsConfig,
}

/// Everything an OTLP exporter needs. Start from [`OtlpConfig::default`] (the
/// specification's defaults) or [`OtlpConfig::from_env`], then adjust in code.
///
/// Precedence per setting: the per-signal value, then the shared value, then the default.
/// With HTTP, the shared endpoint gets `/v1/traces`, `/v1/metrics` or `/v1/logs` appended;
/// a per-signal endpoint is used exactly as given.
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpConfig {
    /// The protocol (default `http/protobuf`).
    pub protocol: Protocol,
    /// The base endpoint (default `http://localhost:4318`, or `http://localhost:4317` for
    /// gRPC).
    pub endpoint: Option<String>,
    /// Headers sent with every request (an API key, say).
    pub headers: Vec<(String, String)>,
    /// How long one export may take, retries included (default 10 s).
    pub timeout: Duration,
    /// Request compression (default none).
    pub compression: Compression,
    /// The temporality metric exports ask for (default cumulative).
    pub temporality: Temporality,
    /// Retries of retryable failures.
    pub retry: RetryPolicy,
    /// Requests larger than this are split (default 4 MiB for gRPC, the usual server
    /// limit, and 64 MiB for HTTP).
    pub max_request_bytes: Option<usize>,
    /// Which servers `https://` endpoints are trusted against, and the client
    /// certificate for mutual TLS (default: the system's trust store, no client
    /// certificate).
    pub tls: TlsConfig,
    /// Per-signal overrides, indexed by [`Signal`].
    pub signals: [SignalOverrides; 3],
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            protocol: Protocol::default(),
            endpoint: None,
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
            compression: Compression::None,
            temporality: Temporality::Cumulative,
            retry: RetryPolicy::default(),
            max_request_bytes: None,
            tls: TlsConfig::default(),
            signals: Default::default(),
        }
    }
}

/// The settings of one signal, resolved.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Resolved {
    pub signal: Signal,
    pub protocol: Protocol,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub compression: Compression,
    pub temporality: Temporality,
    pub retry: RetryPolicy,
    pub max_request_bytes: usize,
    /// The TLS files, read and checked.
    pub tls: LoadedTls,
}

impl OtlpConfig {
    /// The defaults overridden by the `OTEL_EXPORTER_OTLP_*` variables of this process.
    pub fn from_env() -> Result<OtlpConfig, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup` (for tests and
    /// for configuration layers that merge several sources). Empty values count as unset,
    /// as the specification says.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<OtlpConfig, ConfigError> {
        let mut config = OtlpConfig::default();
        config.apply_lookup(lookup)?;
        Ok(config)
    }

    /// Applies the `OTEL_EXPORTER_OTLP_*` variables read through `lookup` on top of `self`.
    pub fn apply_lookup(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = get("OTEL_EXPORTER_OTLP_PROTOCOL") {
            self.protocol = Protocol::parse("OTEL_EXPORTER_OTLP_PROTOCOL", &v)?;
        }
        let insecure = parse_insecure(&get, "OTEL_EXPORTER_OTLP_INSECURE")?;
        if let Some(v) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            let v = with_scheme(&v, insecure.unwrap_or(false));
            validate_url("OTEL_EXPORTER_OTLP_ENDPOINT", &v)?;
            self.endpoint = Some(v);
        }
        if let Some(v) = get("OTEL_EXPORTER_OTLP_HEADERS") {
            self.headers = parse_headers("OTEL_EXPORTER_OTLP_HEADERS", &v)?;
        }
        if let Some(v) = get("OTEL_EXPORTER_OTLP_TIMEOUT") {
            self.timeout = parse_timeout("OTEL_EXPORTER_OTLP_TIMEOUT", &v)?;
        }
        if let Some(v) = get("OTEL_EXPORTER_OTLP_COMPRESSION") {
            self.compression = Compression::parse("OTEL_EXPORTER_OTLP_COMPRESSION", &v)?;
        }
        read_tls(&mut self.tls, &get, SHARED_TLS_VARS);
        if let Some(v) = get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") {
            self.temporality = match v.trim().to_ascii_lowercase().as_str() {
                "cumulative" => Temporality::Cumulative,
                // Loupe's delta already keeps up-down counters cumulative, which is what
                // `lowmemory` asks for besides delta counters and histograms.
                "delta" | "lowmemory" => Temporality::Delta,
                other => {
                    return Err(ConfigError::new(
                        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                        format!("{other:?}"),
                        "cumulative, delta, lowmemory",
                    ))
                }
            };
        }
        for (signal, names) in [
            (Signal::Traces, SIGNAL_VARS[0]),
            (Signal::Metrics, SIGNAL_VARS[1]),
            (Signal::Logs, SIGNAL_VARS[2]),
        ] {
            let o = &mut self.signals[signal.index()];
            let insecure = parse_insecure(&get, names[8])?.or(insecure);
            if let Some(v) = get(names[0]) {
                let v = with_scheme(&v, insecure.unwrap_or(false));
                validate_url(names[0], &v)?;
                o.endpoint = Some(v);
            }
            if let Some(v) = get(names[1]) {
                o.protocol = Some(Protocol::parse(names[1], &v)?);
            }
            if let Some(v) = get(names[2]) {
                o.headers = Some(parse_headers(names[2], &v)?);
            }
            if let Some(v) = get(names[3]) {
                o.timeout = Some(parse_timeout(names[3], &v)?);
            }
            if let Some(v) = get(names[4]) {
                o.compression = Some(Compression::parse(names[4], &v)?);
            }
            read_tls(&mut o.tls, &get, [names[5], names[6], names[7]]);
        }
        Ok(())
    }

    /// Sets the base endpoint (`/v1/<signal>` is appended for HTTP).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets the endpoint of one signal, used exactly as given.
    pub fn with_signal_endpoint(mut self, signal: Signal, endpoint: impl Into<String>) -> Self {
        self.signals[signal.index()].endpoint = Some(endpoint.into());
        self
    }

    /// Sets the protocol.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Adds a header sent with every request.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the export timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the compression.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Sets the temporality metric exports use.
    pub fn with_temporality(mut self, temporality: Temporality) -> Self {
        self.temporality = temporality;
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the TLS files every signal uses (see [`TlsConfig`]).
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Sets the size above which a request is split.
    pub fn with_max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = Some(bytes);
        self
    }

    /// The settings `signal` ends up with, validated.
    pub(crate) fn resolve(&self, signal: Signal) -> Result<Resolved, ConfigError> {
        let o = &self.signals[signal.index()];
        let protocol = o.protocol.unwrap_or(self.protocol);
        let url = match (&o.endpoint, &self.endpoint) {
            (Some(url), _) => url.clone(),
            (None, base) => {
                let default = match protocol {
                    Protocol::Grpc => "http://localhost:4317",
                    _ => "http://localhost:4318",
                };
                let base = base.as_deref().unwrap_or(default);
                match protocol {
                    Protocol::Grpc => base.to_string(),
                    _ => format!("{}/v1/{}", base.trim_end_matches('/'), signal.as_str()),
                }
            }
        };
        let field = match (&o.endpoint, signal) {
            (Some(_), _) => SIGNAL_VARS[signal.index()][0],
            (None, _) => "OTEL_EXPORTER_OTLP_ENDPOINT",
        };
        validate_url(field, &url)?;
        let headers = o.headers.clone().unwrap_or_else(|| self.headers.clone());
        for (name, value) in &headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                || http::HeaderValue::from_str(value).is_err()
            {
                return Err(ConfigError::new(
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    format!("{name}={value}"),
                    "header names of token characters and values of visible ASCII",
                ));
            }
        }
        let fields = |i: usize, set: bool| {
            if set {
                SIGNAL_VARS[signal.index()][5 + i]
            } else {
                SHARED_TLS_VARS[i]
            }
        };
        let tls_fields = TlsFields {
            certificate: fields(0, o.tls.certificate.is_some()),
            client_certificate: fields(1, o.tls.client_certificate.is_some()),
            client_key: fields(2, o.tls.client_key.is_some()),
        };
        let tls = o.tls.or(&self.tls).load(&tls_fields)?;
        Ok(Resolved {
            signal,
            tls,
            protocol,
            url,
            headers,
            timeout: o.timeout.unwrap_or(self.timeout),
            compression: o.compression.unwrap_or(self.compression),
            temporality: self.temporality,
            retry: self.retry.clone(),
            max_request_bytes: self.max_request_bytes.unwrap_or(match protocol {
                Protocol::Grpc => 4 * 1024 * 1024,
                _ => 64 * 1024 * 1024,
            }),
        })
    }
}

/// Endpoint, protocol, headers, timeout, compression and TLS (certificate, client
/// certificate, client key) variables of each signal.
const SIGNAL_VARS: [[&str; 9]; 3] = [
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
        "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
    ],
    [
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
        "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
        "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
        "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
    ],
    [
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
        "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
        "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
        "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
        "OTEL_EXPORTER_OTLP_LOGS_INSECURE",
    ],
];

/// `OTEL_EXPORTER_OTLP_INSECURE` or a per-signal form: `true` or `false`, any case.
fn parse_insecure(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<bool>, ConfigError> {
    let Some(v) = get(name) else {
        return Ok(None);
    };
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        _ => Err(ConfigError::new(name, format!("{v:?}"), "true, false")),
    }
}

/// An endpoint as given, or with a scheme when it has none (`collector:4317`, as gRPC
/// setups write it): `http://` when `insecure`, else `https://`, as the specification's
/// `OTEL_EXPORTER_OTLP_INSECURE` says.
fn with_scheme(endpoint: &str, insecure: bool) -> String {
    let endpoint = endpoint.trim();
    if endpoint.contains("://") {
        endpoint.to_string()
    } else if insecure {
        format!("http://{endpoint}")
    } else {
        format!("https://{endpoint}")
    }
}

/// The shared certificate, client certificate and client key variables.
const SHARED_TLS_VARS: [&str; 3] = [
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
];

/// Sets each of `tls`'s files whose variable in `names` is set; the files are read when
/// the exporter is built.
fn read_tls(tls: &mut TlsConfig, get: &impl Fn(&str) -> Option<String>, names: [&str; 3]) {
    let path = |name| get(name).map(|v| std::path::PathBuf::from(v.trim()));
    if let Some(p) = path(names[0]) {
        tls.certificate = Some(p);
    }
    if let Some(p) = path(names[1]) {
        tls.client_certificate = Some(p);
    }
    if let Some(p) = path(names[2]) {
        tls.client_key = Some(p);
    }
}

use crate::export::transport::check_http_url as validate_url;

/// Milliseconds, as the specification says; a negative or non-numeric value is an error.
fn parse_timeout(field: &'static str, value: &str) -> Result<Duration, ConfigError> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| ConfigError::new(field, format!("{value:?}"), "milliseconds, e.g. 10000"))
}

/// `key1=value1,key2=value2`, values percent-decoded (the W3C Baggage syntax without
/// properties). Any malformed member is an error naming the variable.
pub(crate) fn parse_headers(
    field: &'static str,
    value: &str,
) -> Result<Vec<(String, String)>, ConfigError> {
    const ALLOWED: &str = "comma-separated key=value pairs, values percent-encoded";
    let mut out = Vec::new();
    for member in value.split(',') {
        if member.trim().is_empty() {
            continue;
        }
        let (k, v) = member
            .split_once('=')
            .ok_or_else(|| ConfigError::new(field, format!("{member:?}"), ALLOWED))?;
        let key = k.trim();
        let decoded = percent_decode(v.trim())
            .ok_or_else(|| ConfigError::new(field, format!("{member:?}"), ALLOWED))?;
        if key.is_empty() || http::HeaderName::from_bytes(key.as_bytes()).is_err() {
            return Err(ConfigError::new(field, format!("{member:?}"), ALLOWED));
        }
        out.push((key.to_string(), decoded));
    }
    Ok(out)
}

/// Decodes `%XX` escapes; `None` on a broken escape or invalid UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn defaults_follow_the_specification() {
        let c = OtlpConfig::default();
        let t = c.resolve(Signal::Traces).unwrap();
        assert_eq!(t.protocol, Protocol::HttpProtobuf);
        assert_eq!(t.url, "http://localhost:4318/v1/traces");
        assert_eq!(t.timeout, Duration::from_secs(10));
        let g = c
            .with_protocol(Protocol::Grpc)
            .resolve(Signal::Metrics)
            .unwrap();
        assert_eq!(g.url, "http://localhost:4317");
    }

    #[test]
    fn base_endpoint_gets_the_signal_path_and_signal_endpoint_is_used_as_is() {
        let c = OtlpConfig::from_lookup(lookup(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                "http://logs:9999/custom/path",
            ),
        ]))
        .unwrap();
        assert_eq!(
            c.resolve(Signal::Traces).unwrap().url,
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            c.resolve(Signal::Metrics).unwrap().url,
            "http://collector:4318/v1/metrics"
        );
        assert_eq!(
            c.resolve(Signal::Logs).unwrap().url,
            "http://logs:9999/custom/path"
        );
    }

    #[test]
    fn per_signal_variables_win() {
        let c = OtlpConfig::from_lookup(lookup(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "api-key=shared,x-tenant=a%20b",
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "api-key=metrics"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
        ]))
        .unwrap();
        let t = c.resolve(Signal::Traces).unwrap();
        assert_eq!(t.protocol, Protocol::HttpJson);
        assert_eq!(t.timeout, Duration::from_millis(700));
        assert_eq!(t.compression, Compression::Gzip);
        assert_eq!(
            t.headers,
            vec![
                ("api-key".to_string(), "shared".to_string()),
                ("x-tenant".to_string(), "a b".to_string())
            ]
        );
        let m = c.resolve(Signal::Metrics).unwrap();
        assert_eq!(m.protocol, Protocol::Grpc);
        assert_eq!(m.timeout, Duration::from_millis(2500));
        assert_eq!(m.compression, Compression::None);
        assert_eq!(
            m.headers,
            vec![("api-key".to_string(), "metrics".to_string())]
        );
        assert_eq!(m.temporality, Temporality::Delta);
    }

    #[test]
    fn endpoints_without_a_scheme_are_secure_unless_insecure_is_set() {
        let c = OtlpConfig::from_lookup(lookup(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "metrics:4317"),
            ("OTEL_EXPORTER_OTLP_METRICS_INSECURE", "TRUE"),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://logs:4317"),
        ]))
        .unwrap();
        assert_eq!(
            c.resolve(Signal::Traces).unwrap().url,
            "https://collector:4317"
        );
        assert_eq!(
            c.resolve(Signal::Metrics).unwrap().url,
            "http://metrics:4317"
        );
        assert_eq!(c.resolve(Signal::Logs).unwrap().url, "http://logs:4317");

        let c = OtlpConfig::from_lookup(lookup(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "otel-collector:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "false"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "traces:4317"),
        ]))
        .unwrap();
        assert_eq!(
            c.resolve(Signal::Metrics).unwrap().url,
            "http://otel-collector:4317"
        );
        assert_eq!(
            c.resolve(Signal::Traces).unwrap().url,
            "https://traces:4317"
        );
    }

    #[test]
    fn malformed_values_name_the_variable() {
        for (var, value) in [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "ftp://x/y"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "novalue"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "k=%zz"),
            ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "bad key=v"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "-5"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "yes"),
            ("OTEL_EXPORTER_OTLP_LOGS_INSECURE", "1"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "sometimes",
            ),
        ] {
            let err = OtlpConfig::from_lookup(lookup(&[(var, value)])).unwrap_err();
            assert_eq!(err.field, var, "{var}={value}: {err}");
            assert!(err.to_string().contains(var));
        }
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let c = OtlpConfig::from_lookup(lookup(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", ""),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "  "),
        ]))
        .unwrap();
        assert_eq!(c, OtlpConfig::default());
    }

    proptest::proptest! {
        #[test]
        fn header_parsing_never_panics(s in ".{0,64}") {
            let _ = parse_headers("OTEL_EXPORTER_OTLP_HEADERS", &s);
        }

        #[test]
        fn percent_encoded_values_round_trip(v in "[ -~]{0,32}") {
            let encoded: String = v.bytes().map(|b| format!("%{b:02X}")).collect();
            let parsed = parse_headers("OTEL_EXPORTER_OTLP_HEADERS", &format!("k={encoded}")).unwrap();
            proptest::prop_assert_eq!(parsed[0].1.as_str(), v.as_str());
        }
    }
}
