//! The workload of the `clusterdb_component` example (seed 002): simulated database
//! queries, each with a `db.query` server span, the `db.queries` counter, the
//! `db.query.duration` histogram, and a warning log for slow ones. Shared by the example
//! and the coverage tests.

use loupe::logs::Logger;
use loupe::metrics::{Counter, Histogram, Meter, MetricError};
use loupe::trace::{SpanKind, Tracer};
use loupe::{log_warn, KeyValue};
use std::time::{Duration, Instant};

/// A query slower than this (at pace 1) is logged.
pub const SLOW: Duration = Duration::from_micros(1_800);

/// The query path of a database node.
pub struct Queries {
    tracer: Tracer,
    count: Counter<u64>,
    duration: Histogram<f64>,
    log: Logger,
    pace: f64,
}

impl Queries {
    /// Registers the query instruments on `meter`; spans go to `tracer`, slow-query
    /// warnings to `log`. `pace` scales the simulated work (1.0 in the example).
    pub fn new(
        tracer: &Tracer,
        meter: &Meter,
        log: Logger,
        pace: f64,
    ) -> Result<Self, MetricError> {
        Ok(Queries {
            tracer: tracer.clone(),
            count: meter.u64_counter("db.queries").build()?,
            duration: meter
                .f64_histogram("db.query.duration")
                .with_unit("s")
                .build()?,
            log,
            pace,
        })
    }

    /// Runs query `n`: every fourth is a write, every twenty-fifth is slow. Returns how
    /// long it took.
    pub fn run(&self, n: u64) -> Duration {
        let kind = if n % 4 == 0 { "write" } else { "read" };
        let mut span = self
            .tracer
            .span_builder("db.query")
            .with_kind(SpanKind::Server)
            .start();
        span.set_attribute("db.operation.name", kind);
        let started = Instant::now();
        let work = if n % 25 == 0 {
            SLOW + Duration::from_micros(700)
        } else {
            Duration::from_micros(500 + fastrand::u64(0..1_200))
        };
        std::thread::sleep(work.mul_f64(self.pace));
        let took = started.elapsed();
        let attrs = [KeyValue::new("db.operation.name", kind)];
        self.count.add(1, &attrs);
        self.duration.record(took.as_secs_f64(), &attrs);
        if took > SLOW.mul_f64(self.pace) {
            log_warn!(self.log, "slow query", "db.operation.name": kind, duration_s: took.as_secs_f64(), password: "not-in-the-log");
        }
        span.end();
        took
    }
}
