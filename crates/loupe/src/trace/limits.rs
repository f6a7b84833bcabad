//! Span limits: how much one span may carry before data is dropped (and counted).

use crate::common::error::ConfigError;

/// Per-span limits. Defaults follow the LLM-Simulator configuration (128 attributes,
/// 128 events, 32 links) and OpenTelemetry (128 attributes per event and per link, no
/// value length limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanLimits {
    /// Attributes per span (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`); default 128.
    pub max_attributes_per_span: u32,
    /// Events per span (`OTEL_SPAN_EVENT_COUNT_LIMIT`); default 128.
    pub max_events_per_span: u32,
    /// Links per span (`OTEL_SPAN_LINK_COUNT_LIMIT`); default 32.
    pub max_links_per_span: u32,
    /// Attributes per event (`OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`); default 128.
    pub max_attributes_per_event: u32,
    /// Attributes per link (`OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`); default 128.
    pub max_attributes_per_link: u32,
    /// Characters per string value (`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`); default none.
    pub max_attribute_value_length: Option<usize>,
}

/// The largest count limit accepted: beyond this a single span could hold megabytes.
pub const MAX_COUNT_LIMIT: u32 = 65_536;

impl Default for SpanLimits {
    fn default() -> Self {
        SpanLimits {
            max_attributes_per_span: 128,
            max_events_per_span: 128,
            max_links_per_span: 32,
            max_attributes_per_event: 128,
            max_attributes_per_link: 128,
            max_attribute_value_length: None,
        }
    }
}

impl SpanLimits {
    /// Checks every limit, naming the first field out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        const RANGE: &str = "an integer from 0 to 65536";
        for (field, value) in [
            ("max_attributes_per_span", self.max_attributes_per_span),
            ("max_events_per_span", self.max_events_per_span),
            ("max_links_per_span", self.max_links_per_span),
            ("max_attributes_per_event", self.max_attributes_per_event),
            ("max_attributes_per_link", self.max_attributes_per_link),
        ] {
            if value > MAX_COUNT_LIMIT {
                return Err(ConfigError::new(field, value, RANGE));
            }
        }
        if let Some(len) = self.max_attribute_value_length {
            if len == 0 {
                return Err(ConfigError::new(
                    "max_attribute_value_length",
                    len,
                    "a positive number of characters, or no limit",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_seed_configuration() {
        let l = SpanLimits::default();
        assert_eq!(
            (
                l.max_attributes_per_span,
                l.max_events_per_span,
                l.max_links_per_span
            ),
            (128, 128, 32)
        );
        assert!(l.validate().is_ok());
    }

    #[test]
    fn out_of_range_limits_name_the_field() {
        let err = SpanLimits {
            max_links_per_span: 1_000_000,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.field, "max_links_per_span");
        assert!(err.to_string().contains("1000000"), "{err}");
        let err = SpanLimits {
            max_attribute_value_length: Some(0),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.field, "max_attribute_value_length");
    }
}
