//! Attribute helpers and the standard keys of seed 000 §2.4 and §9.3.

use std::collections::HashMap;

/// A map from key/value pairs.
pub fn with_values<K: ToString, V: ToString>(pairs: &[(K, V)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A map with one pair.
pub fn with_value<K: ToString, V: ToString>(key: K, value: V) -> HashMap<String, String> {
    HashMap::from([(key.to_string(), value.to_string())])
}

/// `base` with `additional` added; `additional` wins on conflicts.
pub fn merge(
    mut base: HashMap<String, String>,
    additional: HashMap<String, String>,
) -> HashMap<String, String> {
    base.extend(additional);
    base
}

/// Standard attribute keys.
pub mod keys {
    /// `service.name`
    pub const SERVICE_NAME: &str = "service.name";
    /// `service.version`
    pub const SERVICE_VERSION: &str = "service.version";
    /// `service.environment`
    pub const SERVICE_ENVIRONMENT: &str = "service.environment";
    /// `plugin.name`
    pub const PLUGIN_NAME: &str = "plugin.name";
    /// `plugin.version`
    pub const PLUGIN_VERSION: &str = "plugin.version";
    /// `plugin.status`
    pub const PLUGIN_STATUS: &str = "plugin.status";
    /// `message.topic`
    pub const MESSAGE_TOPIC: &str = "message.topic";
    /// `message.id`
    pub const MESSAGE_ID: &str = "message.id";
    /// `message.source`
    pub const MESSAGE_SOURCE: &str = "message.source";
    /// `operation`
    pub const OPERATION: &str = "operation";
    /// `error`
    pub const ERROR: &str = "error";
    /// `error.type`
    pub const ERROR_TYPE: &str = "error.type";
    /// `error.stack`
    pub const ERROR_STACK: &str = "error.stack";
    /// `resource.type`
    pub const RESOURCE_TYPE: &str = "resource.type";
    /// `resource.name`
    pub const RESOURCE_NAME: &str = "resource.name";
    /// `db.system`
    pub const DB_SYSTEM: &str = "db.system";
    /// `db.operation`
    pub const DB_OPERATION: &str = "db.operation";
    /// `db.statement`
    pub const DB_STATEMENT: &str = "db.statement";
    /// `http.method`
    pub const HTTP_METHOD: &str = "http.method";
    /// `http.url`
    pub const HTTP_URL: &str = "http.url";
    /// `http.status_code`
    pub const HTTP_STATUS_CODE: &str = "http.status_code";
}

/// The same keys under the name seed 000 §9.3 uses.
pub use keys as attribute_standards;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_build_and_merge_maps() {
        let base = with_values(&[("a", 1), ("b", 2)]);
        let merged = merge(base, with_value("b", "two"));
        assert_eq!(merged.get("a").map(String::as_str), Some("1"));
        assert_eq!(merged.get("b").map(String::as_str), Some("two"));
        assert_eq!(keys::ERROR_TYPE, "error.type");
        assert_eq!(attribute_standards::HTTP_STATUS_CODE, "http.status_code");
    }
}
