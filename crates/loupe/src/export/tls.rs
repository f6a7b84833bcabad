//! TLS for the network exporters: which servers to trust, and the client's own certificate.
//!
//! With the `tls` feature (on by default) every HTTP exporter and the OTLP gRPC exporter
//! accept `https://` endpoints. Servers are checked against the system's trust store, or
//! only against the certificate authorities in [`TlsConfig::certificate`] when it is set
//! (as the OpenTelemetry specification's `OTEL_EXPORTER_OTLP_CERTIFICATE` says). A client
//! certificate and key, for servers that require mutual TLS, come from
//! [`TlsConfig::client_certificate`] and [`TlsConfig::client_key`].
//!
//! The files are read and checked when the exporter is built, so a missing file, a file
//! without a certificate or a key that does not parse is a [`ConfigError`] naming the
//! setting, not a failed export later.
//!
//! ```no_run
//! use loupe::export::otlp::OtlpConfig;
//! use loupe::export::tls::TlsConfig;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let exporter = OtlpConfig::default()
//!     .with_endpoint("https://collector.internal:4318")
//!     .with_tls(
//!         TlsConfig::default()
//!             .with_certificate("/etc/ssl/private-ca.pem")
//!             .with_client_identity("/etc/loupe/client.pem", "/etc/loupe/client.key"),
//!     )
//!     .span_exporter()?;
//! # Ok(()) }
//! ```

// Without a network exporter only `TlsConfig` itself is used (by configuration).
#![cfg_attr(
    not(feature = "http-export"),
    allow(dead_code, unused_macros, unused_imports)
)]

use crate::common::error::ConfigError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where an exporter's TLS files are. Every field is optional: with none set, `https://`
/// endpoints are checked against the system's trust store and no client certificate is
/// sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// A PEM file of the certificate authorities to trust, instead of the system's
    /// (`OTEL_EXPORTER_OTLP_CERTIFICATE`).
    pub certificate: Option<PathBuf>,
    /// A PEM file with the client's certificate chain, for mutual TLS
    /// (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`). Needs `client_key`.
    pub client_certificate: Option<PathBuf>,
    /// A PEM file with the client's private key (`OTEL_EXPORTER_OTLP_CLIENT_KEY`). Needs
    /// `client_certificate`.
    pub client_key: Option<PathBuf>,
}

impl TlsConfig {
    /// Trusts only the certificate authorities in the PEM file at `path`.
    pub fn with_certificate(mut self, path: impl Into<PathBuf>) -> Self {
        self.certificate = Some(path.into());
        self
    }

    /// Presents the certificate chain and private key in these PEM files (mutual TLS).
    pub fn with_client_identity(
        mut self,
        certificate: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.client_certificate = Some(certificate.into());
        self.client_key = Some(key.into());
        self
    }

    /// Each field of `self`, or `fallback`'s where `self` has none.
    pub fn or(&self, fallback: &TlsConfig) -> TlsConfig {
        TlsConfig {
            certificate: self
                .certificate
                .clone()
                .or_else(|| fallback.certificate.clone()),
            client_certificate: self
                .client_certificate
                .clone()
                .or_else(|| fallback.client_certificate.clone()),
            client_key: self
                .client_key
                .clone()
                .or_else(|| fallback.client_key.clone()),
        }
    }

    /// Reads and checks the files; errors name the setting in `fields`.
    pub(crate) fn load(&self, fields: &TlsFields) -> Result<LoadedTls, ConfigError> {
        let ca = match &self.certificate {
            Some(path) => Some(load_certificates(fields.certificate, path)?),
            None => None,
        };
        let identity = match (&self.client_certificate, &self.client_key) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    fields.client_key,
                    "unset",
                    "the client's private key (PEM), set together with the client certificate",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    fields.client_certificate,
                    "unset",
                    "the client's certificate chain (PEM), set together with the client key",
                ))
            }
            (Some(cert), Some(key)) => Some(load_identity(fields, cert, key)?),
        };
        Ok(LoadedTls { ca, identity })
    }
}

/// The names errors give each [`TlsConfig`] field: the variable or key users set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TlsFields {
    pub certificate: &'static str,
    pub client_certificate: &'static str,
    pub client_key: &'static str,
}

/// The [`TlsFields`] of a configuration section: `tls_fields!("zipkin.tls")` names
/// `zipkin.tls.certificate`, `zipkin.tls.client_certificate` and `zipkin.tls.client_key`.
macro_rules! tls_fields {
    ($section:literal) => {
        $crate::export::tls::TlsFields {
            certificate: concat!($section, ".certificate"),
            client_certificate: concat!($section, ".client_certificate"),
            client_key: concat!($section, ".client_key"),
        }
    };
}
pub(crate) use tls_fields;

/// The checked contents of a [`TlsConfig`]'s files. Its `Debug` output says what is set,
/// never the contents (one of them is a private key).
#[derive(Clone, Default, PartialEq)]
pub(crate) struct LoadedTls {
    /// The PEM text of the trusted certificate authorities, when the system's are not used.
    pub ca: Option<Vec<u8>>,
    /// The client's certificate chain and key, PEM.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for LoadedTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedTls")
            .field("own_ca", &self.ca.is_some())
            .field("client_identity", &self.identity.is_some())
            .finish()
    }
}

#[cfg(feature = "tls")]
fn read(field: &'static str, path: &Path, allowed: &'static str) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path)
        .map_err(|e| ConfigError::new(field, format!("{path:?} (cannot read it: {e})"), allowed))
}

#[cfg(feature = "tls")]
const CERTIFICATES: &str = "a readable PEM file with at least one CERTIFICATE block";
#[cfg(feature = "tls")]
const KEY: &str = "a readable PEM file with the client's private key, matching its certificate";

