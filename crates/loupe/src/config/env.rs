//! The OpenTelemetry environment variables, parsed as the specification says: empty
//! values count as unset; an unrecognised or malformed value is reported (see
//! [`TelemetryConfig::warnings`]) and ignored, except the `OTEL_EXPORTER_OTLP_*` variables,
//! whose mistakes (bad URL, unknown protocol, bad header syntax) are errors naming the
//! variable, because an exporter that silently sends nowhere is worse.

use super::{ExporterKind, SamplerKind, TelemetryConfig};
use crate::common::error::ConfigError;
use crate::export::otlp::{Compression, OtlpConfig};
use crate::metrics::Temporality;

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

fn get(lookup: Lookup<'_>, name: &str) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn number<T: std::str::FromStr>(
    c: &mut TelemetryConfig,
    lookup: Lookup<'_>,
    name: &str,
) -> Option<T> {
    let raw = get(lookup, name)?;
    match raw.parse::<T>() {
        Ok(v) => Some(v),
        Err(_) => {
            c.warn(format!(
                "{name}={raw:?} is not a valid non-negative integer; ignored"
            ));
            None
        }
    }
}

/// Milliseconds to whole seconds, rounding up and saying so when that changes the value.
fn ms_to_secs(c: &mut TelemetryConfig, name: &str, ms: u64) -> u64 {
    let secs = ms.div_ceil(1000).max(1);
    if secs * 1000 != ms {
        c.warn(format!(
            "{name}={ms} ms is used as {secs} s (this setting has a resolution of one second)"
        ));
    }
    secs
}

pub(super) fn apply(c: &mut TelemetryConfig, lookup: Lookup<'_>) -> Result<(), ConfigError> {
    if let Some(v) = get(lookup, "OTEL_SDK_DISABLED") {
        match v.to_ascii_lowercase().as_str() {
            "true" => c.disabled = true,
            "false" => c.disabled = false,
            _ => c.warn(format!(
                "OTEL_SDK_DISABLED={v:?} is not true or false; the SDK stays enabled"
            )),
        }
    }
    resource_attributes(c, lookup);
    if let Some(name) = get(lookup, "SERVICE_NAME") {
        c.service.name = Some(name);
    }
    if let Some(name) = get(lookup, "OTEL_SERVICE_NAME") {
        c.service.name = Some(name);
    }
    sampler(c, lookup);
    if let Some(v) = get(lookup, "OTEL_PROPAGATORS") {
        let mut list = Vec::new();
        for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match p {
                "tracecontext" | "baggage" | "b3" | "b3multi" | "none" => list.push(p.to_string()),
                other => c.warn(format!(
                    "OTEL_PROPAGATORS: unknown propagator {other:?} ignored (known: tracecontext, baggage, b3, b3multi, none)"
                )),
            }
        }
        if list.iter().any(|p| p == "none") {
            list.clear();
        }
        c.propagators = list;
    }
    if let Some(directives) = get(lookup, "RUST_LOG") {
        // Checked with the rest of the configuration, so a bad value names `RUST_LOG`.
        match crate::logs::LogFilter::parse(&directives) {
            Ok(_) => c.logging.level = directives,
            Err(e) => {
                return Err(ConfigError {
                    field: "RUST_LOG",
                    value: format!("{directives:?} (at `{}`)", e.value),
                    allowed: e.allowed,
                })
            }
        }
    }
    batch_variables(c, lookup);
    limits(c, lookup);
    otlp(c, lookup)?;
    exporters(c, lookup);
    Ok(())
}

/// `OTEL_RESOURCE_ATTRIBUTES`: `key=value` pairs, percent-decoded. Any malformed member
/// discards the whole value, as the specification says.
fn resource_attributes(c: &mut TelemetryConfig, lookup: Lookup<'_>) {
    let Some(raw) = get(lookup, "OTEL_RESOURCE_ATTRIBUTES") else {
        return;
    };
    let mut parsed = Vec::new();
    for member in raw.split(',').filter(|m| !m.trim().is_empty()) {
        let decoded = member.split_once('=').and_then(|(k, v)| {
            let k = k.trim();
            let v = crate::export::otlp::percent_decode(v.trim())?;
            (!k.is_empty()).then(|| (k.to_string(), v))
        });
        match decoded {
            Some(kv) => parsed.push(kv),
            None => {
                c.warn(format!(
                    "OTEL_RESOURCE_ATTRIBUTES is malformed at {member:?} (expected key=value with percent-encoded values); the whole value is ignored"
                ));
                return;
            }
        }
    }
    for (k, v) in parsed {
        match k.as_str() {
            "service.name" => c.service.name = Some(v),
            "service.version" => c.service.version = Some(v),
            "service.namespace" => c.service.namespace = Some(v),
            "service.instance.id" => c.service.instance_id = Some(v),
            "deployment.environment" | "deployment.environment.name" => {
                c.service.environment = Some(v)
            }
            _ => {
                c.service.resource_attributes.insert(k, v);
            }
        }
    }
}

