//! Processors change or drop log records before they reach a sink: add fields, exclude
//! noise (health-check and scrape requests), redact secrets.

use super::LogRecord;
use crate::common::attribute::{Key, KeyValue, Value};
use std::borrow::Cow;

/// Changes a record in place, or drops it. Processors run on the sink threads, in the
/// order they were added, never on the thread that logged.
pub trait LogProcessor: Send + Sync + 'static {
    /// Returns `false` to drop the record.
    fn process(&self, record: &mut LogRecord) -> bool;
}

impl<F> LogProcessor for F
where
    F: Fn(&mut LogRecord) -> bool + Send + Sync + 'static,
{
    fn process(&self, record: &mut LogRecord) -> bool {
        self(record)
    }
}

/// Adds fields to every record that does not already have them (002's
/// `LogProcessor::AddFields`).
#[derive(Clone, Debug, Default)]
pub struct AddFields {
    fields: Vec<KeyValue>,
}

impl AddFields {
    /// Adds these fields.
    pub fn new(fields: impl IntoIterator<Item = KeyValue>) -> Self {
        AddFields {
            fields: fields.into_iter().collect(),
        }
    }
}

impl LogProcessor for AddFields {
    fn process(&self, record: &mut LogRecord) -> bool {
        for kv in &self.fields {
            if !record.attributes.iter().any(|a| a.key == kv.key) {
                record.attributes.push(kv.clone());
            }
        }
        true
    }
}

/// Drops records whose field has one of the given values (002's `LogProcessor::Filter`:
/// `field: "path", exclude: ["/health", "/metrics"]`).
#[derive(Clone, Debug)]
pub struct ExcludeByField {
    field: Key,
    values: Vec<String>,
}

impl ExcludeByField {
    /// Drops records where `field` equals any of `values` (compared as text).
    pub fn new(field: impl Into<Key>, values: impl IntoIterator<Item = impl Into<String>>) -> Self {
        ExcludeByField {
            field: field.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }
}

impl LogProcessor for ExcludeByField {
    fn process(&self, record: &mut LogRecord) -> bool {
        match record.attributes.iter().find(|a| a.key == self.field) {
            Some(kv) => {
                let text = kv.value.as_str();
                !self.values.iter().any(|v| *v == *text)
            }
            None => true,
        }
    }
}

/// The key fragments [`Redact`] treats as secrets by default.
pub const DEFAULT_SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "credential",
    "private_key",
    "cookie",
];

/// What a redacted value becomes.
pub const REDACTED: &str = "[REDACTED]";

/// Replaces secrets with `[REDACTED]` (003: "zero secrets in logs").
///
/// Keys are split into words (at `_`, `-`, `.`, spaces and camelCase humps) and compared
/// word by word: a key is secret when its words contain a secret name's words in a row.
/// `db.password`, `X-Api-Key`, `refresh_token` and `apiKey` are secret; `input_tokens`
/// and `max_tokens` are not (the LLM pack logs token counts). In strings — the message
/// and string fields — `key=value` and `key: value` pairs with a secret key, and
/// `Bearer`/`Basic` credentials, have their value replaced.
#[derive(Clone, Debug)]
pub struct Redact {
    secrets: Vec<Vec<String>>,
}

impl Default for Redact {
    fn default() -> Self {
        Redact::new(DEFAULT_SECRET_KEYS.iter().copied())
    }
}

impl Redact {
    /// Redacts keys that contain one of these names.
    pub fn new(names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Redact {
            secrets: names
                .into_iter()
                .map(|n| words(&n.into()))
                .filter(|w| !w.is_empty())
                .collect(),
        }
    }

    /// Also treats keys containing `name` as secret.
    #[must_use]
    pub fn with_key(mut self, name: impl Into<String>) -> Self {
        let w = words(&name.into());
        if !w.is_empty() {
            self.secrets.push(w);
        }
        self
    }

    /// Whether a field named `key` is redacted.
    pub fn is_secret(&self, key: &str) -> bool {
        let key = words(key);
        self.secrets.iter().any(|secret| {
            key.windows(secret.len())
                .any(|w| w.iter().zip(secret).all(|(a, b)| a == b))
                // `apikey` / `apiKey` also match the secret `api_key`.
                || key.iter().any(|w| *w == secret.concat())
        })
    }

