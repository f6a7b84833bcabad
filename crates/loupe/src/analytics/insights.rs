//! 000 §7.4's performance analyser: thresholds over a snapshot become insights.

use super::snapshot::AnalyticsSnapshot;
use crate::common::attribute::KeyValue;
use std::fmt;

/// What an insight is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InsightCategory {
    /// A latency percentile is high.
    Latency,
    /// The share of failed operations is high.
    Errors,
    /// A queue is deep.
    Queue,
    /// CPU, memory or another resource is heavily used.
    Resources,
}

/// How urgent an insight is; ordered `Info < Warning < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing; above the optional info level.
    Info,
    /// Above the warning level.
    Warning,
    /// Above the critical level.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        })
    }
}

/// One finding: a measured value above a configured level, and what to do about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Insight {
    /// What it is about.
    pub category: InsightCategory,
    /// How urgent it is.
    pub severity: Severity,
    /// The metric (or `errors/total` pair) it was computed from.
    pub metric: String,
    /// The measured value (a percentile, a ratio, a level).
    pub value: f64,
    /// The level it exceeded.
    pub threshold: f64,
    /// A sentence with the numbers.
    pub message: String,
    /// Suggested next steps.
    pub recommendations: Vec<String>,
}

/// Levels for one rule; a value strictly above a level fires at that severity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    /// Optional level for an [`Severity::Info`] insight; default none.
    pub info: Option<f64>,
    /// Level for [`Severity::Warning`].
    pub warning: f64,
    /// Level for [`Severity::Critical`].
    pub critical: f64,
}

impl Threshold {
    /// Warning above `warning`, critical above `critical`, no info level.
    pub fn new(warning: f64, critical: f64) -> Self {
        Threshold {
            info: None,
            warning,
            critical,
        }
    }

    /// Also report [`Severity::Info`] above `info`.
    #[must_use]
    pub fn with_info(mut self, info: f64) -> Self {
        self.info = Some(info);
        self
    }

    /// The highest severity whose level `value` is strictly above, with that level.
    pub fn classify(&self, value: f64) -> Option<(Severity, f64)> {
        [
            (Severity::Critical, Some(self.critical)),
            (Severity::Warning, Some(self.warning)),
            (Severity::Info, self.info),
        ]
        .into_iter()
        .find_map(|(s, level)| level.filter(|&l| value > l).map(|l| (s, l)))
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Rule {
    Latency {
        metric: String,
        quantile: f64,
        threshold: Threshold,
    },
    ErrorRate {
        errors: (String, Vec<KeyValue>),
        total: (String, Vec<KeyValue>),
        min_total: f64,
        threshold: Threshold,
    },
    Queue {
        metric: String,
        threshold: Threshold,
    },
    Resource {
        metric: String,
        threshold: Threshold,
    },
}

/// Turns an [`AnalyticsSnapshot`] into [`Insight`]s with configurable thresholds (000 §7.4).
///
/// Each rule names the metric it reads; levels are in that metric's unit. A metric that
/// is absent (or a ratio without enough operations) produces no insight.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PerformanceAnalyzer {
    rules: Vec<Rule>,
}

/// Configures a [`PerformanceAnalyzer`]; starts with no rules.
#[must_use]
#[derive(Clone, Debug, Default)]
pub struct PerformanceAnalyzerBuilder {
    rules: Vec<Rule>,
}

/// The CPU metric Loupe's process instruments report (a 0–1 ratio).
pub const CPU_UTILIZATION: &str = "process.cpu.utilization";
/// The resident memory metric Loupe's process instruments report (bytes).
pub const MEMORY_USAGE: &str = "process.memory.usage";
/// Fewest operations an error rate is judged on, unless set with `error_rate_min_total`.
pub const DEFAULT_ERROR_RATE_MIN_TOTAL: f64 = 20.0;

impl PerformanceAnalyzerBuilder {
    /// Judges the p99 of histogram `metric` (all series, each on its own).
    pub fn latency_p99(self, metric: impl Into<String>, threshold: Threshold) -> Self {
        self.latency(metric, 0.99, threshold)
    }

