//! Tests for the exponential histogram: mapping, downscaling, merge, delta, quantiles.

use super::*;
use proptest::prelude::*;

fn lb(scale: i8, index: i64) -> f64 {
    ExpoSnapshot::lower_boundary(scale, index as i32)
}

fn next_up(x: f64) -> f64 {
    f64::from_bits(x.to_bits() + 1) // x positive and finite here
}

/// Deterministic uniform [0, 1) generator (xorshift), so tests need no dependency.
fn rng(mut s: u64) -> impl FnMut() -> f64 {
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn state_of(values: &[f64], max_size: usize, max_scale: i8) -> ExpoHistogramState {
    let mut st = ExpoHistogramState::new(max_size, max_scale);
    values.iter().for_each(|&v| {
        st.record(v);
    });
    st
}

fn bucket_sum(s: &ExpoSnapshot) -> u64 {
    s.zero_count + s.positive.total() + s.negative.total()
}

#[test]
fn known_indices() {
    for (v, want) in [
        (1.0, -1),
        (2.0, 0),
        (3.0, 1),
        (4.0, 1),
        (0.5, -2),
        (1.5, 0),
        (4.5, 2),
    ] {
        assert_eq!(map_to_index(v, 0), want, "scale 0, v={v}");
    }
    // Scale 1: base sqrt(2).
    for (v, want) in [(1.4, 0), (1.5, 1), (2.0, 1), (2.8, 2), (2.9, 3), (4.0, 3)] {
        assert_eq!(map_to_index(v, 1), want, "scale 1, v={v}");
    }
    // Scale -1: base 4, bucket 0 is (1, 4].
    for (v, want) in [
        (1.0, -1),
        (2.0, 0),
        (4.0, 0),
        (5.0, 1),
        (16.0, 1),
        (0.25, -2),
    ] {
        assert_eq!(map_to_index(v, -1), want, "scale -1, v={v}");
    }
    // The extremes of the normal range fit i32 at scale 20 and two buckets at -10.
    assert_eq!(map_to_index(f64::MAX, 20), (1 << 30) - 1);
    assert_eq!(map_to_index(f64::MIN_POSITIVE, 20), (-1022 << 20) - 1);
    assert_eq!(map_to_index(f64::MAX, -10), 0);
    assert_eq!(map_to_index(f64::MIN_POSITIVE, -10), -1);
    assert_eq!(lb(0, 1), 2.0);
    assert_eq!(lb(-1, 1), 4.0);
    assert!((lb(1, 1) - 2f64.sqrt()).abs() < 1e-15);
    assert!((lb(3, 3) - 2f64.powf(3.0 / 8.0)).abs() < 1e-15);
}

#[test]
fn exact_powers_of_two_at_every_scale() {
    for scale in MIN_SCALE..=MAX_SCALE {
        for e in -1022i64..=1023 {
            let v = ldexp(1.0, e);
            let idx = i64::from(map_to_index(v, scale));
            let want = if scale > 0 {
                (e << scale) - 1
            } else {
                (e - 1) >> -scale
            };
            assert_eq!(idx, want, "scale {scale}, 2^{e}");
            assert!(
                lb(scale, idx) < v && v <= lb(scale, idx + 1),
                "scale {scale}, 2^{e}"
            );
        }
    }
}

#[test]
fn subnormals_round_up_to_min_normal() {
    for scale in MIN_SCALE..=MAX_SCALE {
        let want = map_to_index(f64::MIN_POSITIVE, scale);
        for v in [5e-324, 1e-310, f64::MIN_POSITIVE / 2.0] {
            assert_eq!(map_to_index(v, scale), want);
        }
    }
    let st = state_of(&[5e-324, -5e-324, 1e300], 2, MAX_SCALE);
    assert_eq!(st.snapshot().count, 3);
    assert_eq!(st.snapshot().scale, MIN_SCALE);
}

#[test]
fn downscales_when_range_grows() {
    let s = state_of(&[1.0, 1e9], DEFAULT_MAX_SIZE, MAX_SCALE).snapshot();
    // log2(1e9) ~ 29.9: scale 2 needs 121 buckets, scale 3 would need 241.
    assert_eq!(s.scale, 2);
    assert_eq!((s.count, s.positive.total()), (2, 2));
    assert_eq!(s.positive.offset, -1);
    assert_eq!(s.positive.counts.len(), 121);
    assert_eq!(s.positive.counts[120], 1);
}

#[test]
fn negatives_zeros_and_non_finite() {
    let mut st = ExpoHistogramState::new(DEFAULT_MAX_SIZE, 0);
    for v in [-1.0, -3.0, 0.0, -0.0, 2.0] {
        assert!(st.record(v));
    }
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(!st.record(v));
    }
    let s = st.snapshot();
    assert_eq!((s.scale, s.count, s.zero_count, s.sum), (0, 5, 2, -2.0));
    assert_eq!(
        s.negative,
        ExpoBuckets {
            offset: -1,
            counts: vec![1, 0, 1]
        }
    );
    assert_eq!(
        s.positive,
        ExpoBuckets {
            offset: 0,
            counts: vec![1]
        }
    );
    assert_eq!((s.min, s.max), (Some(-3.0), Some(2.0)));
    st.reset();
    assert_eq!(st.snapshot(), ExpoSnapshot::empty(0));
    assert!(!ExpoHistogramState::default().record(f64::NAN));
    assert_eq!(
        ExpoHistogramState::default().snapshot(),
        ExpoSnapshot::empty(20)
    );
}

