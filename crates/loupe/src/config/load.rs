//! Reading a configuration file: `${VAR}` expansion, YAML or TOML, and errors that say
//! where and what (an unknown key suggests the nearest known one).

use super::TelemetryConfig;
use std::path::Path;

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `${NAME}` names a variable that is not set (and has no `:-default`).
    #[error("line {line}: ${{{name}}} is not set in the environment (set it, or write ${{{name}:-default}})")]
    MissingVariable {
        /// The variable.
        name: String,
        /// Its line, from 1.
        line: usize,
    },
    /// A key the configuration does not have.
    #[error("{location}unknown key `{key}`{suggestion}")]
    UnknownKey {
        /// The key.
        key: String,
        /// The nearest known key, if one is close.
        did_you_mean: Option<String>,
        /// Where, when the parser said.
        location: String,
        /// Rendered hint.
        suggestion: String,
    },
    /// Malformed YAML or TOML, or a value of the wrong type.
    #[error("{format}: {message}")]
    Parse {
        /// `YAML` or `TOML`.
        format: &'static str,
        /// The parser's message, with the location.
        message: String,
    },
    /// A value out of range.
    #[error(transparent)]
    Invalid(#[from] crate::common::error::ConfigError),
    /// A file name that ends in neither `.yaml`/`.yml` nor `.toml`.
    #[error("{path}: unknown configuration format (use .yaml, .yml or .toml)")]
    UnknownFormat {
        /// The file.
        path: String,
    },
}

