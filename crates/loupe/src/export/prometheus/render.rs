//! Rendering collected metrics as Prometheus text format 0.0.4 or OpenMetrics 1.0, with the
//! OpenTelemetry → Prometheus naming rules.

use crate::common::attribute::{KeyValue, Value};
use crate::metrics::{
    ExponentialHistogramPoint, HistogramPoint, Metric, MetricData, NumberPoint, NumberValue,
    ResourceMetrics,
};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write;

/// The exposition format, chosen by the scrape's `Accept` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`, the classic Prometheus text format.
    Text,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Format {
    /// Picks the format a scraper asked for: OpenMetrics when the `Accept` header lists
    /// `application/openmetrics-text` with a higher (or equal) quality than `text/plain`,
    /// otherwise the text format.
    pub fn from_accept(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let mut best_om = -1.0f64;
        let mut best_text = -1.0f64;
        for part in accept.split(',') {
            let mut params = part.split(';');
            let media = params.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = 1.0;
            let mut version = None;
            for p in params {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                match k.trim() {
                    "q" => q = v.trim().parse().unwrap_or(0.0),
                    "version" => version = Some(v.trim().to_string()),
                    _ => {}
                }
            }
            match media.as_str() {
                "application/openmetrics-text"
                    if version.as_deref().map_or(true, |v| v.starts_with("1.")) =>
                {
                    best_om = best_om.max(q)
                }
                "text/plain" | "*/*" | "text/*" => best_text = best_text.max(q),
                _ => {}
            }
        }
        if best_om > 0.0 && best_om >= best_text {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// How metric names and labels are produced.
#[derive(Clone, Debug, Default)]
pub(crate) struct RenderOptions {
    pub prefix: Option<String>,
    pub const_labels: Vec<(String, String)>,
    pub target_info: bool,
    pub scope_labels: bool,
    pub unit_suffixes: bool,
}

/// The Prometheus name of an OpenTelemetry metric: invalid characters become `_`, the unit
/// is appended as a word (`s` → `_seconds`, `By` → `_bytes`, `1` → `_ratio` on gauges),
/// counters end in `_total`, and the optional prefix goes in front.
pub fn metric_name(
    name: &str,
    unit: &str,
    kind: NameKind,
    prefix: Option<&str>,
    unit_suffixes: bool,
) -> String {
    let mut out = String::with_capacity(name.len() + 16);
    if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
        out.push_str(prefix);
        out.push('_');
    }
    out.push_str(name);
    let mut out = sanitize(&out, true);
    if kind == NameKind::Counter && out.ends_with("_total") {
        out.truncate(out.len() - "_total".len());
    }
    if unit_suffixes {
        if let Some(suffix) = unit_suffix(unit, kind == NameKind::Gauge) {
            if !out.ends_with(&format!("_{suffix}")) {
                out.push('_');
                out.push_str(&suffix);
            }
        }
    }
    if kind == NameKind::Counter {
        out.push_str("_total");
    }
    out
}

/// What an instrument becomes in Prometheus, for naming.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// A monotonic sum: `_total` is appended.
    Counter,
    /// A gauge or non-monotonic sum: a `1` unit becomes `_ratio`.
    Gauge,
    /// A histogram.
    Histogram,
}

/// A valid Prometheus label name for an attribute key.
pub fn label_name(key: &str) -> String {
    label_name_cow(key).into_owned()
}

/// [`label_name`], borrowing `key` when it is a valid label name already (the common case
/// for attribute keys without dots).
fn label_name_cow(key: &str) -> Cow<'_, str> {
    if is_label_name(key) {
        return Cow::Borrowed(key);
    }
    Cow::Owned(sanitized_label_name(key))
}

/// Whether `key` is a label name as it is: `[a-zA-Z_][a-zA-Z0-9_]*`, without `__`
/// anywhere (reserved at the start; the compatibility rules collapse it elsewhere).
fn is_label_name(key: &str) -> bool {
    let bytes = key.as_bytes();
    match bytes.first() {
        Some(b) if !b.is_ascii_digit() => {}
        _ => return false,
    }
    let mut after_underscore = false;
    for &b in bytes {
        if b == b'_' {
            if after_underscore {
                return false;
            }
            after_underscore = true;
        } else if b.is_ascii_alphanumeric() {
            after_underscore = false;
        } else {
            return false;
        }
    }
    true
}

