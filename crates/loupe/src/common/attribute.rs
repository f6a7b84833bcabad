//! Typed attributes: the OTLP `KeyValue` with string, bool, i64, f64 and array values.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};

/// An attribute key. Static strings cost nothing to store; owned strings are kept as-is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(Cow<'static, str>);

impl Key {
    /// Creates a key from a static or owned string.
    pub fn new(key: impl Into<Cow<'static, str>>) -> Self {
        Key(key.into())
    }

    /// A key from a static string, usable in `const` items.
    pub const fn from_static(key: &'static str) -> Self {
        Key(Cow::Borrowed(key))
    }

    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn as_cow(&self) -> &Cow<'static, str> {
        &self.0
    }

    /// Builds a [`KeyValue`] from this key.
    pub fn value(self, value: impl Into<Value>) -> KeyValue {
        KeyValue {
            key: self,
            value: value.into(),
        }
    }
}

impl From<&'static str> for Key {
    fn from(s: &'static str) -> Self {
        Key(Cow::Borrowed(s))
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        Key(Cow::Owned(s))
    }
}

impl From<Cow<'static, str>> for Key {
    fn from(s: Cow<'static, str>) -> Self {
        Key(s)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A homogeneous array value, as OTLP allows.
#[derive(Clone, Debug, PartialEq)]
pub enum Array {
    /// An array of booleans.
    Bool(Vec<bool>),
    /// An array of signed integers.
    I64(Vec<i64>),
    /// An array of floating-point numbers.
    F64(Vec<f64>),
    /// An array of strings.
    String(Vec<Cow<'static, str>>),
}

/// A typed attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    I64(i64),
    /// A 64-bit float.
    F64(f64),
    /// A string; static strings are not copied.
    String(Cow<'static, str>),
    /// A homogeneous array.
    Array(Array),
}

impl Value {
    /// The value rendered as a string, the way the seed's `HashMap<String, String>` API sees it.
    pub fn as_str(&self) -> Cow<'_, str> {
        match self {
            Value::String(s) => Cow::Borrowed(s),
            other => Cow::Owned(other.to_string()),
        }
    }

    /// Truncates string values (and strings inside arrays) to at most `max_chars` characters,
    /// as the OpenTelemetry attribute limits require. Returns true if anything was cut.
    pub(crate) fn truncate(&mut self, max_chars: usize) -> bool {
        fn cut(s: &mut Cow<'static, str>, max_chars: usize) -> bool {
            match s.char_indices().nth(max_chars) {
                Some((byte_end, _)) => {
                    let truncated = s[..byte_end].to_owned();
                    *s = Cow::Owned(truncated);
                    true
                }
                None => false,
            }
        }
        match self {
            Value::String(s) => cut(s, max_chars),
            Value::Array(Array::String(items)) => {
                let mut any = false;
                for s in items {
                    any |= cut(s, max_chars);
                }
                any
            }
            _ => false,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
            f.write_str("[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{item}")?;
            }
            f.write_str("]")
        }
        match self {
            Value::Bool(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
            Value::String(v) => f.write_str(v),
            Value::Array(Array::Bool(v)) => list(f, v),
            Value::Array(Array::I64(v)) => list(f, v),
            Value::Array(Array::F64(v)) => list(f, v),
            Value::Array(Array::String(v)) => list(f, v),
        }
    }
}

// Attribute sets identify metric series, so values need Eq and Hash; floats compare by bits.
impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            Value::Bool(v) => v.hash(state),
            Value::I64(v) => v.hash(state),
            Value::F64(v) => v.to_bits().hash(state),
            Value::String(v) => v.hash(state),
            Value::Array(a) => {
                std::mem::discriminant(a).hash(state);
                match a {
                    Array::Bool(v) => v.hash(state),
                    Array::I64(v) => v.hash(state),
                    Array::F64(v) => v.iter().for_each(|f| f.to_bits().hash(state)),
                    Array::String(v) => v.hash(state),
                }
            }
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident($conv:expr)),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant($conv(v))
            }
        })*
    };
}

value_from!(
    bool => Bool(|v| v),
    i64 => I64(|v| v),
    i8 => I64(i64::from),
    i16 => I64(i64::from),
    i32 => I64(i64::from),
    u8 => I64(i64::from),
    u16 => I64(i64::from),
    u32 => I64(i64::from),
    f64 => F64(|v| v),
    f32 => F64(f64::from),
    &'static str => String(Cow::Borrowed),
    String => String(Cow::Owned),
    Cow<'static, str> => String(|v| v),
    Array => Array(|v| v),
    Vec<bool> => Array(Array::Bool),
    Vec<i64> => Array(Array::I64),
    Vec<f64> => Array(Array::F64),
);

