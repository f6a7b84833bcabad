//! Metrics: counters, up-down counters, gauges and histograms, with pre-bound handles for
//! hot code and a cardinality limit per instrument.
//!
//! ```
//! use loupe::metrics::{MeterProvider, ManualReader, Temporality};
//! use loupe::KeyValue;
//!
//! let provider = MeterProvider::builder().build();
//! let meter = provider.meter("plugin-host");
//! let received = meter
//!     .u64_counter("plugin.messages.received")
//!     .with_description("Messages received by plugins")
//!     .with_unit("{message}")
//!     .build()?;
//!
//! // Dynamic path: attributes per call.
//! received.add(1, &[KeyValue::new("plugin.name", "validator")]);
//! // Hot path: bind once, then each add is one relaxed atomic add.
//! let transcriber = received.bind(&[KeyValue::new("plugin.name", "transcriber")]);
//! transcriber.add(2);
//!
//! let metrics = provider.collect();
//! let metric = metrics.metric("plugin.messages.received").unwrap();
//! assert_eq!(metric.unit, "{message}");
//! # Ok::<(), loupe::metrics::MetricError>(())
//! ```

mod cells;
mod collect;
mod data;
pub mod exponential;
mod instrument;
mod meter;
pub mod process;
mod reader;
mod series;

pub use crate::export::memory::InMemoryMetricExporter;
pub use data::{
    ExponentialHistogramPoint, HistogramPoint, Metric, MetricData, NumberPoint, NumberValue,
    ResourceMetrics, ScopeMetrics, Temporality,
};
pub use instrument::{
    Bound, BoundCounter, BoundGauge, BoundHistogram, BoundUpDownCounter, Counter, Descriptor,
    Gauge, Histogram, InstrumentKind, NumberKind, ObservableInstrument, Observer, UpDownCounter,
};
pub use meter::{
    InstrumentBuilder, Meter, MeterProvider, MeterProviderBuilder, MetricError,
    DEFAULT_CARDINALITY_LIMIT, DEFAULT_HISTOGRAM_BOUNDARIES,
};
pub use reader::{
    ManualReader, MetricExporter, MetricProcessor, PeriodicReader, PeriodicReaderBuilder,
};
