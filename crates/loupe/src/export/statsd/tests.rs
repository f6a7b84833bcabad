use super::line::{split_into_datagrams, Encoded};
use super::*;
use crate::common::resource::Resource;
use crate::common::scope::InstrumentationScope;
use crate::metrics::{
    HistogramPoint, ManualReader, MeterProvider, Metric, MetricData, NumberPoint, NumberValue,
    ScopeMetrics,
};
use proptest::prelude::*;
use std::time::SystemTime;

fn encoder(flavor: StatsdFlavor) -> Encoder {
    Encoder {
        prefix: "api.".into(),
        flavor,
        constant_tags: Vec::new(),
        histogram_buckets: false,
    }
}

/// One collection holding the given metrics.
fn collection(metrics: Vec<Metric>) -> ResourceMetrics {
    ResourceMetrics {
        resource: Arc::new(Resource::empty()),
        scope_metrics: vec![ScopeMetrics {
            scope: InstrumentationScope::new("statsd-tests").intern(),
            metrics,
        }],
    }
}

fn number_point(attributes: Vec<KeyValue>, value: NumberValue) -> NumberPoint {
    NumberPoint {
        attributes: attributes.into(),
        start_time: SystemTime::UNIX_EPOCH,
        time: SystemTime::UNIX_EPOCH,
        value,
    }
}

fn metric(name: &str, data: MetricData) -> Metric {
    Metric {
        name: name.into(),
        description: String::new(),
        unit: String::new(),
        data,
    }
}

fn counter(name: &str, points: Vec<NumberPoint>, temporality: Temporality) -> Metric {
    metric(
        name,
        MetricData::Sum {
            points,
            temporality,
            is_monotonic: true,
        },
    )
}

fn histogram(name: &str, count: u64, sum: f64, buckets: Vec<u64>, t: Temporality) -> Metric {
    metric(
        name,
        MetricData::Histogram {
            points: vec![HistogramPoint {
                attributes: vec![KeyValue::new("route", "/a")].into(),
                start_time: SystemTime::UNIX_EPOCH,
                time: SystemTime::UNIX_EPOCH,
                count,
                sum,
                min: None,
                max: None,
                bounds: Arc::from(vec![0.1, 1.0]),
                bucket_counts: buckets,
            }],
            temporality: t,
        },
    )
}

fn texts(encoded: &Encoded) -> Vec<&str> {
    encoded.units.iter().map(|u| u.text.as_str()).collect()
}

/// The lines a meter provider's delta collection becomes, without the SDK's own metrics.
fn recorded_lines(flavor: StatsdFlavor, record: impl Fn(&MeterProvider)) -> Vec<String> {
    let provider = MeterProvider::builder().build();
    let reader = ManualReader::new(&provider, Temporality::Delta);
    record(&provider);
    let encoded = encoder(flavor).encode(&reader.collect(), &mut CumulativeMemory::default());
    let mut lines: Vec<String> = encoded
        .units
        .into_iter()
        .map(|u| u.text)
        .filter(|t| !t.starts_with("api.loupe.sdk."))
        .collect();
    lines.sort();
    lines
}

#[test]
fn instruments_become_dogstatsd_lines_with_tags() {
    let lines = recorded_lines(StatsdFlavor::DogStatsd, |provider| {
        let meter = provider.meter("api");
        let requests = meter.u64_counter("http_requests_total").build().unwrap();
        requests.add(
            3,
            &[
                KeyValue::new("method", "GET"),
                KeyValue::new("status", 200i64),
            ],
        );
        let temperature = meter.f64_gauge("temperature").build().unwrap();
        temperature.record(21.5, &[]);
        let queue = meter.i64_up_down_counter("queue.depth").build().unwrap();
        queue.add(7, &[]);
        queue.add(-2, &[]);
        let latency = meter
            .f64_histogram("request_duration_seconds")
            .build()
            .unwrap();
        latency.record(0.25, &[KeyValue::new("method", "GET")]);
        latency.record(0.5, &[KeyValue::new("method", "GET")]);
    });
    assert_eq!(
        lines,
        [
            "api.http_requests_total:3|c|#method:GET,status:200",
            "api.queue.depth:5|g",
            "api.request_duration_seconds.count:2|c|#method:GET",
            "api.request_duration_seconds.sum:0.75|c|#method:GET",
            "api.temperature:21.5|g",
        ]
    );
}