    /// `text` with secret values replaced, or `None` when there is nothing to replace.
    pub fn redact_text(&self, text: &str) -> Option<String> {
        let bytes = text.as_bytes();
        let is_key_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
        // Byte ranges of values to replace.
        let mut cuts: Vec<(usize, usize)> = Vec::new();
        let value_at = |start: usize, cuts: &mut Vec<(usize, usize)>| {
            let mut i = start;
            while i < bytes.len() && matches!(bytes[i], b' ' | b'"' | b'\'') {
                i += 1;
            }
            // `Authorization: Bearer xyz` hides the credential, not the scheme.
            for scheme in ["bearer ", "basic "] {
                let rest = &bytes[i..];
                if rest.len() > scheme.len()
                    && rest[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
                {
                    i += scheme.len();
                }
            }
            let begin = i;
            while i < bytes.len()
                && !matches!(bytes[i], b' ' | b'"' | b'\'' | b',' | b'&' | b';' | b'\n')
            {
                i += 1;
            }
            if i > begin {
                cuts.push((begin, i));
            }
        };
        for (i, &b) in bytes.iter().enumerate() {
            if b != b'=' && b != b':' {
                continue;
            }
            // The key ends just before `=`/`:`, maybe after a quote or spaces.
            let mut end = i;
            while end > 0 && matches!(bytes[end - 1], b' ' | b'"' | b'\'') {
                end -= 1;
            }
            let mut start = end;
            while start > 0 && is_key_byte(bytes[start - 1]) {
                start -= 1;
            }
            if start < end && self.is_secret(&text[start..end]) {
                value_at(i + 1, &mut cuts);
            }
        }
        let lower = text.to_ascii_lowercase();
        for scheme in ["bearer ", "basic "] {
            let mut from = 0;
            while let Some(pos) = lower[from..].find(scheme) {
                let at = from + pos;
                if at == 0 || !bytes[at - 1].is_ascii_alphanumeric() {
                    value_at(at + scheme.len(), &mut cuts);
                }
                from = at + scheme.len();
            }
        }
        if cuts.is_empty() {
            return None;
        }
        cuts.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for (begin, end) in cuts {
            if begin < last {
                continue; // overlapping matches: already replaced
            }
            out.push_str(&text[last..begin]);
            out.push_str(REDACTED);
            last = end;
        }
        out.push_str(&text[last..]);
        Some(out)
    }
}

/// The lower-case words of a key: split at non-alphanumerics and camelCase humps.
fn words(key: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_numeric();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

impl LogProcessor for Redact {
    fn process(&self, record: &mut LogRecord) -> bool {
        for kv in &mut record.attributes {
            if self.is_secret(kv.key.as_str()) {
                kv.value = Value::String(Cow::Borrowed(REDACTED));
            } else if let Value::String(s) = &kv.value {
                if let Some(clean) = self.redact_text(s) {
                    kv.value = Value::String(Cow::Owned(clean));
                }
            }
        }
        if let Some(Value::String(body)) = &record.body {
            if let Some(clean) = self.redact_text(body) {
                record.body = Some(Value::String(Cow::Owned(clean)));
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::Severity;
    use proptest::prelude::*;

    fn field<'a>(r: &'a LogRecord, key: &str) -> Option<&'a Value> {
        r.attributes
            .iter()
            .find(|a| a.key.as_str() == key)
            .map(|a| &a.value)
    }

    #[test]
    fn secret_fields_and_message_values_are_redacted() {
        let mut r = LogRecord::new(
            Severity::Info,
            "login user=bob password=hunter2, Authorization: Bearer abc.def then api_key=\"k1\"",
        )
        .with_attribute(KeyValue::new("db.password", "hunter2"))
        .with_attribute(KeyValue::new("X-Api-Key", "k"))
        .with_attribute(KeyValue::new("refresh_token", "t"))
        .with_attribute(KeyValue::new("user", "bob"))
        .with_attribute(KeyValue::new("apiKey", "k"))
        .with_attribute(KeyValue::new("gen_ai.usage.input_tokens", 150i64))
        .with_attribute(KeyValue::new("url", "https://h/?token=abc&x=1"));
        assert!(Redact::default().process(&mut r));
        for key in ["db.password", "X-Api-Key", "refresh_token", "apiKey"] {
            assert_eq!(field(&r, key), Some(&Value::from(REDACTED)), "{key}");
        }
        assert_eq!(field(&r, "user"), Some(&Value::from("bob")));
        assert_eq!(
            field(&r, "gen_ai.usage.input_tokens"),
            Some(&Value::I64(150))
        );
        assert_eq!(
            field(&r, "url"),
            Some(&Value::from("https://h/?token=[REDACTED]&x=1"))
        );
        let body = r.body.as_ref().unwrap().as_str().into_owned();
        assert_eq!(
            body,
            "login user=bob password=[REDACTED], Authorization: Bearer [REDACTED] then api_key=\"[REDACTED]\""
        );
        assert!(!body.contains("hunter2") && !body.contains("abc.def") && !body.contains("k1"));
    }

    #[test]
    fn exclusion_compares_the_field_as_text() {
        let p = ExcludeByField::new("path", ["/health", "/metrics"]);
        let mut health =
            LogRecord::new(Severity::Info, "req").with_attribute(KeyValue::new("path", "/health"));
        let mut api = LogRecord::new(Severity::Info, "req")
            .with_attribute(KeyValue::new("path", "/api/users"));
        let mut none = LogRecord::new(Severity::Info, "req");
        assert!(!p.process(&mut health));
        assert!(p.process(&mut api));
        assert!(p.process(&mut none));
    }

    #[test]
    fn added_fields_do_not_override_the_records_own() {
        let p = AddFields::new([
            KeyValue::new("service", "api"),
            KeyValue::new("version", "1.0.0"),
        ]);
        let mut r =
            LogRecord::new(Severity::Info, "x").with_attribute(KeyValue::new("service", "mine"));
        p.process(&mut r);
        assert_eq!(field(&r, "service"), Some(&Value::from("mine")));
        assert_eq!(field(&r, "version"), Some(&Value::from("1.0.0")));
    }

    proptest! {
        #[test]
        fn redaction_never_panics_and_never_leaks_a_marked_secret(
            prefix in "\\PC{0,20}", secret in "[a-zA-Z0-9]{1,12}", suffix in "\\PC{0,20}"
        ) {
            let text = format!("{prefix} password={secret} {suffix}");
            let clean = Redact::default().redact_text(&text).unwrap();
            prop_assert!(clean.contains("password=[REDACTED]"), "{}", clean);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,60}") {
            let _ = Redact::default().redact_text(&text);
        }
    }
}
