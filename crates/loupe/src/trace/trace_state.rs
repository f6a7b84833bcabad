//! `TraceState`: the W3C `tracestate` list, validated in one pass and kept as its header
//! text.

use super::ids::ParseError;
use std::fmt;
use std::sync::Arc;

/// Vendor-specific trace state (`tracestate`): an ordered list of at most 32 key/value pairs.
///
/// Kept as its validated, normalised header text (`k1=v1,k2=v2`, no white space, no empty
/// members), so propagating it is one copy rather than a re-serialisation. Empty trace
/// state, the common case, is free to clone.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct TraceState(Option<Arc<str>>);

/// The W3C limit on tracestate members.
pub const MAX_TRACE_STATE_MEMBERS: usize = 32;

// The validators work on bytes in one pass: `tracestate` is parsed on every incoming
// request, and the generic `str` searchers cost more than the checks themselves.

pub(super) fn valid_key(key: &[u8]) -> bool {
    // simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
    // multi-tenant-key = tenant-id "@" system-id
    fn simple(k: &[u8], first_may_be_digit: bool, max: usize) -> bool {
        match k.split_first() {
            Some((&first, rest)) => {
                k.len() <= max
                    && (first.is_ascii_lowercase()
                        || (first_may_be_digit && first.is_ascii_digit()))
                    && rest.iter().all(|&c| {
                        c.is_ascii_lowercase()
                            || c.is_ascii_digit()
                            || matches!(c, b'_' | b'-' | b'*' | b'/')
                    })
            }
            None => false,
        }
    }
    match key.iter().position(|&c| c == b'@') {
        None => simple(key, false, 256),
        Some(at) => simple(&key[..at], true, 241) && simple(&key[at + 1..], false, 14),
    }
}

pub(super) fn valid_value(value: &[u8]) -> bool {
    // value = 0*255(chr) nblk-chr ; chr = %x20 / nblk-chr ; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E
    !value.is_empty()
        && value.len() <= 256
        && value.last() != Some(&b' ')
        && value
            .iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
}

/// Byte classes for the one-pass `tracestate` parser.
const KEY_CHAR: u8 = 1; // lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"
const VALUE_CHAR: u8 = 2; // chr: %x20-2B / %x2D-3C / %x3E-7E
const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut c = 0x20;
    while c <= 0x7e {
        if c != b',' && c != b'=' {
            table[c as usize] |= VALUE_CHAR;
        }
        if c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || matches!(c, b'_' | b'-' | b'*' | b'/' | b'@')
        {
            table[c as usize] |= KEY_CHAR;
        }
        c += 1;
    }
    table
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Bit 7 set in each byte of `x` that is zero. The lowest set bit is always exact (bytes
/// above a zero byte may be marked falsely), which is all the scanners below rely on.
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGH
}

/// Bit 7 set in each byte of `x` that is not visible ASCII (0x21-0x7e): white space,
/// controls, DEL and non-ASCII. No addition carries: bytes of 0x80 and above are marked
/// by their own high bit before their sums matter.
fn invisible_bytes(x: u64) -> u64 {
    let below_0x21 = !x.wrapping_add(ONES * (0x80 - 0x21)) & HIGH;
    let at_least_0x7f = x.wrapping_add(ONES) & HIGH;
    (x & HIGH) | below_0x21 | at_least_0x7f
}

/// The eight bytes of `b` from `at` as one little-endian word (`at + 8 <= b.len()`).
fn word_at(b: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(word)
}

