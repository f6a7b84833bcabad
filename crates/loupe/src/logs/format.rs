//! How a log record looks on a console, in a file or in a search index: JSON, pretty
//! (coloured on a terminal) or logfmt.

use super::LogRecord;
use crate::common::attribute::{Array, Value};
use crate::common::time::Utc;
use std::cell::Cell;
use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A text format for log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One JSON object per line, in the shape of seed 003's "Logging Standards":
    /// `{"timestamp":…,"level":"INFO","target":…,"message":…,"fields":{…},"span":{"trace_id":…,"span_id":…}}`.
    /// `span` is left out when the record was not emitted inside a span.
    #[default]
    Json,
    /// Human-readable: `2025-10-11T10:30:45.123Z  INFO eventflux::query: message key=value`,
    /// with the level coloured when `color` is set.
    Pretty {
        /// Colour the level with ANSI escapes.
        color: bool,
    },
    /// `key=value` pairs: `timestamp=… level=info target=… message="…" key=value`.
    Logfmt,
}

impl LogFormat {
    /// Parses `json`, `pretty` or `logfmt` (`text` and `compact` mean pretty).
    pub fn parse(name: &str) -> Option<LogFormat> {
        match name.to_ascii_lowercase().as_str() {
            "json" => Some(LogFormat::Json),
            "pretty" | "text" | "compact" => Some(LogFormat::Pretty { color: false }),
            "logfmt" => Some(LogFormat::Logfmt),
            _ => None,
        }
    }

    /// Appends `record` to `out`, followed by a newline.
    pub fn write(&self, record: &LogRecord, out: &mut Vec<u8>) {
        match self {
            LogFormat::Json => write_json(record, out),
            LogFormat::Pretty { color } => write_pretty(record, *color, out),
            LogFormat::Logfmt => write_logfmt(record, out),
        }
        out.push(b'\n');
    }

    /// The record as one line of text, without the newline.
    pub fn to_string(&self, record: &LogRecord) -> String {
        let mut out = Vec::with_capacity(256);
        self.write(record, &mut out);
        out.pop();
        String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())
    }
}

fn timestamp(record: &LogRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(&timestamp_text(record));
}

/// The record's time as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(super) fn timestamp_text(record: &LogRecord) -> [u8; 24] {
    millis_cached(record.timestamp.unwrap_or(record.observed_timestamp))
}

/// `Utc::write_millis`, remembered per thread: the last millisecond's whole text, and
/// the last second's text up to the second. A sink renders many records within the same
/// millisecond under load and within the same second otherwise; the calendar arithmetic,
/// and even splitting a `SystemTime` into seconds and milliseconds, were a measurable
/// share of a JSON line.
fn millis_cached(t: SystemTime) -> [u8; 24] {
    /// A millisecond `[from, to)` and its text.
    type Milli = (SystemTime, SystemTime, [u8; 24]);
    /// The seconds since the epoch and their `YYYY-MM-DDTHH:MM:SS.` text.
    type Second = (u64, [u8; 20]);
    thread_local! {
        static LAST_MILLI: Cell<Milli> = const { Cell::new((UNIX_EPOCH, UNIX_EPOCH, [0; 24])) };
        static LAST: Cell<Second> = const { Cell::new((u64::MAX, [0; 20])) };
    }
    if let Ok((from, to, text)) = LAST_MILLI.try_with(Cell::get) {
        if from <= t && t < to {
            return text;
        }
    }
    let since = t.duration_since(UNIX_EPOCH);
    let cache_milli = since.is_ok(); // a time before 1970 is rendered, not remembered
    let since = since.unwrap_or_default();
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    let cached = LAST.try_with(Cell::get).ok().filter(|(at, _)| *at == secs);
    let prefix = match cached {
        Some((_, prefix)) => prefix,
        None => {
            let mut full = Vec::with_capacity(24);
            Utc::of(t).write_millis(&mut full);
            let mut prefix = [0; 20];
            prefix.copy_from_slice(&full[..20]);
            let _ = LAST.try_with(|last| last.set((secs, prefix)));
            prefix
        }
    };
    let mut text = [0; 24];
    text[..20].copy_from_slice(&prefix);
    // Millisecond digits: `millis` is below 1000.
    text[20..].copy_from_slice(&[
        b'0' + (millis / 100) as u8,
        b'0' + (millis / 10 % 10) as u8,
        b'0' + (millis % 10) as u8,
        b'Z',
    ]);
    let from = UNIX_EPOCH + Duration::new(secs, millis * 1_000_000);
    match from.checked_add(Duration::from_millis(1)) {
        Some(to) if cache_milli => {
            let _ = LAST_MILLI.try_with(|last| last.set((from, to, text)));
        }
        _ => {}
    }
    text
}

