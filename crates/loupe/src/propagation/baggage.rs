//! W3C Baggage: application key/value pairs that travel with a request, in the `baggage`
//! header.

use super::carrier::{Extractor, Injector};
use super::propagator::TextMapPropagator;
use crate::trace::Context;

const BAGGAGE: &str = "baggage";
const FIELDS: [&str; 1] = [BAGGAGE];

/// The most baggage members Loupe propagates (the W3C grammar's maximum; the
/// specification requires at least 64). Extraction keeps the first ones, injection sends
/// the first ones.
pub const MAX_BAGGAGE_MEMBERS: usize = 180;
const _: () = assert!(
    MAX_BAGGAGE_MEMBERS >= 64,
    "W3C Baggage requires at least 64"
);

/// The largest `baggage` header Loupe writes or accepts, in bytes (the W3C minimum).
/// A member that would go past it is left out whole, never cut.
pub const MAX_BAGGAGE_BYTES: usize = 8192;

/// One baggage entry: a key, a value, and optional metadata (W3C "properties").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BaggageItem {
    key: String,
    value: String,
    metadata: String,
}

impl BaggageItem {
    /// An entry without metadata. The value may be any text: it is percent-encoded on the
    /// wire. The key must be an HTTP token (letters, digits and ``!#$%&'*+-.^_`|~``) to be
    /// propagated; other keys stay in-process.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        BaggageItem {
            key: key.into(),
            value: value.into(),
            metadata: String::new(),
        }
    }

    /// Attaches metadata: W3C properties separated by `;`, each `key` or `key=value`
    /// (for example `ttl=60;sensitive`). Sent as written; an entry whose metadata breaks
    /// that grammar is not propagated.
    #[must_use]
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = metadata.into();
        self
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value, decoded.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The metadata (properties), empty when there is none.
    pub fn metadata(&self) -> &str {
        &self.metadata
    }
}

/// W3C baggage: ordered key → value (+ metadata) entries, with unique keys.
///
/// Lives in a [`Context`]: add entries with [`with_baggage`], read them with
/// [`get_baggage`] or [`Baggage::in_context`]. [`BaggagePropagator`] carries it across
/// processes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baggage {
    items: Vec<BaggageItem>,
}

impl Baggage {
    /// Empty baggage.
    pub fn new() -> Self {
        Baggage::default()
    }

    /// The baggage `cx` carries, if any.
    pub fn in_context(cx: &Context) -> Option<&Baggage> {
        cx.get::<Baggage>()
    }

    /// A copy of the current context's baggage (empty when it has none).
    pub fn current() -> Baggage {
        Context::map_current(|cx| Baggage::in_context(cx).cloned().unwrap_or_default())
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.item(key).map(BaggageItem::value)
    }

    /// The entry for `key`, with its metadata.
    pub fn item(&self, key: &str) -> Option<&BaggageItem> {
        self.items.iter().find(|item| item.key == key)
    }

    /// Adds an entry. An entry with the same key is replaced in place (and returned), so
    /// the order of first insertion is kept.
    pub fn insert(&mut self, item: BaggageItem) -> Option<BaggageItem> {
        match self
            .items
            .iter_mut()
            .find(|existing| existing.key == item.key)
        {
            Some(existing) => Some(std::mem::replace(existing, item)),
            None => {
                self.items.push(item);
                None
            }
        }
    }

    /// Removes and returns the entry for `key`.
    pub fn remove(&mut self, key: &str) -> Option<BaggageItem> {
        let at = self.items.iter().position(|item| item.key == key)?;
        Some(self.items.remove(at))
    }

