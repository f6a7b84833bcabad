//! The JSON line of a typical record, written in one pass into room made up front.
//!
//! A record's line is a dozen short strings and literals. Appending each to a `Vec` pays,
//! every time, for reloading the vector's length, checking its capacity and calling
//! `memcpy` for a handful of bytes; on a sink thread that was most of the rendering. Here
//! the line's longest possible length is worked out first, the room is made once, and the
//! pieces are copied in at a cursor kept in a register, short ones with two overlapping
//! word moves.
//!
//! Records this path does not cover (a string that needs escaping, a float, an array, a
//! non-string body) return `false` and are written by `format.rs`'s general writer,
//! which gives the same bytes. Safe code only: every write is bounds-checked, and a
//! write that would not fit (which the length bound rules out) also hands over to the
//! general writer instead of panicking.

use super::LogRecord;
use crate::common::attribute::Value;
use crate::common::text::needs_escape;

/// Room for everything but the strings and numbers: the literals (≈120 bytes), the
/// timestamp (24) and the span's ids (48), with margin.
const FIXED: usize = 256;
/// The longest `i64` in decimal (`-9223372036854775808`).
const I64_MAX_LEN: usize = 20;

/// Appends the JSON line for `record` to `out` (without the newline) when every value is
/// one this path covers; `false`, with `out` unchanged, otherwise.
#[inline(never)] // inlined into `LogFormat::write`, it compiled to more instructions
pub(super) fn try_write(record: &LogRecord, out: &mut Vec<u8>) -> bool {
    let Some(bound) = bound(record) else {
        return false;
    };
    let start = out.len();
    out.resize(start + bound, 0);
    let mut line = Line {
        buf: &mut out[start..],
        at: 0,
    };
    match write(record, &mut line) {
        Some(()) => {
            let written = line.at;
            out.truncate(start + written);
            true
        }
        None => {
            debug_assert!(false, "the length bound was too small");
            out.truncate(start);
            false
        }
    }
}

/// The longest the line can be, or `None` when the record has something only the
/// general writer renders.
fn bound(record: &LogRecord) -> Option<usize> {
    let string = |s: &str| (!needs_escape(s.as_bytes())).then_some(s.len() + 2);
    let mut n = FIXED;
    n += string(&record.severity_text)?;
    n += string(&record.scope.name)?;
    n += match &record.body {
        Some(Value::String(s)) => string(s)?,
        Some(_) => return None,
        None => 2,
    };
    if let Some(name) = &record.event_name {
        n += 9 + string(name)?;
    }
    for kv in &record.attributes {
        // `,` + key + `:` + value.
        n += 2 + string(kv.key.as_str())?;
        n += match &kv.value {
            Value::String(s) => string(s)?,
            Value::I64(_) => I64_MAX_LEN,
            Value::Bool(_) => 5,
            Value::F64(_) | Value::Array(_) => return None,
        };
    }
    Some(n)
}

fn write(record: &LogRecord, line: &mut Line<'_>) -> Option<()> {
    line.put(b"{\"timestamp\":\"")?;
    line.put(&super::format::timestamp_text(record))?;
    line.put(b"\",\"level\":")?;
    line.string(&record.severity_text)?;
    line.put(b",\"target\":")?;
    line.string(&record.scope.name)?;
    line.put(b",\"message\":")?;
    match &record.body {
        Some(Value::String(s)) => line.string(s)?,
        _ => line.put(b"\"\"")?,
    }
    if let Some(name) = &record.event_name {
        line.put(b",\"event\":")?;
        line.string(name)?;
    }
    line.put(b",\"fields\":{")?;
    for (i, kv) in record.attributes.iter().enumerate() {
        if i > 0 {
            line.put(b",")?;
        }
        line.string(kv.key.as_str())?;
        line.put(b":")?;
        match &kv.value {
            Value::String(s) => line.string(s)?,
            Value::I64(v) => line.copy(itoa::Buffer::new().format(*v).as_bytes())?,
            Value::Bool(true) => line.put(b"true")?,
            Value::Bool(false) => line.put(b"false")?,
            Value::F64(_) | Value::Array(_) => return None,
        }
    }
    line.put(b"}")?;
    if record.trace_id.is_valid() {
        line.put(b",\"span\":{\"trace_id\":\"")?;
        line.hex(&record.trace_id.to_bytes())?;
        line.put(b"\",\"span_id\":\"")?;
        line.hex(&record.span_id.to_bytes())?;
        line.put(b"\"}")?;
    }
    line.put(b"}")
}