#[test]
fn merge_at_different_scales_equals_single_state() {
    let mut next = rng(7);
    let a: Vec<f64> = (0..500)
        .map(|i| (1.0 + 9.0 * next()) * if i % 5 == 0 { -1.0 } else { 1.0 })
        .collect();
    let b: Vec<f64> = (0..500)
        .map(|i| if i % 50 == 0 { 0.0 } else { 1e3 + 1e6 * next() })
        .collect();
    let (sa, sb) = (
        state_of(&a, 20, 20).snapshot(),
        state_of(&b, 20, 20).snapshot(),
    );
    assert!(sa.scale > sb.scale);
    let all: Vec<f64> = a.iter().chain(&b).copied().collect();
    let want = state_of(&all, 20, 20).snapshot();
    for (x, y) in [(&sa, &sb), (&sb, &sa)] {
        let mut m = x.clone();
        m.merge(y, 20);
        assert!((m.sum - want.sum).abs() <= 1e-9 * want.sum.abs());
        m.sum = want.sum;
        assert_eq!(m, want);
    }
    // Empty snapshots are neutral, whatever their scale.
    let mut m = ExpoSnapshot::empty(-10);
    m.merge(&sa, 20);
    m.merge(&ExpoSnapshot::empty(-5), 20);
    assert_eq!(m, sa);
}

#[test]
fn delta_since_subtracts_at_the_later_scale() {
    let mut st = ExpoHistogramState::new(40, 20);
    let first = [1.0, 1.5, -2.0, 0.0];
    let second = [1.2, 700.0, -3.0, 0.0, 0.0];
    first.iter().for_each(|&v| assert!(st.record(v)));
    let prev = st.snapshot();
    second.iter().for_each(|&v| assert!(st.record(v)));
    let cur = st.snapshot();
    assert!(cur.scale < prev.scale);
    let d = cur.delta_since(&prev);
    let want = state_of(&second, 40, cur.scale).snapshot();
    assert_eq!((d.scale, d.count, d.zero_count), (want.scale, 5, 2));
    assert_eq!((&d.positive, &d.negative), (&want.positive, &want.negative));
    assert!((d.sum - want.sum).abs() < 1e-9);
    assert_eq!((d.min, d.max), (None, None));
    // Nothing new: an empty delta, even if the series was reset in between.
    assert_eq!(cur.delta_since(&cur).count, 0);
    assert_eq!(bucket_sum(&ExpoSnapshot::empty(0).delta_since(&cur)), 0);
}

fn check_quantiles(values: &mut [f64]) {
    let s = state_of(values, 320, MAX_SCALE).snapshot();
    values.sort_by(f64::total_cmp);
    for q in [0.5, 0.9, 0.99] {
        let exact = values[(q * (values.len() - 1) as f64).round() as usize];
        let est = s.quantile(q).unwrap();
        assert!(
            (est - exact).abs() <= 0.01 * exact,
            "q={q} est={est} exact={exact}"
        );
    }
}

#[test]
fn quantile_relative_error_under_one_percent() {
    let mut next = rng(42);
    check_quantiles(&mut (0..20_000).map(|_| 1.0 + 99.0 * next()).collect::<Vec<_>>());
    check_quantiles(&mut (0..20_000).map(|_| 100f64.powf(next())).collect::<Vec<_>>());
}

