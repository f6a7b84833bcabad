//! Process metrics (003's system metrics, 000 §5.3): CPU, resident memory, threads, open
//! file descriptors and uptime, read from `/proc` at each collection (Linux; elsewhere
//! only uptime is reported).
//!
//! ```
//! let provider = loupe::metrics::MeterProvider::builder().build();
//! loupe::metrics::process::register(&provider).unwrap();
//! let metrics = provider.collect();
//! assert!(metrics.metric("process.uptime").is_some());
//! ```

use super::{MeterProvider, MetricError, ObservableInstrument};
use std::sync::Mutex;
use std::time::Instant;

/// The instruments [`register`] created; they report while this is alive.
#[derive(Debug)]
pub struct ProcessMetrics {
    _instruments: Vec<ObservableInstrument>,
}

/// Registers, in the `loupe.process` scope:
///
/// | metric | unit | what |
/// |---|---|---|
/// | `process.cpu.time` | s | CPU time used (user + system), a counter |
/// | `process.cpu.utilization` | 1 | CPU used since the previous collection, 1.0 = one core |
/// | `process.memory.usage` | By | resident memory |
/// | `process.memory.virtual` | By | virtual memory |
/// | `process.thread.count` | {thread} | threads |
/// | `process.open_file_descriptor.count` | {file_descriptor} | open file descriptors |
/// | `process.uptime` | s | time since registration |
pub fn register(provider: &MeterProvider) -> Result<ProcessMetrics, MetricError> {
    let meter = provider.meter("loupe.process");
    let started = Instant::now();
    let mut instruments = vec![meter
        .f64_observable_gauge("process.uptime")
        .with_unit("s")
        .with_description("Seconds since the process metrics were registered.")
        .with_callback(move |o| o.observe_f64(started.elapsed().as_secs_f64(), &[]))
        .build()?];
    if cfg!(target_os = "linux") {
        instruments.push(
            meter
                .f64_observable_counter("process.cpu.time")
                .with_unit("s")
                .with_description("CPU seconds used by the process (user and system).")
                .with_callback(|o| {
                    if let Some(secs) = cpu_seconds() {
                        o.observe_f64(secs, &[]);
                    }
                })
                .build()?,
        );
        let last: Mutex<Option<(Instant, f64)>> = Mutex::new(None);
        instruments.push(
            meter
                .f64_observable_gauge("process.cpu.utilization")
                .with_unit("1")
                .with_description(
                    "CPU used since the previous collection, as a fraction of one core.",
                )
                .with_callback(move |o| {
                    let Some(cpu) = cpu_seconds() else { return };
                    let now = Instant::now();
                    let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some((at, before)) = *last {
                        let wall = now.duration_since(at).as_secs_f64();
                        if wall > 0.0 {
                            o.observe_f64(((cpu - before) / wall).max(0.0), &[]);
                        }
                    }
                    *last = Some((now, cpu));
                })
                .build()?,
        );
        instruments.push(
            meter
                .i64_observable_gauge("process.memory.usage")
                .with_unit("By")
                .with_description("Resident memory of the process.")
                .with_callback(|o| {
                    if let Some(kb) = status_field("VmRSS:") {
                        o.observe_i64(kb * 1024, &[]);
                    }
                })
                .build()?,
        );
        instruments.push(
            meter
                .i64_observable_gauge("process.memory.virtual")
                .with_unit("By")
                .with_description("Virtual memory of the process.")
                .with_callback(|o| {
                    if let Some(kb) = status_field("VmSize:") {
                        o.observe_i64(kb * 1024, &[]);
                    }
                })
                .build()?,
        );
        instruments.push(
            meter
                .i64_observable_gauge("process.thread.count")
                .with_unit("{thread}")
                .with_description("Threads of the process.")
                .with_callback(|o| {
                    if let Some(n) = status_field("Threads:") {
                        o.observe_i64(n, &[]);
                    }
                })
                .build()?,
        );
        instruments.push(
            meter
                .i64_observable_gauge("process.open_file_descriptor.count")
                .with_unit("{file_descriptor}")
                .with_description("Open file descriptors of the process.")
                .with_callback(|o| {
                    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
                        o.observe_i64(dir.count() as i64, &[]);
                    }
                })
                .build()?,
        );
    }
    Ok(ProcessMetrics {
        _instruments: instruments,
    })
}

