use super::*;
use crate::common::attribute::Array;
use crate::common::scope::InstrumentationScope;
use crate::trace::{Event, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use serde_json::{json, Value as Json};

fn scope() -> &'static InstrumentationScope {
    InstrumentationScope::new("checkout")
        .with_version("1.2.0")
        .intern()
}

fn span(kind: SpanKind, parent: SpanId) -> SpanData {
    let start = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
    SpanData {
        span_context: SpanContext::new(
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
            SpanId::from_hex("b7ad6b7169203331").unwrap(),
            TraceFlags::new(1),
            false,
            TraceState::default(),
        ),
        parent_span_id: parent,
        parent_is_remote: false,
        name: "GET /api/users".into(),
        kind,
        start_time: start,
        end_time: start + Duration::from_micros(2_500),
        scope: scope(),
        ..SpanData::empty()
    }
}

fn encode_one(span: SpanData, resource: &Resource, local: &LocalEndpoint) -> Json {
    let body = encode_spans(&[span], resource, local);
    let mut array: Vec<Json> = serde_json::from_slice(&body).unwrap();
    assert_eq!(array.len(), 1);
    array.remove(0)
}

fn resource() -> Resource {
    Resource::new([KeyValue::new("service.name", "api-service")])
}

#[test]
fn a_root_server_span_maps_ids_kind_times_and_service() {
    let local = LocalEndpoint {
        ipv4: Some(Ipv4Addr::new(10, 0, 0, 1)),
        port: Some(8080),
        ..LocalEndpoint::default()
    };
    let zipkin = encode_one(span(SpanKind::Server, SpanId::INVALID), &resource(), &local);
    assert_eq!(
        zipkin,
        json!({
            "traceId": "0af7651916cd43dd8448eb211c80319c",
            "id": "b7ad6b7169203331",
            "kind": "SERVER",
            "name": "GET /api/users",
            "timestamp": 1_700_000_000_123_456u64,
            "duration": 2_500,
            "localEndpoint": {"serviceName": "api-service", "ipv4": "10.0.0.1", "port": 8080},
            "tags": {"otel.scope.name": "checkout", "otel.scope.version": "1.2.0"},
        })
    );
}

#[test]
fn internal_spans_have_no_kind_and_children_name_their_parent() {
    let parent = SpanId::from_hex("00f067aa0ba902b7").unwrap();
    let zipkin = encode_one(
        span(SpanKind::Internal, parent),
        &resource(),
        &LocalEndpoint::default(),
    );
    assert_eq!(zipkin["parentId"], "00f067aa0ba902b7");
    assert!(zipkin.get("kind").is_none(), "{zipkin}");
    assert!(zipkin.get("shared").is_none());
    assert!(zipkin.get("annotations").is_none(), "absent, not empty");
    assert!(zipkin.get("remoteEndpoint").is_none());
}

#[test]
fn every_kind_maps_to_its_zipkin_name() {
    for (kind, name) in [
        (SpanKind::Client, "CLIENT"),
        (SpanKind::Server, "SERVER"),
        (SpanKind::Producer, "PRODUCER"),
        (SpanKind::Consumer, "CONSUMER"),
    ] {
        let zipkin = encode_one(
            span(kind, SpanId::INVALID),
            &resource(),
            &LocalEndpoint::default(),
        );
        assert_eq!(zipkin["kind"], name);
    }
}

#[test]
fn durations_are_whole_microseconds_and_at_least_one() {
    let mut short = span(SpanKind::Internal, SpanId::INVALID);
    short.end_time = short.start_time + Duration::from_nanos(1_234);
    let zipkin = encode_one(short, &resource(), &LocalEndpoint::default());
    assert_eq!(zipkin["duration"], 1);
    let mut instant = span(SpanKind::Internal, SpanId::INVALID);
    instant.end_time = instant.start_time;
    let zipkin = encode_one(instant, &resource(), &LocalEndpoint::default());
    assert_eq!(zipkin["duration"], 1);
}

