//! The workload of the `stream_pipeline` example (seed 003): an EventFlux-style query
//! pipeline instrumented with Loupe's stream pack. Shared by the example, the demo, the
//! coverage tests and the overhead benchmark (`cargo bench -p loupe-bench --bench
//! stream_overhead`), so all four measure the same code.
//!
//! Trades arrive as JSON payloads, as they would from a message broker, in batches of
//! [`BATCH`] events. Each batch is decoded once (the ingestion), then three queries run
//! over it: a filter and a tumbling window of [`WINDOW`] events whose average is emitted
//! as a JSON output event. Each batch of each query gets the pack's spans
//! (`query.execution` → ingestion, filter, window, aggregation, emit) and metrics.

use std::time::{Duration, Instant, SystemTime};

use loupe::metrics::{Meter, MetricError};
use loupe::packs::stream::{PipelineSpans, PipelineStage, StreamMetrics, StreamMetricsConfig};
use loupe::trace::Tracer;

/// Events per batch.
pub const BATCH: usize = 500;
/// Events per tumbling window.
pub const WINDOW: u64 = 1_000;
/// The stream the queries read.
pub const STREAM: &str = "StockStream";
const BUFFER_CAPACITY: usize = 800;
/// Distinct encoded events the source cycles through (encoded once, up front).
const SOURCE_EVENTS: usize = 20_000;

/// One decoded trade.
#[derive(Clone, Debug)]
pub struct Trade {
    /// Ticker symbol.
    pub symbol: String,
    /// Price per share.
    pub price: f64,
    /// Shares traded.
    pub volume: u64,
    /// Event time, in milliseconds since the stream's epoch.
    pub event_time_ms: u64,
}

/// A query: a filter, then a tumbling-window average over what passes.
pub struct Query {
    /// The query id (a metric label and span attribute).
    pub id: &'static str,
    /// The stream its results go to.
    pub output: &'static str,
    filter: fn(&Trade) -> bool,
    window_sum: f64,
    window_count: u64,
    /// Events that passed the filter.
    pub seen: u64,
    /// Output events emitted.
    pub emitted: u64,
    /// The last output event, as JSON.
    pub last_output: String,
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
            last_output: String::new(),
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

const SYMBOLS: [&str; 16] = [
    "AAPL", "MSFT", "GOOG", "AMZN", "META", "NVDA", "TSLA", "IBM", "ORCL", "INTC", "AMD", "CSCO",
    "ADBE", "CRM", "NFLX", "QCOM",
];

/// The pipeline: a source of encoded events, three queries, and their telemetry.
pub struct Pipeline {
    tracer: Tracer,
    metrics: StreamMetrics,
    /// The queries, in the order they run.
    pub queries: [Query; 3],
    source: Vec<Vec<u8>>,
    next: usize,
    produced: u64,
    decoded: Vec<Trade>,
    epoch: SystemTime,
    started: Instant,
    sampled_spans: u64,
}

impl Pipeline {
    /// A pipeline recording spans on `tracer` and the stream pack's metrics on `meter`
    /// (pass `NoopTelemetry.tracer()` / `.meter()` to run it uninstrumented).
    pub fn new(tracer: &Tracer, meter: &Meter) -> Result<Pipeline, MetricError> {
        let metrics = StreamMetrics::new(meter, StreamMetricsConfig::default())?;
        let queries = [
            Query::new("avg_price", "AvgPriceStream", |_| true),
            Query::new("high_volume", "HighVolumeStream", |t| t.volume > 900),
            Query::new("symbol_nvda_count", "NvdaStream", |t| t.symbol == "NVDA"),
        ];
        for _ in &queries {
            metrics.query_started();
        }
        metrics.set_subscribers(STREAM, queries.len() as i64);
        let mut rng = Rng(0x5eed);
        let source = (0..SOURCE_EVENTS)
            .map(|i| {
                let symbol = SYMBOLS[(rng.next() % 16) as usize];
                let price = 100.0 + (rng.next() % 10_000) as f64 / 100.0;
                let volume = rng.next() % 1_000;
                format!(
                    r#"{{"symbol":"{symbol}","price":{price},"volume":{volume},"event_time":{i}}}"#
                )
                .into_bytes()
            })
            .collect();
        Ok(Pipeline {
            tracer: tracer.clone(),
            metrics,
            queries,
            source,
            next: 0,
            produced: 0,
            decoded: Vec::with_capacity(BATCH),
            epoch: SystemTime::now(),
            started: Instant::now(),
            sampled_spans: 0,
        })
    }

    /// Events ingested so far.
    pub fn produced(&self) -> u64 {
        self.produced
    }

    /// Spans recorded so far (those of sampled batches).
    pub fn sampled_spans(&self) -> u64 {
        self.sampled_spans
    }

    /// The stream pack's metrics, for reading back what was recorded.
    pub fn metrics(&self) -> &StreamMetrics {
        &self.metrics
    }

