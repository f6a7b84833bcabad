//! The StatsD line protocol: turning collected points into lines, and lines into datagrams.

use super::StatsdFlavor;
use crate::common::attribute::KeyValue;
use crate::metrics::{MetricData, NumberValue, ResourceMetrics, Temporality};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;

/// One indivisible piece of a payload: usually one line, but two for a negative plain-StatsD
/// gauge (`name:0|g` then `name:-5|g`), which must arrive together and in order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Unit {
    /// The text, without a trailing newline.
    pub text: String,
    /// The data point it came from (an index local to one export).
    pub point: usize,
}

/// How points become lines; fixed when the exporter is built.
#[derive(Clone, Debug)]
pub(crate) struct Encoder {
    /// The sanitized prefix with its trailing `.`, or empty.
    pub prefix: String,
    pub flavor: StatsdFlavor,
    /// Tags added to every line, after the point's own attributes.
    pub constant_tags: Vec<KeyValue>,
    /// Whether histograms also send one counter per bucket.
    pub histogram_buckets: bool,
}

/// What the encoder remembers to turn cumulative points (the SDK's own `loupe.sdk.*`
/// metrics, which are always cumulative) into the deltas StatsD counters need.
#[derive(Default, Debug)]
pub(crate) struct CumulativeMemory {
    previous: HashMap<(String, Vec<KeyValue>), Previous>,
}

#[derive(Debug)]
enum Previous {
    Number(NumberValue),
    Histogram {
        count: u64,
        sum: f64,
        buckets: Vec<u64>,
    },
}

impl CumulativeMemory {
    /// The increase since the last call for this series, or `None` when nothing changed.
    /// A value below the previous one means the series restarted: all of it is new.
    fn number(&mut self, name: &str, attrs: &[KeyValue], now: NumberValue) -> Option<NumberValue> {
        let before = self
            .previous
            .insert((name.to_owned(), attrs.to_vec()), Previous::Number(now));
        let delta = match (before, now) {
            (Some(Previous::Number(NumberValue::U64(b))), NumberValue::U64(n)) if n >= b => {
                NumberValue::U64(n - b)
            }
            (Some(Previous::Number(NumberValue::I64(b))), NumberValue::I64(n)) if n >= b => {
                NumberValue::I64(n.wrapping_sub(b))
            }
            (Some(Previous::Number(NumberValue::F64(b))), NumberValue::F64(n)) if n >= b => {
                NumberValue::F64(n - b)
            }
            _ => now,
        };
        (delta.as_f64() != 0.0).then_some(delta)
    }

    /// The histogram's count, sum and bucket counts since the last call.
    fn histogram(
        &mut self,
        name: &str,
        attrs: &[KeyValue],
        count: u64,
        sum: f64,
        buckets: &[u64],
    ) -> Option<(u64, f64, Vec<u64>)> {
        let before = self.previous.insert(
            (name.to_owned(), attrs.to_vec()),
            Previous::Histogram {
                count,
                sum,
                buckets: buckets.to_vec(),
            },
        );
        let delta = match before {
            Some(Previous::Histogram {
                count: c,
                sum: s,
                buckets: b,
            }) if count >= c && b.len() == buckets.len() => (
                count - c,
                sum - s,
                buckets
                    .iter()
                    .zip(&b)
                    .map(|(n, p)| n.saturating_sub(*p))
                    .collect(),
            ),
            _ => (count, sum, buckets.to_vec()),
        };
        (delta.0 != 0).then_some(delta)
    }
}

/// The result of encoding one collection.
#[derive(Debug, Default)]
pub(crate) struct Encoded {
    pub units: Vec<Unit>,
    /// Points that produced at least one unit (their ids are `0..points`).
    pub points: usize,
    /// Points dropped because their value was NaN or infinite.
    pub non_finite: usize,
}

