use super::*;
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use std::collections::HashMap;

fn entries(b: &Baggage) -> Vec<(&str, &str, &str)> {
    b.iter()
        .map(|i| (i.key(), i.value(), i.metadata()))
        .collect()
}

#[test]
fn parses_the_specification_examples() {
    let b = Baggage::from_header("userId=alice,serverNode=DF%2028,isProduction=false");
    assert_eq!(
        entries(&b),
        [
            ("userId", "alice", ""),
            ("serverNode", "DF 28", ""),
            ("isProduction", "false", "")
        ]
    );
    let b = Baggage::from_header(
        "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue",
    );
    assert_eq!(
        entries(&b),
        [
            ("key1", "value1", "property1;property2"),
            ("key2", "value2", ""),
            ("key3", "value3", "propertyKey=propertyValue")
        ]
    );
}

#[test]
fn values_may_contain_equals_signs_and_be_empty() {
    let b = Baggage::from_header("token=abc==,empty=");
    assert_eq!(b.get("token"), Some("abc=="));
    assert_eq!(b.get("empty"), Some(""));
}

#[test]
fn malformed_members_are_skipped_one_by_one() {
    let b = Baggage::from_header(
        "good=1,noequals,bad key=2,=empty,quoted=\"x\",semi=a;;b,bs=a\\b,prop=1;bad prop,\u{e9}=1,,last=ok",
    );
    assert_eq!(entries(&b), [("good", "1", ""), ("last", "ok", "")]);
    assert!(Baggage::from_header("").is_empty());
    assert!(Baggage::from_header(" , ,").is_empty());
}

#[test]
fn values_are_percent_decoded_and_invalid_utf8_replaced() {
    let b = Baggage::from_header("a=%C3%A9t%C3%A9,b=100%25,c=%zz,d=%,e=%FF,f=%e2%82%ac");
    assert_eq!(b.get("a"), Some("été"));
    assert_eq!(b.get("b"), Some("100%"));
    assert_eq!(b.get("c"), Some("%zz"));
    assert_eq!(b.get("d"), Some("%"));
    assert_eq!(b.get("e"), Some("\u{fffd}"));
    assert_eq!(b.get("f"), Some("€"));
}

#[test]
fn values_are_percent_encoded_and_properties_kept() {
    let b: Baggage = [
        BaggageItem::new("user", "Ada Lovelace; \"the first\", 100%\\é"),
        BaggageItem::new("tenant", "acme").with_metadata(" ttl = 60 ;sensitive"),
    ]
    .into_iter()
    .collect();
    let header = b.header();
    assert_eq!(
        header,
        "user=Ada%20Lovelace%3B%20%22the%20first%22%2C%20100%25%5C%C3%A9,tenant=acme;ttl=60;sensitive"
    );
    let back = Baggage::from_header(&header);
    assert_eq!(back.get("user"), b.get("user"));
    assert_eq!(back.item("tenant").unwrap().metadata(), "ttl=60;sensitive");
}

#[test]
fn entries_that_cannot_be_written_are_left_out() {
    let b: Baggage = [
        BaggageItem::new("not a token", "x"),
        BaggageItem::new("", "x"),
        BaggageItem::new("meta", "x").with_metadata("a;;b"),
        BaggageItem::new("ok", "x"),
    ]
    .into_iter()
    .collect();
    assert_eq!(b.len(), 4, "kept in-process");
    assert_eq!(b.header(), "ok=x");
}

#[test]
fn keys_are_unique_and_keep_their_first_position() {
    let mut b = Baggage::from_header("a=1,b=2,a=3");
    assert_eq!(entries(&b), [("a", "3", ""), ("b", "2", "")]);
    assert_eq!(b.insert(BaggageItem::new("b", "4")).unwrap().value(), "2");
    assert_eq!(b.remove("a").unwrap().value(), "3");
    assert_eq!(b.remove("a"), None);
    assert_eq!(entries(&b), [("b", "4", "")]);
}

#[test]
fn inject_never_sends_a_partial_member() {
    let mut b = Baggage::new();
    b.insert(BaggageItem::new("small", "1"));
    b.insert(BaggageItem::new("huge", "x".repeat(MAX_BAGGAGE_BYTES)));
    b.insert(BaggageItem::new("after", "2"));
    assert_eq!(b.header(), "small=1,after=2");

    // Encoding counts: 3000 spaces are 9000 bytes on the wire.
    let b: Baggage = [BaggageItem::new("spaces", " ".repeat(3000))]
        .into_iter()
        .collect();
    assert_eq!(b.header(), "");

    // Exactly at the limit is fine.
    let value = "v".repeat(MAX_BAGGAGE_BYTES - 2);
    let b: Baggage = [BaggageItem::new("k", value.as_str())]
        .into_iter()
        .collect();
    assert_eq!(b.header().len(), MAX_BAGGAGE_BYTES);
}

#[test]
fn inject_sends_at_most_the_member_limit_and_at_least_64() {
    let b: Baggage = (0..200)
        .map(|i| BaggageItem::new(format!("k{i}"), "v"))
        .collect();
    let header = b.header();
    assert_eq!(header.split(',').count(), MAX_BAGGAGE_MEMBERS);
    assert_eq!(Baggage::from_header(&header).len(), MAX_BAGGAGE_MEMBERS);
}

