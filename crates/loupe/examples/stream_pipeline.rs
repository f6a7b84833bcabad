//! Seed 003's integration example: an EventFlux-style query pipeline instrumented with
//! Loupe's stream pack.
//!
//! `cargo run -p loupe --example stream_pipeline`
//!
//! A bounded synthetic `StockStream` of 100,000 trades feeds three queries over tumbling
//! windows of 1,000 events (average price, high-volume filter, trade count). Events arrive
//! in batches of 500 into a bounded buffer: each batch gets the pipeline spans
//! (`query.execution` → ingestion, filter, window, aggregation, emit; 1% of traces sampled
//! with [`TraceIdRatioSampler`]) and the pack's metrics (events, latency, buffer
//! utilisation, backpressure, watermark lag, window triggers). The program then prints a
//! summary read back from the collected metrics and exits.

use std::time::{Duration, Instant, SystemTime};

use loupe::metrics::{HistogramPoint, MeterProvider, MetricData, ResourceMetrics};
use loupe::packs::stream::{PipelineSpans, PipelineStage, StreamMetrics, StreamMetricsConfig};
use loupe::trace::{
    InMemorySpanExporter, SimpleSpanProcessor, TraceIdRatioSampler, TracerProvider,
};

const EVENTS: u64 = 100_000;
const BATCH: usize = 500;
const WINDOW: u64 = 1_000;
const BUFFER_CAPACITY: usize = 800;
const STREAM: &str = "StockStream";

/// One synthetic trade.
#[derive(Clone, Copy)]
struct Trade {
    symbol: u8,
    price: f64,
    volume: u64,
    event_time: SystemTime,
}

/// A query: a filter, then a tumbling-window aggregate over what passes.
struct Query {
    id: &'static str,
    output: &'static str,
    filter: fn(&Trade) -> bool,
    window_sum: f64,
    window_count: u64,
    seen: u64,
    emitted: u64,
}

impl Query {
    fn new(id: &'static str, output: &'static str, filter: fn(&Trade) -> bool) -> Self {
        Query {
            id,
            output,
            filter,
            window_sum: 0.0,
            window_count: 0,
            seen: 0,
            emitted: 0,
        }
    }
}

/// A deterministic pseudo-random generator (xorshift), so runs are repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spans = InMemorySpanExporter::default();
    // Keep the provider alive until the end: dropping it shuts its tracers down.
    let provider = TracerProvider::builder()
        .with_sampler(TraceIdRatioSampler::new(0.01)?)
        .with_span_processor(SimpleSpanProcessor::new(spans.clone()))
        .build()?;
    let tracer = provider.tracer("eventflux");
    let meters = MeterProvider::builder().build();
    let metrics = StreamMetrics::new(&meters.meter("eventflux"), StreamMetricsConfig::default())?;

    let mut queries = [
        Query::new("avg_price", "AvgPriceStream", |_| true),
        Query::new("high_volume", "HighVolumeStream", |t| t.volume > 900),
        Query::new("symbol_7_count", "Symbol7Stream", |t| t.symbol == 7),
    ];
    for _ in &queries {
        metrics.query_started();
    }
    metrics.set_subscribers(STREAM, queries.len() as i64);

    let mut rng = Rng(0x5eed);
    let start = Instant::now();
    let epoch = SystemTime::now();
    let mut produced = 0u64;
    let mut batch = Vec::with_capacity(BATCH);
    while produced < EVENTS {
        batch.clear();
        while batch.len() < BATCH && produced < EVENTS {
            batch.push(Trade {
                symbol: (rng.next() % 16) as u8,
                price: 100.0 + (rng.next() % 1_000) as f64 / 100.0,
                volume: rng.next() % 1_000,
                event_time: epoch + Duration::from_millis(produced),
            });
            produced += 1;
        }
        // The buffer holds 800 events: a batch arriving while it is over half full meets
        // backpressure for the overflow.
        let buffered = (produced as usize * 7) % BUFFER_CAPACITY;
        let free = BUFFER_CAPACITY - buffered;
        if batch.len() > free {
            metrics.record_backpressure(STREAM, (batch.len() - free) as u64);
        }
        metrics.record_received(STREAM, batch.len() as u64);
        metrics.record_stream_buffer(STREAM, (buffered * 64) as u64, Duration::from_millis(5));
        if let Some(last) = batch.last() {
            metrics.record_watermark(
                "0",
                last.event_time,
                epoch + start.elapsed().max(Duration::from_millis(produced)),
            );
        }
        for query in &mut queries {
            run_batch(&tracer, &metrics, query, &batch, buffered);
        }
        metrics.record_sent(STREAM, batch.len() as u64 * queries.len() as u64);
    }
    let elapsed = start.elapsed();
    for _ in &queries {
        metrics.query_stopped();
    }

    let collected = meters.collect();
    println!(
        "{EVENTS} events in {:.1} ms: {:.0} events/s; {} spans sampled",
        elapsed.as_secs_f64() * 1000.0,
        EVENTS as f64 / elapsed.as_secs_f64(),
        spans.finished_spans().len(),
    );
    for query in &queries {
        let processed = number(&collected, "query_events_processed_total", query.id);
        let p99 = latency(&collected, query.id).and_then(|p| quantile(&p, 0.99));
        println!(
            "  {:<15} processed {:>7} passed {:>6} emitted {:>4} p99 {}",
            query.id,
            processed,
            query.seen,
            query.emitted,
            p99.map_or("n/a".to_owned(), |s| format!("<= {:.3} ms", s * 1000.0)),
        );
    }
    let backpressure = match collected
        .metric("stream_backpressure_events_total")
        .map(|m| &m.data)
    {
        Some(MetricData::Sum { points, .. }) => points.iter().map(|p| p.value.as_f64()).sum(),
        _ => 0.0,
    };
    println!("  backpressure events on {STREAM}: {backpressure}");
    Ok(())
}

