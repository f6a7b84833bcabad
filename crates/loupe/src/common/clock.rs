//! The wall clock for timestamps on the recording path: span start and end, events, log
//! records.
//!
//! `SystemTime::now` costs 40–45 ns on a virtual machine (a vDSO call that reads the
//! time-stamp counter and scales it); a span pays it twice. Where the kernel itself keeps
//! time with the time-stamp counter (so it is invariant and synchronised across CPUs),
//! [`now`] reads the counter directly (about 11 ns) and scales it from an anchor: a pair
//! (counter, wall time) each thread takes from the system clock at most every
//! [`REANCHOR`]. The scale is calibrated against the monotonic clock over the life of
//! the process, so it gets more exact as the process runs and ignores steps of the wall
//! clock; the anchors follow the wall clock, steps and slewing included, within
//! `REANCHOR`. Elsewhere, and until the first calibration (the first
//! [`CALIBRATION_MIN`] of the process), [`now`] is `SystemTime::now`.
//!
//! Nothing blocks and nothing spins: calibration uses the clock readings recording makes
//! anyway.

use std::time::SystemTime;

/// How long a thread's anchor is used before it is taken again from the system clock:
/// bounds how far the interpolated time can drift from an NTP-slewed wall clock
/// (at the kernel's maximum slew of 500 ppm, 50 µs).
pub(crate) const REANCHOR: std::time::Duration = std::time::Duration::from_millis(100);

/// The shortest time over which the counter's rate is measured before it is trusted.
pub(crate) const CALIBRATION_MIN: std::time::Duration = std::time::Duration::from_millis(50);

/// The current wall-clock time.
#[inline]
pub(crate) fn now() -> SystemTime {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    if let Some(t) = tsc::now() {
        return t;
    }
    SystemTime::now()
}

/// Counter ticks to nanoseconds in 32.32 fixed point: `ticks * rate >> 32`, in 128 bits so
/// no span of ticks can overflow.
#[inline]
fn scale(ticks: u64, rate: u64) -> u64 {
    ((u128::from(ticks) * u128::from(rate)) >> 32) as u64
}

