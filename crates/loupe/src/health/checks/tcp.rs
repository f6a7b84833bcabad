//! A TCP connect check.

use crate::health::check::{CheckFuture, CheckResult, HealthCheck};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Healthy when a TCP connection to `host:port` opens within the timeout (002's
/// `Check::TCP`). The host is resolved on every run, so a DNS change is followed; the
/// connection is closed at once.
///
/// ```
/// use loupe::health::TcpCheck;
/// use std::time::Duration;
///
/// let check = TcpCheck::new("database", 5432).with_timeout(Duration::from_secs(2));
/// # let _ = check;
/// ```
#[derive(Clone, Debug)]
pub struct TcpCheck {
    host: String,
    port: u16,
    timeout: Duration,
}

impl TcpCheck {
    /// Connects to `host` (a name or an IP address) on `port`, with a 5 s timeout.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        TcpCheck {
            host: host.into(),
            port,
            timeout: Duration::from_secs(5),
        }
    }

    /// Connects to `addr`.
    pub fn to(addr: SocketAddr) -> Self {
        TcpCheck::new(addr.ip().to_string(), addr.port())
    }

    /// How long a connection may take to open. Default 5 s (the registry's timeout bounds
    /// it too).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn target(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl HealthCheck for TcpCheck {
    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            let started = Instant::now();
            let connect = tokio::net::TcpStream::connect((self.host.as_str(), self.port));
            match tokio::time::timeout(self.timeout, connect).await {
                Ok(Ok(_stream)) => CheckResult::healthy().with_message(format!(
                    "connected to {} in {:.1} ms",
                    self.target(),
                    started.elapsed().as_secs_f64() * 1e3
                )),
                Ok(Err(e)) => {
                    CheckResult::unhealthy(format!("cannot connect to {}: {e}", self.target()))
                }
                Err(_) => CheckResult::unhealthy(format!(
                    "connecting to {} timed out after {:?}",
                    self.target(),
                    self.timeout
                )),
            }
        })
    }
}
