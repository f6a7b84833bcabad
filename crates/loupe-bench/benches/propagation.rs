//! W3C Trace Context propagation beside `opentelemetry_sdk`'s `TraceContextPropagator`, in
//! one run: inject `traceparent` + `tracestate` into a carrier, then extract them.
//!
//! `cargo bench -p loupe-bench --bench propagation`
//!
//! Both sides use the same carrier type and the same context (a sampled span with a
//! two-member trace state). `inject_extract` reuses one `HashMap<String, String>` across
//! iterations, as a client reusing its header map does; its `carrier_lookups_only` entry
//! is the four map lookups any propagator must make (two to write, two to read), the
//! floor under both libraries. `inject_extract_two_fields` uses a carrier that costs
//! next to nothing (two reused strings found by name), to show the propagators' own
//! cost. `inject_extract_fresh_map` builds a new map per
//! iteration, as a server handling a new request does. `inject_extract_fnv_map` uses a
//! map with a fast hasher (FNV-1a, which is what `http::HeaderMap` uses for header
//! names) to show the propagators' own cost with a cheaper carrier. Nothing is cached
//! between iterations: every iteration encodes, parses and validates the headers again.

use criterion::{criterion_group, criterion_main, Criterion};
use loupe::propagation::TextMapPropagator as _;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TraceContextExt as _;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::hint::black_box;
use std::str::FromStr;
use std::time::Duration;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID: &str = "00f067aa0ba902b7";
const TRACE_STATE: &str = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";

/// FNV-1a: the hasher `http::HeaderMap` uses for header names.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        if self.0 == 0 {
            self.0 = 0xcbf2_9ce4_8422_2325;
        }
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FnvMap = HashMap<String, String, BuildHasherDefault<Fnv>>;

/// `http::HeaderMap` as an OpenTelemetry carrier, as `opentelemetry-http` writes it.
struct OtelHeaders(http::HeaderMap);

impl opentelemetry::propagation::Injector for OtelHeaders {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

impl opentelemetry::propagation::Extractor for OtelHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// A carrier that costs next to nothing: one reused string per field, found by name
/// with no hashing (a message's fixed header fields, or the first slots of a header
/// vector). Through it, the rows show what the propagators themselves cost.
#[derive(Default)]
struct TwoFields {
    traceparent: String,
    tracestate: String,
}

impl TwoFields {
    fn slot(&mut self, key: &str) -> Option<&mut String> {
        match key {
            "traceparent" => Some(&mut self.traceparent),
            "tracestate" => Some(&mut self.tracestate),
            _ => None,
        }
    }

    fn value(&self, key: &str) -> Option<&str> {
        let value = match key {
            "traceparent" => &self.traceparent,
            "tracestate" => &self.tracestate,
            _ => return None,
        };
        (!value.is_empty()).then_some(value.as_str())
    }

    fn put(&mut self, key: &str, value: &str) {
        if let Some(slot) = self.slot(key) {
            slot.clear();
            slot.push_str(value);
        }
    }

    fn names(&self) -> Vec<&str> {
        ["traceparent", "tracestate"]
            .into_iter()
            .filter(|k| self.value(k).is_some())
            .collect()
    }
}

impl loupe::propagation::Injector for TwoFields {
    fn set(&mut self, key: &str, value: String) {
        self.put(key, &value);
    }

    fn set_str(&mut self, key: &str, value: &str) {
        self.put(key, value);
    }
}

impl loupe::propagation::Extractor for TwoFields {
    fn get(&self, key: &str) -> Option<&str> {
        self.value(key)
    }

    fn keys(&self) -> Vec<&str> {
        self.names()
    }
}

impl opentelemetry::propagation::Injector for TwoFields {
    fn set(&mut self, key: &str, value: String) {
        self.put(key, &value);
    }
}

impl opentelemetry::propagation::Extractor for TwoFields {
    fn get(&self, key: &str) -> Option<&str> {
        self.value(key)
    }