/// Registers Tokio runtime metrics for the runtime behind `handle`, in the `loupe.tokio`
/// scope: `tokio.workers` ({worker}), `tokio.tasks.alive` ({task}),
/// `tokio.global_queue.depth` ({task}) and `tokio.worker.busy_time` (s, a counter per
/// `worker`). These are the metrics Tokio offers without `tokio_unstable`.
#[cfg(feature = "tokio")]
pub fn register_tokio(
    provider: &MeterProvider,
    handle: tokio::runtime::Handle,
) -> Result<ProcessMetrics, MetricError> {
    let meter = provider.meter("loupe.tokio");
    let h = handle.clone();
    let workers = meter
        .i64_observable_gauge("tokio.workers")
        .with_unit("{worker}")
        .with_description("Worker threads of the runtime.")
        .with_callback(move |o| o.observe_i64(h.metrics().num_workers() as i64, &[]))
        .build()?;
    let h = handle.clone();
    let alive = meter
        .i64_observable_gauge("tokio.tasks.alive")
        .with_unit("{task}")
        .with_description("Tasks spawned on the runtime and not yet finished.")
        .with_callback(move |o| o.observe_i64(h.metrics().num_alive_tasks() as i64, &[]))
        .build()?;
    let h = handle.clone();
    let queue = meter
        .i64_observable_gauge("tokio.global_queue.depth")
        .with_unit("{task}")
        .with_description("Tasks waiting in the runtime's global queue.")
        .with_callback(move |o| o.observe_i64(h.metrics().global_queue_depth() as i64, &[]))
        .build()?;
    let h = handle;
    let busy = meter
        .f64_observable_counter("tokio.worker.busy_time")
        .with_unit("s")
        .with_description("Time each worker spent running tasks.")
        .with_callback(move |o| {
            let m = h.metrics();
            for w in 0..m.num_workers() {
                o.observe_f64(
                    m.worker_total_busy_duration(w).as_secs_f64(),
                    &[crate::KeyValue::new("worker", w as i64)],
                );
            }
        })
        .build()?;
    Ok(ProcessMetrics {
        _instruments: vec![workers, alive, queue, busy],
    })
}

/// User plus system CPU seconds from `/proc/self/stat` (fields 14 and 15, in clock ticks
/// of 1/100 s, the value Linux uses on every supported architecture).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may contain spaces; fields resume after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// A numeric field of `/proc/self/status` (kB for memory, a count for threads).
fn status_field(name: &str) -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with(name))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "tokio")]
    fn tokio_metrics_describe_the_runtime() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let provider = MeterProvider::builder().build();
        let _metrics = register_tokio(&provider, rt.handle().clone()).unwrap();
        let parked = rt.spawn(std::future::pending::<()>());
        let collected = provider.collect();
        let gauge = |name: &str| match &collected.metric(name).unwrap().data {
            crate::metrics::MetricData::Gauge { points } => points[0].value.as_f64(),
            other => panic!("{other:?}"),
        };
        assert_eq!(gauge("tokio.workers"), 2.0);
        assert!(
            gauge("tokio.tasks.alive") >= 1.0,
            "the parked task is alive"
        );
        match &collected.metric("tokio.worker.busy_time").unwrap().data {
            crate::metrics::MetricData::Sum { points, .. } => assert_eq!(points.len(), 2),
            other => panic!("{other:?}"),
        }
        parked.abort();
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn reports_plausible_values_for_this_process() {
        let provider = MeterProvider::builder().build();
        let _metrics = register(&provider).unwrap();
        // Burn a little CPU so the second utilisation sample has something to see.
        let _ = provider.collect();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let collected = provider.collect();
        let value = |name: &str| match &collected.metric(name).unwrap().data {
            crate::metrics::MetricData::Gauge { points }
            | crate::metrics::MetricData::Sum { points, .. } => points[0].value.as_f64(),
            other => panic!("{other:?}"),
        };
        assert!(value("process.memory.usage") > 1_000_000.0);
        assert!(value("process.thread.count") >= 1.0);
        assert!(value("process.open_file_descriptor.count") >= 3.0);
        assert!(value("process.cpu.time") > 0.0);
        assert!(value("process.cpu.utilization") >= 0.0);
        assert!(value("process.uptime") >= 0.0);
    }
}
