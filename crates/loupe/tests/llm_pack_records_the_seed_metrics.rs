//! The LLM pack records seed 001's spans and metrics: names, labels, buckets, cost, and an
//! active-requests gauge that returns to zero however a request ends.

#[path = "support/recorded.rs"]
mod recorded;
use recorded::{histogram, keys, number};

use std::time::Duration;

use loupe::config::MetricsConfig;
use loupe::logs::CorrelationId;
use loupe::metrics::{MeterProvider, MetricData, ResourceMetrics};
use loupe::packs::llm::{
    LLMMetrics, LlmMetricsConfig, LlmRequest, LlmResponse, MetricNaming, ModelPrice, PricingTable,
    RequestSpan, TokenUsage, GEN_AI_DURATION_BUCKETS, GEN_AI_TOKEN_BUCKETS,
};
use loupe::trace::{InMemorySpanExporter, SpanKind, Status, Tracer, TracerProvider};
use loupe::Value;

const SEED_DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const SEED_TTFT_BUCKETS: [f64; 7] = [0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0];

fn metrics(naming: MetricNaming) -> (MeterProvider, LLMMetrics) {
    let meters = MeterProvider::builder().build();
    let config = LlmMetricsConfig {
        naming,
        ..LlmMetricsConfig::default()
    };
    let metrics = LLMMetrics::new(&meters.meter("llm-test"), config).unwrap();
    (meters, metrics)
}

fn tracer() -> (InMemorySpanExporter, TracerProvider, Tracer) {
    recorded::tracer("llm-test")
}

