//! The stream pack's metric families (seed 003 "Metrics Specification", seed 004
//! "Available Metrics") and the cardinality guard on query ids and stream names.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use crate::metrics::{Bound, Counter, Gauge, Histogram, Meter, MetricError, ObservableInstrument};
use crate::KeyValue;

use super::guard::{BoundMap, Guarded};
use super::{PipelineStage, StreamMetricsConfig};

/// Handles for one query id, bound on first use so that families never recorded for a
/// query export no empty series.
struct QueryHandles {
    query_id: Arc<str>,
    latency: OnceLock<Bound<Histogram<f64>>>,
    buffer_utilization: OnceLock<Bound<Gauge<f64>>>,
    dropped: OnceLock<Bound<Counter<u64>>>,
    processed: BoundMap<Counter<u64>>,
    emitted: BoundMap<Counter<u64>>,
    window_size: BoundMap<Gauge<u64>>,
    window_triggers: BoundMap<Counter<u64>>,
}

impl QueryHandles {
    fn new(query_id: &str) -> Self {
        QueryHandles {
            query_id: query_id.into(),
            latency: OnceLock::new(),
            buffer_utilization: OnceLock::new(),
            dropped: OnceLock::new(),
            processed: BoundMap::new(),
            emitted: BoundMap::new(),
            window_size: BoundMap::new(),
            window_triggers: BoundMap::new(),
        }
    }

    fn label(&self) -> [KeyValue; 1] {
        [KeyValue::new("query_id", self.query_id.to_string())]
    }

    fn with(&self, key: &'static str, value: &str) -> [KeyValue; 2] {
        [
            KeyValue::new("query_id", self.query_id.to_string()),
            KeyValue::new(key, value.to_owned()),
        ]
    }
}

/// Handles for one stream name, bound on first use.
struct StreamHandles {
    name: Arc<str>,
    received: OnceLock<Bound<Counter<u64>>>,
    sent: OnceLock<Bound<Counter<u64>>>,
    subscribers: OnceLock<Bound<Gauge<i64>>>,
    backpressure: OnceLock<Bound<Counter<u64>>>,
    buffer_size: OnceLock<Bound<Gauge<u64>>>,
    oldest_age: OnceLock<Bound<Gauge<f64>>>,
}

impl StreamHandles {
    fn new(stream_name: &str) -> Self {
        StreamHandles {
            name: stream_name.into(),
            received: OnceLock::new(),
            sent: OnceLock::new(),
            subscribers: OnceLock::new(),
            backpressure: OnceLock::new(),
            buffer_size: OnceLock::new(),
            oldest_age: OnceLock::new(),
        }
    }

    fn label(&self) -> [KeyValue; 1] {
        [KeyValue::new("stream_name", self.name.to_string())]
    }
}

struct Instruments {
    query_processed: Counter<u64>,
    query_emitted: Counter<u64>,
    query_latency: Histogram<f64>,
    query_errors: Counter<u64>,
    query_active: Gauge<i64>,
    query_window_size: Gauge<u64>,
    query_buffer_utilization: Gauge<f64>,
    stream_received: Counter<u64>,
    stream_sent: Counter<u64>,
    stream_subscribers: Gauge<i64>,
    stream_backpressure: Counter<u64>,
    stream_buffer_size: Gauge<u64>,
    stream_oldest_age: Gauge<f64>,
    memory: Gauge<u64>,
    cpu: Gauge<f64>,
    threads: Gauge<i64>,
    connections_active: Gauge<i64>,
    connections_total: Counter<u64>,
    connection_errors: Counter<u64>,
    events_dropped: Counter<u64>,
    window_triggers: Counter<u64>,
    watermark_lag: Gauge<f64>,
    stage_duration: Histogram<f64>,
    // Bound on first use, so stages never timed export no empty series.
    stage_handles: [OnceLock<Bound<Histogram<f64>>>; PipelineStage::ALL.len()],
}

struct Inner {
    inst: Instruments,
    queries: Guarded<QueryHandles>,
    streams: Guarded<StreamHandles>,
    active_queries: AtomicI64,
    // Kept alive so the uptime callback stays registered.
    _uptime: ObservableInstrument,
}