/// The full rules of [`label_name`], without the fast path.
fn sanitized_label_name(key: &str) -> String {
    let mut out = sanitize(key, false);
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "key_");
    } else if out.starts_with("__") {
        out.insert_str(0, "key");
    }
    if out.is_empty() {
        out.push_str("key_");
    }
    out
}

/// Replaces characters outside `[a-zA-Z0-9_]` (and `:` in metric names) with `_`, collapses
/// runs of `_`, and keeps a leading digit from starting the name.
fn sanitize(name: &str, metric: bool) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    for c in name.chars() {
        let ok = c.is_ascii_alphanumeric() || c == '_' || (metric && c == ':');
        let c = if ok { c } else { '_' };
        if c == '_' && out.ends_with('_') && !out.is_empty() && out != "_" {
            continue;
        }
        out.push(c);
    }
    if metric && out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The suffix for a UCUM unit, or `None` when the unit adds nothing (`{request}`, empty, or
/// `1` on a non-gauge).
fn unit_suffix(unit: &str, gauge: bool) -> Option<String> {
    // Annotations in braces carry no unit.
    let mut plain = String::with_capacity(unit.len());
    let mut depth = 0;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = (depth - 1).max(0),
            c if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let plain = plain.trim();
    if plain.is_empty() {
        return None;
    }
    if plain == "1" {
        return gauge.then(|| "ratio".to_string());
    }
    let word = match plain.split_once('/') {
        Some((num, per)) => {
            let num = unit_word(num);
            let per = per_unit_word(per);
            match (num.is_empty(), per.is_empty()) {
                (true, true) => return None,
                (true, false) => format!("per_{per}"),
                (false, true) => num,
                (false, false) => format!("{num}_per_{per}"),
            }
        }
        None => unit_word(plain),
    };
    let word = sanitize(&word, false);
    let word = word.trim_matches('_');
    (!word.is_empty()).then(|| word.to_string())
}

fn unit_word(unit: &str) -> String {
    let word = match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        "1" => "",
        other => other,
    };
    word.to_string()
}

fn per_unit_word(unit: &str) -> String {
    let word = match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    };
    word.to_string()
}

/// One metric family, gathered from possibly several scopes.
struct Family<'m> {
    name: String,
    help: String,
    kind: NameKind,
    unit: Option<String>,
    /// The metrics that make it up, with the index of their scope.
    members: Vec<(usize, &'m Metric)>,
    /// Sample lines to expect (a histogram point is several).
    lines: usize,
}

