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
