//! Carriers: where propagators write and read fields (HTTP headers, message metadata).

use http::header::{HeaderMap, HeaderName, HeaderValue};
use std::collections::HashMap;
use std::hash::BuildHasher;

/// Somewhere a propagator can write text fields: outgoing HTTP headers, message metadata.
///
/// Implemented for `HashMap<String, String>` and [`http::HeaderMap`]; implement it for
/// your own carrier (a gRPC metadata map, a Kafka record's headers) to propagate through
/// it.
pub trait Injector {
    /// Sets `key` to `value`, replacing any earlier value of the same key.
    fn set(&mut self, key: &str, value: String);

    /// Sets `key` from a borrowed value. The default copies it into a `String` for
    /// [`set`](Injector::set); carriers that can reuse their storage override it (the
    /// `HashMap` carrier overwrites an existing value in place, without allocating).
    fn set_str(&mut self, key: &str, value: &str) {
        self.set(key, value.to_owned());
    }
}

/// Somewhere a propagator can read text fields from: incoming HTTP headers, message
/// metadata.
pub trait Extractor {
    /// The value of `key`, if there is one. HTTP carriers match names case-insensitively.
    /// When a field is repeated, the first value.
    fn get(&self, key: &str) -> Option<&str>;

    /// Every field name present.
    fn keys(&self) -> Vec<&str>;

    /// Every value of `key`, in order: HTTP allows a field to be repeated, and W3C says
    /// repeated `tracestate` and `baggage` headers are combined in order. The default
    /// yields what [`get`](Extractor::get) returns; carriers that can repeat a field
    /// (like [`http::HeaderMap`]) override it.
    fn get_all(&self, key: &str) -> Values<'_> {
        Values::one(self.get(key))
    }
}

/// The values of one field, in order. Returned by [`Extractor::get_all`]; allocates only
/// when the field really is repeated.
#[derive(Debug, Clone)]
pub struct Values<'a>(ValuesInner<'a>);

#[derive(Debug, Clone)]
enum ValuesInner<'a> {
    One(Option<&'a str>),
    Many(std::vec::IntoIter<&'a str>),
}

impl<'a> Values<'a> {
    /// No value, or one.
    pub fn one(value: Option<&'a str>) -> Self {
        Values(ValuesInner::One(value))
    }

    /// Any number of values, in order.
    pub fn many(values: Vec<&'a str>) -> Self {
        Values(ValuesInner::Many(values.into_iter()))
    }
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match &mut self.0 {
            ValuesInner::One(value) => value.take(),
            ValuesInner::Many(values) => values.next(),
        }
    }
}

/// Plain string maps, like the seeds' header maps. Keys are set exactly as given.
impl<S: BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, key: &str, value: String) {
        match self.get_mut(key) {
            Some(existing) => *existing = value,
            None => {
                self.insert(key.to_owned(), value);
            }
        }
    }

    fn set_str(&mut self, key: &str, value: &str) {
        match self.get_mut(key) {
            Some(existing) => {
                existing.clear();
                existing.push_str(value);
            }
            None => {
                self.insert(key.to_owned(), value.to_owned());
            }
        }
    }
}

/// Plain string maps. `get` tries the exact key first, then any key that matches
/// case-insensitively (header names are case-insensitive, and maps filled from HTTP
/// requests keep whatever case the sender used).
impl<S: BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<&str> {
        match HashMap::get(self, key) {
            Some(value) => Some(value),
            None => self
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str()),
        }
    }

    fn keys(&self) -> Vec<&str> {
        HashMap::keys(self).map(String::as_str).collect()
    }
}

/// HTTP headers. A value that is not a valid header value (control characters, say) is
/// not set: propagation never fails the request.
impl Injector for HeaderMap {
    fn set(&mut self, key: &str, value: String) {
        if let Ok(value) = HeaderValue::try_from(value) {
            set_header(self, key, value);
        }
    }

    fn set_str(&mut self, key: &str, value: &str) {
        if let Ok(value) = HeaderValue::from_str(value) {
            set_header(self, key, value);
        }
    }
}

/// The header names Loupe's propagators use, as constants: inserting or looking up a
/// `HeaderName` skips parsing and validating the name on every call.
fn known_header(key: &str) -> Option<&'static HeaderName> {
    static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
    static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
    static BAGGAGE: HeaderName = HeaderName::from_static("baggage");
    static B3: HeaderName = HeaderName::from_static("b3");
    static B3_TRACE_ID: HeaderName = HeaderName::from_static("x-b3-traceid");
    static B3_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-spanid");
    static B3_SAMPLED: HeaderName = HeaderName::from_static("x-b3-sampled");
    static B3_FLAGS: HeaderName = HeaderName::from_static("x-b3-flags");
    static B3_PARENT: HeaderName = HeaderName::from_static("x-b3-parentspanid");
    Some(match key {
        "traceparent" => &TRACEPARENT,
        "tracestate" => &TRACESTATE,
        "baggage" => &BAGGAGE,
        "b3" => &B3,
        "x-b3-traceid" => &B3_TRACE_ID,
        "x-b3-spanid" => &B3_SPAN_ID,
        "x-b3-sampled" => &B3_SAMPLED,
        "x-b3-flags" => &B3_FLAGS,
        "x-b3-parentspanid" => &B3_PARENT,
        _ => return None,
    })
}