/// Renders everything in `metrics`.
///
/// Two passes: the first gathers the families (a family may take metrics from several
/// scopes), the second writes each family's header and then its samples straight into
/// the output, which is sized once. Building each family's text apart and joining them
/// at the end copied the whole scrape a second time into freshly faulted-in memory.
pub(crate) fn render(metrics: &ResourceMetrics, format: Format, options: &RenderOptions) -> String {
    let mut families: Vec<Family<'_>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut scope_labels: Vec<Vec<(String, String)>> = Vec::new();
    for (scope_index, scope) in metrics.scope_metrics.iter().enumerate() {
        let mut labels = Vec::new();
        if options.scope_labels {
            labels.push(("otel_scope_name".to_string(), scope.scope.name.clone()));
            if let Some(v) = scope.scope.version.as_ref().filter(|v| !v.is_empty()) {
                labels.push(("otel_scope_version".to_string(), v.clone()));
            }
        }
        scope_labels.push(labels);
        for metric in &scope.metrics {
            let (kind, lines) = match &metric.data {
                MetricData::Sum {
                    is_monotonic: true,
                    points,
                    ..
                } => (NameKind::Counter, points.len()),
                MetricData::Sum { points, .. } | MetricData::Gauge { points } => {
                    (NameKind::Gauge, points.len())
                }
                // Buckets, `_sum` and `_count`: a dozen lines per point, as an estimate.
                MetricData::Histogram { points, .. } => (NameKind::Histogram, points.len() * 12),
                MetricData::ExponentialHistogram { points, .. } => {
                    (NameKind::Histogram, points.len() * 12)
                }
            };
            let name = metric_name(
                &metric.name,
                &metric.unit,
                kind,
                options.prefix.as_deref(),
                options.unit_suffixes,
            );
            let slot = match index.get(&name) {
                Some(&i) if families[i].kind == kind => i,
                // Same Prometheus name, different type: the first registration wins.
                Some(_) => continue,
                None => {
                    let unit = options
                        .unit_suffixes
                        .then(|| unit_suffix(&metric.unit, kind == NameKind::Gauge))
                        .flatten();
                    let help = if metric.description.is_empty() {
                        metric.name.clone()
                    } else {
                        metric.description.clone()
                    };
                    families.push(Family {
                        name: name.clone(),
                        help,
                        kind,
                        unit,
                        members: Vec::new(),
                        lines: 0,
                    });
                    index.insert(name, families.len() - 1);
                    families.len() - 1
                }
            };
            families[slot].members.push((scope_index, metric));
            families[slot].lines += lines;
        }
    }

    // Room for the usual sample line (name, two or three labels, value) and the headers.
    let room = families
        .iter()
        .map(|f| 2 * f.help.len() + 128 + f.lines * (f.name.len() + 64))
        .sum();
    let mut out = String::with_capacity(room);
    if options.target_info && !metrics.resource.attributes().is_empty() {
        let labels: Vec<(String, String)> = merge_labels(metrics.resource.attributes());
        match format {
            Format::Text => {
                out.push_str("# HELP target_info Target metadata\n# TYPE target_info gauge\n")
            }
            Format::OpenMetrics => {
                out.push_str("# TYPE target info\n# HELP target Target metadata\n")
            }
        }
        out.push_str("target_info");
        write_labels(
            &mut out,
            labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            None,
        );
        out.push_str(" 1\n");
    }
    for family in &families {
        if family.lines == 0 {
            continue;
        }
        let type_name = match (format, family.kind) {
            (_, NameKind::Counter) => "counter",
            (_, NameKind::Gauge) => "gauge",
            (_, NameKind::Histogram) => "histogram",
        };
        let header_name = match format {
            Format::Text => family.name.as_str(),
            Format::OpenMetrics => family_base(&family.name, family.kind),
        };
        let _ = writeln!(
            out,
            "# HELP {header_name} {}",
            escape_help(&family.help, format)
        );
        let _ = writeln!(out, "# TYPE {header_name} {type_name}");
        if format == Format::OpenMetrics {
            if let Some(unit) = &family.unit {
                if header_name.ends_with(&format!("_{unit}")) {
                    let _ = writeln!(out, "# UNIT {header_name} {unit}");
                }
            }
        }
        let base = family_base(&family.name, family.kind);
        for &(scope_index, metric) in &family.members {
            let ctx = SampleContext {
                base,
                scope_labels: &scope_labels[scope_index],
                const_labels: &options.const_labels,
                format,
            };
            write_samples(&mut out, &ctx, family.kind, &metric.data);
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// The sample lines of one metric's points.
fn write_samples(out: &mut String, ctx: &SampleContext<'_>, kind: NameKind, data: &MetricData) {
    match data {
        MetricData::Sum { points, .. } | MetricData::Gauge { points } => {
            let suffix = if kind == NameKind::Counter {
                "_total"
            } else {
                ""
            };
            for p in points {
                number_sample(out, ctx, suffix, p);
            }
        }
        MetricData::Histogram { points, .. } => {
            for p in points {
                histogram_samples(out, ctx, p);
            }
        }
        MetricData::ExponentialHistogram { points, .. } => {
            for p in points {
                exponential_samples(out, ctx, p);
            }
        }
    }
}

/// The family name without the `_total` of counters (OpenMetrics' family name).
fn family_base(name: &str, kind: NameKind) -> &str {
    if kind == NameKind::Counter {
        name.strip_suffix("_total").unwrap_or(name)
    } else {
        name
    }
}

struct SampleContext<'a> {
    base: &'a str,
    scope_labels: &'a [(String, String)],
    const_labels: &'a [(String, String)],
    format: Format,
}

/// The labels of one point.
enum PointLabels<'b> {
    /// The attributes as they are: sorted by key, every key a valid label name, no array
    /// values. The constant and scope labels are added when written.
    Direct(&'b [KeyValue]),
    /// Sanitized and merged names, with the constant and scope labels.
    Merged(Vec<(Cow<'b, str>, Cow<'b, str>)>),
}

impl<'a> SampleContext<'a> {
    fn labels<'b>(&self, attributes: &'b [KeyValue]) -> PointLabels<'b>
    where
        'a: 'b,
    {
        // Attribute sets are usually stored sorted with plain keys: then no label needs
        // building, and nothing can merge (sorted strictly means the keys are distinct).
        let direct = attributes
            .windows(2)
            .all(|w| w[0].key.as_str() < w[1].key.as_str())
            && attributes
                .iter()
                .all(|kv| !matches!(kv.value, Value::Array(_)) && is_label_name(kv.key.as_str()));
        if direct {
            return PointLabels::Direct(attributes);
        }
        let mut labels = merge_labels_cow(attributes);
        for (k, v) in self.fixed_labels() {
            if !labels.iter().any(|(lk, _)| lk == k) {
                labels.push((Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())));
            }
        }
        PointLabels::Merged(labels)
    }

    /// The constant labels, then the scope's.
    fn fixed_labels(&self) -> impl Iterator<Item = &'a (String, String)> {
        self.const_labels.iter().chain(self.scope_labels)
    }

    /// Writes `{name="value",...}` for `labels`, then `extra` (a histogram's `le`).
    fn write_labels(
        &self,
        out: &mut String,
        labels: &PointLabels<'_>,
        extra: Option<(&str, &str)>,
    ) {
        let attributes = match labels {
            PointLabels::Direct(attributes) => *attributes,
            PointLabels::Merged(pairs) => {
                let pairs = pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref()));
                return write_labels(out, pairs, extra);
            }
        };
        let mut first = true;
        for kv in attributes {
            open_label(out, &mut first, kv.key.as_str());
            match &kv.value {
                Value::String(s) => escape_label_value(out, s),
                // Numbers and booleans have nothing to escape.
                other => {
                    let _ = write!(out, "{other}");
                }
            }
            out.push('"');
        }
        let fixed = self.fixed_labels().enumerate().filter(|(i, (k, _))| {
            !attributes.iter().any(|kv| kv.key.as_str() == k)
                && !self
                    .fixed_labels()
                    .take(*i)
                    .any(|(earlier, _)| earlier == k)
        });
        let fixed = fixed.map(|(_, (k, v))| (k.as_str(), v.as_str()));
        for (k, v) in fixed.chain(extra) {
            push_label(out, &mut first, k, v);
        }
        if !first {
            out.push('}');
        }
    }
}

