use super::*;
use crate::common::stats::register_exporter;
use crate::logs::Severity;
use crate::trace::{SpanId, TraceId};
use crate::KeyValue;
use proptest::prelude::*;
use serde_json::{json, Value};

fn at(secs: u64, millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(secs * 1000 + millis)
}

#[test]
fn the_bulk_endpoint_is_appended_once_and_a_path_prefix_is_kept() {
    let url = |u: &str| bulk_url(u).unwrap();
    assert_eq!(url("http://es:9200"), "http://es:9200/_bulk");
    assert_eq!(url("http://es:9200/"), "http://es:9200/_bulk");
    assert_eq!(url(" http://es:9200/_bulk "), "http://es:9200/_bulk");
    assert_eq!(url("http://proxy/es/"), "http://proxy/es/_bulk");
    assert_eq!(
        url("http://proxy/es?pipeline=logs"),
        "http://proxy/es/_bulk?pipeline=logs"
    );
}

#[test]
fn unusable_urls_are_refused_with_the_reason() {
    #[cfg(feature = "tls")]
    assert_eq!(
        bulk_url("https://es:9200").unwrap(),
        "https://es:9200/_bulk"
    );
    #[cfg(not(feature = "tls"))]
    {
        let https = bulk_url("https://es:9200").unwrap_err();
        assert_eq!(https.field, "elasticsearch.url");
        assert!(https.allowed.contains("tls"), "{https}");
    }
    for bad in ["es:9200", "", "ftp://es", "http://"] {
        assert!(bulk_url(bad).is_err(), "{bad}");
    }
    let creds = bulk_url("http://elastic:secret@es:9200").unwrap_err();
    assert!(!creds.to_string().contains("secret"), "{creds}");
    assert!(creds.allowed.contains("with_basic_auth"));
}

#[test]
fn index_patterns_must_make_valid_index_names() {
    for good in ["logs-%Y.%m.%d", "app-logs", "logs-%Y.%m.%d-%H", ".logs-%Y"] {
        assert!(check_index_pattern(good).is_ok(), "{good}");
    }
    for bad in [
        "", "Logs-%Y", "logs %Y", "_logs", "-logs", "logs/%Y", "logs:%Y", "a*", ".",
    ] {
        let err = check_index_pattern(bad).unwrap_err();
        assert_eq!(err.field, "elasticsearch.index_pattern", "{bad}");
    }
    assert!(check_index_pattern(&"a".repeat(256)).is_err());
}

#[test]
fn records_are_routed_by_their_own_utc_date_even_out_of_order() {
    let mut names = IndexNames::new(DEFAULT_INDEX_PATTERN.into());
    // 2025-10-11T23:59:59.999Z, then just past midnight, then the day before again.
    assert_eq!(names.name_for(at(1_760_227_199, 999)), "logs-2025.10.11");
    assert_eq!(names.name_for(at(1_760_227_200, 0)), "logs-2025.10.12");
    assert_eq!(names.name_for(at(1_760_227_199, 0)), "logs-2025.10.11");
    let mut hourly = IndexNames::new("logs-%Y.%m.%d.%H".into());
    assert_eq!(hourly.name_for(at(1_760_227_199, 0)), "logs-2025.10.11.23");
    assert_eq!(hourly.name_for(at(1_760_223_600, 0)), "logs-2025.10.11.23");
    assert_eq!(hourly.name_for(at(1_760_223_599, 0)), "logs-2025.10.11.22");
}

#[test]
fn base64_matches_the_rfc_4648_vectors() {
    let cases = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
        ("elastic:changeme", "ZWxhc3RpYzpjaGFuZ2VtZQ=="),
    ];
    for (plain, encoded) in cases {
        assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
    }
}

fn record() -> LogRecord {
    let mut r = LogRecord::new(Severity::Warn, "queue almost full")
        .with_attribute(KeyValue::new("queue.depth", 980i64));
    r.timestamp = Some(at(1_760_178_645, 123));
    r.trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    r.span_id = SpanId::from_hex("00f067aa0ba902b7").unwrap();
    r
}