fn message(record: &LogRecord) -> std::borrow::Cow<'_, str> {
    record
        .body
        .as_ref()
        .map_or(std::borrow::Cow::Borrowed(""), Value::as_str)
}

fn write_json(record: &LogRecord, out: &mut Vec<u8>) {
    // Most records take the one-pass writer; it declines the rest, unchanged.
    if !super::json_line::try_write(record, out) {
        write_json_general(record, out);
    }
}

/// Any record's JSON line, one piece at a time.
pub(super) fn write_json_general(record: &LogRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    timestamp(record, out);
    out.extend_from_slice(b"\",\"level\":");
    json_str(&record.severity_text, out);
    out.extend_from_slice(b",\"target\":");
    json_str(&record.scope.name, out);
    out.extend_from_slice(b",\"message\":");
    match &record.body {
        Some(Value::String(s)) => json_str(s, out),
        Some(other) => json_value(other, out),
        None => out.extend_from_slice(b"\"\""),
    }
    if let Some(name) = &record.event_name {
        out.extend_from_slice(b",\"event\":");
        json_str(name, out);
    }
    out.extend_from_slice(b",\"fields\":{");
    for (i, kv) in record.attributes.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(kv.key.as_str(), out);
        out.push(b':');
        json_value(&kv.value, out);
    }
    out.push(b'}');
    if record.trace_id.is_valid() {
        out.extend_from_slice(b",\"span\":{\"trace_id\":\"");
        push_hex(&record.trace_id.to_bytes(), out);
        out.extend_from_slice(b"\",\"span_id\":\"");
        push_hex(&record.span_id.to_bytes(), out);
        out.extend_from_slice(b"\"}");
    }
    out.push(b'}');
}

fn push_hex<const N: usize>(bytes: &[u8; N], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + 2 * N, 0);
    crate::propagation::hex::encode_into(bytes, &mut out[start..]);
}

/// Decimal digits of an integer without going through `fmt`.
fn push_i64(v: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Writes `s` as a JSON string.
#[inline]
pub(crate) fn json_str(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    // Most strings need no escaping: a word-at-a-time pass finds out, and the whole
    // string is copied at once.
    if crate::common::text::needs_escape(bytes) {
        return json_str_escaped(bytes, out);
    }
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.push(b'"');
}

#[cold]
fn json_str_escaped(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn json_f64(v: f64, out: &mut Vec<u8>) {
    if v.is_finite() {
        let _ = write!(out, "{v}");
    } else {
        // JSON has no NaN or infinity; keep the information as a string.
        let _ = write!(out, "\"{v}\"");
    }
}

/// Writes a typed value as JSON.
pub(crate) fn json_value(v: &Value, out: &mut Vec<u8>) {
    fn list<T>(items: &[T], out: &mut Vec<u8>, mut each: impl FnMut(&T, &mut Vec<u8>)) {
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            each(item, out);
        }
        out.push(b']');
    }
    match v {
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::I64(i) => push_i64(*i, out),
        Value::F64(f) => json_f64(*f, out),
        Value::String(s) => json_str(s, out),
        Value::Array(Array::Bool(items)) => list(items, out, |b, out| {
            out.extend_from_slice(if *b { b"true" } else { b"false" })
        }),
        Value::Array(Array::I64(items)) => list(items, out, |i, out| push_i64(*i, out)),
        Value::Array(Array::F64(items)) => list(items, out, |f, out| json_f64(*f, out)),
        Value::Array(Array::String(items)) => list(items, out, |s, out| json_str(s, out)),
    }
}

const RESET: &str = "\x1b[0m";

fn level_colour(severity_number: u8) -> &'static str {
    match severity_number {
        0..=4 => "\x1b[35m",   // trace: magenta
        5..=8 => "\x1b[34m",   // debug: blue
        9..=12 => "\x1b[32m",  // info: green
        13..=16 => "\x1b[33m", // warn: yellow
        _ => "\x1b[31m",       // error, fatal: red
    }
}