    fn keys(&self) -> Vec<&str> {
        self.names()
    }
}

fn loupe_context() -> loupe::trace::Context {
    use loupe::trace::{Context, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    Context::new().with_span_context(SpanContext::new(
        TraceId::from_hex(TRACE_ID).unwrap(),
        SpanId::from_hex(SPAN_ID).unwrap(),
        TraceFlags::SAMPLED,
        false,
        TraceState::from_header(TRACE_STATE).unwrap(),
    ))
}

fn otel_context() -> opentelemetry::Context {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex(TRACE_ID).unwrap(),
        SpanId::from_hex(SPAN_ID).unwrap(),
        TraceFlags::SAMPLED,
        false,
        TraceState::from_str(TRACE_STATE).unwrap(),
    ))
}

/// Both sides write the same headers and read the same span back.
fn check_equivalence() {
    let loupe_p = loupe::propagation::TraceContextPropagator::new();
    let otel_p = opentelemetry_sdk::propagation::TraceContextPropagator::new();
    let (mut ours, mut theirs) = (HashMap::new(), HashMap::new());
    loupe_p.inject_context(&loupe_context(), &mut ours);
    otel_p.inject_context(&otel_context(), &mut theirs);
    assert_eq!(ours, theirs);
    let ours = loupe_p.extract_with_context(&loupe::trace::Context::new(), &ours);
    let theirs = otel_p.extract(&theirs);
    let (ours, theirs) = (
        ours.span_context().unwrap(),
        theirs.span().span_context().clone(),
    );
    assert_eq!(ours.trace_id().to_string(), theirs.trace_id().to_string());
    assert_eq!(ours.span_id().to_string(), theirs.span_id().to_string());
    assert_eq!(
        ours.trace_state().as_header(),
        theirs.trace_state().header()
    );
    // The two-field carrier carries the same headers for both.
    let (mut ours, mut theirs) = (TwoFields::default(), TwoFields::default());
    loupe_p.inject_context(&loupe_context(), &mut ours);
    otel_p.inject_context(&otel_context(), &mut theirs);
    assert_eq!(
        (&ours.traceparent, &ours.tracestate),
        (&theirs.traceparent, &theirs.tracestate)
    );
    let extracted = loupe_p.extract(&ours);
    assert_eq!(
        extracted
            .span_context()
            .map(|sc| sc.trace_state().as_header()),
        Some(TRACE_STATE)
    );
    let extracted = otel_p.extract(&theirs);
    assert_eq!(
        extracted.span().span_context().trace_state().header(),
        TRACE_STATE
    );
}