/// The seed's stream-processing metrics, recorded through a Loupe [`Meter`].
///
/// Families (names, kinds and labels as seed 003 "Metrics Specification" lists them):
///
/// - query: `query_events_processed_total{query_id, stream_name}`,
///   `query_events_emitted_total{query_id, output_stream}`, `query_latency_seconds{query_id}`
///   (a histogram: read quantiles from its buckets), `query_execution_errors_total{query_id,
///   error_type}`, `query_active_count`, `query_window_size_bytes{query_id, window_type}`,
///   `query_buffer_utilization{query_id}` (a 0–1 ratio);
/// - stream: `stream_events_received_total`, `stream_events_sent_total`,
///   `stream_subscribers_active`, `stream_backpressure_events_total`,
///   `stream_buffer_size_bytes`, `stream_oldest_event_age_seconds`, all by `stream_name`;
/// - system: `eventflux_uptime_seconds` (read at each collection),
///   `eventflux_memory_usage_bytes{component}`, `eventflux_cpu_usage_percent`,
///   `eventflux_threads_active`, `connections_active{protocol}`,
///   `connections_total{protocol, result}`, `connection_errors_total{protocol, error_type}`;
/// - processor (seed 004 "Available Metrics"): `processor.events.dropped{query_id}`,
///   `processor.window.triggers{query_id, window_type}`,
///   `processor.processing.duration{operation_type}` and `processor.watermark.lag{partition_id}`,
///   both in milliseconds as the seed records them.
///
/// Cardinality is guarded: at most [`max_query_ids`](StreamMetricsConfig::max_query_ids)
/// query ids (and [`max_stream_names`](StreamMetricsConfig::max_stream_names) stream names)
/// get their own series; later ones fold into the `other` label value, and each folded
/// recording adds one to `query_id_overflow_total{label}`.
///
/// Recording looks up handles bound to the query or stream under a read lock and updates
/// atomics. Cheap to clone: clones share the instruments.
#[derive(Clone)]
pub struct StreamMetrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StreamMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamMetrics")
            .field("query_ids", &self.inner.queries.tracked())
            .field("stream_names", &self.inner.streams.tracked())
            .finish_non_exhaustive()
    }
}

