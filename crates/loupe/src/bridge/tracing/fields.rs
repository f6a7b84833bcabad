//! Reading `tracing` fields: span fields as attributes with the `otel.*` ones set aside,
//! event fields as a body and attributes, and the reused buffers that keep this cheap.

use crate::common::attribute::{Key, KeyValue, Value};
use crate::trace::SpanKind;
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::{self, Write as _};
use tracing_core::field::{Field, Visit};

thread_local! {
    /// A reused buffer for field values, so attributes are collected without allocating.
    static SCRATCH: RefCell<Vec<KeyValue>> = const { RefCell::new(Vec::new()) };
    /// A reused buffer for formatting values; each value then costs one exact allocation.
    static FMT_BUF: RefCell<String> = const { RefCell::new(String::new()) };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StatusCode {
    Ok,
    Error,
}

/// The `otel.*` fields of a span.
#[derive(Default)]
pub(super) struct Special {
    pub(super) name: Option<Cow<'static, str>>,
    pub(super) kind: Option<SpanKind>,
    pub(super) status: Option<StatusCode>,
    pub(super) status_message: Option<Cow<'static, str>>,
}

impl Special {
    /// Takes `otel.*` fields; returns false for any other field.
    pub(super) fn take(&mut self, name: &str, value: &Value) -> bool {
        let Some(rest) = name.strip_prefix("otel.") else {
            return false;
        };
        let text = || match value {
            Value::String(s) => Cow::Owned(s.trim_matches('"').to_owned()),
            other => Cow::Owned(other.to_string()),
        };
        match rest {
            "name" => self.name = Some(text()),
            "kind" => self.kind = parse_kind(&text()),
            "status_code" => self.status = parse_status(&text()),
            "status_message" | "status_description" => self.status_message = Some(text()),
            _ => return false,
        }
        true
    }
}

fn parse_kind(s: &str) -> Option<SpanKind> {
    Some(match s.to_ascii_lowercase().as_str() {
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        "internal" => SpanKind::Internal,
        _ => return None,
    })
}

fn parse_status(s: &str) -> Option<StatusCode> {
    match s.to_ascii_lowercase().as_str() {
        "ok" => Some(StatusCode::Ok),
        "error" => Some(StatusCode::Error),
        _ => None,
    }
}

/// Collects span fields as attributes, setting the `otel.*` ones aside.
pub(super) struct SpanFields<'a> {
    pub(super) attributes: &'a mut Vec<KeyValue>,
    pub(super) special: Special,
}

impl SpanFields<'_> {
    fn push(&mut self, field: &Field, value: Value) {
        if !self.special.take(field.name(), &value) {
            self.attributes.push(KeyValue {
                key: Key::from_static(field.name()),
                value,
            });
        }
    }

    fn push_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, Value::String(Cow::Owned(display_string(value))));
    }
}

/// `Visit` for a collector with `push(field, value)` and `push_error(field, error)`: typed
/// values become attribute values the same way for span and event fields.
macro_rules! visit_by_push {
    ($ty:ident) => {
        impl Visit for $ty<'_> {
            fn record_f64(&mut self, field: &Field, value: f64) {
                self.push(field, Value::F64(value));
            }
            fn record_i64(&mut self, field: &Field, value: i64) {
                self.push(field, Value::I64(value));
            }
            fn record_u64(&mut self, field: &Field, value: u64) {
                self.push(field, wide_value(value));
            }
            fn record_i128(&mut self, field: &Field, value: i128) {
                self.push(field, wide_value(value));
            }
            fn record_u128(&mut self, field: &Field, value: u128) {
                self.push(field, wide_value(value));
            }
            fn record_bool(&mut self, field: &Field, value: bool) {
                self.push(field, Value::Bool(value));
            }
            fn record_str(&mut self, field: &Field, value: &str) {
                self.push(field, Value::String(Cow::Owned(value.to_owned())));
            }
            fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
                self.push_error(field, value);
            }
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                self.push(field, Value::String(Cow::Owned(debug_string(value))));
            }
        }
    };
}

visit_by_push!(SpanFields);
visit_by_push!(EventFields);