/// Label keys of every point of `name`.
fn label_keys(m: &ResourceMetrics, name: &str) -> Vec<Vec<String>> {
    match &m
        .metric(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .data
    {
        MetricData::Sum { points, .. } | MetricData::Gauge { points } => {
            points.iter().map(|p| keys(&p.attributes)).collect()
        }
        MetricData::Histogram { points, .. } => {
            points.iter().map(|p| keys(&p.attributes)).collect()
        }
        MetricData::ExponentialHistogram { points, .. } => {
            points.iter().map(|p| keys(&p.attributes)).collect()
        }
    }
}

fn active(m: &ResourceMetrics, provider: &str) -> f64 {
    number(
        m,
        "llm_simulator_active_requests",
        &[("provider", provider)],
    )
    .unwrap_or(0.0)
}

fn one_streamed_success(metrics: &LLMMetrics) {
    let mut request = metrics.start_request("openai", "gpt-4");
    std::thread::sleep(Duration::from_millis(2));
    request.first_token();
    std::thread::sleep(Duration::from_millis(2));
    request.complete(&TokenUsage::new(1_000, 500));
}

#[test]
fn seed_naming_records_the_eight_metrics_with_the_seed_labels_and_buckets() {
    let (meters, metrics) = metrics(MetricNaming::Seed);
    one_streamed_success(&metrics);
    metrics
        .start_request("openai", "gpt-4")
        .fail("rate_limited", &TokenUsage::new(10, 0));
    let m = meters.collect();

    let pmc = |extra: &str| {
        let mut k = vec!["model".to_owned(), "provider".to_owned(), extra.to_owned()];
        k.retain(|s| !s.is_empty());
        k.sort();
        k
    };
    for (name, keys) in [
        ("llm_simulator_request_duration_seconds", pmc("status")),
        ("llm_simulator_tokens_total", pmc("type")),
        ("llm_simulator_requests_total", pmc("status")),
        (
            "llm_simulator_errors_total",
            vec!["error_type".into(), "provider".into()],
        ),
        ("llm_simulator_active_requests", vec!["provider".into()]),
        ("llm_simulator_ttft_seconds", pmc("")),
        ("llm_simulator_tokens_per_second", pmc("")),
        ("llm_simulator_cost_dollars", pmc("")),
    ] {
        let all = label_keys(&m, name);
        assert!(!all.is_empty(), "{name} has no points");
        assert!(all.iter().all(|k| *k == keys), "{name}: {all:?}");
    }
    assert!(m.metric("gen_ai.client.operation.duration").is_none());

    let ok = histogram(
        &m,
        "llm_simulator_request_duration_seconds",
        &[
            ("provider", "openai"),
            ("model", "gpt-4"),
            ("status", "success"),
        ],
    )
    .unwrap();
    assert_eq!(ok.count, 1);
    assert_eq!(&*ok.bounds, &SEED_DURATION_BUCKETS);
    let failed = histogram(
        &m,
        "llm_simulator_request_duration_seconds",
        &[("status", "error")],
    )
    .unwrap();
    assert_eq!(failed.count, 1);
    let ttft = histogram(&m, "llm_simulator_ttft_seconds", &[("model", "gpt-4")]).unwrap();
    assert_eq!(ttft.count, 1);
    assert_eq!(&*ttft.bounds, &SEED_TTFT_BUCKETS);
    assert!(
        ttft.sum > 0.0 && ttft.sum < ok.sum,
        "ttft {} vs duration {}",
        ttft.sum,
        ok.sum
    );

    let tokens = |kind| number(&m, "llm_simulator_tokens_total", &[("type", kind)]);
    assert_eq!(tokens("prompt"), Some(1_010.0));
    assert_eq!(tokens("completion"), Some(500.0));
    let requests = |status| number(&m, "llm_simulator_requests_total", &[("status", status)]);
    assert_eq!(requests("success"), Some(1.0));
    assert_eq!(requests("error"), Some(1.0));
    assert_eq!(
        requests("timeout"),
        None,
        "no empty series for unseen statuses"
    );
    assert_eq!(
        number(
            &m,
            "llm_simulator_errors_total",
            &[("provider", "openai"), ("error_type", "rate_limited")]
        ),
        Some(1.0)
    );
    let tps = number(&m, "llm_simulator_tokens_per_second", &[("model", "gpt-4")]).unwrap();
    assert!(tps > 0.0 && tps < 500.0 / 0.004, "{tps}");
    assert_eq!(active(&m, "openai"), 0.0);
    let unit = |name| m.metric(name).unwrap().unit.clone();
    assert_eq!(unit("llm_simulator_request_duration_seconds"), "s");
    assert_eq!(unit("llm_simulator_cost_dollars"), "USD");
}

#[test]
fn gen_ai_naming_uses_the_semantic_convention_names_and_attributes() {
    let (meters, metrics) = metrics(MetricNaming::GenAi);
    one_streamed_success(&metrics);
    metrics
        .start_request("anthropic", "claude-3-opus")
        .fail("overloaded", &TokenUsage::default());
    let m = meters.collect();

    for seed_only in [
        "llm_simulator_request_duration_seconds",
        "llm_simulator_tokens_total",
        "llm_simulator_ttft_seconds",
    ] {
        assert!(
            m.metric(seed_only).is_none(),
            "{seed_only} should be replaced"
        );
    }
    let base = [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", "openai"),
        ("gen_ai.request.model", "gpt-4"),
    ];
    let duration = histogram(&m, "gen_ai.client.operation.duration", &base).unwrap();
    assert_eq!(duration.count, 1);
    assert_eq!(&*duration.bounds, &GEN_AI_DURATION_BUCKETS);
    assert!(!duration
        .attributes
        .iter()
        .any(|kv| kv.key.as_str() == "error.type"));
    assert_eq!(
        m.metric("gen_ai.client.operation.duration").unwrap().unit,
        "s"
    );
    let failed = histogram(
        &m,
        "gen_ai.client.operation.duration",
        &[
            ("gen_ai.provider.name", "anthropic"),
            ("error.type", "overloaded"),
        ],
    )
    .unwrap();
    assert_eq!(failed.count, 1);

    let usage = |kind| {
        let mut wanted = base.to_vec();
        wanted.push(("gen_ai.token.type", kind));
        histogram(&m, "gen_ai.client.token.usage", &wanted).unwrap()
    };
    assert_eq!((usage("input").count, usage("input").sum), (1, 1_000.0));
    assert_eq!((usage("output").count, usage("output").sum), (1, 500.0));
    assert_eq!(&*usage("input").bounds, &GEN_AI_TOKEN_BUCKETS);
    assert_eq!(
        m.metric("gen_ai.client.token.usage").unwrap().unit,
        "{token}"
    );

    let ttfc = histogram(&m, "gen_ai.client.operation.time_to_first_chunk", &base).unwrap();
    assert_eq!(ttfc.count, 1);

    // Metrics with no convention keep the seed's names.
    assert_eq!(
        number(&m, "llm_simulator_requests_total", &[("status", "success")]),
        Some(1.0)
    );
    assert!(m.metric("llm_simulator_cost_dollars").is_some());
}

#[test]
fn both_naming_records_the_seed_and_gen_ai_sets() {
    let (meters, metrics) = metrics(MetricNaming::Both);
    one_streamed_success(&metrics);
    let m = meters.collect();
    for name in [
        "llm_simulator_request_duration_seconds",
        "llm_simulator_tokens_total",
        "llm_simulator_requests_total",
        "llm_simulator_active_requests",
        "llm_simulator_ttft_seconds",
        "llm_simulator_tokens_per_second",
        "llm_simulator_cost_dollars",
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.time_to_first_chunk",
    ] {
        assert!(m.metric(name).is_some(), "{name} missing");
    }
}

#[test]
fn prefix_and_buckets_are_configurable() {
    let meters = MeterProvider::builder().build();
    let base = MetricsConfig {
        duration_buckets: vec![0.5, 1.0, 30.0],
        ttft_buckets: vec![0.05, 0.2],
        ..MetricsConfig::default()
    };
    let config = LlmMetricsConfig {
        prefix: "gateway".into(),
        ..LlmMetricsConfig::from_metrics_config(&base)
    };
    let metrics = LLMMetrics::new(&meters.meter("llm-test"), config).unwrap();
    one_streamed_success(&metrics);
    let m = meters.collect();
    let duration = histogram(&m, "gateway_request_duration_seconds", &[]).unwrap();
    assert_eq!(&*duration.bounds, &[0.5, 1.0, 30.0]);
    let ttft = histogram(&m, "gateway_ttft_seconds", &[]).unwrap();
    assert_eq!(&*ttft.bounds, &[0.05, 0.2]);
    assert!(m.metric("llm_simulator_requests_total").is_none());

    let bad = LlmMetricsConfig {
        prefix: "9 bad prefix".into(),
        ..LlmMetricsConfig::default()
    };
    assert!(LLMMetrics::new(&meters.meter("other"), bad).is_err());
}

#[test]
fn cost_comes_from_the_pricing_table() {
    let (meters, metrics) = metrics(MetricNaming::Seed);
    let usage = TokenUsage::new(2_000_000, 1_000_000);
    // Seed prices per million tokens: opus $15 in / $75 out, gpt-3.5-turbo $0.5 / $1.5.
    metrics
        .start_request("anthropic", "claude-3-opus")
        .complete(&usage);
    metrics
        .start_request("openai", "gpt-3.5-turbo")
        .complete(&usage);
    metrics.start_request("local", "llama").complete(&usage);
    let m = meters.collect();
    let cost = |provider, model| {
        number(
            &m,
            "llm_simulator_cost_dollars",
            &[("provider", provider), ("model", model)],
        )
    };
    assert_eq!(cost("anthropic", "claude-3-opus"), Some(105.0));
    assert_eq!(cost("openai", "gpt-3.5-turbo"), Some(2.5));
    assert_eq!(
        cost("local", "llama"),
        None,
        "unpriced models record no cost"
    );
    assert_eq!(
        metrics.cost("anthropic", "claude-3-sonnet", &usage),
        Some(21.0)
    );

    let meters = MeterProvider::builder().build();
    let config = LlmMetricsConfig {
        pricing: PricingTable::empty().with_price("local", "llama", ModelPrice::new(1.0, 2.0)),
        ..LlmMetricsConfig::default()
    };
    let custom = LLMMetrics::new(&meters.meter("llm-test"), config).unwrap();
    custom.start_request("local", "llama").complete(&usage);
    custom.start_request("openai", "gpt-4").complete(&usage);
    let m = meters.collect();
    let cost = |model| number(&m, "llm_simulator_cost_dollars", &[("model", model)]);
    assert_eq!(cost("llama"), Some(4.0));
    assert_eq!(cost("gpt-4"), None);
}

#[test]
fn request_span_carries_correlation_id_attributes_and_a_child() {
    let (spans, _provider, tracer) = tracer();
    let correlation = CorrelationId::new_v4();
    let mut span = RequestSpan::new(&tracer, "req-42", correlation);
    span.set_provider("anthropic", "claude-3-sonnet");
    span.set_user_context("user-1", Some("session-9"));
    span.record_request(&LlmRequest {
        max_tokens: Some(256),
        temperature: Some(0.7),
        top_p: None,
        stream: true,
        prompt_tokens: Some(12),
    });
    assert_eq!(span.correlation_id(), &correlation);
    assert_eq!(span.metadata().model.as_deref(), Some("claude-3-sonnet"));

    let mut child = span.create_child_span("llm.provider.call");
    child.set_attribute("provider", "anthropic");
    child.complete();
    span.record_response(&LlmResponse {
        usage: Some(TokenUsage::new(12, 30)),
        time_to_first_token: Some(Duration::from_millis(80)),
        finish_reason: "stop".into(),
    });
    let request_ids = span.span_context().clone();
    span.complete();

    let request = spans.span("llm.request").unwrap();
    let call = spans.span("llm.provider.call").unwrap();
    assert_eq!(request.kind, SpanKind::Server);
    assert_eq!(request.status, Status::Ok);
    assert_eq!(request.span_context, request_ids);
    assert_eq!(call.kind, SpanKind::Internal);
    assert_eq!(
        call.span_context.trace_id(),
        request.span_context.trace_id()
    );
    assert_eq!(call.parent_span_id, request.span_context.span_id());

    let id = Value::from(correlation.to_string());
    assert_eq!(request.attribute("correlation.id"), Some(&id));
    assert_eq!(call.attribute("correlation.id"), Some(&id));
    assert!(call.attribute("duration_ms").is_some());
    for (key, value) in [
        ("request.id", Value::from("req-42")),
        ("llm.provider", Value::from("anthropic")),
        ("llm.model", Value::from("claude-3-sonnet")),
        ("gen_ai.provider.name", Value::from("anthropic")),
        ("gen_ai.request.model", Value::from("claude-3-sonnet")),
        ("user.id", Value::from("user-1")),
        ("session.id", Value::from("session-9")),
        ("llm.max_tokens", Value::from(256_i64)),
        ("llm.temperature", Value::from(0.7)),
        ("llm.stream", Value::from(true)),
        ("llm.prompt_tokens", Value::from(12_i64)),
        ("llm.completion_tokens", Value::from(30_i64)),
        ("llm.total_tokens", Value::from(42_i64)),
        ("gen_ai.usage.input_tokens", Value::from(12_i64)),
        ("gen_ai.usage.output_tokens", Value::from(30_i64)),
        ("llm.ttft_ms", Value::from(80_i64)),
        ("llm.finish_reason", Value::from("stop")),
    ] {
        assert_eq!(request.attribute(key), Some(&value), "{key}");
    }
    assert!(request.attribute("llm.duration_ms").is_some());
    let events: Vec<&str> = request.events.iter().map(|e| &*e.name).collect();
    assert_eq!(events, ["llm.request.start", "llm.response.complete"]);
}

#[derive(Debug)]
struct ProviderDown;

impl std::fmt::Display for ProviderDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("provider unavailable")
    }
}