impl Encoder {
    /// Encodes every point of a collection. Delta sums and histograms are sent as they
    /// are; cumulative ones as their increase since the previous export.
    pub fn encode(&self, metrics: &ResourceMetrics, memory: &mut CumulativeMemory) -> Encoded {
        let mut out = Encoded::default();
        for (_, metric) in metrics.metrics() {
            let mut name = self.prefix.clone();
            push_sanitized(&mut name, &metric.name, Part::Name);
            match &metric.data {
                MetricData::Sum {
                    points,
                    temporality,
                    is_monotonic,
                } => {
                    for p in points {
                        let value = match (temporality, is_monotonic) {
                            // An up-down counter's cumulative value is its current level.
                            (Temporality::Cumulative, false) => {
                                self.gauge(&mut out, &name, &p.attributes, p.value);
                                continue;
                            }
                            (Temporality::Cumulative, true) => {
                                match memory.number(&metric.name, &p.attributes, p.value) {
                                    Some(v) => v,
                                    None => continue,
                                }
                            }
                            // Delta sums (monotonic or not) are increments: counters take
                            // negative increments too.
                            (Temporality::Delta, _) => p.value,
                        };
                        self.single(&mut out, &name, "", value, "c", &p.attributes, None);
                    }
                }
                MetricData::Gauge { points } => {
                    for p in points {
                        self.gauge(&mut out, &name, &p.attributes, p.value);
                    }
                }
                MetricData::Histogram {
                    points,
                    temporality,
                } => {
                    for p in points {
                        let (count, sum, buckets) = match temporality {
                            Temporality::Delta => (p.count, p.sum, p.bucket_counts.clone()),
                            Temporality::Cumulative => match memory.histogram(
                                &metric.name,
                                &p.attributes,
                                p.count,
                                p.sum,
                                &p.bucket_counts,
                            ) {
                                Some(delta) => delta,
                                None => continue,
                            },
                        };
                        if count == 0 {
                            continue;
                        }
                        self.histogram(
                            &mut out,
                            &name,
                            &p.attributes,
                            count,
                            sum,
                            &p.bounds,
                            &buckets,
                        );
                    }
                }
                MetricData::ExponentialHistogram {
                    points,
                    temporality,
                } => {
                    for p in points {
                        let (count, sum) = match temporality {
                            Temporality::Delta => (p.data.count, p.data.sum),
                            Temporality::Cumulative => match memory.histogram(
                                &metric.name,
                                &p.attributes,
                                p.data.count,
                                p.data.sum,
                                &[],
                            ) {
                                Some((count, sum, _)) => (count, sum),
                                None => continue,
                            },
                        };
                        if count == 0 {
                            continue;
                        }
                        self.histogram(&mut out, &name, &p.attributes, count, sum, &[], &[]);
                    }
                }
            }
        }
        out
    }

    /// `name.count:N|c` and `name.sum:S|c`, plus `name.bucket:C|c` per finite bound with an
    /// `le` tag (cumulative within the window, as Prometheus buckets) when enabled.
    #[allow(clippy::too_many_arguments)]
    fn histogram(
        &self,
        out: &mut Encoded,
        name: &str,
        attrs: &[KeyValue],
        count: u64,
        sum: f64,
        bounds: &[f64],
        buckets: &[u64],
    ) {
        if !sum.is_finite() {
            out.non_finite += 1;
            return;
        }
        let point = out.points;
        out.points += 1;
        let mut line = |suffix: &str, value: NumberValue, extra: Option<KeyValue>| {
            let text = self.line(name, suffix, value, "c", attrs, extra);
            out.units.push(Unit { text, point });
        };
        line(".count", NumberValue::U64(count), None);
        line(".sum", NumberValue::F64(sum), None);
        if self.histogram_buckets {
            let mut cumulative = 0u64;
            for (bound, n) in bounds.iter().zip(buckets) {
                cumulative += n;
                let le = KeyValue::new("le", bound.to_string());
                line(".bucket", NumberValue::U64(cumulative), Some(le));
            }
        }
    }

    /// A gauge. Plain StatsD reads a leading `-` as "decrease by", so a negative level is
    /// sent as a reset to zero followed by the decrease, in one unit.
    fn gauge(&self, out: &mut Encoded, name: &str, attrs: &[KeyValue], value: NumberValue) {
        let negative = value.as_f64() < 0.0;
        if negative && self.flavor == StatsdFlavor::Plain {
            let reset = self.line(name, "", NumberValue::U64(0), "g", attrs, None);
            self.single(out, name, "", value, "g", attrs, Some(reset));
        } else {
            self.single(out, name, "", value, "g", attrs, None);
        }
    }

    /// Pushes one point as one unit (preceded by `before` and a newline, if given).
    #[allow(clippy::too_many_arguments)]
    fn single(
        &self,
        out: &mut Encoded,
        name: &str,
        suffix: &str,
        value: NumberValue,
        kind: &str,
        attrs: &[KeyValue],
        before: Option<String>,
    ) {
        if !value.as_f64().is_finite() {
            out.non_finite += 1;
            return;
        }
        let line = self.line(name, suffix, value, kind, attrs, None);
        let text = match before {
            Some(mut first) => {
                first.push('\n');
                first.push_str(&line);
                first
            }
            None => line,
        };
        out.units.push(Unit {
            text,
            point: out.points,
        });
        out.points += 1;
    }