    /// Judges the `quantile` (0.0–1.0) of histogram `metric`, each series on its own.
    pub fn latency(
        mut self,
        metric: impl Into<String>,
        quantile: f64,
        threshold: Threshold,
    ) -> Self {
        self.rules.push(Rule::Latency {
            metric: metric.into(),
            quantile,
            threshold,
        });
        self
    }

    /// Judges `errors / total`, each the sum of a counter's series that carry the given
    /// attributes (pass `&[]` for all). The two may be one counter with different filters.
    /// Not judged below [`DEFAULT_ERROR_RATE_MIN_TOTAL`] operations.
    pub fn error_rate(
        mut self,
        errors: (impl Into<String>, &[KeyValue]),
        total: (impl Into<String>, &[KeyValue]),
        threshold: Threshold,
    ) -> Self {
        self.rules.push(Rule::ErrorRate {
            errors: (errors.0.into(), errors.1.to_vec()),
            total: (total.0.into(), total.1.to_vec()),
            min_total: DEFAULT_ERROR_RATE_MIN_TOTAL,
            threshold,
        });
        self
    }

    /// Sets the fewest operations the error-rate rules added so far are judged on.
    pub fn error_rate_min_total(mut self, min_total: f64) -> Self {
        for rule in &mut self.rules {
            if let Rule::ErrorRate { min_total: m, .. } = rule {
                *m = min_total;
            }
        }
        self
    }

    /// Judges the deepest series of gauge or up-down counter `metric`.
    pub fn queue_depth(mut self, metric: impl Into<String>, threshold: Threshold) -> Self {
        self.rules.push(Rule::Queue {
            metric: metric.into(),
            threshold,
        });
        self
    }

    /// Judges the highest series of a resource gauge `metric`.
    pub fn resource(mut self, metric: impl Into<String>, threshold: Threshold) -> Self {
        self.rules.push(Rule::Resource {
            metric: metric.into(),
            threshold,
        });
        self
    }

    /// Judges [`CPU_UTILIZATION`] (levels as 0–1 ratios).
    pub fn cpu_utilization(self, threshold: Threshold) -> Self {
        self.resource(CPU_UTILIZATION, threshold)
    }

    /// Judges [`MEMORY_USAGE`] (levels in bytes).
    pub fn memory_usage(self, threshold: Threshold) -> Self {
        self.resource(MEMORY_USAGE, threshold)
    }

    /// Builds the analyser.
    pub fn build(self) -> PerformanceAnalyzer {
        PerformanceAnalyzer { rules: self.rules }
    }
}

/// ` {k=v, ...}` for a series with attributes, nothing for the attribute-less one.
fn series_label(attributes: &[KeyValue]) -> String {
    if attributes.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = attributes
        .iter()
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect();
    format!(" {{{}}}", pairs.join(", "))
}

/// `value` to at most 4 decimals, trailing zeros trimmed, followed by the unit if any.
fn with_unit(value: f64, unit: &str) -> String {
    let fixed = format!("{value:.4}");
    let number = if fixed.contains('.') {
        fixed.trim_end_matches('0').trim_end_matches('.')
    } else {
        &fixed
    };
    if unit.is_empty() || unit == "1" {
        number.to_owned()
    } else {
        format!("{number} {unit}")
    }
}

impl PerformanceAnalyzer {
    /// Starts configuring an analyser.
    pub fn builder() -> PerformanceAnalyzerBuilder {
        PerformanceAnalyzerBuilder::default()
    }