#[cfg(feature = "tls")]
fn load_certificates(field: &'static str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    let pem = read(field, path, CERTIFICATES)?;
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certs) if !certs.is_empty() => Ok(pem),
        Ok(_) => Err(ConfigError::new(
            field,
            format!("{path:?} (no certificate in it)"),
            CERTIFICATES,
        )),
        Err(e) => Err(ConfigError::new(
            field,
            format!("{path:?} ({})", crate::common::error::error_chain(&e)),
            CERTIFICATES,
        )),
    }
}

#[cfg(feature = "tls")]
fn load_identity(
    fields: &TlsFields,
    cert: &Path,
    key: &Path,
) -> Result<(Vec<u8>, Vec<u8>), ConfigError> {
    let chain = load_certificates(fields.client_certificate, cert)?;
    let key_pem = read(fields.client_key, key, KEY)?;
    reqwest::Identity::from_pem(&identity_pem(&chain, &key_pem)).map_err(|e| {
        ConfigError::new(
            fields.client_key,
            format!("{key:?} ({})", crate::common::error::error_chain(&e)),
            KEY,
        )
    })?;
    Ok((chain, key_pem))
}

/// The one PEM text reqwest reads a client identity from: the chain, then the key.
#[cfg(feature = "tls")]
fn identity_pem(chain: &[u8], key: &[u8]) -> Vec<u8> {
    let mut both = Vec::with_capacity(chain.len() + key.len() + 1);
    both.extend_from_slice(chain);
    both.push(b'\n');
    both.extend_from_slice(key);
    both
}

#[cfg(not(feature = "tls"))]
fn load_certificates(field: &'static str, _path: &Path) -> Result<Vec<u8>, ConfigError> {
    Err(ConfigError::new(field, "set", WITHOUT_TLS))
}

#[cfg(not(feature = "tls"))]
fn load_identity(
    fields: &TlsFields,
    _cert: &Path,
    _key: &Path,
) -> Result<(Vec<u8>, Vec<u8>), ConfigError> {
    Err(ConfigError::new(
        fields.client_certificate,
        "set",
        WITHOUT_TLS,
    ))
}

#[cfg(not(feature = "tls"))]
const WITHOUT_TLS: &str = "nothing: this build of Loupe has no TLS (enable its `tls` feature)";

#[cfg(feature = "tls")]
impl LoadedTls {
    /// An HTTP client builder that trusts and presents what `self` says.
    pub(crate) fn http_client(
        &self,
        mut builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, reqwest::Error> {
        if let Some(ca) = &self.ca {
            builder = builder.tls_certs_only(reqwest::Certificate::from_pem_bundle(ca)?);
        }
        if let Some((cert, key)) = &self.identity {
            builder = builder.identity(reqwest::Identity::from_pem(&identity_pem(cert, key))?);
        }
        Ok(builder)
    }

    /// The gRPC channel's TLS settings for an `https://` endpoint.
    #[cfg(feature = "otlp")]
    pub(crate) fn grpc(&self) -> tonic::transport::ClientTlsConfig {
        let mut config = tonic::transport::ClientTlsConfig::new();
        config = match &self.ca {
            Some(ca) => config.ca_certificate(tonic::transport::Certificate::from_pem(ca)),
            None => config.with_native_roots(),
        };
        if let Some((cert, key)) = &self.identity {
            config = config.identity(tonic::transport::Identity::from_pem(cert, key));
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG_FIELDS: TlsFields = tls_fields!("tls");

    fn temp(name: &str, contents: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("loupe-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn per_field_fallback() {
        let shared = TlsConfig::default()
            .with_certificate("/shared/ca.pem")
            .with_client_identity("/shared/c.pem", "/shared/c.key");
        let signal = TlsConfig {
            client_key: Some("/signal/c.key".into()),
            ..TlsConfig::default()
        };
        let merged = signal.or(&shared);
        assert_eq!(
            merged.certificate.as_deref(),
            Some(Path::new("/shared/ca.pem"))
        );
        assert_eq!(
            merged.client_certificate.as_deref(),
            Some(Path::new("/shared/c.pem"))
        );
        assert_eq!(
            merged.client_key.as_deref(),
            Some(Path::new("/signal/c.key"))
        );
    }

    #[test]
    fn nothing_set_loads_nothing() {
        let loaded = TlsConfig::default().load(&CONFIG_FIELDS).unwrap();
        assert!(loaded.ca.is_none() && loaded.identity.is_none());
    }

    #[test]
    fn bad_files_are_errors_naming_the_setting() {
        let missing = TlsConfig::default().with_certificate("/nonexistent/ca.pem");
        let err = missing.load(&CONFIG_FIELDS).unwrap_err();
        assert_eq!(err.field, "tls.certificate");
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");

        let not_pem = temp("not-pem.pem", "hello, I am not a certificate\n");
        let err = TlsConfig::default()
            .with_certificate(&not_pem)
            .load(&CONFIG_FIELDS)
            .unwrap_err();
        assert_eq!(err.field, "tls.certificate", "{err}");

        let half = TlsConfig {
            client_certificate: Some(not_pem.clone()),
            ..TlsConfig::default()
        };
        assert_eq!(
            half.load(&CONFIG_FIELDS).unwrap_err().field,
            "tls.client_key"
        );
        let other_half = TlsConfig {
            client_key: Some(not_pem),
            ..TlsConfig::default()
        };
        assert_eq!(
            other_half.load(&CONFIG_FIELDS).unwrap_err().field,
            "tls.client_certificate"
        );
    }
}