fn sampler(c: &mut TelemetryConfig, lookup: Lookup<'_>) {
    if let Some(v) = get(lookup, "OTEL_TRACES_SAMPLER") {
        let kind = match v.to_ascii_lowercase().as_str() {
            "always_on" => Some(SamplerKind::AlwaysOn),
            "always_off" => Some(SamplerKind::AlwaysOff),
            "traceidratio" => Some(SamplerKind::TraceIdRatio),
            "parentbased_always_on" => Some(SamplerKind::ParentBasedAlwaysOn),
            "parentbased_always_off" => Some(SamplerKind::ParentBasedAlwaysOff),
            "parentbased_traceidratio" => Some(SamplerKind::ParentBasedTraceIdRatio),
            _ => None,
        };
        match kind {
            Some(kind) => c.tracing.sampler = kind,
            None => c.warn(format!(
                "OTEL_TRACES_SAMPLER={v:?} is not supported (always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio); the configured sampler stays"
            )),
        }
    }
    if let Some(v) = get(lookup, "OTEL_TRACES_SAMPLER_ARG") {
        match v.parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => c.tracing.sampling_rate = r,
            _ => c.warn(format!(
                "OTEL_TRACES_SAMPLER_ARG={v:?} is not a ratio from 0.0 to 1.0; ignored"
            )),
        }
    }
}

fn batch_variables(c: &mut TelemetryConfig, lookup: Lookup<'_>) {
    if let Some(ms) = number::<u64>(c, lookup, "OTEL_BSP_SCHEDULE_DELAY") {
        c.tracing.export_delay_ms = ms;
    }
    if let Some(ms) = number::<u64>(c, lookup, "OTEL_BSP_EXPORT_TIMEOUT") {
        c.tracing.export_timeout_secs = ms_to_secs(c, "OTEL_BSP_EXPORT_TIMEOUT", ms);
    }
    if let Some(n) = number(c, lookup, "OTEL_BSP_MAX_QUEUE_SIZE") {
        c.tracing.max_queue_size = n;
    }
    if let Some(n) = number(c, lookup, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE") {
        c.tracing.batch_size = n;
    }
    if let Some(ms) = number::<u64>(c, lookup, "OTEL_BLRP_SCHEDULE_DELAY") {
        c.logging.export_delay_ms = ms;
    }
    if let Some(ms) = number::<u64>(c, lookup, "OTEL_BLRP_EXPORT_TIMEOUT") {
        c.logging.export_timeout_secs = ms_to_secs(c, "OTEL_BLRP_EXPORT_TIMEOUT", ms);
    }
    if let Some(n) = number(c, lookup, "OTEL_BLRP_MAX_QUEUE_SIZE") {
        c.logging.max_queue_size = n;
    }
    if let Some(n) = number(c, lookup, "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE") {
        c.logging.batch_size = n;
    }
    if let Some(ms) = number::<u64>(c, lookup, "OTEL_METRIC_EXPORT_INTERVAL") {
        c.metrics.export_interval_secs = ms_to_secs(c, "OTEL_METRIC_EXPORT_INTERVAL", ms);
    }
    if let Some(ms) = number::<u64>(c, lookup, "OTEL_METRIC_EXPORT_TIMEOUT") {
        c.metrics.export_timeout_secs = ms_to_secs(c, "OTEL_METRIC_EXPORT_TIMEOUT", ms);
    }
}

fn limits(c: &mut TelemetryConfig, lookup: Lookup<'_>) {
    // General limits first; the span-specific ones win.
    if let Some(n) = number::<usize>(c, lookup, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT") {
        c.tracing.max_attribute_value_length = Some(n);
    }
    if let Some(n) = number::<u32>(c, lookup, "OTEL_ATTRIBUTE_COUNT_LIMIT") {
        c.tracing.max_attributes_per_span = n;
    }
    if let Some(n) = number::<usize>(c, lookup, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT") {
        c.tracing.max_attribute_value_length = Some(n);
    }
    if let Some(n) = number(c, lookup, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT") {
        c.tracing.max_attributes_per_span = n;
    }
    if let Some(n) = number(c, lookup, "OTEL_SPAN_EVENT_COUNT_LIMIT") {
        c.tracing.max_events_per_span = n;
    }
    if let Some(n) = number(c, lookup, "OTEL_SPAN_LINK_COUNT_LIMIT") {
        c.tracing.max_links_per_span = n;
    }
    if let Some(n) = number(c, lookup, "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT") {
        c.tracing.max_attributes_per_event = n;
    }
    if let Some(n) = number(c, lookup, "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT") {
        c.tracing.max_attributes_per_link = n;
    }
}