impl From<usize> for Value {
    /// Saturates at `i64::MAX`: OTLP integers are signed.
    fn from(v: usize) -> Self {
        Value::I64(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<u64> for Value {
    /// Saturates at `i64::MAX`: OTLP integers are signed.
    fn from(v: u64) -> Self {
        Value::I64(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<u128> for Value {
    /// Saturates at `i64::MAX` (`Duration::as_millis` returns a `u128`).
    fn from(v: u128) -> Self {
        Value::I64(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::String(Cow::Owned(v.clone()))
    }
}

impl From<Vec<String>> for Value {
    fn from(v: Vec<String>) -> Self {
        Value::Array(Array::String(v.into_iter().map(Cow::Owned).collect()))
    }
}

impl From<Vec<&'static str>> for Value {
    fn from(v: Vec<&'static str>) -> Self {
        Value::Array(Array::String(v.into_iter().map(Cow::Borrowed).collect()))
    }
}

/// One attribute: a key and a typed value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyValue {
    /// The attribute key.
    pub key: Key,
    /// The attribute value.
    pub value: Value,
}

impl KeyValue {
    /// Creates an attribute; `KeyValue::new("http.method", "GET")`.
    pub fn new(key: impl Into<Key>, value: impl Into<Value>) -> Self {
        KeyValue {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// Appends `key = value` to `attributes`, writing the key and the value straight into
/// the vector's next slot.
///
/// `push(KeyValue::new(..))` builds the whole `KeyValue` on the stack and copies it in
/// with wide loads that stall on the narrower stores that just wrote it (store
/// forwarding fails); on the span and log hot paths that copy was a fifth of the cost
/// of adding an attribute. Not part of the API: the `log_*!` macros call it.
#[doc(hidden)]
#[inline(always)]
pub fn __push_attribute(
    attributes: &mut Vec<KeyValue>,
    key: impl Into<Key>,
    value: impl Into<Value>,
) {
    if attributes.len() == attributes.capacity() {
        make_room(attributes);
    }
    let (key, value) = (key.into(), value.into());
    let len = attributes.len();
    debug_assert!(len < attributes.capacity());
    // SAFETY: there is room for one more (`make_room` ends by reserving it), and the slot
    // is fully written, key then value, before the length covers it.
    unsafe {
        let slot = attributes.as_mut_ptr().add(len);
        std::ptr::addr_of_mut!((*slot).key).write(key);
        std::ptr::addr_of_mut!((*slot).value).write(value);
        attributes.set_len(len + 1);
    }
}

#[cold]
#[inline(never)]
fn make_room(attributes: &mut Vec<KeyValue>) {
    attributes.reserve(1);
}

/// Empties an attribute vector kept for reuse. Most attributes own nothing (static keys,
/// numbers, static strings): those are let go without the out-of-line drop call `clear`
/// makes for each, which was a tenth of a log sink thread's time per record after
/// rendering.
pub(crate) fn clear_attributes(attributes: &mut Vec<KeyValue>) {
    let owns_nothing = |kv: &KeyValue| {
        matches!(kv.key.as_cow(), Cow::Borrowed(_))
            && matches!(
                kv.value,
                Value::Bool(_) | Value::I64(_) | Value::F64(_) | Value::String(Cow::Borrowed(_))
            )
    };
    if attributes.iter().all(owns_nothing) {
        // SAFETY: forgetting attributes that own nothing leaks nothing, and a length of
        // zero is always valid. (A `drain` that forgets each one did the same in a
        // hundred instructions, a tenth of a span.)
        unsafe { attributes.set_len(0) };
    } else {
        attributes.clear();
    }
}

/// Converts the seed API's string maps into typed attributes (every value becomes a string).
pub fn from_string_map(map: std::collections::HashMap<String, String>) -> Vec<KeyValue> {
    map.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect()
}

/// Sorts attributes by key and removes duplicate keys, keeping the last value given,
/// which is how OpenTelemetry defines an attribute set.
pub(crate) fn normalize(attrs: &mut Vec<KeyValue>) {
    // A stable sort keeps the caller's order among equal keys, so "last wins" holds.
    attrs.sort_by(|a, b| a.key.cmp(&b.key));
    let mut out: Vec<KeyValue> = Vec::with_capacity(attrs.len());
    for kv in attrs.drain(..) {
        match out.last_mut() {
            Some(last) if last.key == kv.key => *last = kv,
            _ => out.push(kv),
        }
    }
    *attrs = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_char_boundaries() {
        let mut v = Value::from("héllo wörld");
        assert!(v.truncate(4));
        assert_eq!(v, Value::from("héll"));
        let mut short = Value::from("ab");
        assert!(!short.truncate(4));
        let mut arr = Value::from(vec!["abcdef", "x"]);
        assert!(arr.truncate(3));
        assert_eq!(arr, Value::from(vec!["abc", "x"]));
    }

    #[test]
    fn normalize_sorts_and_keeps_last_duplicate() {
        let mut attrs = vec![
            KeyValue::new("b", 1i64),
            KeyValue::new("a", "x"),
            KeyValue::new("b", 2i64),
        ];
        normalize(&mut attrs);
        assert_eq!(
            attrs,
            vec![KeyValue::new("a", "x"), KeyValue::new("b", 2i64)]
        );
    }

    #[test]
    fn display_renders_arrays() {
        assert_eq!(Value::from(vec![1i64, 2]).to_string(), "[1,2]");
        assert_eq!(Value::from(1.5).as_str(), "1.5");
    }
}