/// Runs one batch through one query, with its spans and metrics.
fn run_batch(
    tracer: &loupe::trace::Tracer,
    metrics: &StreamMetrics,
    query: &mut Query,
    batch: &[Trade],
    buffered: usize,
) {
    let started = Instant::now();
    let (mut spans, ingestion) =
        PipelineSpans::ingest(tracer, query.id, STREAM, batch.len() as u64);
    spans.set_attribute("window.type", "tumbling");
    metrics.record_buffer_utilization(query.id, buffered, BUFFER_CAPACITY);
    metrics.record_stage_duration(PipelineStage::Ingestion, ingestion.complete());

    let filter = spans.stage(PipelineStage::Filter);
    let passed: Vec<&Trade> = batch.iter().filter(|t| (query.filter)(t)).collect();
    metrics.record_dropped(query.id, (batch.len() - passed.len()) as u64);
    metrics.record_stage_duration(PipelineStage::Filter, filter.complete());

    let window = spans.stage(PipelineStage::Window);
    let aggregation = spans.stage(PipelineStage::Aggregation);
    let mut outputs = 0;
    for trade in passed {
        query.window_sum += trade.price;
        query.window_count += 1;
        query.seen += 1;
        if query.seen % WINDOW == 0 {
            metrics.record_window_trigger(query.id, "tumbling");
            outputs += 1;
            query.window_sum = 0.0;
            query.window_count = 0;
        }
    }
    metrics.record_window_size(query.id, "tumbling", query.window_count * 40);
    metrics.record_stage_duration(PipelineStage::Aggregation, aggregation.complete());
    metrics.record_stage_duration(PipelineStage::Window, window.complete());

    let emit = spans.stage(PipelineStage::Emit);
    if outputs > 0 {
        metrics.record_emitted(query.id, query.output, outputs);
        query.emitted += outputs;
    }
    metrics.record_stage_duration(PipelineStage::Emit, emit.complete());
    spans.complete();
    metrics.record_batch(query.id, STREAM, batch.len() as u64, started.elapsed());
}

fn number(m: &ResourceMetrics, name: &str, query_id: &str) -> f64 {
    match m.metric(name).map(|m| &m.data) {
        Some(MetricData::Sum { points, .. }) => points
            .iter()
            .filter(|p| {
                p.attributes
                    .iter()
                    .any(|kv| kv.key.as_str() == "query_id" && kv.value.to_string() == query_id)
            })
            .map(|p| p.value.as_f64())
            .sum(),
        _ => 0.0,
    }
}

fn latency(m: &ResourceMetrics, query_id: &str) -> Option<HistogramPoint> {
    match &m.metric("query_latency_seconds")?.data {
        MetricData::Histogram { points, .. } => points
            .iter()
            .find(|p| {
                p.attributes
                    .iter()
                    .any(|kv| kv.value.to_string() == query_id)
            })
            .cloned(),
        _ => None,
    }
}

/// The upper bound of the bucket holding the q-quantile (the maximum for the last bucket).
fn quantile(p: &HistogramPoint, q: f64) -> Option<f64> {
    let rank = (q * p.count as f64).ceil() as u64;
    let mut seen = 0;
    for (i, count) in p.bucket_counts.iter().enumerate() {
        seen += count;
        if seen >= rank.max(1) {
            return p.bounds.get(i).copied().or(p.max);
        }
    }
    p.max
}