#[test]
fn attributes_become_string_tags_with_arrays_as_json() {
    let mut s = span(SpanKind::Internal, SpanId::INVALID);
    s.attributes = vec![
        KeyValue::new("http.method", "GET"),
        KeyValue::new("http.status_code", 200i64),
        KeyValue::new("cache.hit", true),
        KeyValue::new("ratio", 0.25),
        KeyValue::new("tags", Array::String(vec!["a".into(), "b\"c".into()])),
        KeyValue::new("ids", vec![1i64, 2]),
    ];
    s.dropped_attributes_count = 2;
    s.dropped_events_count = 1;
    let tags = &encode_one(s, &resource(), &LocalEndpoint::default())["tags"];
    assert_eq!(tags["http.method"], "GET");
    assert_eq!(tags["http.status_code"], "200");
    assert_eq!(tags["cache.hit"], "true");
    assert_eq!(tags["ratio"], "0.25");
    assert_eq!(tags["tags"], r#"["a","b\"c"]"#);
    assert_eq!(tags["ids"], "[1,2]");
    assert_eq!(tags["otel.dropped_attributes_count"], "2");
    assert_eq!(tags["otel.dropped_events_count"], "1");
    assert!(tags.get("otel.dropped_links_count").is_none());
}

#[test]
fn error_status_sets_status_code_and_error_description() {
    let mut s = span(SpanKind::Internal, SpanId::INVALID);
    s.status = Status::error("connection reset");
    let tags = &encode_one(s, &resource(), &LocalEndpoint::default())["tags"];
    assert_eq!(tags["otel.status_code"], "ERROR");
    assert_eq!(tags["error"], "connection reset");

    let mut s = span(SpanKind::Internal, SpanId::INVALID);
    s.status = Status::error("");
    let tags = &encode_one(s, &resource(), &LocalEndpoint::default())["tags"];
    assert_eq!(
        tags["error"], "",
        "an empty description is still an error tag"
    );
}

#[test]
fn ok_and_unset_status_never_set_an_error_tag() {
    let mut s = span(SpanKind::Internal, SpanId::INVALID);
    s.status = Status::Ok;
    s.attributes = vec![KeyValue::new("error", false)];
    let tags = &encode_one(s, &resource(), &LocalEndpoint::default())["tags"];
    assert_eq!(tags["otel.status_code"], "OK");
    assert!(tags.get("error").is_none(), "{tags}");

    let tags = &encode_one(
        span(SpanKind::Internal, SpanId::INVALID),
        &resource(),
        &LocalEndpoint::default(),
    )["tags"];
    assert!(tags.get("otel.status_code").is_none());
}

#[test]
fn events_become_annotations_with_compact_attributes() {
    let mut s = span(SpanKind::Internal, SpanId::INVALID);
    s.events = vec![
        Event {
            name: "cache.miss".into(),
            timestamp: s.start_time + Duration::from_micros(10),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
        },
        Event {
            name: "retry".into(),
            timestamp: s.start_time + Duration::from_micros(20),
            attributes: vec![
                KeyValue::new("attempt", 2i64),
                KeyValue::new("reason", "503"),
            ],
            dropped_attributes_count: 0,
        },
    ];
    let zipkin = encode_one(s, &resource(), &LocalEndpoint::default());
    assert_eq!(
        zipkin["annotations"],
        json!([
            {"timestamp": 1_700_000_000_123_466u64, "value": "cache.miss"},
            {"timestamp": 1_700_000_000_123_476u64, "value": r#""retry":{"attempt":2,"reason":"503"}"#},
        ])
    );
}

#[test]
fn client_spans_name_their_peer_as_the_remote_endpoint() {
    let mut s = span(SpanKind::Client, SpanId::INVALID);
    s.attributes = vec![
        KeyValue::new("network.peer.address", "10.1.2.3"),
        KeyValue::new("network.peer.port", 5432i64),
        KeyValue::new("db.name", "users"),
    ];
    let zipkin = encode_one(s.clone(), &resource(), &LocalEndpoint::default());
    assert_eq!(
        zipkin["remoteEndpoint"],
        json!({"ipv4": "10.1.2.3", "port": 5432})
    );

    s.attributes.push(KeyValue::new("peer.service", "postgres"));
    let zipkin = encode_one(s.clone(), &resource(), &LocalEndpoint::default());
    assert_eq!(zipkin["remoteEndpoint"], json!({"serviceName": "postgres"}));

    s.kind = SpanKind::Server;
    let zipkin = encode_one(s, &resource(), &LocalEndpoint::default());
    assert!(zipkin.get("remoteEndpoint").is_none());
}

#[test]
fn service_name_comes_from_the_resource_or_the_default_and_can_be_overridden() {
    let zipkin = encode_one(
        span(SpanKind::Internal, SpanId::INVALID),
        &Resource::empty(),
        &LocalEndpoint::default(),
    );
    let name = zipkin["localEndpoint"]["serviceName"].as_str().unwrap();
    assert!(name.starts_with("unknown_service:"), "{name}");

    let with_namespace = Resource::new([
        KeyValue::new("service.name", "api-service"),
        KeyValue::new("service.namespace", "shop"),
    ]);
    let local = LocalEndpoint {
        service_name: Some("edge".into()),
        ipv6: Some(Ipv6Addr::LOCALHOST),
        ..LocalEndpoint::default()
    };
    let zipkin = encode_one(
        span(SpanKind::Internal, SpanId::INVALID),
        &with_namespace,
        &local,
    );
    assert_eq!(
        zipkin["localEndpoint"],
        json!({"serviceName": "edge", "ipv6": "::1"})
    );
    assert_eq!(zipkin["tags"]["service.namespace"], "shop");
}

#[test]
fn the_endpoint_is_validated_and_completed_with_the_spans_path() {
    assert_eq!(
        endpoint_url("http://zipkin:9411").unwrap(),
        "http://zipkin:9411/api/v2/spans"
    );
    assert_eq!(
        endpoint_url("https://zipkin.example.com/custom/path").unwrap(),
        "https://zipkin.example.com/custom/path"
    );
    for bad in ["zipkin:9411", "ftp://zipkin/api", "", "http://"] {
        let error = ZipkinExporter::builder()
            .with_endpoint(bad)
            .build()
            .unwrap_err();
        assert_eq!(error.field, "endpoint", "{bad}");
    }
    let error = ZipkinExporter::builder()
        .with_header("bad header", "x")
        .build()
        .unwrap_err();
    assert_eq!(error.field, "headers");
}

#[test]
fn an_unreachable_collector_fails_the_export_and_counts_the_spans() {
    // A port nothing listens on: bind, take the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let exporter = ZipkinExporter::builder()
        .with_endpoint(format!("http://127.0.0.1:{port}"))
        .with_retry(RetryPolicy::none())
        .with_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let spans = [span(SpanKind::Internal, SpanId::INVALID)];
    let result = exporter.export(SpanBatch {
        resource: &resource(),
        spans: &spans,
        timeout: Duration::from_secs(5),
    });
    assert!(result.is_err());
    assert_eq!(exporter.stats().failed.get(), 1);
    assert_eq!(exporter.stats().exported.get(), 0);
    assert_eq!(exporter.stats().durations().count, 1);
}