/// Appends an integer sample value.
fn push_int(out: &mut String, v: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// Attribute keys as label names; keys that sanitize to the same name are merged, their
/// values joined with `;` in key order, as the compatibility specification says.
pub(crate) fn merge_labels(attributes: &[KeyValue]) -> Vec<(String, String)> {
    merge_labels_cow(attributes)
        .into_iter()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// [`merge_labels`], borrowing names and string values that need no change.
fn merge_labels_cow(attributes: &[KeyValue]) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    let mut sorted: Vec<&KeyValue> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    let mut out: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::with_capacity(sorted.len());
    for kv in sorted {
        let name = label_name_cow(kv.key.as_str());
        let value = label_value(&kv.value);
        match out.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => {
                let merged = v.to_mut();
                merged.push(';');
                merged.push_str(&value);
            }
            None => out.push((name, value)),
        }
    }
    out
}

fn label_value(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(s) => Cow::Borrowed(s.as_ref()),
        Value::Array(_) => Cow::Owned(
            serde_json::to_string(&crate::export::stdout::json_value(value)).unwrap_or_default(),
        ),
        other => Cow::Owned(other.to_string()),
    }
}

fn write_labels<'a>(
    out: &mut String,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    extra: Option<(&'a str, &'a str)>,
) {
    let mut first = true;
    for (k, v) in labels.into_iter().chain(extra) {
        push_label(out, &mut first, k, v);
    }
    if !first {
        out.push('}');
    }
}

/// Starts one label: `{` before the first, `,` before the others, then `name="`.
fn open_label(out: &mut String, first: &mut bool, name: &str) {
    out.push(if *first { '{' } else { ',' });
    *first = false;
    out.push_str(name);
    out.push_str("=\"");
}

/// One label with a string value, escaped.
fn push_label(out: &mut String, first: &mut bool, name: &str, value: &str) {
    open_label(out, first, name);
    escape_label_value(out, value);
    out.push('"');
}