    /// The entries in order.
    pub fn iter(&self) -> std::slice::Iter<'_, BaggageItem> {
        self.items.iter()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Parses a `baggage` header value. Malformed members are skipped one by one (the
    /// rest is kept); values are percent-decoded, invalid UTF-8 becoming U+FFFD as the
    /// specification says; properties are kept as metadata. At most
    /// [`MAX_BAGGAGE_MEMBERS`] entries and [`MAX_BAGGAGE_BYTES`] bytes are read. A key
    /// that appears twice keeps its last value.
    pub fn from_header(header: &str) -> Baggage {
        let mut baggage = Baggage::new();
        let mut budget = ParseBudget::default();
        baggage.extend_from_header(header, &mut budget);
        baggage
    }

    fn extend_from_header(&mut self, header: &str, budget: &mut ParseBudget) {
        for member in header.split(',').map(trim_ows) {
            if member.is_empty() {
                continue;
            }
            if budget.members == MAX_BAGGAGE_MEMBERS {
                return;
            }
            let bytes = member.len() + usize::from(budget.bytes > 0);
            if budget.bytes + bytes > MAX_BAGGAGE_BYTES {
                continue;
            }
            if let Some(item) = parse_member(member) {
                budget.members += 1;
                budget.bytes += bytes;
                self.insert(item);
            }
        }
    }

    /// Renders the `baggage` header value: values percent-encoded, metadata as
    /// properties. Entries that cannot be written (a key that is not an HTTP token,
    /// malformed metadata) are left out, as is any entry that would take the header past
    /// [`MAX_BAGGAGE_BYTES`] or the count past [`MAX_BAGGAGE_MEMBERS`]; a member is never
    /// cut.
    pub fn header(&self) -> String {
        let mut out = String::new();
        let mut members = 0;
        for item in &self.items {
            if members == MAX_BAGGAGE_MEMBERS {
                break;
            }
            if !is_token(&item.key) {
                continue;
            }
            let metadata = if item.metadata.is_empty() {
                None
            } else {
                match normalise_properties(&item.metadata) {
                    Some(metadata) => Some(metadata),
                    None => continue,
                }
            };
            let start = out.len();
            if start > 0 {
                out.push(',');
            }
            out.push_str(&item.key);
            out.push('=');
            percent_encode_into(&item.value, &mut out);
            if let Some(metadata) = metadata {
                out.push(';');
                out.push_str(&metadata);
            }
            if out.len() > MAX_BAGGAGE_BYTES {
                out.truncate(start);
                continue;
            }
            members += 1;
        }
        out
    }
}

#[derive(Default)]
struct ParseBudget {
    members: usize,
    bytes: usize,
}

impl FromIterator<BaggageItem> for Baggage {
    fn from_iter<I: IntoIterator<Item = BaggageItem>>(items: I) -> Self {
        let mut baggage = Baggage::new();
        baggage.extend(items);
        baggage
    }
}

impl Extend<BaggageItem> for Baggage {
    fn extend<I: IntoIterator<Item = BaggageItem>>(&mut self, items: I) {
        for item in items {
            self.insert(item);
        }
    }
}

impl<'a> IntoIterator for &'a Baggage {
    type Item = &'a BaggageItem;
    type IntoIter = std::slice::Iter<'a, BaggageItem>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// A copy of `cx` whose baggage also holds `items` (replacing entries with the same key).
///
/// ```
/// use loupe::propagation::{get_baggage, with_baggage, BaggageItem};
/// use loupe::trace::Context;
///
/// let cx = with_baggage(
///     &Context::current(),
///     vec![BaggageItem::new("user-id", "12345"), BaggageItem::new("tenant-id", "acme-corp")],
/// );
/// let _guard = cx.attach();
/// assert_eq!(get_baggage(&Context::current(), "user-id"), Some("12345"));
/// ```
pub fn with_baggage(cx: &Context, items: impl IntoIterator<Item = BaggageItem>) -> Context {
    let mut baggage = Baggage::in_context(cx).cloned().unwrap_or_default();
    baggage.extend(items);
    cx.with_value(baggage)
}

/// The baggage value for `key` in `cx`.
pub fn get_baggage<'a>(cx: &'a Context, key: &str) -> Option<&'a str> {
    Baggage::in_context(cx)?.get(key)
}