/// Collects event fields: `message` is the body, the rest attributes.
pub(super) struct EventFields<'a> {
    pub(super) body: Option<Value>,
    pub(super) attributes: &'a mut Vec<KeyValue>,
    pub(super) has_exception: bool,
}

impl EventFields<'_> {
    fn push_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let message = display_string(value);
        // The first error also fills the semantic-convention field backends look for.
        if !self.has_exception {
            self.has_exception = true;
            self.attributes.push(KeyValue::new(
                "exception.message",
                Value::String(Cow::Owned(message.clone())),
            ));
        }
        self.push(field, Value::String(Cow::Owned(message)));
    }

    fn push(&mut self, field: &Field, value: Value) {
        if field.name() == "message" && self.body.is_none() {
            self.body = Some(value);
        } else {
            self.attributes.push(KeyValue {
                key: Key::from_static(field.name()),
                value,
            });
        }
    }
}

/// An integer as an `i64` when it fits, else its decimal text.
fn wide_value<T: TryInto<i64> + ToString + Copy>(v: T) -> Value {
    v.try_into()
        .map_or_else(|_| Value::String(Cow::Owned(v.to_string())), Value::I64)
}

/// Runs `f` with the reused attribute buffer. The buffer is taken out of its slot while
/// `f` runs, so a field's `Debug` impl that re-enters the layer simply gets a fresh one.
pub(super) fn with_scratch<T>(f: impl FnOnce(&mut Vec<KeyValue>) -> T) -> T {
    let mut buf = SCRATCH
        .try_with(|cell| cell.try_borrow_mut().map(|mut v| std::mem::take(&mut *v)))
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let out = f(&mut buf);
    buf.clear();
    give_back(&SCRATCH, buf, |v| v.capacity());
    out
}

/// Puts a buffer back in its slot unless the slot holds a bigger one (after re-entry).
fn give_back<B: Default + 'static>(
    slot: &'static std::thread::LocalKey<RefCell<B>>,
    buf: B,
    capacity: impl Fn(&B) -> usize,
) {
    let _ = slot.try_with(|cell| {
        if let Ok(mut current) = cell.try_borrow_mut() {
            if capacity(&current) < capacity(&buf) {
                *current = buf;
            }
        }
    });
}

/// Formats into the reused buffer, then copies out: one exact allocation per value.
fn format_with(write: impl FnOnce(&mut String) -> fmt::Result) -> String {
    let mut buf = FMT_BUF
        .try_with(|cell| cell.try_borrow_mut().map(|mut s| std::mem::take(&mut *s)))
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    buf.clear();
    let _ = write(&mut buf);
    let out = buf.as_str().to_owned();
    // Don't keep a huge buffer alive because of one huge value.
    if buf.capacity() <= 4096 {
        give_back(&FMT_BUF, buf, String::capacity);
    }
    out
}

fn debug_string(value: &dyn fmt::Debug) -> String {
    format_with(|buf| write!(buf, "{value:?}"))
}

fn display_string(value: &dyn fmt::Display) -> String {
    format_with(|buf| write!(buf, "{value}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_fields_accept_the_spellings_tracing_opentelemetry_does() {
        let mut special = Special::default();
        assert!(special.take("otel.kind", &Value::from("Server")));
        assert!(special.take("otel.status_code", &Value::from("\"ERROR\"")));
        assert!(special.take("otel.status_message", &Value::from("boom")));
        assert!(special.take("otel.name", &Value::from("GET /users")));
        assert!(!special.take("otel.unknown", &Value::from("x")));
        assert!(!special.take("http.method", &Value::from("GET")));
        assert_eq!(special.kind, Some(SpanKind::Server));
        assert_eq!(special.status, Some(StatusCode::Error));
        assert_eq!(special.status_message.as_deref(), Some("boom"));
        assert_eq!(special.name.as_deref(), Some("GET /users"));
    }

    #[test]
    fn wide_integers_stay_numbers_when_they_fit() {
        assert_eq!(wide_value(7), Value::I64(7));
        assert_eq!(
            wide_value(u64::MAX),
            Value::String(Cow::Owned(u64::MAX.to_string()))
        );
        assert_eq!(wide_value(-3), Value::I64(-3));
        assert_eq!(wide_value(u128::MAX), Value::from(u128::MAX.to_string()));
    }
}