fn set_header(headers: &mut HeaderMap, key: &str, value: HeaderValue) {
    if let Some(name) = known_header(key) {
        // A static name clones without allocating; `insert` replaces every old value.
        headers.insert(name.clone(), value);
        return;
    }
    // Overwriting in place needs no owned header name (which would allocate for other
    // non-standard names); `insert` also drops any repeated values.
    let mut existing = headers.get_all(key).iter();
    if existing.next().is_some() && existing.next().is_none() {
        if let Some(slot) = headers.get_mut(key) {
            *slot = value;
            return;
        }
    }
    if let Ok(name) = HeaderName::from_bytes(key.as_bytes()) {
        headers.insert(name, value);
    }
}

/// HTTP headers: names are case-insensitive; values that are not visible ASCII are
/// skipped.
impl Extractor for HeaderMap {
    fn get(&self, key: &str) -> Option<&str> {
        match known_header(key) {
            Some(name) => HeaderMap::get(self, name),
            None => HeaderMap::get(self, key),
        }
        .and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        HeaderMap::keys(self).map(HeaderName::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Values<'_> {
        let all = match known_header(key) {
            Some(name) => HeaderMap::get_all(self, name),
            None => HeaderMap::get_all(self, key),
        };
        let mut values = all.iter().filter_map(|v| v.to_str().ok());
        let first = values.next();
        match values.next() {
            None => Values::one(first),
            Some(second) => Values::many(first.into_iter().chain([second]).chain(values).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_map_prefers_the_exact_key_then_ignores_case() {
        let mut map = HashMap::new();
        map.insert("TraceParent".to_string(), "mixed".to_string());
        assert_eq!(Extractor::get(&map, "traceparent"), Some("mixed"));
        map.insert("traceparent".to_string(), "exact".to_string());
        assert_eq!(Extractor::get(&map, "traceparent"), Some("exact"));
        assert_eq!(Extractor::get(&map, "tracestate"), None);
        assert_eq!(map.get_all("traceparent").collect::<Vec<_>>(), ["exact"]);
    }

    #[test]
    fn hash_map_set_overwrites_in_place() {
        let mut map: HashMap<String, String> = HashMap::new();
        map.set("k", "first".to_string());
        map.set_str("k", "second");
        map.set_str("other", "x");
        assert_eq!(map["k"], "second");
        assert_eq!(map.len(), 2);
        let mut keys = Extractor::keys(&map);
        keys.sort_unstable();
        assert_eq!(keys, ["k", "other"]);
    }

    #[test]
    fn header_map_is_case_insensitive_and_returns_repeated_values_in_order() {
        let mut headers = HeaderMap::new();
        headers.append("TraceState", HeaderValue::from_static("a=1"));
        headers.append("tracestate", HeaderValue::from_static("b=2"));
        headers.append("tracestate", HeaderValue::from_static("c=3"));
        assert_eq!(Extractor::get(&headers, "TRACESTATE"), Some("a=1"));
        assert_eq!(
            Extractor::get_all(&headers, "tracestate").collect::<Vec<_>>(),
            ["a=1", "b=2", "c=3"]
        );
        assert_eq!(Extractor::get_all(&headers, "missing").count(), 0);
        assert_eq!(Extractor::keys(&headers), ["tracestate"]);
    }

    #[test]
    fn header_map_set_replaces_every_value_and_skips_invalid_ones() {
        let mut headers = HeaderMap::new();
        headers.append("baggage", HeaderValue::from_static("a=1"));
        headers.append("baggage", HeaderValue::from_static("b=2"));
        headers.set("Baggage", "c=3".to_string());
        assert_eq!(
            Extractor::get_all(&headers, "baggage").collect::<Vec<_>>(),
            ["c=3"]
        );
        headers.set_str("baggage", "d=4");
        assert_eq!(
            Extractor::get_all(&headers, "baggage").collect::<Vec<_>>(),
            ["d=4"]
        );
        headers.set_str("baggage", "bad\nvalue");
        headers.set("bad name", "x".to_string());
        assert_eq!(Extractor::get(&headers, "baggage"), Some("d=4"));
        assert_eq!(headers.len(), 1);
    }
}