#[test]
fn extract_reads_up_to_the_limits() {
    let many: Vec<String> = (0..200).map(|i| format!("k{i}=v")).collect();
    let b = Baggage::from_header(&many.join(","));
    assert_eq!(b.len(), MAX_BAGGAGE_MEMBERS);
    assert_eq!(b.iter().next().unwrap().key(), "k0");

    let header = format!("a=1,big={},b=2", "x".repeat(MAX_BAGGAGE_BYTES));
    assert_eq!(
        entries(&Baggage::from_header(&header)),
        [("a", "1", ""), ("b", "2", "")]
    );
}

#[test]
fn the_propagator_combines_repeated_headers_in_order() {
    let mut headers = HeaderMap::new();
    headers.append("baggage", HeaderValue::from_static("userId=alice"));
    headers.append(
        "baggage",
        HeaderValue::from_static("serverNode=DF%2028, isProduction=false"),
    );
    let cx = BaggagePropagator::new().extract_with_context(&Context::new(), &headers);
    let b = Baggage::in_context(&cx).unwrap();
    assert_eq!(
        b.iter().map(BaggageItem::key).collect::<Vec<_>>(),
        ["userId", "serverNode", "isProduction"]
    );
    assert_eq!(get_baggage(&cx, "serverNode"), Some("DF 28"));
}

#[test]
fn the_propagator_round_trips_and_leaves_contexts_without_baggage_alone() {
    let p = BaggagePropagator::new();
    let mut carrier = HashMap::new();
    p.inject_context(&Context::new(), &mut carrier);
    assert!(carrier.is_empty());
    let cx = with_baggage(&Context::new(), [BaggageItem::new("user-id", "12345")]);
    let cx = with_baggage(&cx, [BaggageItem::new("tenant-id", "acme corp")]);
    p.inject_context(&cx, &mut carrier);
    assert_eq!(carrier["baggage"], "user-id=12345,tenant-id=acme%20corp");

    let existing = with_baggage(&Context::new(), [BaggageItem::new("local", "1")]);
    let out = p.extract_with_context(&existing, &carrier);
    assert_eq!(
        Baggage::in_context(&out),
        Baggage::in_context(&cx),
        "replaced"
    );
    let out = p.extract_with_context(&existing, &HashMap::<String, String>::new());
    assert_eq!(get_baggage(&out, "local"), Some("1"), "unchanged");
    let garbage: HashMap<String, String> = [("baggage".to_string(), ",,;".to_string())].into();
    let out = p.extract_with_context(&existing, &garbage);
    assert_eq!(get_baggage(&out, "local"), Some("1"), "unchanged");
}

#[test]
fn current_baggage_follows_the_attached_context() {
    assert!(Baggage::current().is_empty());
    let cx = with_baggage(&Context::current(), [BaggageItem::new("k", "v")]);
    let _guard = cx.attach();
    assert_eq!(Baggage::current().get("k"), Some("v"));
}

fn items() -> impl Strategy<Value = Vec<BaggageItem>> {
    let key = "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}";
    let metadata = "([a-z]{1,4}(=[a-z0-9%]{0,4})?(;[a-z]{1,4}(=[a-z0-9]{0,3})?){0,2})?";
    proptest::collection::vec((key, "\\PC{0,16}", metadata), 0..12).prop_map(|items| {
        items
            .into_iter()
            .map(|(k, v, m)| BaggageItem::new(k, v).with_metadata(m))
            .collect()
    })
}

fn mutated_header() -> impl Strategy<Value = String> {
    (items(), any::<prop::sample::Index>(), any::<char>(), 0..3u8).prop_map(
        |(items, at, c, how)| {
            let mut header = items.into_iter().collect::<Baggage>().header();
            if header.is_empty() {
                return c.to_string();
            }
            let at = at.index(header.len());
            if header.is_char_boundary(at) {
                match how {
                    0 => header.insert(at, c),
                    1 => {
                        header.remove(at);
                    }
                    _ => header.truncate(at),
                }
            }
            header
        },
    )
}

fn assert_writable(b: &Baggage) -> Result<(), TestCaseError> {
    prop_assert!(b.len() <= MAX_BAGGAGE_MEMBERS);
    for item in b {
        prop_assert!(is_token(item.key()));
    }
    // Whatever was read is written back whole.
    prop_assert_eq!(Baggage::from_header(&b.header()), b.clone());
    Ok(())
}

proptest! {
    #[test]
    fn random_headers_never_panic(header in "\\PC{0,100}") {
        assert_writable(&Baggage::from_header(&header))?;
    }

    #[test]
    fn mutated_headers_never_panic(header in mutated_header()) {
        assert_writable(&Baggage::from_header(&header))?;
    }

    #[test]
    fn inject_then_extract_round_trips(items in items()) {
        let baggage: Baggage = items.into_iter().collect();
        let p = BaggagePropagator::new();
        let mut carrier = HashMap::new();
        p.inject_context(&Context::new().with_value(baggage.clone()), &mut carrier);
        let out = p.extract_with_context(&Context::new(), &carrier);
        let expected = (!baggage.is_empty()).then_some(&baggage);
        prop_assert_eq!(Baggage::in_context(&out), expected);
    }
}