    /// The insights `snapshot` warrants, most severe first.
    pub fn analyze(&self, snapshot: &AnalyticsSnapshot) -> Vec<Insight> {
        let mut out = Vec::new();
        for rule in &self.rules {
            match rule {
                Rule::Latency {
                    metric,
                    quantile,
                    threshold,
                } => {
                    let series = snapshot.histograms.iter().filter(|h| &h.name == metric);
                    for h in series {
                        let Some(v) = h.quantile(*quantile) else {
                            continue;
                        };
                        let Some((severity, level)) = threshold.classify(v) else {
                            continue;
                        };
                        let p = (quantile * 1000.0).round() / 10.0; // 0.99 -> 99, 0.999 -> 99.9
                        out.push(Insight {
                            category: InsightCategory::Latency,
                            severity,
                            metric: metric.clone(),
                            value: v,
                            threshold: level,
                            message: format!(
                                "p{p} of `{metric}`{} is {} ({severity} above {}) over {} measurements",
                                series_label(&h.attributes),
                                with_unit(v, &h.unit),
                                with_unit(level, &h.unit),
                                h.count,
                            ),
                            recommendations: vec![
                                format!("Profile the slowest operations recorded in `{metric}`; look for lock contention, blocking I/O or retries."),
                                "Compare with the error rate and queue depth: a backlog or failing dependency often shows up as latency first.".into(),
                            ],
                        });
                    }
                }
                Rule::ErrorRate {
                    errors,
                    total,
                    min_total,
                    threshold,
                } => {
                    let failed = snapshot
                        .counter_total_where(&errors.0, &errors.1)
                        .unwrap_or(0.0);
                    let Some(all) = snapshot.counter_total_where(&total.0, &total.1) else {
                        continue;
                    };
                    if all < *min_total || all <= 0.0 {
                        continue;
                    }
                    let rate = failed / all;
                    let Some((severity, level)) = threshold.classify(rate) else {
                        continue;
                    };
                    out.push(Insight {
                        category: InsightCategory::Errors,
                        severity,
                        metric: format!("{}/{}", errors.0, total.0),
                        value: rate,
                        threshold: level,
                        message: format!(
                            "error rate is {:.2}% ({failed} of {all}); {severity} above {:.2}%",
                            rate * 100.0,
                            level * 100.0
                        ),
                        recommendations: vec![
                            "Inspect recent error logs and failing spans for the dominant cause.".into(),
                            "Check downstream dependencies; add retries with backoff or a circuit breaker where failures are transient.".into(),
                        ],
                    });
                }
                Rule::Queue { metric, threshold } => {
                    let Some(depth) = snapshot.level_max(metric) else {
                        continue;
                    };
                    let Some((severity, level)) = threshold.classify(depth) else {
                        continue;
                    };
                    out.push(Insight {
                        category: InsightCategory::Queue,
                        severity,
                        metric: metric.clone(),
                        value: depth,
                        threshold: level,
                        message: format!("`{metric}` is at {depth} ({severity} above {level})"),
                        recommendations: vec![
                            "Add consumers or raise their concurrency; the queue fills faster than it drains.".into(),
                            "Apply backpressure or shed load upstream before the queue hits its bound.".into(),
                        ],
                    });
                }
                Rule::Resource { metric, threshold } => {
                    let Some(used) = snapshot.level_max(metric) else {
                        continue;
                    };
                    let Some((severity, level)) = threshold.classify(used) else {
                        continue;
                    };
                    out.push(Insight {
                        category: InsightCategory::Resources,
                        severity,
                        metric: metric.clone(),
                        value: used,
                        threshold: level,
                        message: format!("`{metric}` is at {used} ({severity} above {level})"),
                        recommendations: vec![
                            format!("Find what drives `{metric}`: profile hot paths and large allocations."),
                            "Scale out or raise the resource limit if the load is expected.".into(),
                        ],
                    });
                }
            }
        }
        out.sort_by_key(|i| std::cmp::Reverse(i.severity));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_shown_briefly_with_their_unit() {
        assert_eq!(with_unit(1000.0, "ms"), "1000 ms");
        assert_eq!(with_unit(0.123456, "1"), "0.1235");
        assert_eq!(with_unit(2.5, "s"), "2.5 s");
    }

    #[test]
    fn threshold_fires_strictly_above_each_level() {
        let t = Threshold::new(10.0, 20.0).with_info(5.0);
        assert_eq!(t.classify(5.0), None);
        assert_eq!(t.classify(5.1), Some((Severity::Info, 5.0)));
        assert_eq!(t.classify(10.0), Some((Severity::Info, 5.0)));
        assert_eq!(t.classify(10.5), Some((Severity::Warning, 10.0)));
        assert_eq!(t.classify(21.0), Some((Severity::Critical, 20.0)));
        assert_eq!(Threshold::new(1.0, 2.0).classify(0.5), None);
    }
}