/// The fast path of [`TraceState::from_header`]: `Some(members)` when `b` is a valid
/// list already in normal form (visible ASCII only, so no white space anywhere, and no
/// empty members), which is what a well-behaved sender writes. `None` says nothing
/// more: the general parser then decides, and words any error.
pub(super) fn scan_normalised(b: &[u8]) -> Option<usize> {
    let n = b.len();
    if n < 8 {
        if !b.iter().all(|c| (0x21..=0x7e).contains(c)) {
            return None;
        }
    } else {
        // Whole words, the last one overlapping its neighbour.
        let mut invisible = 0;
        let mut at = 0;
        while at < n - 8 {
            invisible |= invisible_bytes(word_at(b, at));
            at += 8;
        }
        if invisible | invisible_bytes(word_at(b, n - 8)) != 0 {
            return None;
        }
    }
    u32::try_from(n).ok()?;
    // Where each key starts and ends, for the duplicate check.
    let mut keys = [(0u32, 0u32); MAX_TRACE_STATE_MEMBERS];
    let mut count = 0;
    let mut i = 0;
    loop {
        let key_start = i;
        while i < n && CLASSES[b[i] as usize] & KEY_CHAR != 0 {
            i += 1;
        }
        let key = &b[key_start..i];
        if i == n || b[i] != b'=' || !key_shape_ok(key) {
            return None;
        }
        i += 1;
        // The value runs to the next comma or the end. Every byte is already known to
        // be visible ASCII, so only a stray `=` can make it invalid.
        let value_start = i;
        loop {
            if i + 8 > n {
                while i < n && b[i] != b',' && b[i] != b'=' {
                    i += 1;
                }
                break;
            }
            let x = word_at(b, i);
            let stops =
                zero_bytes(x ^ (ONES * u64::from(b','))) | zero_bytes(x ^ (ONES * u64::from(b'=')));
            if stops != 0 {
                i += stops.trailing_zeros() as usize / 8;
                break;
            }
            i += 8;
        }
        let value_len = i - value_start;
        if (i < n && b[i] == b'=') || value_len == 0 || value_len > 256 {
            return None;
        }
        let duplicate = keys[..count]
            .iter()
            .any(|&(start, end)| &b[start as usize..end as usize] == key);
        if duplicate || count == MAX_TRACE_STATE_MEMBERS {
            return None;
        }
        keys[count] = (key_start as u32, (key_start + key.len()) as u32); // n fits in u32
        count += 1;
        if i == n {
            return Some(count);
        }
        i += 1; // the comma
        if i == n {
            return None; // a trailing comma: an empty member, so not normal form
        }
    }
}

/// True when all eight bytes are value characters: lets the parser skip eight bytes at a
/// time (SWAR). Bytes at or above 0x80 are rejected first, so the additions below never
/// carry from one byte into the next.
pub(super) fn all_value_chars(chars: [u8; 8]) -> bool {
    let x = u64::from_le_bytes(chars);
    let has_zero_byte = |v: u64| zero_bytes(v) != 0;
    let all_at_least_0x20 = x.wrapping_add(ONES * (0x80 - 0x20)) & HIGH == HIGH;
    let none_is_0x7f = x.wrapping_add(ONES) & HIGH == 0;
    x & HIGH == 0
        && all_at_least_0x20
        && none_is_0x7f
        && !has_zero_byte(x ^ (ONES * b',' as u64))
        && !has_zero_byte(x ^ (ONES * b'=' as u64))
}