impl StreamMetrics {
    /// Registers the pack's instruments on `meter`.
    ///
    /// Fails when buckets are not finite and strictly increasing, or a name is already
    /// registered on `meter` as another kind.
    pub fn new(meter: &Meter, config: StreamMetricsConfig) -> Result<Self, MetricError> {
        let events = "{event}";
        let stage_duration = meter
            .f64_histogram("processor.processing.duration")
            .with_description("Processing duration of a pipeline stage")
            .with_unit("ms")
            .with_boundaries(config.processing_buckets_ms.clone())
            .build()?;
        let inst = Instruments {
            query_processed: counter(
                meter,
                "query_events_processed_total",
                events,
                "Events processed by a query",
            )?,
            query_emitted: counter(
                meter,
                "query_events_emitted_total",
                events,
                "Events emitted by a query",
            )?,
            query_latency: meter
                .f64_histogram("query_latency_seconds")
                .with_description("Query processing latency per batch")
                .with_unit("s")
                .with_boundaries(config.latency_buckets.clone())
                .build()?,
            query_errors: counter(
                meter,
                "query_execution_errors_total",
                "{error}",
                "Query execution errors",
            )?,
            query_active: meter
                .i64_gauge("query_active_count")
                .with_description("Queries currently running")
                .with_unit("{query}")
                .build()?,
            query_window_size: meter
                .u64_gauge("query_window_size_bytes")
                .with_description("Bytes held by a query's window")
                .with_unit("By")
                .build()?,
            query_buffer_utilization: meter
                .f64_gauge("query_buffer_utilization")
                .with_description("Fraction of a query's input buffer in use (0-1)")
                .with_unit("1")
                .build()?,
            stream_received: counter(
                meter,
                "stream_events_received_total",
                events,
                "Events received by a stream",
            )?,
            stream_sent: counter(
                meter,
                "stream_events_sent_total",
                events,
                "Events sent by a stream",
            )?,
            stream_subscribers: meter
                .i64_gauge("stream_subscribers_active")
                .with_description("Active subscribers of a stream")
                .with_unit("{subscriber}")
                .build()?,
            stream_backpressure: counter(
                meter,
                "stream_backpressure_events_total",
                events,
                "Events that met backpressure (a full buffer)",
            )?,
            stream_buffer_size: meter
                .u64_gauge("stream_buffer_size_bytes")
                .with_description("Bytes buffered by a stream")
                .with_unit("By")
                .build()?,
            stream_oldest_age: meter
                .f64_gauge("stream_oldest_event_age_seconds")
                .with_description("Age of the oldest buffered event")
                .with_unit("s")
                .build()?,
            memory: meter
                .u64_gauge("eventflux_memory_usage_bytes")
                .with_description("Memory used by a component")
                .with_unit("By")
                .build()?,
            cpu: meter
                .f64_gauge("eventflux_cpu_usage_percent")
                .with_description("CPU usage in percent")
                .with_unit("%")
                .build()?,
            threads: meter
                .i64_gauge("eventflux_threads_active")
                .with_description("Active threads")
                .with_unit("{thread}")
                .build()?,
            connections_active: meter
                .i64_gauge("connections_active")
                .with_description("Open connections by protocol")
                .with_unit("{connection}")
                .build()?,
            connections_total: counter(
                meter,
                "connections_total",
                "{connection}",
                "Connection attempts by protocol and result",
            )?,
            connection_errors: counter(
                meter,
                "connection_errors_total",
                "{error}",
                "Connection errors by protocol and type",
            )?,
            events_dropped: counter(
                meter,
                "processor.events.dropped",
                events,
                "Count of dropped events",
            )?,
            window_triggers: counter(
                meter,
                "processor.window.triggers",
                "{trigger}",
                "Window trigger count",
            )?,
            watermark_lag: meter
                .f64_gauge("processor.watermark.lag")
                .with_description("Watermark lag")
                .with_unit("ms")
                .build()?,
            stage_duration,
            stage_handles: Default::default(),
        };
        let folded = counter(
            meter,
            "query_id_overflow_total",
            "{recording}",
            "Recordings whose query id or stream name folded into the overflow label",
        )?;
        let started = Instant::now();
        let uptime = meter
            .f64_observable_counter("eventflux_uptime_seconds")
            .with_description("Time since the metrics were created")
            .with_unit("s")
            .with_callback(move |o| o.observe_f64(started.elapsed().as_secs_f64(), &[]))
            .build()?;
        let inner = Inner {
            queries: Guarded::new(
                config.max_query_ids,
                &config.overflow_label,
                folded.bind(&[KeyValue::new("label", "query_id")]),
            ),
            streams: Guarded::new(
                config.max_stream_names,
                &config.overflow_label,
                folded.bind(&[KeyValue::new("label", "stream_name")]),
            ),
            inst,
            active_queries: AtomicI64::new(0),
            _uptime: uptime,
        };
        Ok(StreamMetrics {
            inner: Arc::new(inner),
        })
    }

    fn query(&self, query_id: &str) -> Arc<QueryHandles> {
        self.inner.queries.get(query_id, QueryHandles::new)
    }

    fn stream(&self, stream_name: &str) -> Arc<StreamHandles> {
        self.inner.streams.get(stream_name, StreamHandles::new)
    }

    /// The label value `stream_name` is recorded under (itself, or the overflow label).
    fn stream_label(&self, stream_name: &str) -> Arc<str> {
        Arc::clone(&self.stream(stream_name).name)
    }

    /// Records one batch a query processed: `count` events read from `stream_name`
    /// (`query_events_processed_total`) in `latency` (`query_latency_seconds`).
    pub fn record_batch(&self, query_id: &str, stream_name: &str, count: u64, latency: Duration) {
        let q = self.query(query_id);
        let stream = self.stream_label(stream_name);
        let inst = &self.inner.inst;
        q.processed
            .get(&stream, || {
                inst.query_processed.bind(&q.with("stream_name", &stream))
            })
            .add(count);
        q.latency
            .get_or_init(|| inst.query_latency.bind(&q.label()))
            .record(latency.as_secs_f64());
    }