/// `OTEL_EXPORTER_OTLP_*`, parsed by the OTLP exporter's own rules.
fn otlp(c: &mut TelemetryConfig, lookup: Lookup<'_>) -> Result<(), ConfigError> {
    let env = OtlpConfig::from_lookup(lookup)?;
    let set = |name: &str| get(lookup, name).is_some();
    if set("OTEL_EXPORTER_OTLP_PROTOCOL") {
        c.otlp.protocol = env.protocol.as_str().to_string();
    }
    if let Some(endpoint) = &env.endpoint {
        c.tracing.otlp_endpoint = endpoint.clone();
        c.metrics.otlp_endpoint = endpoint.clone();
        c.logging.otlp_endpoint = endpoint.clone();
    }
    if set("OTEL_EXPORTER_OTLP_HEADERS") {
        c.otlp.headers = env.headers.iter().cloned().collect();
    }
    if set("OTEL_EXPORTER_OTLP_TIMEOUT") {
        c.otlp.timeout_ms = u64::try_from(env.timeout.as_millis()).unwrap_or(u64::MAX);
    }
    if set("OTEL_EXPORTER_OTLP_COMPRESSION") {
        c.otlp.compression = match env.compression {
            Compression::Gzip => "gzip",
            Compression::None => "none",
        }
        .into();
    }
    c.otlp.tls = env.tls.or(&c.otlp.tls);
    if set("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") {
        c.otlp.temporality = match env.temporality {
            Temporality::Cumulative => "cumulative",
            Temporality::Delta => "delta",
        }
        .into();
    }
    for (i, overrides) in env.signals.iter().enumerate() {
        let mine = &mut c.otlp.signals[i];
        if overrides.endpoint.is_some() {
            mine.endpoint = overrides.endpoint.clone();
        }
        if overrides.protocol.is_some() {
            mine.protocol = overrides.protocol;
        }
        if overrides.headers.is_some() {
            mine.headers = overrides.headers.clone();
        }
        if overrides.timeout.is_some() {
            mine.timeout = overrides.timeout;
        }
        if overrides.compression.is_some() {
            mine.compression = overrides.compression;
        }
        mine.tls = overrides.tls.or(&mine.tls);
    }
    Ok(())
}

fn exporter_list(
    c: &mut TelemetryConfig,
    lookup: Lookup<'_>,
    name: &str,
    known: &[&str],
) -> Option<Vec<String>> {
    let v = get(lookup, name)?;
    let mut out = Vec::new();
    for e in v.split(',').map(|e| e.trim().to_ascii_lowercase()) {
        if e.is_empty() {
            continue;
        }
        if known.contains(&e.as_str()) {
            out.push(e);
        } else {
            c.warn(format!(
                "{name}: exporter {e:?} is not supported here (known: {}); ignored",
                known.join(", ")
            ));
        }
    }
    Some(out)
}

fn kind(name: &str) -> ExporterKind {
    match name {
        "otlp" => ExporterKind::Otlp,
        "zipkin" => ExporterKind::Zipkin,
        "console" => ExporterKind::Console,
        _ => ExporterKind::None,
    }
}

fn exporters(c: &mut TelemetryConfig, lookup: Lookup<'_>) {
    if let Some(url) = get(lookup, "OTEL_EXPORTER_ZIPKIN_ENDPOINT") {
        // Checked when the exporter is built, like the configuration file's value.
        c.tracing.zipkin_endpoint = url;
    }
    match number::<u64>(c, lookup, "OTEL_EXPORTER_ZIPKIN_TIMEOUT") {
        Some(0) => {
            c.warn("OTEL_EXPORTER_ZIPKIN_TIMEOUT=0: a timeout must be positive; ignored".to_owned())
        }
        Some(ms) => c.tracing.zipkin_timeout_ms = ms,
        None => {}
    }
    if let Some(list) = exporter_list(
        c,
        lookup,
        "OTEL_TRACES_EXPORTER",
        &["otlp", "zipkin", "console", "none"],
    ) {
        c.tracing.exporter = list.first().map(|e| kind(e)).unwrap_or(ExporterKind::None);
        if list.len() > 1 {
            c.warn(format!(
                "OTEL_TRACES_EXPORTER: only the first exporter ({}) is used",
                list[0]
            ));
        }
    }
    if let Some(list) = exporter_list(
        c,
        lookup,
        "OTEL_METRICS_EXPORTER",
        &["otlp", "prometheus", "console", "none"],
    ) {
        c.metrics.otlp_enabled = list.iter().any(|e| e == "otlp");
        c.metrics.prometheus_enabled = list.iter().any(|e| e == "prometheus");
    }
    if let Some(list) = exporter_list(
        c,
        lookup,
        "OTEL_LOGS_EXPORTER",
        &["otlp", "console", "none"],
    ) {
        c.logging.exporter = list.first().map(|e| kind(e)).unwrap_or(ExporterKind::None);
    }
}
