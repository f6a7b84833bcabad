//! Lowercase hex for ids on the propagation hot path: SSE2 for trace and span ids on
//! x86-64, words and table lookups for the rest; no `format!`, no allocation.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Nibble value of each byte, or `INVALID` for anything but `0-9` and `a-f` (uppercase is
/// rejected: W3C Trace Context and B3 both require lowercase).
const INVALID: u8 = 0xff;
const NIBBLES: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Writes `bytes` as lowercase hex into `out`, which must be twice as long (otherwise
/// nothing is written).
pub(crate) fn encode_into<const N: usize>(bytes: &[u8; N], out: &mut [u8]) {
    if out.len() != 2 * N {
        return;
    }
    // Trace ids and span ids: in vector registers (`N` is a constant, so only one of
    // these branches is left after compilation).
    #[cfg(target_arch = "x86_64")]
    {
        if let (Ok(id), Ok(out)) = (
            <&[u8; 16]>::try_from(&bytes[..]),
            <&mut [u8; 32]>::try_from(&mut *out),
        ) {
            *out = sse2::encode_16(id);
            return;
        }
        if let (Ok(id), Ok(out)) = (
            <&[u8; 8]>::try_from(&bytes[..]),
            <&mut [u8; 16]>::try_from(&mut *out),
        ) {
            *out = sse2::encode_8(id);
            return;
        }
    }
    encode_portable(bytes, out);
}

/// [`encode_into`] on any target (`out.len() == 2 * N`).
fn encode_portable<const N: usize>(bytes: &[u8; N], out: &mut [u8]) {
    // Constant bounds: the loops unroll, and the indexing needs no checks.
    let mut i = 0;
    while i + 4 <= N {
        let word = [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]];
        out[2 * i..2 * i + 8].copy_from_slice(&encode_word(word));
        i += 4;
    }
    while i < N {
        out[2 * i] = DIGITS[(bytes[i] >> 4) as usize];
        out[2 * i + 1] = DIGITS[(bytes[i] & 0x0f) as usize];
        i += 1;
    }
}

/// Decodes exactly `2 * N` lowercase hex characters.
pub(crate) fn decode<const N: usize>(hex: &[u8]) -> Option<[u8; N]> {
    if hex.len() != 2 * N {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let mut out = [0u8; N];
        if let (Ok(chars), Ok(id)) = (
            <&[u8; 32]>::try_from(hex),
            <&mut [u8; 16]>::try_from(&mut out[..]),
        ) {
            *id = sse2::decode_32(chars)?;
            return Some(out);
        }
        if let (Ok(chars), Ok(id)) = (
            <&[u8; 16]>::try_from(hex),
            <&mut [u8; 8]>::try_from(&mut out[..]),
        ) {
            *id = sse2::decode_16(chars)?;
            return Some(out);
        }
    }
    decode_portable(hex)
}

