//! Instrumentation scopes: which library or module produced a span or metric.

use super::attribute::KeyValue;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// The OTLP instrumentation scope (name, version, schema URL, attributes).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct InstrumentationScope {
    /// The scope's name, usually the instrumented crate or module.
    pub name: String,
    /// The scope's version.
    pub version: Option<String>,
    /// The schema URL of the attributes it emits.
    pub schema_url: Option<String>,
    /// Attributes describing the scope.
    pub attributes: Vec<KeyValue>,
}

impl InstrumentationScope {
    /// A scope with a name only.
    pub fn new(name: impl Into<String>) -> Self {
        InstrumentationScope {
            name: name.into(),
            ..Default::default()
        }
    }

    /// Sets the version.
    #[must_use]
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Sets the schema URL.
    #[must_use]
    pub fn with_schema_url(mut self, url: impl Into<String>) -> Self {
        self.schema_url = Some(url.into());
        self
    }

    /// Sets the attributes.
    #[must_use]
    pub fn with_attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.attributes = attributes.into_iter().collect();
        self
    }

    /// Returns the process-wide interned copy of this scope.
    ///
    /// Spans carry `&'static InstrumentationScope` so that starting a span never touches a
    /// shared reference count (which would make threads contend). A process creates a
    /// handful of scopes, each interned once.
    pub(crate) fn intern(self) -> &'static InstrumentationScope {
        static SCOPES: OnceLock<
            Mutex<HashMap<InstrumentationScope, &'static InstrumentationScope>>,
        > = OnceLock::new();
        let mut scopes = SCOPES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(interned) = scopes.get(&self) {
            return interned;
        }
        let interned: &'static InstrumentationScope = Box::leak(Box::new(self.clone()));
        scopes.insert(self, interned);
        interned
    }
}

impl From<&str> for InstrumentationScope {
    fn from(name: &str) -> Self {
        InstrumentationScope::new(name)
    }
}

impl From<String> for InstrumentationScope {
    fn from(name: String) -> Self {
        InstrumentationScope::new(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_returns_one_copy_per_scope() {
        let a = InstrumentationScope::new("svc").with_version("1").intern();
        let b = InstrumentationScope::new("svc").with_version("1").intern();
        let c = InstrumentationScope::new("svc").intern();
        assert!(std::ptr::eq(a, b));
        assert!(!std::ptr::eq(a, c));
    }
}