fn escape_label_value(out: &mut String, value: &str) {
    // A word-at-a-time check for any control character, quote or backslash; the rare
    // value that has one takes the loop below, which escapes only what Prometheus does.
    if !crate::common::text::needs_escape(value.as_bytes()) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_help(help: &str, format: Format) -> String {
    let mut out = String::with_capacity(help.len());
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if format == Format::OpenMetrics => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// A float as Prometheus writes it: `+Inf`, `-Inf`, `NaN`, else the shortest round-trip form.
pub(crate) fn format_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

fn number_sample(out: &mut String, ctx: &SampleContext<'_>, suffix: &str, p: &NumberPoint) {
    out.push_str(ctx.base);
    out.push_str(suffix);
    ctx.write_labels(out, &ctx.labels(&p.attributes), None);
    out.push(' ');
    match p.value {
        NumberValue::U64(v) => push_int(out, v),
        NumberValue::I64(v) => push_int(out, v),
        NumberValue::F64(v) => format_float(out, v),
    }
    out.push('\n');
}

fn bucket_lines(
    out: &mut String,
    ctx: &SampleContext<'_>,
    attributes: &[KeyValue],
    buckets: impl Iterator<Item = (f64, u64)>,
    count: u64,
    sum: f64,
) {
    let labels = ctx.labels(attributes);
    let mut le = String::new();
    let mut cumulative = 0u64;
    let line = |out: &mut String, suffix: &str, extra: Option<(&str, &str)>| {
        out.push_str(ctx.base);
        out.push_str(suffix);
        ctx.write_labels(out, &labels, extra);
        out.push(' ');
    };
    for (bound, n) in buckets {
        cumulative += n;
        le.clear();
        format_le(&mut le, bound, ctx.format);
        line(out, "_bucket", Some(("le", &le)));
        push_int(out, cumulative);
        out.push('\n');
    }
    line(out, "_bucket", Some(("le", "+Inf")));
    push_int(out, count);
    out.push('\n');
    line(out, "_sum", None);
    format_float(out, sum);
    out.push('\n');
    line(out, "_count", None);
    push_int(out, count);
    out.push('\n');
}

/// `le` values: OpenMetrics wants canonical floats (`1.0`), the text format takes `1`.
fn format_le(out: &mut String, bound: f64, format: Format) {
    format_float(out, bound);
    if format == Format::OpenMetrics && bound.is_finite() && !out.contains(['.', 'e', 'E']) {
        out.push_str(".0");
    }
}

fn histogram_samples(out: &mut String, ctx: &SampleContext<'_>, p: &HistogramPoint) {
    let buckets = p
        .bounds
        .iter()
        .copied()
        .zip(p.bucket_counts.iter().copied());
    bucket_lines(out, ctx, &p.attributes, buckets, p.count, p.sum);
}

/// Exponential buckets become classic `le` buckets at their upper boundaries (Prometheus'
/// text formats have no native histograms).
fn exponential_samples(out: &mut String, ctx: &SampleContext<'_>, p: &ExponentialHistogramPoint) {
    let d = &p.data;
    let buckets = exponential_buckets(d);
    bucket_lines(out, ctx, &p.attributes, buckets.into_iter(), d.count, d.sum);
}

/// `(upper bound, count)` per non-empty exponential bucket, ascending, with the zero
/// bucket at `le=0`.
pub(crate) fn exponential_buckets(
    d: &crate::metrics::exponential::ExpoSnapshot,
) -> Vec<(f64, u64)> {
    let base = 2f64.powf(2f64.powi(-i32::from(d.scale)));
    let mut buckets: Vec<(f64, u64)> = Vec::new();
    // Negative buckets, most negative first: index i holds (-base^(i+1), -base^i].
    for (k, &n) in d.negative.counts.iter().enumerate().rev() {
        let index = i64::from(d.negative.offset) + k as i64;
        if n > 0 {
            buckets.push((-base.powf(index as f64), n));
        }
    }
    if d.zero_count > 0 || !d.positive.counts.is_empty() {
        buckets.push((0.0, d.zero_count));
    }
    for (k, &n) in d.positive.counts.iter().enumerate() {
        let index = i64::from(d.positive.offset) + k as i64;
        if n > 0 {
            buckets.push((base.powf((index + 1) as f64), n));
        }
    }
    buckets
}

#[cfg(test)]
mod tests;
