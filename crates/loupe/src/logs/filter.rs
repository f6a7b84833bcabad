//! Level filtering by target with `RUST_LOG`-style directives.

use super::Severity;
use crate::common::error::ConfigError;
use std::fmt;

/// Which records to keep: a default level plus per-target levels, written the way
/// `RUST_LOG` is: `info,eventflux::query=debug,hyper=off`.
///
/// A directive `target=level` applies to the target and to every module below it
/// (`eventflux` covers `eventflux::query`, not `eventflux_extra`); the longest matching
/// target wins. A bare level sets the default.
///
/// ```
/// use loupe::logs::{LogFilter, Severity};
///
/// let filter: LogFilter = "warn,eventflux::query=debug".parse()?;
/// assert!(filter.enabled("eventflux::query::window", Severity::Debug));
/// assert!(!filter.enabled("eventflux::io", Severity::Info));
/// # Ok::<(), loupe::ConfigError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct LogFilter {
    default: Threshold,
    /// Sorted longest target first, so the first match is the most specific.
    directives: Vec<(String, Threshold)>,
}

/// The lowest severity number a target keeps; `u8::MAX` keeps nothing.
type Threshold = u8;
const OFF: Threshold = u8::MAX;

impl Default for LogFilter {
    /// `info` for everything.
    fn default() -> Self {
        LogFilter::new(Severity::Info)
    }
}

impl LogFilter {
    /// Keeps `level` and above for every target.
    pub fn new(level: Severity) -> Self {
        LogFilter {
            default: level as u8,
            directives: Vec::new(),
        }
    }

    /// Keeps nothing.
    pub fn off() -> Self {
        LogFilter {
            default: OFF,
            directives: Vec::new(),
        }
    }

    /// Parses directives (a `ConfigError` names the bad directive): comma-separated `level` or `target=level`, where a level is
    /// `trace`, `debug`, `info`, `warn`, `error`, `fatal` or `off` (any case).
    pub fn parse(directives: &str) -> Result<Self, ConfigError> {
        let mut filter = LogFilter::new(Severity::Info);
        for part in directives
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let threshold = |level: &str| {
                parse_level(level).ok_or_else(|| {
                    ConfigError::new(
                        "log filter",
                        part,
                        "`level` or `target=level` with a level of trace, debug, info, warn, error, fatal or off",
                    )
                })
            };
            match part.split_once('=') {
                None => match parse_level(part) {
                    Some(level) => filter.default = level,
                    // `RUST_LOG=my_crate` means "everything from my_crate".
                    None if valid_target(part) => filter.set(part, Severity::Trace as u8),
                    None => return Err(threshold(part).unwrap_err()),
                },
                Some((target, level)) => {
                    let target = target.trim();
                    if !valid_target(target) {
                        return Err(ConfigError::new(
                            "log filter",
                            part,
                            "a target made of letters, digits, `_`, `-`, `.` and `::`",
                        ));
                    }
                    filter.set(target, threshold(level.trim())?);
                }
            }
        }
        filter
            .directives
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Ok(filter)
    }

    fn set(&mut self, target: &str, level: Threshold) {
        self.directives.retain(|(t, _)| t != target);
        self.directives.push((target.to_owned(), level));
    }

    /// The filter `RUST_LOG` describes, or `default` when it is unset or empty. A
    /// malformed `RUST_LOG` is an error rather than silently logging everything.
    pub fn from_env_or(default: &str) -> Result<Self, ConfigError> {
        match std::env::var("RUST_LOG") {
            Ok(v) if !v.trim().is_empty() => LogFilter::parse(&v).map_err(|e| ConfigError {
                field: "RUST_LOG",
                value: format!("{v:?} (at `{}`)", e.value),
                allowed: e.allowed,
            }),
            _ => LogFilter::parse(default),
        }
    }

    /// Whether a record of `severity` from `target` passes.
    #[inline]
    pub fn enabled(&self, target: &str, severity: Severity) -> bool {
        (severity as u8) >= self.threshold(target)
    }

    /// The lowest severity number `target` keeps (`u8::MAX` when it keeps nothing).
    pub fn threshold(&self, target: &str) -> u8 {
        self.directives
            .iter()
            .find(|(t, _)| covers(t, target))
            .map_or(self.default, |(_, level)| *level)
    }

    /// The most verbose severity any target keeps, or `None` when everything is off: a
    /// quick global check before looking at targets.
    pub fn most_verbose(&self) -> Option<Severity> {
        let min = self
            .directives
            .iter()
            .map(|(_, l)| *l)
            .chain([self.default])
            .min()
            .unwrap_or(OFF);
        [
            Severity::Trace,
            Severity::Debug,
            Severity::Info,
            Severity::Warn,
            Severity::Error,
            Severity::Fatal,
        ]
        .into_iter()
        .find(|s| *s as u8 >= min)
    }
}

