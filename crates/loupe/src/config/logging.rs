//! The `logging` section's sinks and processors (002's `LoggingConfig`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A place log records go, besides the OTLP exporter. In YAML:
///
/// ```yaml
/// sinks:
///   - type: console
///     format: pretty
///   - type: file
///     path: /var/log/app.log
///     rotation: { max_size_mb: 100, max_files: 5, compress: true }
///   - type: elasticsearch
///     url: http://elasticsearch:9200
///     index_pattern: "logs-%Y.%m.%d"
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LogSinkConfig {
    /// Standard output (or standard error).
    Console {
        /// `json`, `pretty` or `logfmt`; the section's `format` when unset.
        #[serde(default)]
        format: Option<String>,
        /// Write to standard error instead.
        #[serde(default)]
        stderr: bool,
    },
    /// A file, rotated by size.
    File {
        /// The file.
        path: PathBuf,
        /// `json`, `pretty` or `logfmt`; the section's `format` when unset.
        #[serde(default)]
        format: Option<String>,
        /// Size-based rotation; none keeps one growing file.
        #[serde(default)]
        rotation: Option<RotationConfig>,
    },
    /// Elasticsearch or OpenSearch, through the `_bulk` API.
    Elasticsearch {
        /// The cluster, e.g. `http://elasticsearch:9200`.
        url: String,
        /// The index, with `%Y`, `%m`, `%d` from the record's UTC date.
        #[serde(default = "default_index_pattern")]
        index_pattern: String,
        /// Records per bulk request.
        #[serde(default = "default_buffer_size")]
        buffer_size: usize,
        /// Longest wait before buffered records are sent.
        #[serde(default = "default_flush_interval_ms")]
        flush_interval_ms: u64,
        /// For an `https://` cluster: `certificate` (the authority to trust instead of the
        /// system's, e.g. Elasticsearch 8's `http_ca.crt`), `client_certificate`,
        /// `client_key`.
        #[serde(default)]
        tls: crate::export::tls::TlsConfig,
    },
}

fn default_index_pattern() -> String {
    "logs-%Y.%m.%d".into()
}

fn default_buffer_size() -> usize {
    1000
}

fn default_flush_interval_ms() -> u64 {
    1000
}

/// 002's `RotationPolicy`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RotationConfig {
    /// Rotate when the file would grow past this many MiB.
    pub max_size_mb: u64,
    /// Rotated files kept.
    pub max_files: usize,
    /// Gzip rotated files.
    pub compress: bool,
}

impl Default for RotationConfig {
    fn default() -> Self {
        RotationConfig {
            max_size_mb: 100,
            max_files: 5,
            compress: true,
        }
    }
}

/// A processor applied to every record before it reaches a sink, in order.
///
/// ```yaml
/// processors:
///   - type: add_fields
///     fields: { service: api-service, version: "1.0.0" }
///   - type: filter
///     field: path
///     exclude: ["/health", "/metrics"]
///   - type: redact
///     keys: [session_id]
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LogProcessorConfig {
    /// Adds fields a record does not have.
    AddFields {
        /// The fields.
        fields: BTreeMap<String, String>,
    },
    /// Drops records whose `field` has one of the `exclude` values.
    Filter {
        /// The field.
        field: String,
        /// Values that drop the record.
        exclude: Vec<String>,
    },
    /// Redacts these keys in addition to the defaults (when `redact` is on) or alone.
    Redact {
        /// Key names treated as secret.
        #[serde(default)]
        keys: Vec<String>,
    },
}