impl TelemetryConfig {
    /// Reads a YAML (`.yaml`, `.yml`) or TOML (`.toml`) file over the defaults, expanding
    /// `${VAR}` and `${VAR:-default}` from the environment. Missing keys keep their
    /// defaults; unknown keys are errors.
    pub fn from_file(path: impl AsRef<Path>) -> Result<TelemetryConfig, ConfigFileError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Self::from_yaml_str(&text),
            Some("toml") => Self::from_toml_str(&text),
            _ => Err(ConfigFileError::UnknownFormat {
                path: path.display().to_string(),
            }),
        }
    }

    /// Parses YAML over the defaults (with `${VAR}` expansion from the process environment).
    pub fn from_yaml_str(text: &str) -> Result<TelemetryConfig, ConfigFileError> {
        Self::from_yaml_str_with(text, |n| std::env::var(n).ok())
    }

    /// Parses YAML, expanding variables through `lookup`.
    pub fn from_yaml_str_with(
        text: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<TelemetryConfig, ConfigFileError> {
        let text = expand(text, '#', &lookup)?;
        if text.trim().is_empty() {
            return Ok(TelemetryConfig::default());
        }
        let config: TelemetryConfig =
            serde_yaml_ng::from_str(&text).map_err(|e| classify("YAML", e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML over the defaults (with `${VAR}` expansion from the process environment).
    pub fn from_toml_str(text: &str) -> Result<TelemetryConfig, ConfigFileError> {
        Self::from_toml_str_with(text, |n| std::env::var(n).ok())
    }

    /// Parses TOML, expanding variables through `lookup`.
    pub fn from_toml_str_with(
        text: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<TelemetryConfig, ConfigFileError> {
        let text = expand(text, '#', &lookup)?;
        let config: TelemetryConfig =
            toml::from_str(&text).map_err(|e| classify("TOML", e.to_string()))?;
        config.validate()?;
        Ok(config)
    }
}

/// Replaces `${NAME}` and `${NAME:-default}`; `$${` stays a literal `${`. Comment lines are
/// left alone, so a commented-out reference to an unset variable is not an error.
fn expand(
    text: &str,
    comment: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigFileError> {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with(comment) {
            out.push_str(line);
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            if rest[..start].ends_with('$') {
                out.push_str(&rest[..start - 1]);
                out.push_str("${");
                rest = &rest[start + 2..];
                continue;
            }
            out.push_str(&rest[..start]);
            let Some(len) = rest[start + 2..].find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let inner = &rest[start + 2..start + 2 + len];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n.trim(), Some(d)),
                None => (inner.trim(), None),
            };
            match lookup(name).filter(|v| !v.is_empty()) {
                Some(value) => out.push_str(&value),
                None => match default {
                    Some(d) => out.push_str(d),
                    None => {
                        return Err(ConfigFileError::MissingVariable {
                            name: name.to_string(),
                            line: index + 1,
                        })
                    }
                },
            }
            rest = &rest[start + 3 + len..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

/// Turns serde's "unknown field `x`, expected one of `a`, `b`" into an error that names
/// the nearest known key.
fn classify(format: &'static str, message: String) -> ConfigFileError {
    let Some(at) = message.find("unknown field `") else {
        return ConfigFileError::Parse { format, message };
    };
    let location = message[..at].to_string();
    let after = &message[at + "unknown field `".len()..];
    let Some(end) = after.find('`') else {
        return ConfigFileError::Parse { format, message };
    };
    let key = after[..end].to_string();
    let expected: Vec<&str> = after[end..]
        .split('`')
        // after[end..] starts at the closing quote of the key: the names are the
        // 3rd, 5th, ... pieces.
        .skip(2)
        .step_by(2)
        .filter(|k| !k.is_empty())
        .collect();
    let did_you_mean = nearest(&key, &expected).map(str::to_string);
    let line_info = message
        .find(" at line ")
        .map(|i| message[i..].lines().next().unwrap_or("").to_string())
        .unwrap_or_default();
    let suggestion = match &did_you_mean {
        Some(k) => format!(" — did you mean `{k}`?{line_info}"),
        None if !expected.is_empty() => {
            format!(" (known keys: {}){line_info}", expected.join(", "))
        }
        None => line_info,
    };
    ConfigFileError::UnknownKey {
        key,
        did_you_mean,
        location: location
            .trim_start_matches(&format!("{format}: "))
            .to_string(),
        suggestion,
    }
}

/// The candidate closest to `key` by edit distance, if it is close enough to be a typo.
fn nearest<'a>(key: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (levenshtein(key, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(key.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("s3cr3t".into()),
            "PORT" => Some("9999".into()),
            _ => None,
        }
    }

    #[test]
    fn variables_expand_with_defaults_and_escapes() {
        let out = expand(
            "a: ${KEY}\nb: ${MISSING:-fallback}\n# c: ${MISSING}\nd: $${KEY}\n",
            '#',
            &vars,
        )
        .unwrap();
        assert_eq!(out, "a: s3cr3t\nb: fallback\n# c: ${MISSING}\nd: ${KEY}\n");
    }

    #[test]
    fn a_missing_variable_names_it_and_its_line() {
        let err = expand("x: 1\napi_key: \"${TELEMETRY_API_KEY}\"\n", '#', &vars).unwrap_err();
        match &err {
            ConfigFileError::MissingVariable { name, line } => {
                assert_eq!(name, "TELEMETRY_API_KEY");
                assert_eq!(*line, 2);
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("TELEMETRY_API_KEY"));
    }

    #[test]
    fn unknown_keys_suggest_the_nearest() {
        let err = TelemetryConfig::from_yaml_str_with("tracing:\n  samplng_rate: 0.5\n", vars)
            .unwrap_err();
        match &err {
            ConfigFileError::UnknownKey {
                key, did_you_mean, ..
            } => {
                assert_eq!(key, "samplng_rate");
                assert_eq!(did_you_mean.as_deref(), Some("sampling_rate"));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            err.to_string().contains("did you mean `sampling_rate`"),
            "{err}"
        );
        let err = TelemetryConfig::from_toml_str_with("[metrics]\nprometheus_pth = \"/m\"\n", vars)
            .unwrap_err();
        assert!(
            err.to_string().contains("did you mean `prometheus_path`"),
            "{err}"
        );
    }

    #[test]
    fn wrong_types_and_ranges_are_clear_errors() {
        let err = TelemetryConfig::from_yaml_str_with("tracing:\n  sampling_rate: lots\n", vars)
            .unwrap_err();
        assert!(matches!(err, ConfigFileError::Parse { .. }), "{err}");
        assert!(
            err.to_string().contains("sampling_rate") || err.to_string().contains("line 2"),
            "{err}"
        );
        let err = TelemetryConfig::from_yaml_str_with("tracing:\n  sampling_rate: 1.5\n", vars)
            .unwrap_err();
        assert!(err.to_string().contains("tracing.sampling_rate"), "{err}");
        let err = TelemetryConfig::from_yaml_str_with("tracing: [1, 2\n", vars).unwrap_err();
        assert!(matches!(err, ConfigFileError::Parse { .. }), "{err}");
        let err = TelemetryConfig::from_toml_str_with("[tracing\n", vars).unwrap_err();
        assert!(matches!(err, ConfigFileError::Parse { .. }), "{err}");
    }

    #[test]
    fn zipkin_tls_files_are_read_from_the_tracing_section() {
        let yaml = "tracing:\n  exporter: zipkin\n  zipkin_endpoint: https://zipkin.internal:9411/api/v2/spans\n  zipkin_tls:\n    certificate: /etc/ssl/private-ca.pem\n";
        let config = TelemetryConfig::from_yaml_str_with(yaml, vars).unwrap();
        assert_eq!(
            config.tracing.zipkin_tls.certificate.as_deref(),
            Some(std::path::Path::new("/etc/ssl/private-ca.pem"))
        );
        assert_eq!(config.tracing.zipkin_tls.client_key, None);
    }

    proptest::proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(s in "\\PC{0,200}") {
            let _ = TelemetryConfig::from_yaml_str_with(&s, vars);
            let _ = TelemetryConfig::from_toml_str_with(&s, vars);
        }

        #[test]
        fn expansion_of_text_without_references_is_identity(s in "[^$]{0,100}") {
            proptest::prop_assert_eq!(expand(&s, '#', &vars).unwrap(), s);
        }
    }
}