    /// Counts `count` events a query emitted to `output_stream`.
    pub fn record_emitted(&self, query_id: &str, output_stream: &str, count: u64) {
        let q = self.query(query_id);
        let stream = self.stream_label(output_stream);
        let inst = &self.inner.inst;
        q.emitted
            .get(&stream, || {
                inst.query_emitted.bind(&q.with("output_stream", &stream))
            })
            .add(count);
    }

    /// Counts one execution error of a query (`query_execution_errors_total`).
    pub fn record_error(&self, query_id: &str, error_type: &str) {
        let q = self.query(query_id);
        // Errors are rare and their types free-form: not worth caching.
        self.inner
            .inst
            .query_errors
            .add(1, &q.with("error_type", error_type));
    }

    /// Counts `count` events a query dropped (`processor.events.dropped`).
    pub fn record_dropped(&self, query_id: &str, count: u64) {
        let q = self.query(query_id);
        let inst = &self.inner.inst;
        q.dropped
            .get_or_init(|| inst.events_dropped.bind(&q.label()))
            .add(count);
    }

    /// Sets the bytes a query's window holds (`query_window_size_bytes`).
    pub fn record_window_size(&self, query_id: &str, window_type: &str, bytes: u64) {
        let q = self.query(query_id);
        let inst = &self.inner.inst;
        q.window_size
            .get(window_type, || {
                inst.query_window_size
                    .bind(&q.with("window_type", window_type))
            })
            .record(bytes);
    }

    /// Counts one window firing (`processor.window.triggers`).
    pub fn record_window_trigger(&self, query_id: &str, window_type: &str) {
        let q = self.query(query_id);
        let inst = &self.inner.inst;
        q.window_triggers
            .get(window_type, || {
                inst.window_triggers
                    .bind(&q.with("window_type", window_type))
            })
            .add(1);
    }

    /// Sets `query_buffer_utilization` to `used / capacity` (0 when `capacity` is 0,
    /// at most 1) and returns it.
    pub fn record_buffer_utilization(&self, query_id: &str, used: usize, capacity: usize) -> f64 {
        let ratio = if capacity == 0 {
            0.0
        } else {
            (used as f64 / capacity as f64).min(1.0)
        };
        let q = self.query(query_id);
        let inst = &self.inner.inst;
        q.buffer_utilization
            .get_or_init(|| inst.query_buffer_utilization.bind(&q.label()))
            .record(ratio);
        ratio
    }

    /// Marks a query as started: `query_active_count` goes up by one.
    pub fn query_started(&self) {
        let n = self.inner.active_queries.fetch_add(1, Ordering::Relaxed) + 1;
        self.inner.inst.query_active.record(n, &[]);
    }