#[test]
fn plain_statsd_folds_attributes_into_the_name() {
    let lines = recorded_lines(StatsdFlavor::Plain, |provider| {
        let requests = provider
            .meter("api")
            .u64_counter("http_requests_total")
            .build()
            .unwrap();
        requests.add(
            1,
            &[
                KeyValue::new("http.method", "GET"),
                KeyValue::new("path", "/api/users.json"),
            ],
        );
    });
    assert_eq!(
        lines,
        ["api.http_requests_total.http_method.GET.path./api/users_json:1|c"]
    );
}

#[test]
fn reserved_characters_are_replaced_everywhere() {
    let enc = Encoder {
        constant_tags: vec![KeyValue::new("env", "prod|eu")],
        ..encoder(StatsdFlavor::DogStatsd)
    };
    let metrics = collection(vec![counter(
        "bad:name|with@all#the,chars\nand more",
        vec![number_point(
            vec![KeyValue::new("k:e,y", "v:a|l,u#e@x\ny")],
            NumberValue::U64(1),
        )],
        Temporality::Delta,
    )]);
    let encoded = enc.encode(&metrics, &mut CumulativeMemory::default());
    assert_eq!(
        texts(&encoded),
        ["api.bad_name_with_all_the_chars_and_more:1|c|#k_e_y:v:a_l_u_e_x_y,env:prod_eu"]
    );
}

#[test]
fn negative_gauges_reset_first_in_plain_statsd_only() {
    let metrics = collection(vec![metric(
        "balance",
        MetricData::Gauge {
            points: vec![number_point(Vec::new(), NumberValue::F64(-5.5))],
        },
    )]);
    let plain = encoder(StatsdFlavor::Plain).encode(&metrics, &mut CumulativeMemory::default());
    assert_eq!(texts(&plain), ["api.balance:0|g\napi.balance:-5.5|g"]);
    assert_eq!(plain.points, 1);
    let dog = encoder(StatsdFlavor::DogStatsd).encode(&metrics, &mut CumulativeMemory::default());
    assert_eq!(texts(&dog), ["api.balance:-5.5|g"]);

    // `-0` would read as "decrease by zero": negative zero is sent as a plain 0.
    let zero = collection(vec![metric(
        "balance",
        MetricData::Gauge {
            points: vec![number_point(Vec::new(), NumberValue::F64(-0.0))],
        },
    )]);
    let plain = encoder(StatsdFlavor::Plain).encode(&zero, &mut CumulativeMemory::default());
    assert_eq!(texts(&plain), ["api.balance:0|g"]);
}

