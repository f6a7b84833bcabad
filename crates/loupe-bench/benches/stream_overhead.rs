//! CPU overhead of full instrumentation on the `stream_pipeline` workload (issue 6, seed
//! 003's "< 1% overhead" criterion).
//!
//! `cargo bench -p loupe-bench --bench stream_overhead`
//!
//! The same pipeline (`crates/loupe/examples/workloads/stream.rs`) runs twice:
//! - **noop**: built on `NoopTelemetry`'s tracer and meter, so nothing is recorded;
//! - **instrumented**: the stream pack's metrics on a meter provider whose periodic reader
//!   exports OTLP/HTTP every second, spans sampled at 1% (`TraceIdRatioSampler`) through
//!   the batch processor and an OTLP/HTTP exporter. Both export to a receiver that
//!   discards what it gets; it runs in a child process so its CPU is not counted.
//!
//! Criterion first measures the process CPU time per batch (500 events through three
//! queries) of each, then a summary phase runs both pipelines interleaved, batch by
//! batch, and charges them: the main thread's CPU time per batch of each, plus — to
//! the instrumented one — all CPU time spent by other threads of this process (Loupe's
//! export threads; nothing else runs). It prints both CPU figures and the ratio.

#[path = "../../loupe/examples/workloads/stream.rs"]
#[allow(dead_code)]
mod workload;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::Criterion;
use loupe::export::otlp::{OtlpConfig, Protocol};
use loupe::metrics::{MeterProvider, PeriodicReader};
use loupe::trace::{BatchSpanProcessor, TraceIdRatioSampler, TracerProvider};
use loupe::NoopTelemetry;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use workload::{Pipeline, BATCH};

/// Set in the child process that serves as the discarding OTLP receiver.
const RECEIVER_ENV: &str = "LOUPE_BENCH_DISCARDING_RECEIVER";
/// Batches per pipeline in the interleaved summary phase.
const SUMMARY_BATCHES: u32 = 20_000;

fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock ids used are always supported
    // on Linux.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({clock}) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn process_cpu() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn thread_cpu() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// Criterion measurement: CPU time of the whole process (every thread).
struct ProcessCpu(WallTime);

impl Measurement for ProcessCpu {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        process_cpu()
    }
    fn end(&self, start: Duration) -> Duration {
        process_cpu().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.0.formatter()
    }
}

/// The discarding receiver, running as a child process; killed on drop.
struct Receiver {
    child: Child,
    endpoint: String,
}

impl Receiver {
    fn start() -> Receiver {
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .env(RECEIVER_ENV, "1")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the discarding receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("the receiver prints its address");
        Receiver {
            child,
            endpoint: format!("http://{}", line.trim()),
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Answers every OTLP/HTTP export with an empty success response and keeps nothing.
fn run_receiver() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        println!("{}", listener.local_addr().expect("bound address"));
        let app = axum::Router::new().fallback(|_body: axum::body::Bytes| async {
            (
                [("content-type", "application/x-protobuf")],
                Vec::<u8>::new(),
            )
        });
        axum::serve(listener, app).await.expect("serve");
    });
}

/// The instrumented pipeline and the providers that must outlive it.
struct Instrumented {
    pipeline: Pipeline,
    tracers: TracerProvider,
    meters: MeterProvider,
}

impl Instrumented {
    fn new(receiver: &Receiver) -> Instrumented {
        let otlp = OtlpConfig::default()
            .with_endpoint(receiver.endpoint.clone())
            .with_protocol(Protocol::HttpProtobuf);
        let tracers = TracerProvider::builder()
            .with_sampler(TraceIdRatioSampler::new(0.01).expect("valid ratio"))
            .with_span_processor(BatchSpanProcessor::new(
                otlp.span_exporter().expect("span exporter"),
            ))
            .build()
            .expect("tracer provider");
        let meters = MeterProvider::builder()
            .with_reader(
                PeriodicReader::builder(otlp.metric_exporter().expect("metric exporter"))
                    .with_interval(Duration::from_secs(1))
                    .build(),
            )
            .build();
        let pipeline = Pipeline::new(&tracers.tracer("eventflux"), &meters.meter("eventflux"))
            .expect("stream metrics register");
        Instrumented {
            pipeline,
            tracers,
            meters,
        }
    }

    fn shutdown(&self) {
        let _ = self.tracers.shutdown(Duration::from_secs(5));
        let _ = self.meters.shutdown(Duration::from_secs(5));
    }
}

fn noop_pipeline() -> Pipeline {
    Pipeline::new(NoopTelemetry.tracer(), NoopTelemetry.meter()).expect("noop metrics")
}

fn criterion_phase(receiver: &Receiver) {
    let mut c = Criterion::default()
        .with_measurement(ProcessCpu(WallTime))
        .measurement_time(Duration::from_secs(8))
        .configure_from_args();
    let mut group = c.benchmark_group(format!("stream_pipeline_cpu_per_batch_of_{BATCH}"));
    let mut noop = noop_pipeline();
    group.bench_function("noop", |b| b.iter(|| noop.run_batch()));
    let instrumented = Instrumented::new(receiver);
    let mut pipeline = instrumented.pipeline;
    group.bench_function("instrumented", |b| b.iter(|| pipeline.run_batch()));
    group.finish();
    instrumented.tracers.shutdown(Duration::from_secs(5)).ok();
    instrumented.meters.shutdown(Duration::from_secs(5)).ok();
    c.final_summary();
}

fn summary_phase(receiver: &Receiver) {
    let mut noop = noop_pipeline();
    let mut instrumented = Instrumented::new(receiver);
    // Warm both up (allocator, caches, the first exports).
    for _ in 0..500 {
        noop.run_batch();
        instrumented.pipeline.run_batch();
    }
    let (mut noop_cpu, mut instrumented_cpu) = (Duration::ZERO, Duration::ZERO);
    let (process_start, main_start) = (process_cpu(), thread_cpu());
    for _ in 0..SUMMARY_BATCHES {
        let t0 = thread_cpu();
        noop.run_batch();
        let t1 = thread_cpu();
        instrumented.pipeline.run_batch();
        let t2 = thread_cpu();
        noop_cpu += t1 - t0;
        instrumented_cpu += t2 - t1;
    }
    // Flushing belongs to the instrumented run: its export threads do it.
    instrumented.shutdown();
    let other_threads =
        process_cpu().saturating_sub(process_start) - thread_cpu().saturating_sub(main_start);
    let per_batch = |total: Duration| total.as_secs_f64() * 1e6 / f64::from(SUMMARY_BATCHES);
    let (noop_us, instrumented_us) = (
        per_batch(noop_cpu),
        per_batch(instrumented_cpu + other_threads),
    );
    println!("\nstream_pipeline, {SUMMARY_BATCHES} batches of {BATCH} events each, interleaved:");
    println!("  noop          {noop_us:9.2} µs CPU per batch");
    println!(
        "  instrumented  {instrumented_us:9.2} µs CPU per batch (recording thread {:.2}, export threads {:.2})",
        per_batch(instrumented_cpu),
        per_batch(other_threads)
    );
    println!(
        "  ratio         {:.4} (overhead {:+.2}% CPU; target < 1%)",
        instrumented_us / noop_us,
        (instrumented_us / noop_us - 1.0) * 100.0
    );
}

fn main() {
    if std::env::var_os(RECEIVER_ENV).is_some() {
        run_receiver();
        return;
    }
    let receiver = Receiver::start();
    criterion_phase(&receiver);
    summary_phase(&receiver);
}
