//! Resource detection: what the service, host and process are, as resource attributes.

use super::TelemetryConfig;
use crate::common::attribute::KeyValue;
use crate::common::resource::Resource;

/// The resource `config` describes: `service.name` (else `unknown_service:<executable>`),
/// `service.version`, `service.namespace`, `deployment.environment`, `service.instance.id`
/// (a random UUID unless configured), `host.name`, `process.pid`,
/// `process.executable.name`, `process.runtime.name`, the configured (and
/// `OTEL_RESOURCE_ATTRIBUTES`) attributes, and `telemetry.sdk.*`.
///
/// Call it on a resolved configuration ([`TelemetryConfig::resolve`]) so the environment
/// is taken into account.
pub fn detect(config: &TelemetryConfig) -> Resource {
    let s = &config.service;
    let mut attrs: Vec<KeyValue> = s
        .resource_attributes
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    if let Some(host) = host_name() {
        attrs.push(KeyValue::new("host.name", host));
    }
    attrs.push(KeyValue::new("process.pid", i64::from(std::process::id())));
    if let Some(exe) = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
    {
        attrs.push(KeyValue::new("process.executable.name", exe));
    }
    attrs.push(KeyValue::new("process.runtime.name", "rust"));
    let instance = s
        .instance_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    attrs.push(KeyValue::new("service.instance.id", instance));
    if let Some(v) = &s.version {
        attrs.push(KeyValue::new("service.version", v.clone()));
    }
    if let Some(v) = &s.namespace {
        attrs.push(KeyValue::new("service.namespace", v.clone()));
    }
    if let Some(v) = &s.environment {
        attrs.push(KeyValue::new("deployment.environment", v.clone()));
    }
    let mut builder = Resource::builder().with_attributes(attrs);
    if let Some(name) = &s.name {
        builder = builder.with_service_name(name.clone());
    }
    builder.build()
}

/// The host name from the kernel (Linux), or the `HOSTNAME` variable.
fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
}