/// W3C Baggage: the `baggage` header.
///
/// Injects the context's [`Baggage`] (see [`Baggage::header`] for encoding and limits);
/// extracts every `baggage` header, combined in order, into a [`Baggage`] that replaces
/// the context's (see [`Baggage::from_header`]). A carrier without baggage leaves the
/// context unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct BaggagePropagator {
    _private: (),
}

impl BaggagePropagator {
    /// The W3C Baggage propagator.
    pub const fn new() -> Self {
        BaggagePropagator { _private: () }
    }
}

impl TextMapPropagator for BaggagePropagator {
    fn inject_context(&self, cx: &Context, carrier: &mut dyn Injector) {
        let Some(baggage) = Baggage::in_context(cx) else {
            return;
        };
        let header = baggage.header();
        if !header.is_empty() {
            carrier.set(BAGGAGE, header);
        }
    }

    fn extract_with_context(&self, cx: &Context, carrier: &dyn Extractor) -> Context {
        let mut baggage = Baggage::new();
        let mut budget = ParseBudget::default();
        for header in carrier.get_all(BAGGAGE) {
            baggage.extend_from_header(header, &mut budget);
        }
        if baggage.is_empty() {
            cx.clone()
        } else {
            cx.with_value(baggage)
        }
    }

    fn fields(&self) -> &[&'static str] {
        &FIELDS
    }
}

fn trim_ows(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// An HTTP token (RFC 7230 §3.2.6): what a baggage key or property key may be.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// What a baggage value may hold on the wire: visible ASCII except `"`, `,`, `;`, `\`.
fn is_baggage_octet(c: u8) -> bool {
    matches!(c, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// `key=value` followed by optional `;property`s; `None` when any part is malformed.
fn parse_member(member: &str) -> Option<BaggageItem> {
    let (pair, properties) = match member.split_once(';') {
        Some((pair, properties)) => (pair, Some(properties)),
        None => (member, None),
    };
    // Values may contain `=`: only the first one separates.
    let (key, value) = pair.split_once('=')?;
    let (key, value) = (trim_ows(key), trim_ows(value));
    if !is_token(key) || !value.bytes().all(is_baggage_octet) {
        return None;
    }
    let metadata = match properties {
        Some(properties) => normalise_properties(properties)?,
        None => String::new(),
    };
    Some(BaggageItem {
        key: key.to_owned(),
        value: percent_decode(value),
        metadata,
    })
}

/// `property *( ";" property )` with white space trimmed; `None` when malformed.
fn normalise_properties(properties: &str) -> Option<String> {
    let mut out = String::with_capacity(properties.len());
    for property in properties.split(';') {
        let property = trim_ows(property);
        let (key, value) = match property.split_once('=') {
            Some((key, value)) => (trim_ows(key), Some(trim_ows(value))),
            None => (property, None),
        };
        if !is_token(key) || !value.unwrap_or("").bytes().all(is_baggage_octet) {
            return None;
        }
        if !out.is_empty() {
            out.push(';');
        }
        out.push_str(key);
        if let Some(value) = value {
            out.push('=');
            out.push_str(value);
        }
    }
    Some(out)
}

fn percent_encode_into(value: &str, out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &c in value.as_bytes() {
        if is_baggage_octet(c) && c != b'%' {
            out.push(c as char);
        } else {
            out.push('%');
            out.push(DIGITS[(c >> 4) as usize] as char);
            out.push(DIGITS[(c & 0x0f) as usize] as char);
        }
    }
}

/// Percent-decoding as URLs do it: `%` not followed by two hex digits stays as it is;
/// bytes that do not form UTF-8 become U+FFFD.
fn percent_decode(value: &str) -> String {
    if !value.contains('%') {
        return value.to_owned();
    }
    fn hex(c: u8) -> Option<u8> {
        (c as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| Some((hex(*bytes.get(i + 1)?)? << 4) | hex(*bytes.get(i + 2)?)?))
            .flatten();
        match decoded {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests;