    /// `name[suffix][.key.value…]:value|kind[|#key:value,…]`.
    fn line(
        &self,
        name: &str,
        suffix: &str,
        value: NumberValue,
        kind: &str,
        attrs: &[KeyValue],
        extra: Option<KeyValue>,
    ) -> String {
        let mut line = String::with_capacity(name.len() + 32);
        line.push_str(name);
        line.push_str(suffix);
        let constant = self
            .constant_tags
            .iter()
            .filter(|c| !attrs.iter().any(|a| a.key == c.key));
        let tags = attrs.iter().chain(extra.as_ref()).chain(constant);
        if self.flavor == StatsdFlavor::Plain {
            // No tags in plain StatsD: each attribute becomes two name segments.
            for kv in tags.clone() {
                line.push('.');
                push_sanitized(&mut line, kv.key.as_str(), Part::FoldedSegment);
                let value = kv.value.as_str();
                if !value.is_empty() {
                    line.push('.');
                    push_sanitized(&mut line, &value, Part::FoldedSegment);
                }
            }
        }
        line.push(':');
        push_number(&mut line, value);
        line.push('|');
        line.push_str(kind);
        if self.flavor == StatsdFlavor::DogStatsd {
            for (i, kv) in tags.enumerate() {
                line.push_str(if i == 0 { "|#" } else { "," });
                push_sanitized(&mut line, kv.key.as_str(), Part::TagKey);
                let value = kv.value.as_str();
                if !value.is_empty() {
                    line.push(':');
                    push_sanitized(&mut line, &value, Part::TagValue);
                }
            }
        }
        line
    }
}

/// Where a piece of text goes; each place has its own reserved characters.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// A metric name or prefix.
    Name,
    /// An attribute key or value folded into a plain StatsD name (no `.` either, so each
    /// attribute stays exactly two segments).
    FoldedSegment,
    /// A DogStatsD tag key.
    TagKey,
    /// A DogStatsD tag value (`:` is allowed there: the key ends at the first one).
    TagValue,
}

/// Characters that would end a name, value, type or tag early, or start a new line.
fn reserved(c: char, part: Part) -> bool {
    let always = matches!(c, '|' | '@' | '#' | ',') || c.is_whitespace() || c.is_control();
    always || (c == ':' && part != Part::TagValue) || (c == '.' && part == Part::FoldedSegment)
}

/// Appends `text` with every reserved character replaced by `_`.
pub(crate) fn push_sanitized(out: &mut String, text: &str, part: Part) {
    out.extend(
        text.chars()
            .map(|c| if reserved(c, part) { '_' } else { c }),
    );
}

fn push_number(out: &mut String, value: NumberValue) {
    // Display never uses exponent notation, which not every StatsD server parses; and
    // `-0` would read as a relative gauge change.
    let _ = match value {
        NumberValue::U64(v) => write!(out, "{v}"),
        NumberValue::I64(v) => write!(out, "{v}"),
        // The pattern matches -0.0 too (float patterns compare with `==`).
        NumberValue::F64(0.0) => write!(out, "0"),
        NumberValue::F64(v) => write!(out, "{v}"),
    };
}

/// One UDP payload: units joined by newlines.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Datagram {
    pub payload: String,
    /// The units it carries.
    pub units: Range<usize>,
}

/// Packs units into datagrams of at most `max` bytes, in order, never splitting a unit;
/// returns the datagrams and the units longer than `max` on their own (not sent).
pub(crate) fn split_into_datagrams<S: AsRef<str>>(
    units: &[S],
    max: usize,
) -> (Vec<Datagram>, Vec<usize>) {
    let mut datagrams = Vec::new();
    let mut oversized = Vec::new();
    let mut current = Datagram {
        payload: String::new(),
        units: 0..0,
    };
    for (i, unit) in units.iter().enumerate() {
        let text = unit.as_ref();
        if text.len() > max {
            oversized.push(i);
            continue;
        }
        let empty = current.units.is_empty();
        let needed = if empty { text.len() } else { text.len() + 1 };
        // A unit that does not fit, or one after a dropped unit, starts a new datagram
        // (so each datagram's units are contiguous).
        if !empty && (current.payload.len() + needed > max || current.units.end != i) {
            datagrams.push(std::mem::replace(
                &mut current,
                Datagram {
                    payload: String::new(),
                    units: i..i,
                },
            ));
        }
        if current.units.is_empty() {
            current.units = i..i;
        } else {
            current.payload.push('\n');
        }
        current.payload.push_str(text);
        current.units.end = i + 1;
    }
    if !current.units.is_empty() {
        datagrams.push(current);
    }
    (datagrams, oversized)
}
