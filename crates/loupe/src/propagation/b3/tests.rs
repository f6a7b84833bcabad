use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

const TRACE: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const SPAN: &str = "e457b5a2e4d86bd1";
const PARENT: &str = "05e3ac9a4f6e3b90";

fn carrier(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn extract_cx(pairs: &[(&str, &str)]) -> Context {
    B3Propagator::single().extract_with_context(&Context::new(), &carrier(pairs))
}

fn extract(pairs: &[(&str, &str)]) -> Option<(String, String, bool)> {
    let cx = extract_cx(pairs);
    let sc = cx.span_context()?;
    assert!(sc.is_valid() && sc.is_remote());
    Some((
        sc.trace_id().to_string(),
        sc.span_id().to_string(),
        sc.is_sampled(),
    ))
}

fn ids(trace: &str, span: &str, sampled: bool) -> Option<(String, String, bool)> {
    Some((trace.to_string(), span.to_string(), sampled))
}

fn context(sampled: bool) -> Context {
    Context::new().with_span_context(SpanContext::new(
        TraceId::from_hex(TRACE).unwrap(),
        SpanId::from_hex(SPAN).unwrap(),
        TraceFlags::new(0).with_sampled(sampled),
        false,
        TraceState::NONE,
    ))
}

#[test]
fn extracts_every_single_header_form() {
    let full = format!("{TRACE}-{SPAN}-1-{PARENT}");
    assert_eq!(extract(&[("b3", &full)]), ids(TRACE, SPAN, true));
    assert_eq!(
        extract(&[("b3", &format!("{TRACE}-{SPAN}-1"))]),
        ids(TRACE, SPAN, true)
    );
    assert_eq!(
        extract(&[("b3", &format!("{TRACE}-{SPAN}-0"))]),
        ids(TRACE, SPAN, false)
    );
    assert_eq!(
        extract(&[("b3", &format!("{TRACE}-{SPAN}"))]),
        ids(TRACE, SPAN, false),
        "deferred"
    );
    assert_eq!(
        extract(&[("B3", &format!(" {TRACE}-{SPAN}-d "))]),
        ids(TRACE, SPAN, true)
    );
}

#[test]
fn pads_64_bit_trace_ids_to_128() {
    assert_eq!(
        extract(&[("b3", &format!("64fe8b2a57d3eff7-{SPAN}-1"))]),
        ids("000000000000000064fe8b2a57d3eff7", SPAN, true)
    );
    assert_eq!(
        extract(&[("x-b3-traceid", "64fe8b2a57d3eff7"), ("x-b3-spanid", SPAN)]),
        ids("000000000000000064fe8b2a57d3eff7", SPAN, false)
    );
}

#[test]
fn sampling_only_headers_carry_no_parent() {
    let base = context(true);
    for only in ["0", "1", "d"] {
        let out = B3Propagator::single().extract_with_context(&base, &carrier(&[("b3", only)]));
        assert_eq!(out.span_context(), base.span_context(), "{only}");
    }
}

#[test]
fn rejects_malformed_single_headers() {
    for bad in [
        format!("{}-{SPAN}-1", TRACE.to_uppercase()),
        format!("{TRACE}-{}-1", SPAN.to_uppercase()),
        format!("{TRACE}-{SPAN}-2"),
        format!("{TRACE}-{SPAN}-true"),
        format!("{TRACE}-{SPAN}-"),
        format!("{TRACE}-{SPAN}-1-{PARENT}-x"),
        format!("{TRACE}-{SPAN}-1-bad"),
        format!("{TRACE}-0000000000000000-1"),
        format!("00000000000000000000000000000000-{SPAN}-1"),
        format!("{}-{SPAN}-1", &TRACE[..20]),
        format!("{TRACE}{SPAN}"),
        String::new(),
    ] {
        assert_eq!(extract(&[("b3", &bad)]), None, "{bad:?}");
    }
}

#[test]
fn extracts_multiple_headers_in_any_case() {
    assert_eq!(
        extract(&[
            ("X-B3-TraceId", TRACE),
            ("X-B3-SpanId", SPAN),
            ("X-B3-ParentSpanId", PARENT),
            ("X-B3-Sampled", "1"),
        ]),
        ids(TRACE, SPAN, true)
    );
    for (sampled, expected) in [("0", false), ("true", true), ("false", false)] {
        assert_eq!(
            extract(&[
                ("x-b3-traceid", TRACE),
                ("x-b3-spanid", SPAN),
                ("x-b3-sampled", sampled)
            ]),
            ids(TRACE, SPAN, expected)
        );
    }
    for bad in [
        vec![("x-b3-traceid", TRACE)],
        vec![("x-b3-spanid", SPAN)],
        vec![
            ("x-b3-traceid", TRACE),
            ("x-b3-spanid", SPAN),
            ("x-b3-sampled", "yes"),
        ],
        vec![
            ("x-b3-traceid", TRACE),
            ("x-b3-spanid", SPAN),
            ("x-b3-parentspanid", "x"),
        ],
        vec![("x-b3-traceid", &TRACE[1..]), ("x-b3-spanid", SPAN)],
    ] {
        assert_eq!(extract(&bad), None, "{bad:?}");
    }
}

#[test]
fn the_single_header_wins_over_multiple_headers() {
    let other_trace = "0af7651916cd43dd8448eb211c80319c";
    let single = format!("{TRACE}-{SPAN}-1");
    let both = [
        ("b3", single.as_str()),
        ("x-b3-traceid", other_trace),
        ("x-b3-spanid", PARENT),
        ("x-b3-sampled", "0"),
    ];
    assert_eq!(extract(&both), ids(TRACE, SPAN, true));
    // A malformed single header falls back to the multiple ones.
    let fallback = [
        ("b3", "nonsense"),
        ("x-b3-traceid", other_trace),
        ("x-b3-spanid", PARENT),
    ];
    assert_eq!(extract(&fallback), ids(other_trace, PARENT, false));
}

#[test]
fn injects_the_single_header_by_default() {
    for (sampled, state) in [(true, "1"), (false, "0")] {
        let mut out = HashMap::new();
        B3Propagator::default().inject_context(&context(sampled), &mut out);
        assert_eq!(out, carrier(&[("b3", &format!("{TRACE}-{SPAN}-{state}"))]));
    }
}

#[test]
fn injects_multiple_headers_when_asked() {
    let mut out = HashMap::new();
    B3Propagator::multi().inject_context(&context(true), &mut out);
    assert_eq!(
        out,
        carrier(&[
            ("x-b3-traceid", TRACE),
            ("x-b3-spanid", SPAN),
            ("x-b3-sampled", "1")
        ])
    );
    let mut out = HashMap::new();
    B3Propagator::with_encoding(B3Encoding::SingleAndMultipleHeaders)
        .inject_context(&context(false), &mut out);
    assert_eq!(out.len(), 4);
    assert_eq!(out["b3"], format!("{TRACE}-{SPAN}-0"));
    assert_eq!(out["x-b3-sampled"], "0");
}

#[test]
fn injects_nothing_without_a_valid_span() {
    let mut out: HashMap<String, String> = HashMap::new();
    B3Propagator::with_encoding(B3Encoding::SingleAndMultipleHeaders)
        .inject_context(&Context::new(), &mut out);
    assert!(out.is_empty());
}

#[test]
fn debug_implies_sampled_and_is_passed_on_for_the_same_trace() {
    let child_span = SpanId::from_hex("1111111111111111").unwrap();
    for upstream in [
        carrier(&[("b3", &format!("{TRACE}-{SPAN}-d"))]),
        carrier(&[
            ("x-b3-traceid", TRACE),
            ("x-b3-spanid", SPAN),
            ("x-b3-flags", "1"),
            ("x-b3-sampled", "0"),
        ]),
    ] {
        let cx = B3Propagator::single().extract_with_context(&Context::new(), &upstream);
        let remote = cx.span_context().unwrap().clone();
        assert!(remote.is_sampled());
        // The service's own span, a child of the remote one, carries on the debug flag.
        let child = cx.with_span_context(SpanContext::new(
            remote.trace_id(),
            child_span,
            remote.trace_flags(),
            false,
            TraceState::NONE,
        ));
        let mut single = HashMap::new();
        B3Propagator::single().inject_context(&child, &mut single);
        assert_eq!(single["b3"], format!("{TRACE}-1111111111111111-d"));
        let mut multi = HashMap::new();
        B3Propagator::multi().inject_context(&child, &mut multi);
        assert_eq!(multi.get("x-b3-flags").map(String::as_str), Some("1"));
        assert_eq!(multi.get("x-b3-sampled"), None, "debug implies sampled");

        // Another trace started under the same context is not debug.
        let other = cx.with_span_context(SpanContext::new(
            TraceId::from_bytes([7; 16]),
            child_span,
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ));
        let mut out = HashMap::new();
        B3Propagator::single().inject_context(&other, &mut out);
        assert!(out["b3"].ends_with("-1"));

        // A later, non-debug extraction forgets it.
        let again = B3Propagator::single()
            .extract_with_context(&cx, &carrier(&[("b3", &format!("{TRACE}-{SPAN}-1"))]));
        let mut out = HashMap::new();
        B3Propagator::single().inject_context(&again, &mut out);
        assert!(out["b3"].ends_with("-1"));
    }
}

#[test]
fn fields_follow_the_encoding() {
    assert_eq!(B3Propagator::single().fields(), ["b3"]);
    assert_eq!(B3Propagator::multi().fields().len(), 4);
    assert_eq!(B3Propagator::single().encoding(), B3Encoding::SingleHeader);
}

fn mutated_single() -> impl Strategy<Value = String> {
    let base = "([0-9a-f]{16}|[0-9a-f]{32})-[0-9a-f]{16}(-[01d](-[0-9a-f]{16})?)?";
    (base, any::<prop::sample::Index>(), any::<char>(), 0..3u8).prop_map(|(mut h, at, c, how)| {
        let at = at.index(h.len());
        match how {
            0 => h.insert(at, c),
            1 => {
                h.remove(at);
            }
            _ => h.truncate(at),
        }
        h
    })
}

fn assert_valid_or_absent(pairs: &[(&str, &str)]) -> Result<(), TestCaseError> {
    let cx = extract_cx(pairs);
    if let Some(sc) = cx.span_context() {
        prop_assert!(sc.is_valid() && sc.is_remote());
    }
    Ok(())
}

proptest! {
    #[test]
    fn random_single_headers_never_panic_nor_give_an_invalid_parent(h in "\\PC{0,80}") {
        assert_valid_or_absent(&[("b3", &h)])?;
    }

    #[test]
    fn mutated_single_headers_never_panic_nor_give_an_invalid_parent(h in mutated_single()) {
        assert_valid_or_absent(&[("b3", &h)])?;
    }

    #[test]
    fn random_multiple_headers_never_panic_nor_give_an_invalid_parent(
        trace in "[0-9a-fA-F]{0,33}",
        span in "[0-9a-f]{0,17}",
        sampled in "\\PC{0,3}",
        flags in "\\PC{0,2}",
        parent in "[0-9a-f-]{0,17}",
    ) {
        assert_valid_or_absent(&[
            ("x-b3-traceid", &trace),
            ("x-b3-spanid", &span),
            ("x-b3-sampled", &sampled),
            ("x-b3-flags", &flags),
            ("x-b3-parentspanid", &parent),
        ])?;
    }

    #[test]
    fn inject_then_extract_round_trips(
        trace in any::<[u8; 16]>().prop_filter("valid", |t| *t != [0; 16]),
        span in any::<[u8; 8]>().prop_filter("valid", |s| *s != [0; 8]),
        sampled: bool,
        encoding in prop_oneof![
            Just(B3Encoding::SingleHeader),
            Just(B3Encoding::MultipleHeaders),
            Just(B3Encoding::SingleAndMultipleHeaders),
        ],
    ) {
        let sc = SpanContext::new(
            TraceId::from_bytes(trace),
            SpanId::from_bytes(span),
            TraceFlags::NONE.with_sampled(sampled),
            false,
            TraceState::NONE,
        );
        let p = B3Propagator::with_encoding(encoding);
        let mut out = HashMap::new();
        p.inject_context(&Context::new().with_span_context(sc.clone()), &mut out);
        let back = p.extract_with_context(&Context::new(), &out);
        let back = back.span_context().unwrap();
        prop_assert_eq!((back.trace_id(), back.span_id()), (sc.trace_id(), sc.span_id()));
        prop_assert_eq!(back.is_sampled(), sampled);
    }
}