fn write_pretty(record: &LogRecord, color: bool, out: &mut Vec<u8>) {
    timestamp(record, out);
    if color {
        let _ = write!(
            out,
            " {}{:>5}{RESET} \x1b[2m{}:{RESET} {}",
            level_colour(record.severity_number),
            record.severity_text,
            record.scope.name,
            message(record)
        );
    } else {
        let _ = write!(
            out,
            " {:>5} {}: {}",
            record.severity_text,
            record.scope.name,
            message(record)
        );
    }
    for kv in &record.attributes {
        out.push(b' ');
        if color {
            let _ = write!(out, "\x1b[3m{}{RESET}=", kv.key);
        } else {
            let _ = write!(out, "{}=", kv.key);
        }
        logfmt_value(&kv.value, out);
    }
    trace_ids(record, out);
}

fn write_logfmt(record: &LogRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(b"timestamp=");
    timestamp(record, out);
    out.extend_from_slice(b" level=");
    out.extend(record.severity_text.bytes().map(|b| b.to_ascii_lowercase()));
    out.extend_from_slice(b" target=");
    logfmt_str(&record.scope.name, out);
    out.extend_from_slice(b" message=");
    logfmt_str(&message(record), out);
    for kv in &record.attributes {
        out.push(b' ');
        logfmt_key(kv.key.as_str(), out);
        out.push(b'=');
        logfmt_value(&kv.value, out);
    }
    trace_ids(record, out);
}

/// ` trace_id=… span_id=…` when the record was emitted in a span.
fn trace_ids(record: &LogRecord, out: &mut Vec<u8>) {
    if record.trace_id.is_valid() {
        out.extend_from_slice(b" trace_id=");
        push_hex(&record.trace_id.to_bytes(), out);
        out.extend_from_slice(b" span_id=");
        push_hex(&record.span_id.to_bytes(), out);
    }
}

fn logfmt_key(key: &str, out: &mut Vec<u8>) {
    // Keys cannot be quoted in logfmt: replace what would break the line.
    out.extend(key.bytes().map(|b| match b {
        b' ' | b'=' | b'"' | 0..=0x1f => b'_',
        b => b,
    }));
}

fn logfmt_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::String(s) => logfmt_str(s, out),
        Value::Array(_) => logfmt_str(&v.to_string(), out),
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

