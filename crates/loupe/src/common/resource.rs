//! The entity producing telemetry (`service.name`, host, SDK identity), as in OTLP.

use super::attribute::{normalize, Key, KeyValue, Value};
use std::borrow::Cow;

/// The resource every span, metric point and log record of a pipeline is attached to.
///
/// Attributes are kept sorted with unique keys. [`Resource::default`] carries the SDK's
/// identity (`telemetry.sdk.*`) and `service.name = unknown_service:<executable>`, as the
/// OpenTelemetry specification requires when no name is configured.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    attributes: Vec<KeyValue>,
    schema_url: Option<Cow<'static, str>>,
}

/// `service.name`
pub const SERVICE_NAME: Key = Key::from_static("service.name");
/// `service.version`
pub const SERVICE_VERSION: Key = Key::from_static("service.version");

impl Resource {
    /// A resource with exactly these attributes (no SDK defaults).
    pub fn new(attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        let mut attributes: Vec<KeyValue> = attributes.into_iter().collect();
        normalize(&mut attributes);
        Resource {
            attributes,
            schema_url: None,
        }
    }

    /// An empty resource.
    pub fn empty() -> Self {
        Resource {
            attributes: Vec::new(),
            schema_url: None,
        }
    }

    /// Starts from the SDK defaults (see [`Resource::default`]).
    pub fn builder() -> ResourceBuilder {
        ResourceBuilder {
            resource: Resource::default(),
        }
    }

    /// The attributes, sorted by key.
    pub fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }

    /// The value of one attribute.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.attributes
            .binary_search_by(|kv| kv.key.as_str().cmp(key))
            .ok()
            .map(|i| &self.attributes[i].value)
    }

    /// The schema URL, if one was set.
    pub fn schema_url(&self) -> Option<&str> {
        self.schema_url.as_deref()
    }

    /// Merges `other` into this resource; `other`'s values win on conflicts.
    #[must_use]
    pub fn merge(&self, other: &Resource) -> Resource {
        let mut attributes = self.attributes.clone();
        attributes.extend(other.attributes.iter().cloned());
        normalize(&mut attributes);
        Resource {
            attributes,
            schema_url: other.schema_url.clone().or_else(|| self.schema_url.clone()),
        }
    }
}

impl Default for Resource {
    fn default() -> Self {
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        Resource::new([
            KeyValue::new(SERVICE_NAME, format!("unknown_service:{exe}")),
            KeyValue::new("telemetry.sdk.name", "loupe"),
            KeyValue::new("telemetry.sdk.language", "rust"),
            KeyValue::new("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        ])
    }
}

/// Builds a [`Resource`] on top of the SDK defaults.
#[derive(Debug)]
#[must_use]
pub struct ResourceBuilder {
    resource: Resource,
}

impl ResourceBuilder {
    /// Sets `service.name`.
    pub fn with_service_name(self, name: impl Into<Cow<'static, str>>) -> Self {
        self.with_attribute(KeyValue::new(SERVICE_NAME, name.into()))
    }

    /// Sets `service.version`.
    pub fn with_service_version(self, version: impl Into<Cow<'static, str>>) -> Self {
        self.with_attribute(KeyValue::new(SERVICE_VERSION, version.into()))
    }

    /// Sets one attribute, replacing an earlier value of the same key.
    pub fn with_attribute(mut self, kv: KeyValue) -> Self {
        self.resource = self.resource.merge(&Resource::new([kv]));
        self
    }

    /// Sets several attributes.
    pub fn with_attributes(mut self, kvs: impl IntoIterator<Item = KeyValue>) -> Self {
        self.resource = self.resource.merge(&Resource::new(kvs));
        self
    }

    /// Sets the schema URL.
    pub fn with_schema_url(mut self, url: impl Into<Cow<'static, str>>) -> Self {
        self.resource.schema_url = Some(url.into());
        self
    }

    /// Finishes the resource.
    pub fn build(self) -> Resource {
        self.resource
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_an_unknown_service_after_the_executable() {
        let r = Resource::default();
        let name = r.get("service.name").unwrap().to_string();
        assert!(name.starts_with("unknown_service:"), "{name}");
        assert_eq!(r.get("telemetry.sdk.name"), Some(&Value::from("loupe")));
    }

    #[test]
    fn builder_overrides_defaults() {
        let r = Resource::builder()
            .with_service_name("checkout")
            .with_service_version("1.2")
            .build();
        assert_eq!(r.get("service.name"), Some(&Value::from("checkout")));
        assert_eq!(r.get("service.version"), Some(&Value::from("1.2")));
    }
}