/// [`decode`] on any target (`hex.len() == 2 * N`).
fn decode_portable<const N: usize>(hex: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    // Constant bounds: the loops unroll, and the indexing needs no checks. Every word is
    // decoded, and validity is checked once at the end: one branch per id, not per word.
    let mut invalid = 0;
    let mut i = 0;
    while i + 4 <= N {
        let mut word = [0u8; 8];
        word.copy_from_slice(&hex[2 * i..2 * i + 8]);
        let x = u64::from_le_bytes(word);
        invalid |= not_hex(x);
        out[i..i + 4].copy_from_slice(&decode_valid_word(x));
        i += 4;
    }
    while i < N {
        let (high, low) = (
            NIBBLES[hex[2 * i] as usize],
            NIBBLES[hex[2 * i + 1] as usize],
        );
        // Valid nibbles are below 16; `INVALID` has the high bits set.
        invalid |= u64::from((high | low) & 0xf0);
        out[i] = (high << 4) | low;
        i += 1;
    }
    (invalid == 0).then_some(out)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of each byte of `x` set where that byte is at least `lo`. Every byte of `x`
/// must be below 0x80, so no addition carries into the next byte.
const fn at_least(x: u64, lo: u8) -> u64 {
    x.wrapping_add(ONES * (0x80 - lo as u64)) & HIGH
}

/// Bit 7 of each byte of `x` set where that byte is at most `hi` (bytes below 0x80).
const fn at_most(x: u64, hi: u8) -> u64 {
    !x.wrapping_add(ONES * (0x7f - hi as u64)) & HIGH
}

/// Four bytes to eight lowercase hex characters at once (SWAR).
fn encode_word(bytes: [u8; 4]) -> [u8; 8] {
    // Spread each byte into its own 16 bits, then its two nibbles into two bytes,
    // high nibble first (little-endian: the lower byte comes first in memory).
    let x = u64::from(u32::from_le_bytes(bytes));
    let x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    let x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    let nibbles = ((x >> 4) & 0x000f_000f_000f_000f) | ((x & 0x000f_000f_000f_000f) << 8);
    // '0' + nibble, plus 39 more for a-f ('a' is 39 after '0' + 10). No byte carries.
    let letters = (nibbles.wrapping_add(ONES * 6) & (ONES * 0x10)) >> 4;
    (nibbles + ONES * u64::from(b'0') + letters * 39).to_le_bytes()
}

/// Bit 7 set in each byte of `x` that is not a lowercase hex digit.
fn not_hex(x: u64) -> u64 {
    // Bytes of 0x80 and above are marked by their own high bit; the range checks below
    // assume the rest are below 0x80.
    let digits = at_least(x, b'0') & at_most(x, b'9');
    let letters = at_least(x, b'a') & at_most(x, b'f');
    (x & HIGH) | (!(digits | letters) & HIGH)
}

/// Eight characters already known to be lowercase hex, decoded to four bytes (SWAR).
fn decode_valid_word(x: u64) -> [u8; 4] {
    // '0'..'9' are 0x30..0x39 and 'a'..'f' are 0x61..0x66: the low nibble, plus 9 for
    // letters (bit 6 is set only in letters).
    let nibbles = (x & (ONES * 0x0f)) + ((x >> 6) & ONES) * 9;
    // Pair the nibbles into bytes, then close the gaps (little-endian: memory order is
    // low byte first).
    let pairs = ((nibbles << 4) | (nibbles >> 8)) & 0x00ff_00ff_00ff_00ff;
    let pairs = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
    let packed = (pairs | (pairs >> 16)) & 0xffff_ffff;
    (packed as u32).to_le_bytes()
}

/// Eight lowercase hex characters at once (SWAR): validated and decoded to four bytes.
#[cfg(test)]
fn decode_word(chars: [u8; 8]) -> Option<[u8; 4]> {
    let x = u64::from_le_bytes(chars);
    (not_hex(x) == 0).then(|| decode_valid_word(x))
}

/// Hex for whole ids with SSE2, which every x86-64 processor has: 16 bytes per
/// instruction where the word-at-a-time code above does 4.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use core::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_and_si128, _mm_cmpgt_epi8, _mm_loadl_epi64, _mm_loadu_si128,
        _mm_movemask_epi8, _mm_or_si128, _mm_packus_epi16, _mm_set1_epi16, _mm_set1_epi8,
        _mm_setzero_si128, _mm_slli_epi16, _mm_srli_epi16, _mm_storel_epi64, _mm_storeu_si128,
        _mm_unpackhi_epi8, _mm_unpacklo_epi8,
    };

    // SAFETY (every function here): SSE2 is part of the x86-64 baseline, so the
    // intrinsics are always available; every load and store is an unaligned one of 8 or
    // 16 bytes, within the array it names, whose length the signature fixes.

    /// Each byte split into its two nibbles, high first: 8 bytes in, 16 nibbles out.
    fn nibbles(x: __m128i) -> (__m128i, __m128i) {
        unsafe {
            let low_nibble = _mm_set1_epi8(0x0f);
            let high = _mm_and_si128(_mm_srli_epi16::<4>(x), low_nibble);
            let low = _mm_and_si128(x, low_nibble);
            (_mm_unpacklo_epi8(high, low), _mm_unpackhi_epi8(high, low))
        }
    }

    /// Nibbles (below 16) to lowercase hex digits: '0' + n, and 39 more for a-f.
    fn digits(n: __m128i) -> __m128i {
        unsafe {
            let letter = _mm_cmpgt_epi8(n, _mm_set1_epi8(9));
            let ascii = _mm_add_epi8(n, _mm_set1_epi8(b'0' as i8));
            _mm_add_epi8(ascii, _mm_and_si128(letter, _mm_set1_epi8(39)))
        }
    }

    pub(super) fn encode_16(bytes: &[u8; 16]) -> [u8; 32] {
        let mut out = [0u8; 32];
        unsafe {
            let (first, second) = nibbles(_mm_loadu_si128(bytes.as_ptr().cast()));
            _mm_storeu_si128(out.as_mut_ptr().cast(), digits(first));
            _mm_storeu_si128(out.as_mut_ptr().add(16).cast(), digits(second));
        }
        out
    }

    pub(super) fn encode_8(bytes: &[u8; 8]) -> [u8; 16] {
        let mut out = [0u8; 16];
        unsafe {
            let (first, _) = nibbles(_mm_loadl_epi64(bytes.as_ptr().cast()));
            _mm_storeu_si128(out.as_mut_ptr().cast(), digits(first));
        }
        out
    }

    /// Sixteen characters to their nibbles, and a mask of the ones that are lowercase
    /// hex digits (all ones where valid).
    fn decode_chars(c: __m128i) -> (__m128i, __m128i) {
        unsafe {
            // Signed compares: bytes of 0x80 and above are negative, so neither range
            // takes them.
            let between = |lo: u8, hi: u8| {
                _mm_and_si128(
                    _mm_cmpgt_epi8(c, _mm_set1_epi8(lo as i8 - 1)),
                    _mm_cmpgt_epi8(_mm_set1_epi8(hi as i8 + 1), c),
                )
            };
            let letter = between(b'a', b'f');
            let valid = _mm_or_si128(between(b'0', b'9'), letter);
            // The low four bits, plus 9 for a-f.
            let n = _mm_add_epi8(
                _mm_and_si128(c, _mm_set1_epi8(0x0f)),
                _mm_and_si128(letter, _mm_set1_epi8(9)),
            );
            (n, valid)
        }
    }

    /// Pairs of nibbles (high first) to bytes, one per 16-bit lane.
    fn pair(n: __m128i) -> __m128i {
        unsafe {
            let high = _mm_slli_epi16::<4>(_mm_and_si128(n, _mm_set1_epi16(0x00ff)));
            _mm_or_si128(high, _mm_srli_epi16::<8>(n))
        }
    }

    pub(super) fn decode_32(hex: &[u8; 32]) -> Option<[u8; 16]> {
        let mut out = [0u8; 16];
        unsafe {
            let (first, first_ok) = decode_chars(_mm_loadu_si128(hex.as_ptr().cast()));
            let (second, second_ok) = decode_chars(_mm_loadu_si128(hex.as_ptr().add(16).cast()));
            if _mm_movemask_epi8(_mm_and_si128(first_ok, second_ok)) != 0xffff {
                return None;
            }
            let bytes = _mm_packus_epi16(pair(first), pair(second));
            _mm_storeu_si128(out.as_mut_ptr().cast(), bytes);
        }
        Some(out)
    }

    pub(super) fn decode_16(hex: &[u8; 16]) -> Option<[u8; 8]> {
        let mut out = [0u8; 8];
        unsafe {
            let (chars, ok) = decode_chars(_mm_loadu_si128(hex.as_ptr().cast()));
            if _mm_movemask_epi8(ok) != 0xffff {
                return None;
            }
            let bytes = _mm_packus_epi16(pair(chars), _mm_setzero_si128());
            _mm_storel_epi64(out.as_mut_ptr().cast(), bytes);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_lowercase_and_rejects_the_rest() {
        assert_eq!(decode::<2>(b"00ff"), Some([0x00, 0xff]));
        assert_eq!(decode::<2>(b"a1b2"), Some([0xa1, 0xb2]));
        assert_eq!(decode::<2>(b"00FF"), None);
        assert_eq!(decode::<2>(b"00fg"), None);
        assert_eq!(decode::<2>(b"00f"), None);
        assert_eq!(decode::<1>(b"-1"), None);
    }

    #[test]
    fn words_encode_every_nibble() {
        assert_eq!(&encode_word([0x01, 0x23, 0x45, 0x67]), b"01234567");
        assert_eq!(&encode_word([0x89, 0xab, 0xcd, 0xef]), b"89abcdef");
        let mut out = [0u8; 10];
        encode_into(&[0x00, 0xff, 0x10, 0x9a, 0xa9], &mut out);
        assert_eq!(&out, b"00ff109aa9");
        let mut wrong_length = [b'x'; 9];
        encode_into(&[0x00, 0xff, 0x10, 0x9a, 0xa9], &mut wrong_length);
        assert_eq!(&wrong_length, b"xxxxxxxxx");
    }

    #[test]
    fn words_decode_every_lowercase_digit_and_reject_neighbours() {
        assert_eq!(decode_word(*b"0123abcd"), Some([0x01, 0x23, 0xab, 0xcd]));
        assert_eq!(decode_word(*b"456789ef"), Some([0x45, 0x67, 0x89, 0xef]));
        for bad in [b'/', b':', b'`', b'g', b'A', b'F', 0x80, 0xff, 0] {
            let mut word = *b"00000000";
            word[5] = bad;
            assert_eq!(decode_word(word), None, "{bad:#x}");
        }
    }

    /// Every character that is not lowercase hex, at every place of a trace id and a span
    /// id (the vector path), is rejected; every place still decodes when it is valid.
    #[test]
    fn whole_ids_reject_a_bad_character_anywhere() {
        let near_misses = [
            b'/', b':', b'`', b'g', b'A', b'F', b'-', b' ', 0x7f, 0x80, 0xb0, 0xe6, 0xff, 0,
        ];
        let trace = *b"0123456789abcdef0123456789abcdef";
        let span = *b"fedcba9876543210";
        for at in 0..32 {
            for bad in near_misses {
                let mut hex = trace;
                hex[at] = bad;
                assert_eq!(decode::<16>(&hex), None, "{bad:#x} at {at}");
                if at < 16 {
                    let mut hex = span;
                    hex[at] = bad;
                    assert_eq!(decode::<8>(&hex), None, "{bad:#x} at {at}");
                }
            }
        }
        assert_eq!(
            decode::<16>(&trace),
            Some(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef_u128.to_be_bytes())
        );
        assert_eq!(
            decode::<8>(&span),
            Some(0xfedc_ba98_7654_3210_u64.to_be_bytes())
        );
    }

    proptest! {
        /// The portable code, which x86-64 no longer takes for whole ids, gives the
        /// same answers as the vector code.
        #[test]
        fn portable_code_agrees(bytes in any::<[u8; 16]>(), s in "[0-9a-gA/:]{32}") {
            let (mut fast, mut portable) = ([0u8; 32], [0u8; 32]);
            encode_into(&bytes, &mut fast);
            encode_portable(&bytes, &mut portable);
            prop_assert_eq!(fast, portable);
            let span: [u8; 8] = bytes[..8].try_into().unwrap();
            let (mut fast, mut portable) = ([0u8; 16], [0u8; 16]);
            encode_into(&span, &mut fast);
            encode_portable(&span, &mut portable);
            prop_assert_eq!(fast, portable);
            let s = s.as_bytes();
            prop_assert_eq!(decode::<16>(s), decode_portable::<16>(s));
            prop_assert_eq!(decode::<8>(&s[..16]), decode_portable::<8>(&s[..16]));
        }

        #[test]
        fn span_ids_round_trip(bytes in any::<[u8; 8]>()) {
            let mut out = [0u8; 16];
            encode_into(&bytes, &mut out);
            prop_assert_eq!(std::str::from_utf8(&out).unwrap(), format!("{:016x}", u64::from_be_bytes(bytes)));
            prop_assert_eq!(decode::<8>(&out), Some(bytes));
        }

        #[test]
        fn span_ids_agree_with_a_plain_parser(s in "[0-9a-f]{0,15}[0-9a-gA\u{e9}]{0,2}[0-9a-f]{0,15}") {
            let plain = (s.len() == 16 && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)))
                .then(|| u64::from_str_radix(&s, 16).unwrap().to_be_bytes());
            prop_assert_eq!(decode::<8>(s.as_bytes()), plain);
        }

        #[test]
        fn round_trips(bytes in any::<[u8; 16]>()) {
            let mut out = [0u8; 32];
            encode_into(&bytes, &mut out);
            prop_assert_eq!(std::str::from_utf8(&out).unwrap(), TraceIdHex(bytes).to_string());
            prop_assert_eq!(decode::<16>(&out), Some(bytes));
        }

        #[test]
        fn words_agree_with_a_plain_parser(hexish in "[0-9a-gA-G/:`]{8}") {
            let hexish: [u8; 8] = hexish.as_bytes().try_into().unwrap();
            let plain = (hexish.iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)))
                .then(|| u32::from_str_radix(std::str::from_utf8(&hexish).unwrap(), 16).unwrap().to_be_bytes());
            prop_assert_eq!(decode_word(hexish), plain);
        }

        #[test]
        fn long_ids_agree_with_a_plain_parser(s in "[0-9a-f]{0,31}[0-9a-gA]{0,2}[0-9a-f]{0,31}") {
            let plain = (s.len() == 32 && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)))
                .then(|| u128::from_str_radix(&s, 16).unwrap().to_be_bytes());
            prop_assert_eq!(decode::<16>(s.as_bytes()), plain);
        }

        #[test]
        fn decode_agrees_with_a_plain_parser(s in "[0-9a-fA-F\\-g ]{4}") {
            let plain = (s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)))
                .then(|| u16::from_str_radix(&s, 16).unwrap().to_be_bytes());
            prop_assert_eq!(decode::<2>(s.as_bytes()), plain);
        }
    }

    struct TraceIdHex([u8; 16]);

    impl std::fmt::Display for TraceIdHex {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
        }
    }
}