fn logfmt_str(s: &str, out: &mut Vec<u8>) {
    let needs_quotes = s.is_empty()
        || s.bytes()
            .any(|b| b <= b' ' || b == b'=' || b == b'"' || b == b'\\');
    if needs_quotes {
        json_str(s, out);
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::scope::InstrumentationScope;
    use crate::logs::Severity;
    use crate::trace::{SpanId, TraceId};
    use crate::KeyValue;
    use std::time::{Duration, UNIX_EPOCH};

    fn record() -> LogRecord {
        let mut r = LogRecord::new(Severity::Info, "Query executed successfully")
            .with_scope(InstrumentationScope::new("eventflux::query").intern())
            .with_attribute(KeyValue::new("query.id", "stock_aggregation"))
            .with_attribute(KeyValue::new("events.processed", 1234i64))
            .with_attribute(KeyValue::new("note", "a \"quoted\"\nline"));
        r.timestamp = Some(UNIX_EPOCH + Duration::from_millis(1_760_178_645_123));
        r
    }

    #[test]
    fn json_has_the_shape_of_the_eventflux_logging_standard() {
        let mut r = record();
        r.trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        r.span_id = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        let line = LogFormat::Json.to_string(&r);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "timestamp": "2025-10-11T10:30:45.123Z",
                "level": "INFO",
                "target": "eventflux::query",
                "message": "Query executed successfully",
                "fields": {
                    "query.id": "stock_aggregation",
                    "events.processed": 1234,
                    "note": "a \"quoted\"\nline",
                },
                "span": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"},
            })
        );
        assert!(!LogFormat::Json.to_string(&record()).contains("\"span\""));
    }

    #[test]
    fn logfmt_quotes_only_what_needs_it() {
        assert_eq!(
            LogFormat::Logfmt.to_string(&record()),
            "timestamp=2025-10-11T10:30:45.123Z level=info target=eventflux::query \
             message=\"Query executed successfully\" query.id=stock_aggregation \
             events.processed=1234 note=\"a \\\"quoted\\\"\\nline\""
        );
    }

    #[test]
    fn pretty_colours_only_when_asked() {
        let plain = LogFormat::Pretty { color: false }.to_string(&record());
        assert!(plain.starts_with("2025-10-11T10:30:45.123Z  INFO eventflux::query: Query"));
        assert!(!plain.contains('\x1b'));
        assert!(LogFormat::Pretty { color: true }
            .to_string(&record())
            .contains("\x1b[32m INFO"));
    }

    #[test]
    fn integers_render_exactly() {
        for v in [0, 7, -7, 1234, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            push_i64(v, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
    }

    #[test]
    fn json_survives_control_characters_and_non_finite_numbers() {
        let r = record()
            .with_attribute(KeyValue::new("ctl", "\u{1}\u{7f}é"))
            .with_attribute(KeyValue::new("nan", f64::NAN))
            .with_attribute(KeyValue::new("list", vec![1.5, f64::INFINITY]));
        let v: serde_json::Value = serde_json::from_str(&LogFormat::Json.to_string(&r)).unwrap();
        assert_eq!(v["fields"]["ctl"], "\u{1}\u{7f}é");
        assert_eq!(v["fields"]["nan"], "NaN");
        assert_eq!(v["fields"]["list"], serde_json::json!([1.5, "inf"]));
    }

    proptest::proptest! {
        /// The per-thread cached timestamp text is the uncached one, whether the second
        /// or the millisecond was seen before or not, at the millisecond's edges too.
        #[test]
        fn cached_timestamps_match(secs in 0u64..253_402_300_800, nanos in 0u32..1_000_000_000, later_ms in 0u64..2_000) {
            let t = UNIX_EPOCH + std::time::Duration::new(secs, nanos);
            let next_milli = t + std::time::Duration::from_nanos(u64::from(1_000_000 - nanos % 1_000_000));
            for t in [
                t,
                t,
                next_milli - std::time::Duration::from_nanos(1),
                next_milli,
                t + std::time::Duration::from_millis(later_ms),
                t,
            ] {
                let mut plain = Vec::new();
                Utc::of(t).write_millis(&mut plain);
                proptest::prop_assert_eq!(&millis_cached(t)[..], &plain[..]);
            }
        }

        /// Any string, escaped or not, reads back as itself, and the word-at-a-time
        /// check agrees with the byte-wise one (strings built from the characters at the
        /// edges of the escape rules, at every length around the word size).
        #[test]
        fn json_strings_round_trip(s in proptest::prop_oneof![
            "[\\x00-\\x21\"\\\\\\x5b-\\x5d\\x7e-\\u{a0}é]{0,40}",
            "[ -~é]{0,40}",
        ]) {
            let mut out = Vec::new();
            json_str(&s, &mut out);
            let back: String = serde_json::from_slice(&out).unwrap();
            proptest::prop_assert_eq!(&back, &s);
        }
    }
}