#[test]
fn cumulative_counters_and_histograms_are_sent_as_increases() {
    let enc = Encoder {
        histogram_buckets: true,
        ..encoder(StatsdFlavor::DogStatsd)
    };
    let mut memory = CumulativeMemory::default();
    let round = |memory: &mut CumulativeMemory, total: u64, hist: (u64, f64, Vec<u64>)| {
        let metrics = collection(vec![
            counter(
                "loupe.sdk.exporter.exported",
                vec![number_point(Vec::new(), NumberValue::U64(total))],
                Temporality::Cumulative,
            ),
            histogram("latency", hist.0, hist.1, hist.2, Temporality::Cumulative),
        ]);
        enc.encode(&metrics, memory)
            .units
            .into_iter()
            .map(|u| u.text)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        round(&mut memory, 10, (2, 0.5, vec![1, 1, 0])),
        [
            "api.loupe.sdk.exporter.exported:10|c",
            "api.latency.count:2|c|#route:/a",
            "api.latency.sum:0.5|c|#route:/a",
            "api.latency.bucket:1|c|#route:/a,le:0.1",
            "api.latency.bucket:2|c|#route:/a,le:1",
        ]
    );
    assert_eq!(
        round(&mut memory, 14, (3, 2.5, vec![1, 1, 1])),
        [
            "api.loupe.sdk.exporter.exported:4|c",
            "api.latency.count:1|c|#route:/a",
            "api.latency.sum:2|c|#route:/a",
            "api.latency.bucket:0|c|#route:/a,le:0.1",
            "api.latency.bucket:0|c|#route:/a,le:1",
        ]
    );
    assert!(
        round(&mut memory, 14, (3, 2.5, vec![1, 1, 1])).is_empty(),
        "nothing changed, nothing sent"
    );
    assert_eq!(
        round(&mut memory, 3, (3, 2.5, vec![1, 1, 1])),
        ["api.loupe.sdk.exporter.exported:3|c"],
        "a counter that went down restarted"
    );
}

#[test]
fn non_finite_values_are_dropped_and_counted() {
    let metrics = collection(vec![
        metric(
            "g",
            MetricData::Gauge {
                points: vec![
                    number_point(Vec::new(), NumberValue::F64(f64::NAN)),
                    number_point(vec![KeyValue::new("a", 1i64)], NumberValue::F64(1.0)),
                ],
            },
        ),
        histogram("h", 1, f64::INFINITY, vec![0, 0, 1], Temporality::Delta),
    ]);
    let encoded =
        encoder(StatsdFlavor::DogStatsd).encode(&metrics, &mut CumulativeMemory::default());
    assert_eq!(texts(&encoded), ["api.g:1|g|#a:1"]);
    assert_eq!((encoded.points, encoded.non_finite), (1, 2));
}

#[test]
fn datagrams_fill_up_to_the_limit_and_skip_oversized_lines() {
    let units = ["a:1|c", "bb:2|c", &"x".repeat(20), "c:3|c", "dd:4|c"];
    let (datagrams, oversized) = split_into_datagrams(&units, 12);
    assert_eq!(oversized, [2]);
    let payloads: Vec<&str> = datagrams.iter().map(|d| d.payload.as_str()).collect();
    assert_eq!(payloads, ["a:1|c\nbb:2|c", "c:3|c\ndd:4|c"]);
    assert_eq!(datagrams[0].units, 0..2);
    assert_eq!(datagrams[1].units, 3..5);
}

#[test]
fn hosts_are_checked_when_the_exporter_is_built() {
    assert_eq!(parse_host("statsd:8125").unwrap(), ("statsd".into(), 8125));
    assert_eq!(parse_host("[::1]:8125").unwrap(), ("::1".into(), 8125));
    for bad in [
        "statsd",
        "statsd:",
        ":8125",
        "statsd:0",
        "statsd:99999",
        "::1:8125",
        "a b:1",
    ] {
        let error = StatsdExporter::builder()
            .with_host(bad)
            .build()
            .unwrap_err();
        assert_eq!(error.field, "host", "{bad}");
    }
    let error = StatsdExporter::builder()
        .with_max_packet_size(10)
        .build()
        .unwrap_err();
    assert_eq!(error.field, "max_packet_size");
    let error = StatsdExporter::builder()
        .with_flush_interval(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(error.field, "flush_interval");
}

#[test]
fn the_prefix_is_sanitized_and_joined_with_one_dot() {
    let exporter = StatsdExporter::builder()
        .with_prefix("my app.")
        .build()
        .unwrap();
    assert_eq!(exporter.encoder.prefix, "my_app.");
    let exporter = StatsdExporter::builder().build().unwrap();
    assert_eq!(exporter.encoder.prefix, "");
    assert_eq!(exporter.temporality(), Temporality::Delta);
}

/// Text with every character the line protocol reserves, and then some.
fn nasty_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z:|@#,.\n\r\t /é_-]{1,12}").unwrap()
}

