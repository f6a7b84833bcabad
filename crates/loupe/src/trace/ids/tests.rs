use super::*;
use proptest::prelude::*;

#[test]
fn ids_round_trip_through_hex() {
    let t = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    assert_eq!(t.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    let s = SpanId::from_hex("00f067aa0ba902b7").unwrap();
    assert_eq!(s.to_string(), "00f067aa0ba902b7");
    assert!(!TraceId::from_hex(&"0".repeat(32)).unwrap().is_valid());
}

proptest! {
    /// The plain hex strings exporters and the message carrier build are what
    /// `to_string` writes.
    #[test]
    fn hex_strings_match_display(trace in any::<[u8; 16]>(), span in any::<[u8; 8]>()) {
        let (trace, span) = (TraceId::from_bytes(trace), SpanId::from_bytes(span));
        prop_assert_eq!(trace.to_hex_string(), trace.to_string());
        prop_assert_eq!(span.to_hex_string(), span.to_string());
    }
}

#[test]
fn uppercase_and_wrong_lengths_are_rejected() {
    assert_eq!(
        TraceId::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736"),
        Err(ParseError::NotHex('B'))
    );
    assert!(matches!(
        SpanId::from_hex("abc"),
        Err(ParseError::Length {
            expected: 16,
            got: 3
        })
    ));
}

#[test]
fn trace_state_parses_validates_and_updates() {
    let ts = TraceState::from_header("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE,,").unwrap();
    assert_eq!(ts.get("congo"), Some("t61rcWkgMzE"));
    assert_eq!(ts.header(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    let updated = ts.insert("congo", "new").unwrap();
    assert_eq!(updated.header(), "congo=new,rojo=00f067aa0ba902b7");
    assert!(TraceState::from_header("UPPER=1").is_err());
    assert!(TraceState::from_header("a=1,a=2").is_err());
    assert!(TraceState::from_header("tenant@sys=v").is_ok());
    let too_many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
    assert!(TraceState::from_header(&too_many.join(",")).is_err());
}

#[test]
fn trace_state_keeps_a_normalised_header() {
    let ts = TraceState::from_header("\ta=1 ,, b=x y ,c@d=3").unwrap();
    assert_eq!(ts.as_header(), "a=1,b=x y,c@d=3");
    assert_eq!(
        ts.iter().collect::<Vec<_>>(),
        [("a", "1"), ("b", "x y"), ("c@d", "3")]
    );
    let same = TraceState::from_pairs([("a", "1"), ("b", "x y"), ("c@d", "3")]).unwrap();
    assert_eq!(ts, same);
    assert_eq!(format!("{ts:?}"), "TraceState(\"a=1,b=x y,c@d=3\")");
    assert!(TraceState::from_header(" , ").unwrap().is_empty());
    assert_eq!(TraceState::NONE.as_header(), "");
    assert!(TraceState::from_pairs([("k", "v"), ("k", "w")]).is_err());
    let thirty_two: Vec<(String, &str)> = (0..32).map(|i| (format!("k{i}"), "v")).collect();
    let full = TraceState::from_pairs(thirty_two).unwrap();
    assert_eq!(full.iter().count(), 32);
    assert_eq!(full.insert("new", "1").unwrap().iter().count(), 32);
}

#[test]
fn value_words_reject_separators_and_controls() {
    assert!(all_value_chars(*b"t61 Wk~!"));
    for bad in [b',', b'=', 0x1f, 0x7f, 0x80, 0xff, b'\t', 0] {
        let mut word = *b"abcdefgh";
        word[3] = bad;
        assert!(!all_value_chars(word), "{bad:#x}");
    }
}

#[test]
fn random_ids_are_valid() {
    for _ in 0..1000 {
        assert!(TraceId::random().is_valid());
        assert!(SpanId::random().is_valid());
    }
}

/// The plain reading of the grammar, to check the one-pass parser against.
fn reference_parse(header: &str) -> Option<Vec<(String, String)>> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for member in header.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        let (k, v) = member.split_once('=')?;
        let duplicate = pairs.iter().any(|(existing, _)| existing == k);
        if !valid_key(k.as_bytes()) || !valid_value(v.as_bytes()) || duplicate {
            return None;
        }
        pairs.push((k.to_owned(), v.to_owned()));
    }
    (pairs.len() <= MAX_TRACE_STATE_MEMBERS).then_some(pairs)
}

fn tracestate_headers() -> impl Strategy<Value = String> {
    let member = prop_oneof![
        4 => "[ \t]{0,2}[a-z0-9][a-z0-9@_*/-]{0,4}=[ -~]{0,5}[ \t]{0,2}",
        2 => "[a-c]=[a-c =]{0,2}",
        2 => "[ -~\t\u{e9}]{0,6}",
        2 => "[a-z]{1,3}=[ -~\t\x7f\u{e9}]{6,24}",
        1 => "[a-z][a-z0-9]{254,256}=v",
        1 => "[a-z0-9]{240,242}@[a-z][a-z0-9]{12,14}=v",
        1 => "[a-z]=[!-~]{255,257}",
    ];
    proptest::collection::vec(member, 0..36).prop_map(|m| m.join(","))
}

#[test]
fn normal_form_scanner_turns_away_every_invalid_list() {
    let long_key = format!("{}=v", "k".repeat(257));
    let long_value = format!("k={}", "v".repeat(257));
    let too_many = (0..33)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    let invalid = [
        "a=b=c=d",
        "a=1,b=x=y",
        "a=",
        "a=1,b=",
        "a=1,a=2",
        "ab=1,cd=2,ab=3",
        "A=1",
        "1a=1",
        "a@b@c=1",
        "t@abcdefghijklmno=1",
        "a=\x7f",
        "a=\u{e9}",
        "=1",
        "a",
        &long_key,
        &long_value,
        &too_many,
    ];
    for header in invalid {
        assert_eq!(scan_normalised(header.as_bytes()), None, "{header}");
        assert!(TraceState::from_header(header).is_err(), "{header}");
    }
    // Valid lists: in normal form (kept as they are), and not (left to the general parser).
    let valid = [
        ("a=1", Some(1), "a=1"),
        (
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
            Some(2),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
        ),
        ("t@sys=1,0t@s=~!", Some(2), "t@sys=1,0t@s=~!"),
        ("k=v w", None, "k=v w"),
        ("a=1,", None, "a=1"),
        ("a=1, b=2", None, "a=1,b=2"),
    ];
    for (header, members, normal) in valid {
        assert_eq!(scan_normalised(header.as_bytes()), members, "{header}");
        assert_eq!(TraceState::from_header(header).unwrap().as_header(), normal);
    }
    let longest = (0..32)
        .map(|i| format!("k{i}={}", "v".repeat(256)))
        .collect::<Vec<_>>();
    assert_eq!(scan_normalised(longest.join(",").as_bytes()), Some(32));
}

/// Headers a sender writes in normal form (no white space, no empty members), with the
/// mistakes the word-at-a-time scanner must not let through: a stray `=`, an empty or
/// overlong value, an overlong or misshapen key, a duplicate, too many members, a
/// trailing comma, a byte that is not visible ASCII.
fn normal_form_headers() -> impl Strategy<Value = String> {
    let member = prop_oneof![
        6 => "[a-z][a-z0-9_*/-]{0,6}=[!-+\\-<>-~]{1,20}",
        2 => "[a-z0-9]{1,4}@[a-z][a-z0-9]{0,3}=[!-~]{0,12}",
        1 => "[a-d]{1,2}=[a-d]{0,9}",
        1 => "[a-c]=[a-c=]{1,8}",
        1 => "[a-z][a-z0-9]{254,256}=v",
        1 => "[a-z0-9]{240,242}@[a-z][a-z0-9]{12,14}=v",
        1 => "[a-z]=[!-+\\-<>-~]{254,257}",
        1 => "[a-z]{1,3}=[!-~\x7f\x1f\u{e9}]{1,9}",
    ];
    (
        proptest::collection::vec(member, 1..35),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(m, trailing)| m.join(",") + if trailing { "," } else { "" })
}

proptest! {
    /// The fast path accepts only what the grammar accepts, and the parser as a whole
    /// agrees with the grammar.
    #[test]
    fn normal_form_scanner_accepts_only_valid_lists(header in normal_form_headers()) {
        let reference = reference_parse(&header);
        if let Some(members) = scan_normalised(header.as_bytes()) {
            let pairs = reference.clone().expect("the scanner accepted an invalid list");
            prop_assert_eq!(members, pairs.len());
        } else if let Some(pairs) = &reference {
            // Turned away although valid: only a list not in normal form may be.
            let normal = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>();
            prop_assert_ne!(normal.join(","), header.clone());
        }
        let parsed = TraceState::from_header(&header).ok().map(|ts| {
            ts.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect::<Vec<_>>()
        });
        prop_assert_eq!(parsed, reference);
    }

    #[test]
    fn hex_parsers_never_panic(s in ".{0,40}") {
        let _ = TraceId::from_hex(&s);
        let _ = SpanId::from_hex(&s);
        let _ = TraceState::from_header(&s);
    }

    #[test]
    fn value_words_agree_with_byte_checks(word in any::<[u8; 8]>(), ascii in "[ -~]{8}") {
        for word in [word, ascii.as_bytes().try_into().unwrap()] {
            let plain = word.iter().all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=');
            prop_assert_eq!(all_value_chars(word), plain);
        }
    }

    #[test]
    fn trace_state_parser_agrees_with_the_grammar(header in tracestate_headers()) {
        let parsed = TraceState::from_header(&header).ok().map(|ts| {
            ts.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect::<Vec<_>>()
        });
        prop_assert_eq!(parsed, reference_parse(&header));
    }

    #[test]
    fn trace_state_headers_round_trip(header in "([a-z][a-z0-9]{0,3}=[!-+]{1,3}[ ,\t]{0,2}){0,6}") {
        if let Ok(ts) = TraceState::from_header(&header) {
            let again = TraceState::from_header(ts.as_header()).unwrap();
            prop_assert_eq!(&again, &ts);
            prop_assert_eq!(TraceState::from_pairs(ts.iter()).unwrap(), ts);
        }
    }

    #[test]
    fn trace_id_hex_round_trips(bytes in any::<[u8; 16]>()) {
        let id = TraceId::from_bytes(bytes);
        prop_assert_eq!(TraceId::from_hex(&id.to_string()).unwrap(), id);
    }
}

#[test]
fn ids_print_as_lowercase_hex_with_width_applied_to_the_whole_id() {
    let trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    let span_id = SpanId::from_hex("00f067aa0ba902b7").unwrap();
    assert_eq!(trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(span_id.to_string(), "00f067aa0ba902b7");
    assert_eq!(format!("[{span_id:>18}]"), "[  00f067aa0ba902b7]");
    assert_eq!(
        format!("{trace_id:?}"),
        "TraceId(4bf92f3577b34da6a3ce929d0e0e4736)"
    );
    // Parsing stays strict: uppercase and other characters are named in the error.
    assert_eq!(
        SpanId::from_hex("00F067AA0BA902B7"),
        Err(ParseError::NotHex('F'))
    );
    assert_eq!(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e473g"),
        Err(ParseError::NotHex('g'))
    );
}
