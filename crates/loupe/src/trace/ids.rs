//! Trace and span identity: ids, flags, trace state and the span context that carries them.

use crate::common::error::ConfigError;
use std::fmt;
use std::sync::Arc;

/// Why a hex id or header could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text has the wrong length for the id.
    #[error("expected {expected} lowercase hex characters, got {got}")]
    Length {
        /// The length required.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// The text has a character that is not lowercase hex.
    #[error("`{0}` is not a lowercase hex character")]
    NotHex(char),
    /// A trace state entry breaks the W3C grammar.
    #[error("invalid tracestate member `{0}`")]
    TraceState(String),
}

fn parse_hex<const N: usize>(s: &str) -> Result<[u8; N], ParseError> {
    if s.len() != N * 2 {
        return Err(ParseError::Length {
            expected: N * 2,
            got: s.len(),
        });
    }
    fn nibble(c: u8) -> Result<u8, ParseError> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(ParseError::NotHex(c as char)),
        }
    }
    let bytes = s.as_bytes();
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = (nibble(bytes[2 * i])? << 4) | nibble(bytes[2 * i + 1])?;
    }
    Ok(out)
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

/// A 16-byte trace id. All zeroes is invalid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId([u8; 16]);

impl TraceId {
    /// The invalid (all-zero) trace id.
    pub const INVALID: TraceId = TraceId([0; 16]);

    /// From raw bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        TraceId(bytes)
    }

    /// The raw bytes.
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// From 32 lowercase hex characters. The all-zero id parses; check [`TraceId::is_valid`].
    pub fn from_hex(s: &str) -> Result<Self, ParseError> {
        parse_hex::<16>(s).map(TraceId)
    }

    /// False for the all-zero id.
    pub fn is_valid(&self) -> bool {
        self.0 != [0; 16]
    }

    /// A fresh random, valid id.
    pub fn random() -> Self {
        loop {
            let id = fastrand::u128(..);
            if id != 0 {
                return TraceId(id.to_be_bytes());
            }
        }
    }
}

impl fmt::Display for TraceId {
    /// Lowercase hex, as W3C Trace Context writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

/// An 8-byte span id. All zeroes is invalid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId([u8; 8]);

impl SpanId {
    /// The invalid (all-zero) span id.
    pub const INVALID: SpanId = SpanId([0; 8]);

    /// From raw bytes.
    pub const fn from_bytes(bytes: [u8; 8]) -> Self {
        SpanId(bytes)
    }

    /// The raw bytes.
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0
    }

    /// From 16 lowercase hex characters.
    pub fn from_hex(s: &str) -> Result<Self, ParseError> {
        parse_hex::<8>(s).map(SpanId)
    }

    /// False for the all-zero id.
    pub fn is_valid(&self) -> bool {
        self.0 != [0; 8]
    }

    /// A fresh random, valid id.
    pub fn random() -> Self {
        loop {
            let id = fastrand::u64(..);
            if id != 0 {
                return SpanId(id.to_be_bytes());
            }
        }
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// W3C trace flags: bit 0 is "sampled", bit 1 is "random trace id" (Trace Context level 2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// No flags set: not sampled.
    pub const NONE: TraceFlags = TraceFlags(0);
    /// The sampled flag.
    pub const SAMPLED: TraceFlags = TraceFlags(0x01);
    /// The random-trace-id flag: the right-most 7 bytes of the trace id are random.
    pub const RANDOM: TraceFlags = TraceFlags(0x02);

    /// From the raw byte (all bits kept so they can be propagated).
    pub const fn new(bits: u8) -> Self {
        TraceFlags(bits)
    }

    /// The raw byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether the sampled bit is set.
    pub const fn is_sampled(self) -> bool {
        self.0 & 0x01 != 0
    }

    /// These flags with the sampled bit set or cleared.
    #[must_use]
    pub const fn with_sampled(self, sampled: bool) -> Self {
        if sampled {
            TraceFlags(self.0 | 0x01)
        } else {
            TraceFlags(self.0 & !0x01)
        }
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceFlags({:02x})", self.0)
    }
}

/// Vendor-specific trace state (`tracestate`): an ordered list of at most 32 key/value pairs.
///
/// Empty trace state, the common case, is free to clone.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct TraceState(Option<Arc<[(String, String)]>>);

/// The W3C limit on tracestate members.
pub const MAX_TRACE_STATE_MEMBERS: usize = 32;

fn valid_key(key: &str) -> bool {
    // simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
    // multi-tenant-key = tenant-id "@" system-id
    fn simple(k: &str, first_may_be_digit: bool, max: usize) -> bool {
        let bytes = k.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= max
            && (bytes[0].is_ascii_lowercase() || (first_may_be_digit && bytes[0].is_ascii_digit()))
            && bytes[1..].iter().all(|&c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || matches!(c, b'_' | b'-' | b'*' | b'/')
            })
    }
    match key.split_once('@') {
        None => simple(key, false, 256),
        Some((tenant, system)) => simple(tenant, true, 241) && simple(system, false, 14),
    }
}

fn valid_value(value: &str) -> bool {
    // value = 0*255(chr) nblk-chr ; chr = %x20 / nblk-chr ; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 256
        && bytes.last() != Some(&b' ')
        && bytes
            .iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
}

impl TraceState {
    /// No entries.
    pub const NONE: TraceState = TraceState(None);

