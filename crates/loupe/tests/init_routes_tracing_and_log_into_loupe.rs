//! With `loupe::init`, code that only knows the `tracing` and `log` facades lands in
//! Loupe: `#[instrument]` spans reach the OTLP peer (the official Python protos decode
//! them) and events and `log` lines reach the configured file, tied to their span.

mod support;

use loupe::config::{ExporterKind, LogSinkConfig};
use std::time::Duration;

#[tracing::instrument(fields(order.id = id))]
fn place_order(id: i64) {
    tracing::info!(items = 3, "order placed");
    log::warn!(target: "legacy::billing", "card declined once for order {id}");
    tracing::debug!("below the level: dropped");
}

#[test]
fn instrumented_code_and_log_lines_reach_loupe_sinks() {
    let (peer, port) = support::otlp_receiver("http", &[]);
    let dir = std::env::temp_dir().join(format!("loupe-bridges-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("app.log");
    let sink_path = path.clone();
    let telemetry = loupe::init(
        support::loopback_config("orders", port)
            .with_logs_exporter(ExporterKind::None)
            .with(move |c| {
                c.logging.level = "info".into();
                c.logging.sinks = vec![LogSinkConfig::File {
                    path: sink_path.clone(),
                    format: Some("json".into()),
                    rotation: None,
                }];
            }),
    )
    .unwrap();
    place_order(42);
    telemetry.shutdown().unwrap();

    let decoded = peer.next_json(Duration::from_secs(30), |v| {
        v["event"] == "decoded" && v["signal"] == "traces"
    });
    let span = &decoded["spans"][0];
    assert_eq!(span["name"], "place_order", "{decoded}");
    assert_eq!(span["attributes"]["order.id"], 42);
    assert_eq!(span["resource"]["service.name"], "orders");

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["message"], "order placed");
    assert_eq!(lines[0]["fields"]["items"], 3);
    assert_eq!(lines[1]["level"], "WARN");
    assert_eq!(lines[1]["target"], "legacy::billing");
    assert_eq!(lines[1]["message"], "card declined once for order 42");
    for line in &lines {
        assert_eq!(line["span"]["trace_id"], span["trace_id"], "{line}");
        assert_eq!(line["span"]["span_id"], span["span_id"], "{line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