/// Optional white space (W3C: spaces and tabs around list members).
fn is_ows(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// The shape of a key whose characters are already known to be key characters: one
/// optional `@`, the first character of each part, and the lengths.
fn key_shape_ok(key: &[u8]) -> bool {
    match key.iter().position(|&c| c == b'@') {
        None => key.first().is_some_and(u8::is_ascii_lowercase) && key.len() <= 256,
        Some(at) => {
            let (tenant, system) = (&key[..at], &key[at + 1..]);
            tenant
                .first()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && tenant.len() <= 241
                && system.first().is_some_and(u8::is_ascii_lowercase)
                && system.len() <= 14
                && !system.contains(&b'@')
        }
    }
}

fn too_many_members() -> ParseError {
    ParseError::TraceState(format!(
        "more than {MAX_TRACE_STATE_MEMBERS} members (max {MAX_TRACE_STATE_MEMBERS})"
    ))
}

impl TraceState {
    /// No entries.
    pub const NONE: TraceState = TraceState(None);

    /// Builds a trace state from pairs, validating the W3C key and value grammar.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ParseError> {
        let mut header = String::new();
        let mut count = 0;
        for (k, v) in pairs {
            let (k, v) = (k.into(), v.into());
            let duplicate = || TraceState::keys_of(&header).any(|existing| existing == k);
            if !valid_key(k.as_bytes()) || !valid_value(v.as_bytes()) || duplicate() {
                return Err(ParseError::TraceState(format!("{k}={v}")));
            }
            count += 1;
            if count > MAX_TRACE_STATE_MEMBERS {
                return Err(too_many_members());
            }
            if !header.is_empty() {
                header.push(',');
            }
            header.push_str(&k);
            header.push('=');
            header.push_str(&v);
        }
        Ok(if header.is_empty() {
            TraceState(None)
        } else {
            TraceState(Some(header.into()))
        })
    }

    /// Parses a `tracestate` header value. Empty list members and white space around
    /// members are allowed and dropped; any invalid member rejects the whole header, as
    /// the W3C specification requires.
    pub fn from_header(header: &str) -> Result<Self, ParseError> {
        // A header in normal form (the usual case) is checked a word at a time and kept
        // as it is.
        match scan_normalised(header.as_bytes()) {
            Some(_) => Ok(TraceState(Some(header.into()))),
            None => TraceState::parse_general(header),
        }
    }

    /// Any `tracestate` value: white space, empty members, and the error that names the
    /// offending member.
    fn parse_general(header: &str) -> Result<Self, ParseError> {
        // One pass, no allocation when the header turns out to be in normal form after
        // all. Indexed loops measured faster than iterator chains here.
        let b = header.as_bytes();
        let n = b.len();
        // Where each key starts (it ends at its `=`); `u32` keeps the table small, since
        // zeroing it is a measurable share of the parse.
        if u32::try_from(n).is_err() {
            return Err(ParseError::TraceState("a header over 4 GiB".to_owned()));
        }
        let mut keys = [0u32; MAX_TRACE_STATE_MEMBERS];
        let key_at = |start: u32| {
            let rest = &b[start as usize..];
            &rest[..rest.iter().position(|&c| c == b'=').unwrap_or(rest.len())]
        };
        let mut count = 0;
        let mut normalised = true;
        let mut i = 0;
        loop {
            let start = i;
            while i < n && is_ows(b[i]) {
                i += 1;
            }
            if i == n || b[i] == b',' {
                normalised = false; // an empty member (or no member at all)
                if i == n {
                    break;
                }
                i += 1;
                continue;
            }
            normalised &= i == start;
            let invalid = || {
                let end = b[start..]
                    .iter()
                    .position(|&c| c == b',')
                    .map_or(n, |e| start + e);
                let text = String::from_utf8_lossy(&b[start..end]);
                ParseError::TraceState(text.trim_matches([' ', '\t']).to_owned())
            };
            let key_start = i;
            while i < n && CLASSES[b[i] as usize] & KEY_CHAR != 0 {
                i += 1;
            }
            let key = &b[key_start..i];
            if i == n || b[i] != b'=' || !key_shape_ok(key) {
                return Err(invalid());
            }
            i += 1;
            let value_start = i;
            while let Some(word) = b.get(i..i + 8) {
                match word.try_into() {
                    Ok(word) if all_value_chars(word) => i += 8,
                    _ => break,
                }
            }
            while i < n && CLASSES[b[i] as usize] & VALUE_CHAR != 0 {
                i += 1;
            }
            let mut value_end = i;
            while value_end > value_start && b[value_end - 1] == b' ' {
                value_end -= 1;
            }
            while i < n && is_ows(b[i]) {
                i += 1;
            }
            normalised &= value_end == i;
            // The loops checked the characters; the grammar also bounds the length.
            let value_len = value_end - value_start;
            if (i < n && b[i] != b',') || value_len == 0 || value_len > 256 {
                return Err(invalid());
            }
            if keys[..count].iter().any(|&k| key_at(k) == key) {
                return Err(invalid());
            }
            if count == MAX_TRACE_STATE_MEMBERS {
                return Err(too_many_members());
            }
            keys[count] = key_start as u32; // fits: checked above
            count += 1;
            if i == n {
                break;
            }
            i += 1;
        }
        if count == 0 {
            return Ok(TraceState(None));
        }
        if normalised {
            return Ok(TraceState(Some(header.into())));
        }
        let mut out = String::with_capacity(header.len());
        for member in header.split(',').map(|m| m.trim_matches([' ', '\t'])) {
            if !member.is_empty() {
                if !out.is_empty() {
                    out.push(',');
                }
                out.push_str(member);
            }
        }
        Ok(TraceState(Some(out.into())))
    }

    /// Renders the `tracestate` header value.
    pub fn header(&self) -> String {
        self.as_header().to_owned()
    }

    /// The `tracestate` header value, borrowed (empty when there are no entries).
    pub fn as_header(&self) -> &str {
        self.0.as_deref().unwrap_or("")
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
        // The stored text is normalised: every member is `key=value`.
        self.as_header()
            .split(',')
            .filter_map(|member| member.split_once('='))
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    fn keys_of(header: &str) -> impl Iterator<Item = &str> {
        header
            .split(',')
            .filter_map(|member| member.split_once('=').map(|(k, _)| k))
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceState({:?})", self.as_header())
    }
}