    /// Builds a trace state from pairs, validating the W3C key and value grammar.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ParseError> {
        let mut entries: Vec<(String, String)> = Vec::new();
        for (k, v) in pairs {
            let (k, v) = (k.into(), v.into());
            if !valid_key(&k) || !valid_value(&v) || entries.iter().any(|(ek, _)| *ek == k) {
                return Err(ParseError::TraceState(format!("{k}={v}")));
            }
            entries.push((k, v));
        }
        if entries.len() > MAX_TRACE_STATE_MEMBERS {
            return Err(ParseError::TraceState(format!(
                "{} members (max 32)",
                entries.len()
            )));
        }
        Ok(if entries.is_empty() {
            TraceState(None)
        } else {
            TraceState(Some(entries.into()))
        })
    }

    /// Parses a `tracestate` header value. Empty list members are allowed and skipped;
    /// any invalid member rejects the whole header, as the W3C specification requires.
    pub fn from_header(header: &str) -> Result<Self, ParseError> {
        let mut pairs = Vec::new();
        for member in header.split(',') {
            let member = member.trim_matches(|c| c == ' ' || c == '\t');
            if member.is_empty() {
                continue;
            }
            let (k, v) = member
                .split_once('=')
                .ok_or_else(|| ParseError::TraceState(member.to_owned()))?;
            pairs.push((k.to_owned(), v.to_owned()));
        }
        TraceState::from_pairs(pairs)
    }

    /// Renders the `tracestate` header value.
    pub fn header(&self) -> String {
        self.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// A copy with `key` set to `value` and moved to the front, as W3C requires on update.
    pub fn insert(
        &self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, ParseError> {
        let (key, value) = (key.into(), value.into());
        let mut pairs = vec![(key.clone(), value)];
        pairs.extend(
            self.iter()
                .filter(|(k, _)| *k != key)
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        pairs.truncate(MAX_TRACE_STATE_MEMBERS);
        TraceState::from_pairs(pairs)
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .flat_map(|e| e.iter())
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceState({:?})", self.header())
    }
}

/// The part of a span that crosses process boundaries: ids, flags and trace state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct SpanContext {
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
    is_remote: bool,
    state: TraceState,
}

impl SpanContext {
    /// The invalid context: no span.
    pub const INVALID: SpanContext = SpanContext {
        trace_id: TraceId::INVALID,
        span_id: SpanId::INVALID,
        flags: TraceFlags::NONE,
        is_remote: false,
        state: TraceState::NONE,
    };

    /// Builds a span context.
    pub fn new(
        trace_id: TraceId,
        span_id: SpanId,
        flags: TraceFlags,
        is_remote: bool,
        state: TraceState,
    ) -> Self {
        SpanContext {
            trace_id,
            span_id,
            flags,
            is_remote,
            state,
        }
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span id.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The trace flags.
    pub fn trace_flags(&self) -> TraceFlags {
        self.flags
    }

    /// The trace state.
    pub fn trace_state(&self) -> &TraceState {
        &self.state
    }

    /// Whether this context came from another process.
    pub fn is_remote(&self) -> bool {
        self.is_remote
    }

    /// Whether the sampled flag is set.
    pub fn is_sampled(&self) -> bool {
        self.flags.is_sampled()
    }

    /// Valid when both ids are valid.
    pub fn is_valid(&self) -> bool {
        self.trace_id.is_valid() && self.span_id.is_valid()
    }

    /// A copy with a different trace state.
    #[must_use]
    pub fn with_trace_state(mut self, state: TraceState) -> Self {
        self.state = state;
        self
    }
}

pub(crate) fn validate_ratio(field: &'static str, ratio: f64) -> Result<f64, ConfigError> {
    if (0.0..=1.0).contains(&ratio) {
        Ok(ratio)
    } else {
        Err(ConfigError::new(field, ratio, "a number from 0.0 to 1.0"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_round_trip_through_hex() {
        let t = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert_eq!(t.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let s = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        assert_eq!(s.to_string(), "00f067aa0ba902b7");
        assert!(!TraceId::from_hex(&"0".repeat(32)).unwrap().is_valid());
    }

    #[test]
    fn uppercase_and_wrong_lengths_are_rejected() {
        assert_eq!(
            TraceId::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736"),
            Err(ParseError::NotHex('B'))
        );
        assert!(matches!(
            SpanId::from_hex("abc"),
            Err(ParseError::Length {
                expected: 16,
                got: 3
            })
        ));
    }

    #[test]
    fn trace_state_parses_validates_and_updates() {
        let ts = TraceState::from_header("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE,,").unwrap();
        assert_eq!(ts.get("congo"), Some("t61rcWkgMzE"));
        assert_eq!(ts.header(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        let updated = ts.insert("congo", "new").unwrap();
        assert_eq!(updated.header(), "congo=new,rojo=00f067aa0ba902b7");
        assert!(TraceState::from_header("UPPER=1").is_err());
        assert!(TraceState::from_header("a=1,a=2").is_err());
        assert!(TraceState::from_header("tenant@sys=v").is_ok());
        let too_many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert!(TraceState::from_header(&too_many.join(",")).is_err());
    }

    #[test]
    fn random_ids_are_valid() {
        for _ in 0..1000 {
            assert!(TraceId::random().is_valid());
            assert!(SpanId::random().is_valid());
        }
    }

    proptest! {
        #[test]
        fn hex_parsers_never_panic(s in ".{0,40}") {
            let _ = TraceId::from_hex(&s);
            let _ = SpanId::from_hex(&s);
            let _ = TraceState::from_header(&s);
        }

        #[test]
        fn trace_id_hex_round_trips(bytes in any::<[u8; 16]>()) {
            let id = TraceId::from_bytes(bytes);
            prop_assert_eq!(TraceId::from_hex(&id.to_string()).unwrap(), id);
        }
    }
}