#[test]
fn quantile_edges() {
    let empty = ExpoSnapshot::empty(0);
    assert_eq!(empty.quantile(0.5), None);
    let s = state_of(&[-8.0, -1.0, 0.0, 3.0, 100.0], DEFAULT_MAX_SIZE, 3).snapshot();
    for q in [f64::NAN, -0.1, 1.1, f64::INFINITY] {
        assert_eq!(s.quantile(q), None);
    }
    assert_eq!(
        (s.quantile(0.0), s.quantile(1.0)),
        (Some(-8.0), Some(100.0))
    );
    assert_eq!(s.quantile(0.5), Some(0.0));
    let (p25, p75) = (s.quantile(0.25).unwrap(), s.quantile(0.75).unwrap());
    assert!(
        (-1.1..=-0.9).contains(&p25) && (2.8..=3.2).contains(&p75),
        "{p25} {p75}"
    );
    // Clamped to [min, max]; a one-value histogram answers that value.
    assert_eq!(state_of(&[5.0], 160, 0).snapshot().quantile(0.5), Some(5.0));
    // Deltas have no min/max but still give in-bucket estimates.
    let d = s.delta_since(&ExpoSnapshot::empty(3));
    let p100 = d.quantile(1.0).unwrap();
    assert!(lb(3, 53) < p100 && p100 <= lb(3, 54), "{p100}");
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        proptest::num::f64::ANY,
        proptest::num::f64::SUBNORMAL | proptest::num::f64::POSITIVE | proptest::num::f64::NEGATIVE,
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::MAX)
        ],
    ]
}

proptest! {
    #[test]
    fn never_panics_and_counts_add_up(
        values in proptest::collection::vec(any_f64(), 0..60),
        max_size in 0usize..12,
        scale in any::<i8>(),
    ) {
        let mut st = ExpoHistogramState::new(max_size, scale);
        let finite = values.iter().filter(|&&v| st.record(v)).count() as u64;
        let s = st.snapshot();
        prop_assert_eq!(s.count, finite);
        prop_assert_eq!(bucket_sum(&s), s.count);
        let size = max_size.max(2);
        prop_assert!(s.positive.counts.len() <= size && s.negative.counts.len() <= size);
        for q in [0.0, 0.3, 1.0] {
            prop_assert_eq!(s.quantile(q).is_some(), finite > 0);
        }
    }

    #[test]
    fn value_lies_in_its_bucket(v in any_f64(), scale in MIN_SCALE..=MAX_SCALE) {
        let mut st = ExpoHistogramState::new(DEFAULT_MAX_SIZE, scale);
        if st.record(v) && v != 0.0 {
            let s = st.snapshot();
            let b = if v > 0.0 { &s.positive } else { &s.negative };
            prop_assert_eq!(b.counts.as_slice(), &[1u64][..]);
            let (idx, m) = (i64::from(b.offset), v.abs());
            prop_assert!(m <= lb(scale, idx + 1));
            // Subnormals are rounded up to the smallest normal (allowed by the spec).
            prop_assert!(lb(scale, idx) < m.max(f64::MIN_POSITIVE));
        }
    }

    #[test]
    fn boundaries_are_upper_inclusive(scale in 1i8..=MAX_SCALE, x in -1022.0f64..1023.0) {
        let idx = (x * f64::from(1u32 << scale)) as i64;
        let b = lb(scale, idx);
        prop_assert_eq!(i64::from(map_to_index(b, scale)), idx - 1);
        prop_assert_eq!(i64::from(map_to_index(next_up(b), scale)), idx);
    }

    #[test]
    fn merge_equals_single_state(
        a in proptest::collection::vec(-1e12f64..1e12, 0..40),
        b in proptest::collection::vec(prop_oneof![Just(0.0), 1e-9f64..1e-3, 1e3f64..1e15], 0..40),
        max_size in 2usize..30,
    ) {
        let mut m = state_of(&a, max_size, MAX_SCALE).snapshot();
        m.merge(&state_of(&b, max_size, MAX_SCALE).snapshot(), max_size);
        let all: Vec<f64> = a.iter().chain(&b).copied().collect();
        let want = state_of(&all, max_size, MAX_SCALE).snapshot();
        prop_assert!((m.sum - want.sum).abs() <= 1e-6 * (1.0 + all.iter().map(|v| v.abs()).sum::<f64>()));
        m.sum = want.sum;
        prop_assert_eq!(m, want);
    }
}