fn inject_extract(c: &mut Criterion) {
    check_equivalence();
    let loupe_p = loupe::propagation::TraceContextPropagator::new();
    let otel_p = opentelemetry_sdk::propagation::TraceContextPropagator::new();
    let (loupe_cx, otel_cx) = (loupe_context(), otel_context());

    let mut g = c.benchmark_group("propagation/inject_extract");
    let mut map = HashMap::new();
    g.bench_function("loupe", |b| {
        b.iter(|| {
            loupe_p.inject_context(black_box(&loupe_cx), &mut map);
            black_box(loupe_p.extract(black_box(&map)))
        })
    });
    let mut map = HashMap::new();
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| {
            otel_p.inject_context(black_box(&otel_cx), &mut map);
            black_box(otel_p.extract(black_box(&map)))
        })
    });
    let mut map = HashMap::new();
    loupe_p.inject_context(&loupe_cx, &mut map);
    g.bench_function("carrier_lookups_only", |b| {
        b.iter(|| {
            black_box(map.get_mut(black_box("traceparent")));
            black_box(map.get_mut(black_box("tracestate")));
            black_box(map.get(black_box("traceparent")));
            black_box(map.get(black_box("tracestate")));
        })
    });
    g.finish();

    // The propagators' own cost: the same work through a carrier that costs next to
    // nothing.
    let mut g = c.benchmark_group("propagation/inject_extract_two_fields");
    let mut fields = TwoFields::default();
    g.bench_function("loupe", |b| {
        b.iter(|| {
            loupe_p.inject_context(black_box(&loupe_cx), &mut fields);
            black_box(loupe_p.extract(black_box(&fields)))
        })
    });
    let mut fields = TwoFields::default();
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| {
            otel_p.inject_context(black_box(&otel_cx), &mut fields);
            black_box(otel_p.extract(black_box(&fields)))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("propagation/inject_extract_fnv_map");
    let mut map = FnvMap::default();
    g.bench_function("loupe", |b| {
        b.iter(|| {
            loupe_p.inject_context(black_box(&loupe_cx), &mut map);
            black_box(loupe_p.extract(black_box(&map)))
        })
    });
    let mut map = FnvMap::default();
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| {
            otel_p.inject_context(black_box(&otel_cx), &mut map);
            black_box(otel_p.extract(black_box(&map)))
        })
    });
    g.finish();

    // The HTTP carrier itself. `opentelemetry` has no `HeaderMap` carrier of its own (that
    // is in `opentelemetry-http`); `OtelHeaders` below is the same few lines.
    let mut g = c.benchmark_group("propagation/inject_extract_header_map");
    let mut headers = http::HeaderMap::new();
    g.bench_function("loupe", |b| {
        b.iter(|| {
            loupe_p.inject_context(black_box(&loupe_cx), &mut headers);
            black_box(loupe_p.extract(black_box(&headers)))
        })
    });
    let mut headers = OtelHeaders(http::HeaderMap::new());
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| {
            otel_p.inject_context(black_box(&otel_cx), &mut headers);
            black_box(otel_p.extract(black_box(&headers)))
        })
    });
    g.finish();

    // Seed 000's message form (`BaseMessage.trace_context`): the context written into,
    // and read back from, a `TraceContext` struct instead of a header map.
    let mut g = c.benchmark_group("propagation/inject_extract_message");
    g.bench_function("loupe", |b| {
        b.iter(|| {
            let carried = loupe::TraceContext::from_context(black_box(&loupe_cx));
            black_box(carried.map(|tc| tc.to_context()))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("propagation/inject_extract_fresh_map");
    g.bench_function("loupe", |b| {
        b.iter(|| {
            let mut map = HashMap::new();
            loupe_p.inject_context(black_box(&loupe_cx), &mut map);
            black_box(loupe_p.extract(black_box(&map)))
        })
    });
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| {
            let mut map = HashMap::new();
            otel_p.inject_context(black_box(&otel_cx), &mut map);
            black_box(otel_p.extract(black_box(&map)))
        })
    });
    g.finish();
}

fn one_way(c: &mut Criterion) {
    let loupe_p = loupe::propagation::TraceContextPropagator::new();
    let otel_p = opentelemetry_sdk::propagation::TraceContextPropagator::new();
    let (loupe_cx, otel_cx) = (loupe_context(), otel_context());

    let mut g = c.benchmark_group("propagation/inject");
    let mut map = HashMap::new();
    g.bench_function("loupe", |b| {
        b.iter(|| loupe_p.inject_context(black_box(&loupe_cx), &mut map))
    });
    let mut map = HashMap::new();
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| otel_p.inject_context(black_box(&otel_cx), &mut map))
    });
    g.finish();

    let mut g = c.benchmark_group("propagation/extract");
    let mut map = HashMap::new();
    loupe_p.inject_context(&loupe_cx, &mut map);
    g.bench_function("loupe", |b| {
        b.iter(|| black_box(loupe_p.extract(black_box(&map))))
    });
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| black_box(otel_p.extract(black_box(&map))))
    });
    g.finish();

    // What an HTTP middleware pays with the default global propagator (Trace Context and
    // Baggage; no baggage on the request).
    let mut g = c.benchmark_group("propagation/global_w3c_inject_extract");
    let mut map = HashMap::new();
    g.bench_function("loupe", |b| {
        b.iter(|| {
            loupe::propagation::inject_context(black_box(&loupe_cx), &mut map);
            black_box(loupe::propagation::extract_context(black_box(&map)))
        })
    });
    let otel_global = opentelemetry::propagation::TextMapCompositePropagator::new(vec![
        Box::new(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
        Box::new(opentelemetry_sdk::propagation::BaggagePropagator::new()),
    ]);
    opentelemetry::global::set_text_map_propagator(otel_global);
    let mut map = HashMap::new();
    g.bench_function("opentelemetry_sdk", |b| {
        b.iter(|| {
            opentelemetry::global::get_text_map_propagator(|p| {
                p.inject_context(black_box(&otel_cx), &mut map);
                black_box(p.extract(black_box(&map)))
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(30);
    targets = inject_extract, one_way
}
criterion_main!(benches);