#[test]
fn emitted_records_become_action_and_document_lines() {
    let resource = Resource::builder()
        .with_service_name("api-service")
        .with_service_version("1.0.0")
        .build();
    let stats = register_exporter("elasticsearch-unit-test", "logs");
    let cx = SinkContext {
        resource: &resource,
        stats: &stats,
    };
    let mut sink = ElasticsearchSink::new("http://127.0.0.1:9").unwrap();
    sink.emit(&record(), cx).unwrap();
    let mut late = record();
    late.timestamp = None;
    late.observed_timestamp = at(1_760_227_200, 0);
    sink.emit(&late, cx).unwrap();

    assert!(sink.body.ends_with(b"\n"));
    let text = std::str::from_utf8(&sink.body).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], json!({"index": {"_index": "logs-2025.10.11"}}));
    assert_eq!(
        lines[1],
        json!({
            "@timestamp": "2025-10-11T10:30:45.123Z",
            "service": {"name": "api-service", "version": "1.0.0"},
            "timestamp": "2025-10-11T10:30:45.123Z",
            "level": "WARN",
            "target": "loupe",
            "message": "queue almost full",
            "fields": {"queue.depth": 980},
            "span": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"},
        })
    );
    assert_eq!(lines[2], json!({"index": {"_index": "logs-2025.10.12"}}));
    assert_eq!(lines[3]["@timestamp"], "2025-10-12T00:00:00.000Z");
    // Each item covers exactly its two lines.
    assert_eq!(sink.items.len(), 2);
    assert_eq!(sink.items[0].end, sink.items[1].start);
    assert_eq!(sink.items[1].end, sink.body.len());

    let (retry, ranges) = select(&sink.body, &sink.items, &[1]);
    assert_eq!(&retry[..], &sink.body[sink.items[1].clone()]);
    assert_eq!(ranges, vec![0..retry.len()]);
}

#[test]
fn a_resource_without_a_service_adds_no_service_object() {
    assert!(service_fragment(&Resource::empty()).is_empty());
    let only_version = Resource::new([KeyValue::new("service.version", "2")]);
    assert_eq!(
        service_fragment(&only_version),
        b"\"service\":{\"version\":\"2\"},"
    );
}

#[test]
fn a_clean_bulk_answer_accepts_everything() {
    let answer = br#"{"took":3,"errors":false,"items":[]}"#;
    let outcome = BulkOutcome::read(answer, 5).unwrap();
    assert_eq!(outcome.accepted, 5);
    assert_eq!(
        outcome,
        BulkOutcome {
            accepted: 5,
            ..BulkOutcome::default()
        }
    );
}

#[test]
fn a_bulk_answer_with_errors_is_read_item_by_item() {
    let answer = json!({
        "took": 5,
        "errors": true,
        "items": [
            {"index": {"_index": "logs", "status": 201, "result": "created"}},
            {"index": {"_index": "logs", "status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "queue full"}}},
            {"index": {"_index": "logs", "status": 400, "error": {
                "type": "mapper_parsing_exception",
                "reason": "failed to parse field [fields.n]",
                "caused_by": {"type": "illegal_argument_exception", "reason": "For input string: \"x\""}
            }}},
            {"create": {"_index": "logs", "status": 409, "error": "version conflict"}},
            {},
        ],
    });
    let outcome = BulkOutcome::read(answer.to_string().as_bytes(), 7).unwrap();
    assert_eq!(
        outcome,
        BulkOutcome {
            accepted: 1,
            throttled: vec![1],
            rejected: 2,
            unanswered: 3,
            first_rejection: Some(
                "400 mapper_parsing_exception: failed to parse field [fields.n] \
                 (caused by illegal_argument_exception: For input string: \"x\")"
                    .into()
            ),
        }
    );
}

#[test]
fn an_answer_that_is_not_a_bulk_answer_is_an_error() {
    let err = BulkOutcome::read(b"<html>proxy error</html>", 1).unwrap_err();
    assert!(err.to_string().contains("proxy error"), "{err}");
}

#[test]
fn zero_durations_and_bad_headers_are_refused() {
    let url = "http://127.0.0.1:9200";
    let err = ElasticsearchSink::builder(url)
        .with_flush_interval(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.field, "elasticsearch.flush_interval");
    let err = ElasticsearchSink::builder(url)
        .with_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.field, "elasticsearch.timeout");
    let err = ElasticsearchSink::builder(url)
        .with_api_key("line\nbreak")
        .build()
        .unwrap_err();
    assert_eq!(err.field, "elasticsearch.headers");
    assert!(!err.to_string().contains("break"), "{err}");
    let debug = format!(
        "{:?}",
        ElasticsearchSink::builder(url).with_basic_auth("elastic", "changeme")
    );
    assert!(
        !debug.contains("changeme") && !debug.contains("ZWxhc3Rp"),
        "{debug}"
    );
}

proptest! {
    #[test]
    fn every_record_sent_is_accounted_for_once(
        statuses in prop::collection::vec(prop_oneof![Just(201u16), Just(200), Just(429), Just(400), Just(409), Just(500)], 0..40),
        sent in 0usize..45,
    ) {
        let items: Vec<Value> = statuses
            .iter()
            .map(|s| json!({"index": {"status": s, "error": {"type": "t", "reason": "r"}}}))
            .collect();
        let answer = json!({"errors": true, "items": items}).to_string();
        let outcome = BulkOutcome::read(answer.as_bytes(), sent).unwrap();
        let total = outcome.accepted
            + outcome.throttled.len() as u64
            + outcome.rejected
            + outcome.unanswered;
        prop_assert_eq!(total, sent as u64);
        prop_assert!(outcome.throttled.iter().all(|&i| i < sent && statuses[i] == 429));
        prop_assert_eq!(outcome.first_rejection.is_some(), outcome.rejected > 0);
    }
}