impl std::error::Error for ProviderDown {}

#[test]
fn a_failed_request_span_keeps_its_error_status() {
    let (spans, _provider, tracer) = tracer();
    let mut span = RequestSpan::new(&tracer, "req-err", CorrelationId::new_v4());
    let mut child = span.create_child_span("llm.provider.call");
    child.record_error(&ProviderDown);
    child.complete();
    span.record_error(&ProviderDown);
    span.complete();

    let request = spans.span("llm.request").unwrap();
    assert_eq!(request.status, Status::error("provider unavailable"));
    assert_eq!(request.attribute("error"), Some(&Value::from(true)));
    assert_eq!(
        request.attribute("error.type"),
        Some(&Value::from("ProviderDown"))
    );
    assert_eq!(
        request.attribute("error.message"),
        Some(&Value::from("provider unavailable"))
    );
    assert!(request.events.iter().any(|e| e.name == "exception"));
    let call = spans.span("llm.provider.call").unwrap();
    assert!(
        matches!(call.status, Status::Error { .. }),
        "{:?}",
        call.status
    );
}

#[tokio::test]
async fn active_requests_return_to_zero_after_success_error_and_timeout() {
    let (meters, metrics) = metrics(MetricNaming::Seed);

    let request = metrics.start_request("openai", "gpt-4");
    let other = metrics.start_request("openai", "gpt-3.5-turbo");
    assert_eq!(active(&meters.collect(), "openai"), 2.0);
    request.complete(&TokenUsage::new(5, 5));
    other.fail("server_error", &TokenUsage::default());
    assert_eq!(active(&meters.collect(), "openai"), 0.0);

    // A request future abandoned by `tokio::time::timeout`.
    let slow = async {
        let request = metrics.start_request("openai", "gpt-4");
        tokio::time::sleep(Duration::from_secs(30)).await;
        request.complete(&TokenUsage::new(1, 1));
    };
    assert!(tokio::time::timeout(Duration::from_millis(20), slow)
        .await
        .is_err());
    // A request the caller reports as timed out.
    metrics.start_request("openai", "gpt-4").timed_out();

    let m = meters.collect();
    assert_eq!(active(&m, "openai"), 0.0);
    let requests = |status| number(&m, "llm_simulator_requests_total", &[("status", status)]);
    assert_eq!(requests("cancelled"), Some(1.0));
    assert_eq!(requests("timeout"), Some(1.0));
    assert_eq!(requests("error"), Some(1.0));
    assert_eq!(
        number(
            &m,
            "llm_simulator_errors_total",
            &[("error_type", "timeout")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_cancelled_request_future_leaves_no_active_request() {
    let (meters, metrics) = metrics(MetricNaming::Seed);
    let task_metrics = metrics.clone();
    let task = tokio::spawn(async move {
        let request = task_metrics.start_request("anthropic", "claude-3-opus");
        tokio::time::sleep(Duration::from_secs(30)).await;
        request.complete(&TokenUsage::new(1, 1));
    });
    for _ in 0..500 {
        if active(&meters.collect(), "anthropic") == 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(active(&meters.collect(), "anthropic"), 1.0);
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());

    let m = meters.collect();
    assert_eq!(active(&m, "anthropic"), 0.0);
    assert_eq!(
        number(
            &m,
            "llm_simulator_requests_total",
            &[("status", "cancelled")]
        ),
        Some(1.0)
    );
}

#[test]
fn an_error_without_a_start_is_counted_and_leaves_the_gauge_at_zero() {
    let (meters, metrics) = metrics(MetricNaming::Seed);
    metrics.record_error("openai", "invalid_api_key");
    let m = meters.collect();
    assert_eq!(
        number(
            &m,
            "llm_simulator_errors_total",
            &[("provider", "openai"), ("error_type", "invalid_api_key")]
        ),
        Some(1.0)
    );
    assert_eq!(active(&m, "openai"), 0.0);

    // And once a request has run, the error still does not pull the gauge below zero.
    metrics
        .start_request("openai", "gpt-4")
        .complete(&TokenUsage::new(1, 1));
    metrics.record_error("openai", "invalid_api_key");
    let m = meters.collect();
    assert_eq!(
        number(
            &m,
            "llm_simulator_active_requests",
            &[("provider", "openai")]
        ),
        Some(0.0)
    );
}
