//! Trace and span identity: ids, flags, trace state and the span context that carries them.

use crate::common::error::ConfigError;
use std::fmt;

#[cfg(test)]
use super::trace_state::{all_value_chars, scan_normalised, valid_key, valid_value};
pub use super::trace_state::{TraceState, MAX_TRACE_STATE_MEMBERS};

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
    if let Some(out) = crate::propagation::hex::decode::<N>(bytes) {
        return Ok(out);
    }
    // Not hex: find the character to name in the error.
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = (nibble(bytes[2 * i])? << 4) | nibble(bytes[2 * i + 1])?;
    }
    Ok(out)
}

/// One `pad` call (width and alignment apply to the whole id), no per-byte formatting.
/// `bytes` as lowercase hex in a `String` of exactly that length.
fn hex_string<const N: usize>(bytes: &[u8; N]) -> String {
    let mut out = vec![0u8; 2 * N];
    crate::propagation::hex::encode_into(bytes, &mut out);
    // Hex digits are ASCII, so this never fails; the fallback keeps that unchecked-free.
    String::from_utf8(out).unwrap_or_default()
}

fn write_hex<const N: usize>(f: &mut fmt::Formatter<'_>, bytes: &[u8; N]) -> fmt::Result {
    let mut buf = [0u8; 32];
    let Some(out) = buf.get_mut(..2 * N) else {
        return Err(fmt::Error); // ids are at most 16 bytes
    };
    crate::propagation::hex::encode_into(bytes, out);
    f.pad(std::str::from_utf8(out).map_err(|_| fmt::Error)?)
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

    /// `to_string()`, without the formatting machinery: exporters and the message
    /// carrier write ids per span.
    pub(crate) fn to_hex_string(self) -> String {
        hex_string(&self.0)
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

    /// `to_string()`, without the formatting machinery: exporters and the message
    /// carrier write ids per span.
    pub(crate) fn to_hex_string(self) -> String {
        hex_string(&self.0)
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
mod tests;
