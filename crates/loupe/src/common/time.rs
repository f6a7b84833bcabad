//! UTC calendar arithmetic for timestamps in logs, index names and JSON bodies, without a
//! date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC calendar time, to the nanosecond.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanos: u32,
}

impl Utc {
    /// The calendar time of `t` (times before 1970 clamp to the epoch).
    pub fn of(t: SystemTime) -> Utc {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        let (days, rem) = (secs / 86_400, (secs % 86_400) as u32);
        let (year, month, day) = civil_from_days(days as i64);
        Utc {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
            nanos: since.subsec_nanos(),
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, always with milliseconds: the shape of log timestamps.
    pub fn write_millis(&self, out: &mut Vec<u8>) {
        let mut buf = *b"0000-00-00T00:00:00.000Z";
        let put = |buf: &mut [u8; 24], at: usize, width: usize, mut v: u64| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(&mut buf, 0, 4, self.year.clamp(0, 9999) as u64);
        put(&mut buf, 5, 2, u64::from(self.month));
        put(&mut buf, 8, 2, u64::from(self.day));
        put(&mut buf, 11, 2, u64::from(self.hour));
        put(&mut buf, 14, 2, u64::from(self.minute));
        put(&mut buf, 17, 2, u64::from(self.second));
        put(&mut buf, 20, 3, u64::from(self.nanos / 1_000_000));
        out.extend_from_slice(&buf);
    }

    /// Expands the strftime conversions an index or file pattern uses — `%Y`, `%m`, `%d`,
    /// `%H`, `%M`, `%S` and `%%` — leaving any other text as it is.
    #[cfg_attr(not(feature = "http-export"), allow(dead_code))]
    pub fn format(&self, pattern: &str) -> String {
        let mut out = String::with_capacity(pattern.len() + 8);
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('Y') => out.push_str(&format!("{:04}", self.year)),
                Some('m') => out.push_str(&format!("{:02}", self.month)),
                Some('d') => out.push_str(&format!("{:02}", self.day)),
                Some('H') => out.push_str(&format!("{:02}", self.hour)),
                Some('M') => out.push_str(&format!("{:02}", self.minute)),
                Some('S') => out.push_str(&format!("{:02}", self.second)),
                Some('%') => out.push('%'),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        out
    }
}

/// RFC 3339 in UTC with as many fractional digits as needed (0, 3, 6 or 9), the way the
/// seed's `chrono::DateTime<Utc>` serializes: `2025-01-31T12:00:00.250Z`.
#[cfg_attr(not(feature = "http-export"), allow(dead_code))]
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let u = Utc::of(t);
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        u.year, u.month, u.day, u.hour, u.minute, u.second
    );
    let nanos = u.nanos;
    if nanos != 0 {
        if nanos % 1_000_000 == 0 {
            text.push_str(&format!(".{:03}", nanos / 1_000_000));
        } else if nanos % 1_000 == 0 {
            text.push_str(&format!(".{:06}", nanos / 1_000));
        } else {
            text.push_str(&format!(".{nanos:09}"));
        }
    }
    text.push('Z');
    text
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn timestamps_are_rfc3339_utc_like_chrono() {
        let r = |secs, nanos| rfc3339(at(secs, nanos));
        assert_eq!(r(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(r(951_782_400, 0), "2000-02-29T00:00:00Z");
        assert_eq!(r(1_738_324_800, 250_000_000), "2025-01-31T12:00:00.250Z");
        assert_eq!(r(1_738_324_800, 1_000), "2025-01-31T12:00:00.000001Z");
        assert_eq!(r(1_738_324_800, 7), "2025-01-31T12:00:00.000000007Z");
        assert_eq!(r(4_102_444_799, 0), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn log_timestamps_always_carry_milliseconds() {
        let mut out = Vec::new();
        Utc::of(at(1_760_178_645, 123_456_789)).write_millis(&mut out);
        assert_eq!(out, b"2025-10-11T10:30:45.123Z");
    }

    #[test]
    fn patterns_expand_date_conversions_only() {
        let u = Utc::of(at(1_738_324_800, 0));
        assert_eq!(u.format("logs-%Y.%m.%d"), "logs-2025.01.31");
        assert_eq!(u.format("a%%b-%H%M%S-%q-%"), "a%b-120000-%q-%");
    }
}