fn units_strategy() -> impl Strategy<Value = Vec<String>> {
    // Lines of any length around the limit, some of them two-line units.
    proptest::collection::vec(
        ("[a-z]{1,120}", proptest::option::of("[a-z]{1,40}")).prop_map(|(a, b)| match b {
            Some(b) => format!("{a}:0|g\n{b}:-1|g"),
            None => format!("{a}:1|c"),
        }),
        0..60,
    )
}

proptest! {
    #[test]
    fn datagrams_stay_under_the_limit_and_keep_every_unit_whole(
        units in units_strategy(),
        max in 16usize..400,
    ) {
        let (datagrams, oversized) = split_into_datagrams(&units, max);
        let mut expected_next = 0;
        let mut sent = Vec::new();
        for (i, d) in datagrams.iter().enumerate() {
            prop_assert!(d.payload.len() <= max, "{} > {max}", d.payload.len());
            prop_assert!(!d.units.is_empty());
            prop_assert_eq!(&d.payload, &units[d.units.clone()].join("\n"));
            prop_assert!(d.units.start >= expected_next, "in order, no overlap");
            expected_next = d.units.end;
            sent.extend(d.units.clone());
            // Packed greedily: the next adjacent unit did not fit.
            if let Some(next) = datagrams.get(i + 1) {
                if next.units.start == d.units.end {
                    prop_assert!(d.payload.len() + 1 + units[next.units.start].len() > max);
                }
            }
        }
        // Every unit is either sent exactly once or reported as oversized.
        let mut all: Vec<usize> = sent.into_iter().chain(oversized.iter().copied()).collect();
        all.sort_unstable();
        prop_assert_eq!(all, (0..units.len()).collect::<Vec<_>>());
        for i in oversized {
            prop_assert!(units[i].len() > max);
        }
    }

    #[test]
    fn encoded_lines_always_parse_back(
        name in nasty_text(),
        attrs in proptest::collection::vec((nasty_text(), nasty_text()), 0..4),
        value in -1e12f64..1e12,
        dog in any::<bool>(),
    ) {
        let flavor = if dog { StatsdFlavor::DogStatsd } else { StatsdFlavor::Plain };
        let attributes: Vec<KeyValue> = attrs
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
        let metrics = collection(vec![
            counter(&name, vec![number_point(attributes.clone(), NumberValue::F64(value.abs()))], Temporality::Delta),
            metric(&name, MetricData::Gauge { points: vec![number_point(attributes, NumberValue::F64(value))] }),
        ]);
        let encoded = encoder(flavor).encode(&metrics, &mut CumulativeMemory::default());
        for unit in &encoded.units {
            for line in unit.text.split('\n') {
                let (metric_name, rest) = line.split_once(':').expect("name:value");
                prop_assert!(metric_name.starts_with("api."));
                prop_assert!(!metric_name.chars().any(|c| "|@#,\n\r\t ".contains(c)), "{metric_name}");
                let mut fields = rest.split('|');
                let number = fields.next().unwrap();
                prop_assert!(number.parse::<f64>().is_ok(), "{number}");
                prop_assert!(!number.contains(['e', 'E']), "no exponent: {number}");
                let kind = fields.next().unwrap();
                prop_assert!(kind == "c" || kind == "g", "{kind}");
                match fields.next() {
                    Some(tags) => {
                        prop_assert!(dog);
                        let tags = tags.strip_prefix('#').expect("#tags");
                        let tags: Vec<&str> = tags.split(',').collect();
                        prop_assert_eq!(tags.len(), attrs.len());
                        for tag in tags {
                            prop_assert!(!tag.chars().any(|c| "@#\n\r\t ".contains(c)), "{tag}");
                        }
                    }
                    None => prop_assert!(!dog || attrs.is_empty()),
                }
                prop_assert!(fields.next().is_none());
            }
        }
    }
}
