use super::*;

#[test]
fn names_follow_the_compatibility_rules() {
    let n = |name, unit, kind| metric_name(name, unit, kind, None, true);
    assert_eq!(
        n("plugin.messages.received", "", NameKind::Counter),
        "plugin_messages_received_total"
    );
    assert_eq!(
        n("plugin.messages.received", "{message}", NameKind::Counter),
        "plugin_messages_received_total"
    );
    assert_eq!(
        n("http.server.request.duration", "s", NameKind::Histogram),
        "http_server_request_duration_seconds"
    );
    assert_eq!(
        n("requests_total", "1", NameKind::Counter),
        "requests_total"
    );
    assert_eq!(
        n("cpu.utilization", "1", NameKind::Gauge),
        "cpu_utilization_ratio"
    );
    assert_eq!(
        n("memory.usage", "By", NameKind::Gauge),
        "memory_usage_bytes"
    );
    assert_eq!(
        n("io.rate", "By/s", NameKind::Gauge),
        "io_rate_bytes_per_second"
    );
    assert_eq!(
        n("latency_seconds", "s", NameKind::Histogram),
        "latency_seconds"
    );
    assert_eq!(n("9lives..x", "", NameKind::Gauge), "_9lives_x");
    assert_eq!(
        metric_name("queue.depth", "", NameKind::Gauge, Some("clusterdb"), true),
        "clusterdb_queue_depth"
    );
    assert_eq!(
        metric_name("db.time", "ms", NameKind::Histogram, None, false),
        "db_time"
    );
}

proptest::proptest! {
    /// Label values escape exactly backslashes, quotes and line feeds, whichever path they take
    /// (the word-at-a-time check also stops at other control characters).
    #[test]
    fn label_values_escape_exactly_backslash_quote_and_newline(
        value in "[\\x00-\\x7f\\\\\"é]{0,40}",
    ) {
        let mut out = String::new();
        escape_label_value(&mut out, &value);
        let expected = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
        proptest::prop_assert_eq!(out, expected);
    }

    #[test]
    fn the_label_name_fast_path_agrees_with_the_full_rules(key in "[a-z0-9_.:A-Z]{0,12}") {
        let fast = label_name_cow(&key).into_owned();
        proptest::prop_assert_eq!(fast, sanitized_label_name(&key));
    }

    /// Points whose attributes need no change are written straight from them; the result
    /// must be what merging and sanitizing would have written, constant and scope labels
    /// included.
    #[test]
    fn labels_written_directly_match_the_merged_labels(
        attrs in proptest::collection::btree_map("[a-z_]{1,4}", ("[a-z\\\\\"\n]{0,4}", 0..3u8), 0..5),
        fixed in proptest::collection::vec(("[a-z_]{1,4}", "[a-z]{0,3}"), 0..3),
    ) {
        let attributes: Vec<KeyValue> = attrs
            .iter()
            .map(|(k, (text, kind))| match kind {
                0 => KeyValue::new(k.clone(), text.clone()),
                1 => KeyValue::new(k.clone(), text.len() as i64 - 2),
                _ => KeyValue::new(k.clone(), text.len() % 2 == 0),
            })
            .collect();
        let (const_labels, scope_labels) = fixed.split_at(fixed.len() / 2);
        let ctx = SampleContext {
            base: "m",
            scope_labels,
            const_labels,
            format: Format::Text,
        };
        let mut merged = merge_labels_cow(&attributes);
        for (k, v) in ctx.fixed_labels() {
            if !merged.iter().any(|(lk, _)| lk == k) {
                merged.push((Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())));
            }
        }
        let (mut direct_out, mut merged_out) = (String::new(), String::new());
        let labels = ctx.labels(&attributes);
        let is_direct = matches!(labels, PointLabels::Direct(_));
        ctx.write_labels(&mut direct_out, &labels, Some(("le", "1")));
        ctx.write_labels(&mut merged_out, &PointLabels::Merged(merged), Some(("le", "1")));
        proptest::prop_assert_eq!(direct_out, merged_out);
        // Lower-case keys without a double underscore always take the direct path.
        let plain = attrs.keys().all(|k| !k.contains("__"));
        proptest::prop_assert_eq!(is_direct, plain);
    }
}

#[test]
fn label_names_are_valid() {
    assert_eq!(label_name("http.request.method"), "http_request_method");
    assert_eq!(label_name("0day"), "key_0day");
    assert_eq!(label_name("__reserved"), "key__reserved");
    assert_eq!(label_name("ünïcode"), "_n_code");
}

#[test]
fn accept_header_negotiation() {
    assert_eq!(Format::from_accept(None), Format::Text);
    assert_eq!(Format::from_accept(Some("text/plain")), Format::Text);
    assert_eq!(
        Format::from_accept(Some(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        )),
        Format::OpenMetrics
    );
    assert_eq!(
        Format::from_accept(Some("application/openmetrics-text;q=0.2,text/plain;q=0.9")),
        Format::Text
    );
    assert_eq!(
        Format::from_accept(Some("application/openmetrics-text; version=2.0.0")),
        Format::Text
    );
}

#[test]
fn escaping() {
    let mut s = String::new();
    escape_label_value(&mut s, "a\\b\"c\nd");
    assert_eq!(s, "a\\\\b\\\"c\\nd");
    assert_eq!(escape_help("x\\y\n\"", Format::Text), "x\\\\y\\n\"");
    assert_eq!(escape_help("\"", Format::OpenMetrics), "\\\"");
    let mut f = String::new();
    format_le(&mut f, 1.0, Format::OpenMetrics);
    assert_eq!(f, "1.0");
    f.clear();
    format_le(&mut f, 0.25, Format::Text);
    assert_eq!(f, "0.25");
}

/// A name two scopes both record under is one family: one HELP and TYPE, then every
/// scope's samples; a later metric of another type under the same name is left out,
/// and a metric with no points writes no header.
#[test]
fn families_gather_their_samples_from_every_scope() {
    let provider = crate::metrics::MeterProvider::builder().build();
    let (a, b) = (provider.meter("scope.a"), provider.meter("scope.b"));
    a.u64_counter("jobs").build().unwrap().add(1, &[]);
    let h = a.f64_histogram("wait").with_unit("s").build().unwrap();
    h.record(0.5, &[KeyValue::new("q", "x")]);
    b.u64_counter("jobs").build().unwrap().add(2, &[]);
    // Same Prometheus name as the counter family, but a gauge: dropped.
    b.f64_gauge("jobs_total").build().unwrap().record(9.0, &[]);
    let _unused = b.u64_counter("idle").build().unwrap();
    let options = RenderOptions {
        prefix: None,
        const_labels: Vec::new(),
        target_info: false,
        scope_labels: true,
        unit_suffixes: true,
    };
    let text = render(&provider.collect(), Format::Text, &options);
    let jobs: Vec<&str> = text.lines().filter(|l| l.contains("jobs")).collect();
    assert_eq!(
        jobs,
        [
            "# HELP jobs_total jobs",
            "# TYPE jobs_total counter",
            "jobs_total{otel_scope_name=\"scope.a\"} 1",
            "jobs_total{otel_scope_name=\"scope.b\"} 2",
        ],
        "{text}"
    );
    assert!(text.contains("wait_seconds_bucket{q=\"x\",otel_scope_name=\"scope.a\",le=\"+Inf\"} 1"));
    assert!(!text.contains("idle"), "{text}");
    assert_eq!(text.matches("# TYPE").count(), 2, "{text}");
}