/// A cursor over the room made for the line.
struct Line<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Line<'_> {
    /// The next `n` bytes of room.
    #[inline(always)]
    fn room(&mut self, n: usize) -> Option<&mut [u8]> {
        let room = self.buf.get_mut(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(room)
    }

    /// A literal: its length is a constant, so the copy is a few moves.
    #[inline(always)]
    fn put<const N: usize>(&mut self, bytes: &[u8; N]) -> Option<()> {
        self.room(N)?.copy_from_slice(bytes);
        Some(())
    }

    /// Bytes of any length; up to 16 without a call to `memcpy`.
    #[inline(always)]
    fn copy(&mut self, bytes: &[u8]) -> Option<()> {
        let n = bytes.len();
        let room = self.room(n)?;
        if (8..=16).contains(&n) {
            // Two eight-byte moves that overlap in the middle.
            room[..8].copy_from_slice(&bytes[..8]);
            room[n - 8..].copy_from_slice(&bytes[n - 8..]);
        } else if (4..8).contains(&n) {
            room[..4].copy_from_slice(&bytes[..4]);
            room[n - 4..].copy_from_slice(&bytes[n - 4..]);
        } else {
            room.copy_from_slice(bytes);
        }
        Some(())
    }

    /// A string known to need no escaping, quoted.
    #[inline(always)]
    fn string(&mut self, s: &str) -> Option<()> {
        self.put(b"\"")?;
        self.copy(s.as_bytes())?;
        self.put(b"\"")
    }

    fn hex<const N: usize>(&mut self, bytes: &[u8; N]) -> Option<()> {
        let room = self.room(2 * N)?;
        crate::propagation::hex::encode_into(bytes, room);
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{LogFormat, Severity};
    use crate::KeyValue;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::I64),
            any::<f64>().prop_map(Value::F64),
            "[ -~é\"\\\\\n\t]{0,24}".prop_map(|s| Value::String(s.into())),
            "[a-z/ ]{0,40}".prop_map(|s| Value::String(s.into())),
        ]
    }

    proptest! {
        /// The fast path writes exactly what the general writer writes, and covers the
        /// common records.
        #[test]
        fn agrees_with_the_general_writer(
            message in "[ -~é\"\\\\\n]{0,30}",
            fields in proptest::collection::vec(("[a-z_.\"]{1,12}", value()), 0..8),
            event in proptest::option::of("[a-z.]{1,10}"),
            ids in proptest::option::of((1u128.., 1u64..)),
        ) {
            let mut record = crate::logs::LogRecord::new(Severity::Warn, message);
            for (k, v) in fields {
                record.attributes.push(KeyValue::new(k, v));
            }
            record.event_name = event.map(Into::into);
            if let Some((t, s)) = ids {
                record.trace_id = crate::trace::TraceId::from_bytes(t.to_be_bytes());
                record.span_id = crate::trace::SpanId::from_bytes(s.to_be_bytes());
            }
            let mut general = Vec::new();
            super::super::format::write_json_general(&record, &mut general);
            let mut fast = b"earlier line\n".to_vec();
            if try_write(&record, &mut fast) {
                prop_assert_eq!(
                    String::from_utf8_lossy(&fast[13..]),
                    String::from_utf8_lossy(&general)
                );
            } else {
                prop_assert_eq!(&fast, b"earlier line\n");
                prop_assert!(bound(&record).is_none());
            }
            // Whichever path ran, the public writer gives the general writer's line.
            let public = LogFormat::Json.to_string(&record);
            prop_assert_eq!(public.as_bytes(), &general[..]);
        }
    }

    #[test]
    fn covers_strings_integers_and_booleans() {
        let record = crate::logs::LogRecord::new(Severity::Info, "request handled")
            .with_attribute(KeyValue::new("http_route", "/api/users"))
            .with_attribute(KeyValue::new("http_status", i64::MIN))
            .with_attribute(KeyValue::new("cache_hit", false));
        let mut out = Vec::new();
        assert!(try_write(&record, &mut out));
        let line = String::from_utf8(out).unwrap();
        assert!(
            line.ends_with(
                r#""message":"request handled","fields":{"http_route":"/api/users","http_status":-9223372036854775808,"cache_hit":false}}"#
            ),
            "{line}"
        );
        let escaped = record.with_attribute(KeyValue::new("path", "a\"b"));
        assert!(!try_write(&escaped, &mut Vec::new()));
    }
}