/// The 32.32 fixed-point nanoseconds per tick of `ticks` ticks taking `nanos` ns; `None`
/// for a rate no real counter has (below 100 MHz or above 20 GHz).
fn rate_of(ticks: u64, nanos: u64) -> Option<u64> {
    if ticks == 0 {
        return None;
    }
    let rate = (u128::from(nanos) << 32) / u128::from(ticks);
    // 20 GHz is 0.05 ns per tick; 100 MHz is 10 ns per tick.
    let (min, max) = ((1u128 << 32) / 20, 10u128 << 32);
    (min..=max)
        .contains(&rate)
        .then(|| u64::try_from(rate).ok())
        .flatten()
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod tsc {
    use super::{rate_of, scale, CALIBRATION_MIN, REANCHOR};
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    /// Whether the counter may be used: unknown until checked once.
    static USABLE: AtomicU8 = AtomicU8::new(UNKNOWN);
    const UNKNOWN: u8 = 0;
    const YES: u8 = 1;
    const NO: u8 = 2;

    /// Nanoseconds per tick, 32.32 fixed point; 0 until calibrated.
    static RATE: AtomicU64 = AtomicU64::new(0);
    /// The first reading of the process: (counter, monotonic clock), the calibration base.
    static BASE: OnceLock<(u64, Instant)> = OnceLock::new();

    /// A thread's anchor: (counter, Unix nanoseconds, the rate it was taken with).
    #[derive(Clone, Copy)]
    struct Anchor {
        ticks: u64,
        unix_nanos: u64,
        rate: u64,
        /// `REANCHOR` in ticks at `rate`.
        valid_for: u64,
    }

    thread_local! {
        static ANCHOR: Cell<Anchor> = const {
            Cell::new(Anchor { ticks: 0, unix_nanos: 0, rate: 0, valid_for: 0 })
        };
    }

    #[inline]
    fn ticks() -> u64 {
        // SAFETY: `rdtsc` exists on every x86_64 CPU and has no preconditions.
        unsafe { core::arch::x86_64::_rdtsc() }
    }

    #[inline]
    pub(super) fn now() -> Option<SystemTime> {
        if USABLE.load(Ordering::Relaxed) == NO {
            return None;
        }
        let t = ticks();
        let anchor = ANCHOR.try_with(Cell::get).ok()?;
        let since = t.wrapping_sub(anchor.ticks);
        if anchor.rate != 0 && since < anchor.valid_for {
            let nanos = anchor.unix_nanos + scale(since, anchor.rate);
            return Some(UNIX_EPOCH + Duration::from_nanos(nanos));
        }
        reanchor()
    }

    /// Counter readings further apart than this around one clock reading mean the thread
    /// was interrupted in between (a clock read is ~100 ticks; this is ~15 µs at 3 GHz).
    const TIGHT: u64 = 50_000;

    /// `read()` and the counter at (nearly) the same moment: the midpoint of counter
    /// readings taken just before and after. Retried when the thread was interrupted in
    /// between, since an anchor or a calibration point off by a preemption puts every
    /// timestamp interpolated from it off by as much (a test caught 1 ms on a loaded
    /// machine); after a few tries, the tightest pair.
    fn paired<T>(read: impl Fn() -> T) -> (u64, T) {
        let once = || {
            let before = ticks();
            let value = read();
            let gap = ticks().wrapping_sub(before);
            (gap, before.wrapping_add(gap / 2), value)
        };
        let mut best = once();
        for _ in 0..3 {
            if best.0 < TIGHT {
                break;
            }
            let next = once();
            if next.0 < best.0 {
                best = next;
            }
        }
        (best.1, best.2)
    }

    /// Takes this thread's anchor from the system clock and refines the rate; returns the
    /// system clock's reading.
    #[cold]
    fn reanchor() -> Option<SystemTime> {
        if USABLE.load(Ordering::Relaxed) == UNKNOWN {
            let usable = if kernel_keeps_time_with_tsc() {
                YES
            } else {
                NO
            };
            USABLE.store(usable, Ordering::Relaxed);
        }
        if USABLE.load(Ordering::Relaxed) != YES {
            return Some(SystemTime::now());
        }
        let (anchor_ticks, wall) = paired(SystemTime::now);
        let (t, mono) = paired(Instant::now);
        let &(base_ticks, base_mono) = BASE.get_or_init(|| (t, mono));
        let elapsed = mono.saturating_duration_since(base_mono);
        let mut rate = RATE.load(Ordering::Relaxed);
        if elapsed >= CALIBRATION_MIN {
            let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
            match rate_of(t.wrapping_sub(base_ticks), nanos) {
                Some(r) => {
                    rate = r;
                    RATE.store(r, Ordering::Relaxed);
                }
                None => {
                    // The counter does not advance like a clock: never use it.
                    USABLE.store(NO, Ordering::Relaxed);
                    return Some(wall);
                }
            }
        }
        let unix_nanos = wall
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|d| u64::try_from(d.as_nanos()).ok());
        let anchor = match (rate, unix_nanos) {
            (0, _) | (_, None) => Anchor {
                ticks: t,
                unix_nanos: 0,
                rate: 0,
                valid_for: 0,
            },
            (rate, Some(unix_nanos)) => Anchor {
                ticks: anchor_ticks,
                unix_nanos,
                rate,
                valid_for: ((REANCHOR.as_nanos() << 32) / u128::from(rate))
                    .try_into()
                    .unwrap_or(u64::MAX),
            },
        };
        let _ = ANCHOR.try_with(|a| a.set(anchor));
        Some(wall)
    }

    /// The kernel checks that the counter is invariant and synchronised across CPUs before
    /// it uses it as its clock source; when it does, so can we.
    fn kernel_keeps_time_with_tsc() -> bool {
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .map(|s| s.trim() == "tsc")
            .unwrap_or(false)
    }

    #[cfg(test)]
    pub(super) fn usable() -> bool {
        USABLE.load(Ordering::Relaxed) == YES
    }

    #[cfg(test)]
    pub(super) fn calibrated() -> bool {
        RATE.load(Ordering::Relaxed) != 0 && ANCHOR.with(Cell::get).rate != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant, UNIX_EPOCH};

    #[test]
    fn fixed_point_scaling_is_exact_enough_and_never_overflows() {
        // 3 GHz: 1/3 ns per tick.
        let rate = rate_of(3_000_000_000, 1_000_000_000).unwrap();
        let one_second = scale(3_000_000_000, rate);
        assert!(one_second.abs_diff(1_000_000_000) <= 1, "{one_second}");
        // A day of ticks at 20 GHz still scales without overflow.
        let day = scale(20_000_000_000 * 86_400, rate_of(20, 1).unwrap());
        assert!(day.abs_diff(86_400_000_000_000) < 1_000_000, "{day}");
        assert_eq!(rate_of(0, 5), None);
        assert_eq!(
            rate_of(1_000, 1_000_000),
            None,
            "1 MHz is no time-stamp counter"
        );
        assert_eq!(rate_of(1_000_000, 1_000), None, "1 THz neither");
    }

    #[test]
    fn agrees_with_the_system_clock_and_runs_forward() {
        // Long enough to calibrate and to take several anchors.
        let deadline = Instant::now() + CALIBRATION_MIN + 3 * REANCHOR;
        // Room for the interpolation's error (and a preemption between the readings).
        let slack = Duration::from_micros(500);
        let mut last = now();
        while Instant::now() < deadline {
            let before = SystemTime::now();
            let ours = now();
            let after = SystemTime::now();
            assert!(
                ours + slack >= before && ours <= after + slack,
                "{ours:?} is not between {before:?} and {after:?}"
            );
            // Forward on one thread, give or take a re-anchoring correction.
            assert!(ours + slack >= last, "went back from {last:?} to {ours:?}");
            last = ours;
        }
        assert!(last > UNIX_EPOCH);
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        if tsc::usable() {
            assert!(
                tsc::calibrated(),
                "the counter was calibrated while the test ran"
            );
        }
    }
}