    /// Marks a query as stopped: `query_active_count` goes down by one (never below 0).
    pub fn query_stopped(&self) {
        let n = self
            .inner
            .active_queries
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some((n - 1).max(0))
            })
            .map_or(0, |prev| (prev - 1).max(0));
        self.inner.inst.query_active.record(n, &[]);
    }

    /// Counts `count` events received by `stream_name`.
    pub fn record_received(&self, stream_name: &str, count: u64) {
        let s = self.stream(stream_name);
        s.received
            .get_or_init(|| self.inner.inst.stream_received.bind(&s.label()))
            .add(count);
    }

    /// Counts `count` events sent by `stream_name`.
    pub fn record_sent(&self, stream_name: &str, count: u64) {
        let s = self.stream(stream_name);
        s.sent
            .get_or_init(|| self.inner.inst.stream_sent.bind(&s.label()))
            .add(count);
    }

    /// Sets the number of subscribers of `stream_name`.
    pub fn set_subscribers(&self, stream_name: &str, subscribers: i64) {
        let s = self.stream(stream_name);
        s.subscribers
            .get_or_init(|| self.inner.inst.stream_subscribers.bind(&s.label()))
            .record(subscribers);
    }

    /// Counts `count` events that met backpressure on `stream_name` (a full buffer made
    /// the producer wait or the event drop): `stream_backpressure_events_total`.
    pub fn record_backpressure(&self, stream_name: &str, count: u64) {
        let s = self.stream(stream_name);
        s.backpressure
            .get_or_init(|| self.inner.inst.stream_backpressure.bind(&s.label()))
            .add(count);
    }

    /// Sets the bytes buffered by `stream_name` and the age of its oldest buffered event.
    pub fn record_stream_buffer(&self, stream_name: &str, bytes: u64, oldest_event_age: Duration) {
        let s = self.stream(stream_name);
        let inst = &self.inner.inst;
        s.buffer_size
            .get_or_init(|| inst.stream_buffer_size.bind(&s.label()))
            .record(bytes);
        s.oldest_age
            .get_or_init(|| inst.stream_oldest_age.bind(&s.label()))
            .record(oldest_event_age.as_secs_f64());
    }

    /// Sets `processor.watermark.lag{partition_id}` to how far `watermark` trails `now`, in
    /// milliseconds, and returns the lag (zero when the watermark is ahead).
    pub fn record_watermark(
        &self,
        partition_id: &str,
        watermark: SystemTime,
        now: SystemTime,
    ) -> Duration {
        let lag = now.duration_since(watermark).unwrap_or(Duration::ZERO);
        self.inner.inst.watermark_lag.record(
            lag.as_secs_f64() * 1000.0,
            &[KeyValue::new("partition_id", partition_id.to_owned())],
        );
        lag
    }

    /// Records how long one pipeline stage took (`processor.processing.duration`, in ms,
    /// labelled `operation_type`).
    pub fn record_stage_duration(&self, stage: PipelineStage, duration: Duration) {
        let inst = &self.inner.inst;
        inst.stage_handles[stage.index()]
            .get_or_init(|| {
                inst.stage_duration
                    .bind(&[KeyValue::new("operation_type", stage.operation_type())])
            })
            .record(duration.as_secs_f64() * 1000.0);
    }

    /// Sets the memory a component uses (`eventflux_memory_usage_bytes{component}`).
    pub fn set_memory_usage(&self, component: &str, bytes: u64) {
        self.inner
            .inst
            .memory
            .record(bytes, &[KeyValue::new("component", component.to_owned())]);
    }

    /// Sets CPU usage in percent and the number of active threads.
    pub fn set_runtime(&self, cpu_percent: f64, threads: i64) {
        self.inner.inst.cpu.record(cpu_percent, &[]);
        self.inner.inst.threads.record(threads, &[]);
    }

    /// Sets the open connections of `protocol` (`connections_active`).
    pub fn set_connections_active(&self, protocol: &str, open: i64) {
        self.inner
            .inst
            .connections_active
            .record(open, &[KeyValue::new("protocol", protocol.to_owned())]);
    }

    /// Counts one connection attempt (`connections_total{protocol, result}`), and when
    /// `error_type` is given, one `connection_errors_total{protocol, error_type}`.
    pub fn record_connection(&self, protocol: &str, result: &str, error_type: Option<&str>) {
        let protocol = KeyValue::new("protocol", protocol.to_owned());
        self.inner.inst.connections_total.add(
            1,
            &[protocol.clone(), KeyValue::new("result", result.to_owned())],
        );
        if let Some(error_type) = error_type {
            self.inner.inst.connection_errors.add(
                1,
                &[protocol, KeyValue::new("error_type", error_type.to_owned())],
            );
        }
    }

    /// How many distinct query ids have their own series (at most the configured maximum).
    pub fn tracked_query_ids(&self) -> usize {
        self.inner.queries.tracked()
    }
}

fn counter(
    meter: &Meter,
    name: &'static str,
    unit: &'static str,
    description: &'static str,
) -> Result<Counter<u64>, MetricError> {
    meter
        .u64_counter(name)
        .with_description(description)
        .with_unit(unit)
        .build()
}