impl std::str::FromStr for LogFilter {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LogFilter::parse(s)
    }
}

impl fmt::Debug for LogFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogFilter({self})")
    }
}

impl fmt::Display for LogFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(level_name(self.default))?;
        for (target, level) in &self.directives {
            write!(f, ",{target}={}", level_name(*level))?;
        }
        Ok(())
    }
}

fn covers(directive: &str, target: &str) -> bool {
    target.starts_with(directive)
        && (target.len() == directive.len() || target[directive.len()..].starts_with("::"))
}

fn valid_target(t: &str) -> bool {
    !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

fn parse_level(s: &str) -> Option<Threshold> {
    Some(match s.to_ascii_lowercase().as_str() {
        "trace" => Severity::Trace as u8,
        "debug" => Severity::Debug as u8,
        "info" => Severity::Info as u8,
        "warn" | "warning" => Severity::Warn as u8,
        "error" => Severity::Error as u8,
        "fatal" => Severity::Fatal as u8,
        "off" | "none" => OFF,
        _ => return None,
    })
}

fn level_name(t: Threshold) -> &'static str {
    match t {
        OFF => "off",
        t if t <= Severity::Trace as u8 => "trace",
        t if t <= Severity::Debug as u8 => "debug",
        t if t <= Severity::Info as u8 => "info",
        t if t <= Severity::Warn as u8 => "warn",
        t if t <= Severity::Error as u8 => "error",
        _ => "fatal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_longest_matching_target_wins_on_module_boundaries() {
        let f = LogFilter::parse("warn,app=info,app::db=trace,app::db::pool=off").unwrap();
        assert!(f.enabled("app::db::query", Severity::Trace));
        assert!(!f.enabled("app::db::pool", Severity::Fatal));
        assert!(f.enabled("app::http", Severity::Info));
        assert!(!f.enabled("app::http", Severity::Debug));
        assert!(!f.enabled("application", Severity::Info));
        assert!(f.enabled("other", Severity::Warn));
        assert_eq!(
            f.to_string(),
            "warn,app::db::pool=off,app::db=trace,app=info"
        );
    }

    #[test]
    fn a_bare_target_enables_everything_below_it() {
        let f = LogFilter::parse("my_crate").unwrap();
        assert!(f.enabled("my_crate::x", Severity::Trace));
        assert!(!f.enabled("other", Severity::Debug));
        assert!(f.enabled("other", Severity::Info));
    }

    #[test]
    fn bad_levels_name_the_directive() {
        let err = LogFilter::parse("info,app=loud").unwrap_err().to_string();
        assert!(err.contains("app=loud"), "{err}");
        assert!(err.contains("trace, debug"), "{err}");
        assert!(LogFilter::parse("a b=info").is_err());
    }

    #[test]
    fn most_verbose_reports_the_lowest_threshold() {
        assert_eq!(
            LogFilter::parse("error,x=debug").unwrap().most_verbose(),
            Some(Severity::Debug)
        );
        assert_eq!(LogFilter::off().most_verbose(), None);
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_round_trips(s in "[a-z:=,_ .A-Z0-9]{0,40}") {
            if let Ok(f) = LogFilter::parse(&s) {
                prop_assert_eq!(LogFilter::parse(&f.to_string()).unwrap(), f);
            }
        }
    }
}
