//! Reading Elasticsearch's answer to a `_bulk` request, item by item.

use crate::common::error::ExportError;
use std::collections::BTreeMap;

/// What a `_bulk` answer says about each record sent.
#[derive(Debug, Default, PartialEq)]
pub(super) struct BulkOutcome {
    /// Stored (2xx).
    pub(super) accepted: u64,
    /// Answered 429: worth sending again; indexes into the records sent.
    pub(super) throttled: Vec<usize>,
    /// Refused for good.
    pub(super) rejected: u64,
    /// Records the answer says nothing about.
    pub(super) unanswered: u64,
    /// Why the first refused record was refused.
    pub(super) first_rejection: Option<String>,
}

#[derive(serde::Deserialize)]
struct BulkResponse {
    errors: bool,
    #[serde(default)]
    items: Vec<BTreeMap<String, BulkItem>>,
}

#[derive(serde::Deserialize)]
struct BulkItem {
    status: u16,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

impl BulkOutcome {
    /// Reads the answer to a request of `sent` records.
    pub(super) fn read(answer: &[u8], sent: usize) -> Result<BulkOutcome, ExportError> {
        let response: BulkResponse = serde_json::from_slice(answer).map_err(|e| {
            let shown = String::from_utf8_lossy(&answer[..answer.len().min(256)]).into_owned();
            ExportError::from_source(
                format!("Elasticsearch's bulk answer is not what the API returns: {shown:?}"),
                e,
            )
        })?;
        let mut outcome = BulkOutcome::default();
        if !response.errors {
            outcome.accepted = sent as u64;
            return Ok(outcome);
        }
        for (i, item) in response.items.iter().take(sent).enumerate() {
            // Each item is keyed by its action: `index` here (`create` from a data stream).
            let Some(item) = item.values().next() else {
                outcome.unanswered += 1;
                continue;
            };
            match item.status {
                200..=299 => outcome.accepted += 1,
                429 => outcome.throttled.push(i),
                status => {
                    outcome.rejected += 1;
                    if outcome.first_rejection.is_none() {
                        outcome.first_rejection = Some(reason(status, item.error.as_ref()));
                    }
                }
            }
        }
        outcome.unanswered += sent.saturating_sub(response.items.len()) as u64;
        Ok(outcome)
    }
}

/// `400 mapper_parsing_exception: failed to parse … (caused by …)` from an item's error.
fn reason(status: u16, error: Option<&serde_json::Value>) -> String {
    use serde_json::Value;
    fn describe(error: &serde_json::Map<String, Value>) -> String {
        let kind = error.get("type").and_then(Value::as_str).unwrap_or("error");
        let text = error.get("reason").and_then(Value::as_str).unwrap_or("");
        format!("{kind}: {text}")
    }
    match error {
        Some(Value::Object(error)) => {
            let mut text = format!("{status} {}", describe(error));
            if let Some(Value::Object(cause)) = error.get("caused_by") {
                text.push_str(&format!(" (caused by {})", describe(cause)));
            }
            text
        }
        Some(Value::String(error)) => format!("{status} {error}"),
        _ => format!("status {status}"),
    }
}