    /// Takes the next batch from the source, decodes it and runs every query over it.
    /// Returns the number of events ingested.
    pub fn run_batch(&mut self) -> usize {
        let arrived = Instant::now();
        self.decoded.clear();
        let mut malformed = 0;
        for _ in 0..BATCH {
            let payload = &self.source[self.next];
            self.next = (self.next + 1) % self.source.len();
            match decode(payload) {
                Some(mut trade) => {
                    trade.event_time_ms = self.produced;
                    self.decoded.push(trade);
                }
                None => malformed += 1,
            }
            self.produced += 1;
        }
        // The buffer holds 800 events: a batch arriving while it is over half full meets
        // backpressure for the overflow.
        let buffered = (self.produced as usize * 7) % BUFFER_CAPACITY;
        let free = BUFFER_CAPACITY - buffered;
        let m = &self.metrics;
        if BATCH > free {
            m.record_backpressure(STREAM, (BATCH - free) as u64);
        }
        m.record_received(STREAM, BATCH as u64);
        m.record_stream_buffer(STREAM, (buffered * 64) as u64, arrived.elapsed());
        let watermark = self.epoch + Duration::from_millis(self.produced);
        let now = self.epoch + self.started.elapsed();
        m.record_watermark("0", watermark, now.max(watermark));
        for query in &mut self.queries {
            if malformed > 0 {
                m.record_error(query.id, "malformed_event");
            }
            if run_query(&self.tracer, m, query, &self.decoded, buffered) {
                self.sampled_spans += SPANS_PER_QUERY_BATCH;
            }
        }
        m.record_sent(STREAM, (self.decoded.len() * self.queries.len()) as u64);
        BATCH
    }

    /// Marks the queries stopped.
    pub fn finish(&self) {
        for _ in &self.queries {
            self.metrics.query_stopped();
        }
    }
}

/// Decodes one JSON trade; `None` when a field is missing or mistyped.
fn decode(payload: &[u8]) -> Option<Trade> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    Some(Trade {
        symbol: value.get("symbol")?.as_str()?.to_owned(),
        price: value.get("price")?.as_f64()?,
        volume: value.get("volume")?.as_u64()?,
        event_time_ms: value.get("event_time")?.as_u64()?,
    })
}

/// `query.execution` and its five stages.
pub const SPANS_PER_QUERY_BATCH: u64 = 6;

/// Runs one batch through one query, with its spans and metrics. Returns whether the
/// batch's trace was sampled.
fn run_query(
    tracer: &Tracer,
    metrics: &StreamMetrics,
    query: &mut Query,
    batch: &[Trade],
    buffered: usize,
) -> bool {
    let started = Instant::now();
    let (mut spans, ingestion) =
        PipelineSpans::ingest(tracer, query.id, STREAM, batch.len() as u64);
    let sampled = spans.span_context().is_sampled();
    spans.set_attribute("window.type", "tumbling");
    metrics.record_buffer_utilization(query.id, buffered, BUFFER_CAPACITY);
    metrics.record_stage_duration(PipelineStage::Ingestion, ingestion.complete());

    let filter = spans.stage(PipelineStage::Filter);
    let passed: Vec<&Trade> = batch.iter().filter(|t| (query.filter)(t)).collect();
    metrics.record_dropped(query.id, (batch.len() - passed.len()) as u64);
    metrics.record_stage_duration(PipelineStage::Filter, filter.complete());

    let window = spans.stage(PipelineStage::Window);
    let aggregation = spans.stage(PipelineStage::Aggregation);
    let mut outputs = Vec::new();
    for trade in passed {
        query.window_sum += trade.price * trade.volume as f64;
        query.window_count += trade.volume;
        query.seen += 1;
        if query.seen % WINDOW == 0 {
            metrics.record_window_trigger(query.id, "tumbling");
            let average = query.window_sum / query.window_count.max(1) as f64;
            outputs.push(serde_json::json!({
                "query": query.id,
                "vwap": average,
                "until": trade.event_time_ms,
            }));
            query.window_sum = 0.0;
            query.window_count = 0;
        }
    }
    metrics.record_window_size(query.id, "tumbling", query.window_count * 40);
    metrics.record_stage_duration(PipelineStage::Aggregation, aggregation.complete());
    metrics.record_stage_duration(PipelineStage::Window, window.complete());

    let emit = spans.stage(PipelineStage::Emit);
    if let Some(last) = outputs.last() {
        query.last_output = last.to_string();
        metrics.record_emitted(query.id, query.output, outputs.len() as u64);
        query.emitted += outputs.len() as u64;
    }
    metrics.record_stage_duration(PipelineStage::Emit, emit.complete());
    spans.complete();
    metrics.record_batch(query.id, STREAM, batch.len() as u64, started.elapsed());
    sampled
}
