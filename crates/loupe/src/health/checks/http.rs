//! An HTTP check.

use crate::common::error::ConfigError;
use crate::export::transport::error_chain;
use crate::health::check::{truncate, CheckFuture, CheckResult, HealthCheck};
use std::time::Duration;

/// The most of an unexpected response's body that goes into the failure message.
const MAX_BODY_IN_MESSAGE: usize = 256;

/// Healthy when a request to a URL answers the expected status within the timeout (002's
/// `Check::HTTP`).
///
/// Redirects are not followed (a redirect to a login page is not a healthy answer) and
/// proxy environment variables are ignored: the check talks to the dependency directly.
///
/// ```
/// use loupe::health::HttpCheck;
/// use std::time::Duration;
///
/// let check = HttpCheck::builder("http://redis:8001/health")
///     .method("GET")
///     .expected_status(200)
///     .header("Authorization", "Bearer token")
///     .timeout(Duration::from_secs(5))
///     .build()?;
/// # let _ = check;
/// # Ok::<(), loupe::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct HttpCheck {
    client: reqwest::Client,
    method: reqwest::Method,
    url: reqwest::Url,
    headers: http::HeaderMap,
    expected_status: Option<u16>,
    timeout: Duration,
}

/// Builds an [`HttpCheck`].
#[derive(Clone, Debug)]
#[must_use]
pub struct HttpCheckBuilder {
    url: String,
    method: String,
    headers: Vec<(String, String)>,
    expected_status: Option<u16>,
    timeout: Duration,
}

impl HttpCheck {
    /// A check of `url` (`http://` or `https://`).
    pub fn builder(url: impl Into<String>) -> HttpCheckBuilder {
        HttpCheckBuilder {
            url: url.into(),
            method: "GET".into(),
            headers: Vec::new(),
            expected_status: None,
            timeout: Duration::from_secs(5),
        }
    }
}

impl HttpCheckBuilder {
    /// The request method, e.g. `GET`, `HEAD`, `POST`. Default `GET`.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = method.into();
        self
    }

    /// The status that counts as healthy. Default: any 2xx.
    pub fn expected_status(mut self, status: u16) -> Self {
        self.expected_status = Some(status);
        self
    }

    /// Adds a request header. Default: none.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// How long the whole request may take. Default 5 s (the registry's timeout bounds it
    /// too).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the settings and builds the check.
    pub fn build(self) -> Result<HttpCheck, ConfigError> {
        let url = reqwest::Url::parse(&self.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| {
                ConfigError::new("url", &self.url, "an absolute http:// or https:// URL")
            })?;
        let method =
            reqwest::Method::from_bytes(self.method.trim().to_ascii_uppercase().as_bytes())
                .map_err(|_| ConfigError::new("method", &self.method, "an HTTP method token"))?;
        if let Some(status) = self.expected_status {
            if !(100..=599).contains(&status) {
                return Err(ConfigError::new(
                    "expected_status",
                    status,
                    "an HTTP status from 100 to 599",
                ));
            }
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::new("timeout", "0", "a positive duration"));
        }
        let mut headers = http::HeaderMap::new();
        for (name, value) in &self.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ConfigError::new("headers", name, "a valid HTTP header name"))?;
            let value = http::HeaderValue::from_str(value).map_err(|_| {
                ConfigError::new(
                    "headers",
                    format!("{name}: <value>"),
                    "visible ASCII header values",
                )
            })?;
            headers.append(name, value);
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| {
                ConfigError::new(
                    "url",
                    error_chain(&e),
                    "an HTTP client this system can create",
                )
            })?;
        Ok(HttpCheck {
            client,
            method,
            url,
            headers,
            expected_status: self.expected_status,
            timeout: self.timeout,
        })
    }
}

impl HttpCheck {
    fn expected(&self) -> String {
        match self.expected_status {
            Some(status) => status.to_string(),
            None => "a 2xx status".into(),
        }
    }

    async fn run(&self) -> CheckResult {
        let request = self
            .client
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone())
            .timeout(self.timeout);
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_timeout() => {
                return CheckResult::unhealthy(format!(
                    "{} {} timed out after {:?}",
                    self.method, self.url, self.timeout
                ))
            }
            Err(e) => {
                return CheckResult::unhealthy(format!(
                    "{} {} failed: {}",
                    self.method,
                    self.url,
                    error_chain(&e)
                ))
            }
        };
        let status = response.status();
        let ok = match self.expected_status {
            Some(expected) => status.as_u16() == expected,
            None => status.is_success(),
        };
        if ok {
            return CheckResult::healthy()
                .with_message(format!("{} {} answered {status}", self.method, self.url));
        }
        // Part of the body usually says why; never wait long or read much for it.
        let mut body = Vec::new();
        while body.len() < MAX_BODY_IN_MESSAGE {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        let body = truncate(
            String::from_utf8_lossy(&body).trim().to_string(),
            MAX_BODY_IN_MESSAGE,
        );
        let mut reason = format!(
            "{} {} answered {status}, expected {}",
            self.method,
            self.url,
            self.expected()
        );
        if !body.is_empty() {
            reason.push_str(": ");
            reason.push_str(&body);
        }
        CheckResult::unhealthy(reason)
    }
}

impl HealthCheck for HttpCheck {
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(self.run())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_name_the_field() {
        let err = HttpCheck::builder("redis:8001/health").build().unwrap_err();
        assert_eq!(err.field, "url");
        let err = HttpCheck::builder("ftp://host/").build().unwrap_err();
        assert_eq!(err.field, "url");
        let err = HttpCheck::builder("http://h/")
            .method("GE T")
            .build()
            .unwrap_err();
        assert_eq!(err.field, "method");
        let err = HttpCheck::builder("http://h/")
            .expected_status(42)
            .build()
            .unwrap_err();
        assert_eq!(err.field, "expected_status");
        let err = HttpCheck::builder("http://h/")
            .header("bad name", "v")
            .build()
            .unwrap_err();
        assert_eq!(err.field, "headers");
        let err = HttpCheck::builder("http://h/")
            .header("x", "line\nbreak")
            .build()
            .unwrap_err();
        assert_eq!(err.field, "headers");
        assert!(HttpCheck::builder("https://h:8443/health")
            .method("head")
            .build()
            .is_ok());
    }
}
