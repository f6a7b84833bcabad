//! Byte-level text checks shared by the text formats (JSON log lines, Prometheus).

/// True when some byte of `bytes` is a control character, `"` or `\\`: what JSON strings
/// and Prometheus label values escape (a superset for the latter, which escapes only
/// `\n` among the controls). Eight bytes at a time: field names, label values and the
/// like are too short for the vectorised loop a byte-wise fold compiles to.
#[inline]
pub(crate) fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Bit 7 of some byte is set exactly when some byte of `x` is below `n` (n <= 0x80),
    // or equals `c`: the classic zero-byte tests, exact as a yes/no answer.
    fn flags(x: u64) -> u64 {
        let below_space = x.wrapping_sub(ONES * 0x20) & !x;
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        (below_space
            | (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash))
            & HIGH
    }
    let word = |at: usize| -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let n = bytes.len();
    if n >= 8 {
        let mut acc = 0;
        let mut at = 0;
        while at + 8 <= n {
            acc |= flags(word(at));
            at += 8;
        }
        // The last, partial word: the final eight bytes, overlapping what was checked.
        acc |= flags(word(n - 8));
        return acc != 0;
    }
    if n >= 4 {
        // Two overlapping four-byte halves make one word.
        let half = |at: usize| -> u64 {
            let mut w = [0u8; 4];
            w.copy_from_slice(&bytes[at..at + 4]);
            u64::from(u32::from_le_bytes(w))
        };
        return flags(half(0) | (half(n - 4) << 32)) != 0;
    }
    bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// The word-at-a-time answer is the byte-by-byte one, for every length (the
        /// strings mix what must be escaped with what must not, around every boundary).
        #[test]
        fn needs_escape_agrees_with_a_bytewise_check(s in proptest::prop_oneof![
            "[\\x00-\\x21\"\\\\\\x5b-\\x5d\\x7e-\\u{a0}é]{0,40}",
            "[ -~é]{0,40}",
        ]) {
            let bytewise = s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
            proptest::prop_assert_eq!(super::needs_escape(s.as_bytes()), bytewise);
        }
    }
}
