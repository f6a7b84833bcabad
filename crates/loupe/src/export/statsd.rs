//! The StatsD exporter: metrics as StatsD or DogStatsD lines over UDP.
//!
//! A [`PeriodicReader`] collects **delta** points every flush interval (default 10 s, as in
//! the seed) and this exporter writes them as lines, packed into UDP datagrams:
//!
//! | instrument | line |
//! |---|---|
//! | counter | `prefix.name:increment|c` |
//! | gauge | `prefix.name:value|g` |
//! | up-down counter | `prefix.name:level|g` (it arrives cumulative: its current level) |
//! | histogram | `prefix.name.count:N|c` and `prefix.name.sum:S|c`; with [`StatsdExporterBuilder::with_histogram_buckets`] also `prefix.name.bucket:C|c` per bound, tagged `le` |
//!
//! **Histograms.** A StatsD server computes timers, histograms and DogStatsD distributions
//! (`|ms`, `|h`, `|d`) from every raw sample, but Loupe keeps only aggregates (count, sum,
//! bucket counts). Sending made-up samples (the mean, or bucket midpoints weighted by a
//! sample rate) would give the server percentiles that were never measured, so histograms
//! are sent as what is known exactly: two counters, from which the backend derives the rate
//! and the mean (`sum / count`), and optionally the bucket counts (cumulative per window,
//! like Prometheus' `le` buckets), from which quantiles can be estimated. Exponential
//! histograms send count and sum only. Use the OTLP or Prometheus exporter where
//! distributions matter.
//!
//! **Tags.** DogStatsD (`StatsdFlavor::DogStatsd`) sends attributes and constant tags as
//! `|#key:value,key2:value2`. Plain StatsD has no tags, and dropping them would merge
//! series (a gauge would flip between them), so the attributes are folded into the name in
//! order, each as two segments: `prefix.name.key.value` (dots inside keys and values become
//! `_`). Characters that would break the line protocol — `:` (except in a tag value, where
//! DogStatsD allows it), `|`, `@`, `#`, `,`, whitespace and control characters — become `_`.
//!
//! **Cumulative input.** The SDK's own `loupe.sdk.*` counters and histograms are always
//! cumulative; the exporter remembers their previous values and sends increases, so every
//! `|c` line is an increment. Plain StatsD reads a gauge value starting with `-` as a
//! decrease, so a negative gauge is sent as `name:0|g` and `name:-5|g` in the same datagram.
//!
//! **Packets.** Lines are joined with `\n` into datagrams of at most
//! [`max_packet_size`](StatsdExporterBuilder::with_max_packet_size) bytes (default 1432,
//! which fits an Ethernet MTU after IP and UDP headers), split only between lines. A line
//! longer than the limit on its own is dropped and counted as rejected.
//!
//! **Never blocking.** The socket is non-blocking and export runs on the reader's thread,
//! never on a recording thread. A datagram the OS cannot take right away is dropped; every
//! drop is counted in the `loupe.sdk.exporter.*` metrics (`exporter="statsd"` or
//! `"dogstatsd"`). The host name is resolved on the reader's thread at the first export,
//! and again after a send fails.
//!
//! # Datadog
//!
//! Datadog is reached through DogStatsD: the Datadog Agent listens on `8125/udp`. Point the
//! exporter at the agent (in Kubernetes, usually the node's address) and choose the
//! DogStatsD flavor; the agent adds host tags and forwards to Datadog with its API key, so
//! the key never lives in the application. Tag with `env`, `service` and `version` for
//! Datadog's unified service tagging:
//!
//! ```
//! use loupe::export::statsd::{StatsdExporter, StatsdFlavor};
//! use loupe::metrics::MeterProvider;
//! use loupe::KeyValue;
//! use std::time::Duration;
//!
//! let exporter = StatsdExporter::builder()
//!     .with_host("127.0.0.1:8125") // the seed's `statsd:8125`, or the Datadog Agent
//!     .with_prefix("api")
//!     .with_flavor(StatsdFlavor::DogStatsd)
//!     .with_tag(KeyValue::new("env", "production"))
//!     .with_tag(KeyValue::new("service", "api-service"))
//!     .with_flush_interval(Duration::from_secs(10))
//!     .build()?;
//! let provider = MeterProvider::builder()
//!     .with_reader(exporter.into_periodic_reader())
//!     .build();
//! let requests = provider.meter("api").u64_counter("http_requests_total").build()?;
//! requests.add(1, &[KeyValue::new("method", "GET")]);
//! // Every 10 s: `api.http_requests_total:1|c|#method:GET,env:production,service:api-service`
//! # provider.shutdown(Duration::from_secs(5))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod line;

use crate::common::attribute::KeyValue;
use crate::common::error::{ConfigError, ExportError};
use crate::common::stats::{register_exporter, ExporterStats};
use crate::metrics::{MetricExporter, PeriodicReader, ResourceMetrics, Temporality};
use line::{push_sanitized, split_into_datagrams, CumulativeMemory, Encoder, Part};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The StatsD address used when none is configured.
pub const DEFAULT_HOST: &str = "127.0.0.1:8125";
/// The largest datagram sent by default: an Ethernet MTU (1500) minus IPv6 and UDP headers,
/// minus some room for tunnels.
pub const DEFAULT_MAX_PACKET_SIZE: usize = 1432;
/// How often metrics are flushed by default (the seed's `flush_interval`).
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(10);
/// The largest UDP payload over IPv4.
const MAX_UDP_PAYLOAD: usize = 65_507;
/// The smallest packet size accepted: room for a name, a value and a few tags.
const MIN_PACKET_SIZE: usize = 64;

/// Which dialect of the line protocol to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StatsdFlavor {
    /// Etsy StatsD and compatible servers: no tags, so attributes fold into the name.
    #[default]
    Plain,
    /// Datadog's DogStatsD: attributes become `|#key:value` tags.
    DogStatsd,
}

/// Configures a [`StatsdExporter`].
#[derive(Debug)]
#[must_use]
pub struct StatsdExporterBuilder {
    host: String,
    prefix: String,
    flavor: StatsdFlavor,
    max_packet_size: usize,
    flush_interval: Duration,
    tags: Vec<KeyValue>,
    histogram_buckets: bool,
}

impl StatsdExporterBuilder {
    /// Where to send, as `host:port` (a name, an IPv4 address or a bracketed IPv6 address);
    /// default [`DEFAULT_HOST`].
    pub fn with_host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// Prepended to every metric name with a `.`; default none.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Plain StatsD (the default) or DogStatsD.
    pub fn with_flavor(mut self, flavor: StatsdFlavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// The largest datagram, in bytes; default [`DEFAULT_MAX_PACKET_SIZE`], from 64 to
    /// 65507. Raise it (to 8192, say) for a DogStatsD agent on the same host.
    pub fn with_max_packet_size(mut self, bytes: usize) -> Self {
        self.max_packet_size = bytes;
        self
    }

    /// How often [`StatsdExporter::into_periodic_reader`] flushes; default
    /// [`DEFAULT_FLUSH_INTERVAL`].
    pub fn with_flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Adds a tag to every line (after the point's attributes, which win on a clash);
    /// folded into the name like an attribute in plain StatsD. Default none.
    pub fn with_tag(mut self, tag: KeyValue) -> Self {
        self.tags.push(tag);
        self
    }

    /// Also send each histogram bucket as a counter tagged `le`; default off, since it
    /// multiplies the lines per histogram by the number of buckets.
    pub fn with_histogram_buckets(mut self, enabled: bool) -> Self {
        self.histogram_buckets = enabled;
        self
    }

    /// Checks the configuration and builds the exporter. The host is resolved at the first
    /// export, so a StatsD server that starts later is found.
    pub fn build(self) -> Result<StatsdExporter, ConfigError> {
        let (host, port) = parse_host(&self.host)?;
        if !(MIN_PACKET_SIZE..=MAX_UDP_PAYLOAD).contains(&self.max_packet_size) {
            return Err(ConfigError::new(
                "max_packet_size",
                self.max_packet_size,
                "64 to 65507 bytes",
            ));
        }
        if self.flush_interval.is_zero() {
            return Err(ConfigError::new(
                "flush_interval",
                format!("{:?}", self.flush_interval),
                "a duration above zero",
            ));
        }
        let mut prefix = String::new();
        push_sanitized(&mut prefix, self.prefix.trim_matches('.'), Part::Name);
        if !prefix.is_empty() {
            prefix.push('.');
        }
        let name = match self.flavor {
            StatsdFlavor::Plain => "statsd",
            StatsdFlavor::DogStatsd => "dogstatsd",
        };
        Ok(StatsdExporter {
            host,
            port,
            encoder: Encoder {
                prefix,
                flavor: self.flavor,
                constant_tags: self.tags,
                histogram_buckets: self.histogram_buckets,
            },
            max_packet_size: self.max_packet_size,
            flush_interval: self.flush_interval,
            socket: Mutex::new(None),
            memory: Mutex::new(CumulativeMemory::default()),
            stats: register_exporter(name, "metrics"),
            shut_down: AtomicBool::new(false),
        })
    }
}

/// Splits `host:port`; IPv6 addresses are written `[::1]:8125`.
fn parse_host(text: &str) -> Result<(String, u16), ConfigError> {
    const ALLOWED: &str = "host:port, e.g. statsd:8125, 127.0.0.1:8125 or [::1]:8125";
    let invalid = || ConfigError::new("host", text, ALLOWED);
    let (host, port) = text.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0).ok_or_else(invalid)?;
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']').ok_or_else(invalid)?,
        None if host.contains(':') => return Err(invalid()),
        None => host,
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(invalid());
    }
    Ok((host.to_owned(), port))
}

struct Connection {
    socket: UdpSocket,
    addr: SocketAddr,
}

/// Sends delta metrics to a StatsD or DogStatsD server over UDP. See the
/// [module documentation](self) for the line format.
pub struct StatsdExporter {
    host: String,
    port: u16,
    encoder: Encoder,
    max_packet_size: usize,
    flush_interval: Duration,
    // Only the reader's thread exports, so these locks are never contended.
    socket: Mutex<Option<Connection>>,
    memory: Mutex<CumulativeMemory>,
    stats: Arc<ExporterStats>,
    shut_down: AtomicBool,
}

impl std::fmt::Debug for StatsdExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatsdExporter")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("flavor", &self.encoder.flavor)
            .field("prefix", &self.encoder.prefix)
            .field("max_packet_size", &self.max_packet_size)
            .finish()
    }
}

impl StatsdExporter {
    /// Starts configuring an exporter; every setting has a default.
    pub fn builder() -> StatsdExporterBuilder {
        StatsdExporterBuilder {
            host: DEFAULT_HOST.into(),
            prefix: String::new(),
            flavor: StatsdFlavor::Plain,
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            tags: Vec::new(),
            histogram_buckets: false,
        }
    }

    /// A periodic reader that feeds this exporter every flush interval; add it to a
    /// [`MeterProvider`](crate::metrics::MeterProvider).
    pub fn into_periodic_reader(self) -> PeriodicReader {
        let interval = self.flush_interval;
        PeriodicReader::builder(self)
            .with_interval(interval)
            .build()
    }

    /// What this exporter sent, dropped and rejected so far (in data points).
    pub fn stats(&self) -> &ExporterStats {
        &self.stats
    }

    /// Resolves the host and opens a non-blocking socket of the matching family.
    fn connect(&self) -> std::io::Result<Connection> {
        let addr = (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("`{}` resolves to no address", self.host),
                )
            })?;
        let local: SocketAddr = match addr {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local)?;
        socket.set_nonblocking(true)?;
        Ok(Connection { socket, addr })
    }

    /// Sends the datagrams; returns the units in datagrams that could not be sent and the
    /// first error.
    fn send(
        &self,
        datagrams: &[line::Datagram],
    ) -> (Vec<std::ops::Range<usize>>, Option<std::io::Error>) {
        let mut guard = self.socket.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            match self.connect() {
                Ok(conn) => *guard = Some(conn),
                Err(e) => return (datagrams.iter().map(|d| d.units.clone()).collect(), Some(e)),
            }
        }
        let Some(conn) = guard.as_ref() else {
            return (Vec::new(), None);
        };
        let mut lost = Vec::new();
        let mut first_error = None;
        let mut reconnect = false;
        for datagram in datagrams {
            match conn.socket.send_to(datagram.payload.as_bytes(), conn.addr) {
                Ok(n) if n == datagram.payload.len() => {}
                Ok(n) => {
                    lost.push(datagram.units.clone());
                    first_error.get_or_insert_with(|| {
                        std::io::Error::other(format!(
                            "sent {n} of {} bytes",
                            datagram.payload.len()
                        ))
                    });
                }
                Err(e) => {
                    // A full socket buffer is transient; anything else may be a stale address.
                    reconnect |= e.kind() != std::io::ErrorKind::WouldBlock;
                    lost.push(datagram.units.clone());
                    first_error.get_or_insert(e);
                }
            }
        }
        if reconnect {
            *guard = None;
        }
        (lost, first_error)
    }
}

impl MetricExporter for StatsdExporter {
    fn export(&self, metrics: &ResourceMetrics) -> Result<(), ExportError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(ExportError::Shutdown);
        }
        let started = Instant::now();
        let encoded = {
            let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
            self.encoder.encode(metrics, &mut memory)
        };
        self.stats.rejected.add(encoded.non_finite as u64);
        if encoded.units.is_empty() {
            return Ok(());
        }
        let texts: Vec<&str> = encoded.units.iter().map(|u| u.text.as_str()).collect();
        let (datagrams, oversized) = split_into_datagrams(&texts, self.max_packet_size);
        let (lost, error) = self.send(&datagrams);

        // A point counts as exported only if every one of its lines went out.
        let mut rejected = vec![false; encoded.points];
        let mut failed = vec![false; encoded.points];
        for i in &oversized {
            rejected[encoded.units[*i].point] = true;
        }
        for range in lost {
            for unit in &encoded.units[range] {
                failed[unit.point] = true;
            }
        }
        let count = |flags: &[bool]| flags.iter().filter(|f| **f).count() as u64;
        let (n_rejected, n_failed) = (count(&rejected), count(&failed));
        let n_exported = rejected
            .iter()
            .zip(&failed)
            .filter(|(r, f)| !**r && !**f)
            .count() as u64;
        self.stats.rejected.add(n_rejected);
        self.stats.failed.add(n_failed);
        self.stats.exported.add(n_exported);
        self.stats.record_duration(started.elapsed());

        if !oversized.is_empty() {
            let e = ExportError::failed(format!(
                "{} StatsD line(s) longer than max_packet_size ({} bytes) were dropped; raise \
                 max_packet_size or use fewer or shorter attributes",
                oversized.len(),
                self.max_packet_size
            ));
            crate::common::error::report_once("statsd", &e);
        }
        match error {
            None => Ok(()),
            Some(e) => {
                let error = ExportError::from_source(
                    format!(
                        "sending to StatsD at {}:{} failed; the data points were dropped",
                        self.host, self.port
                    ),
                    e,
                );
                crate::common::error::report_once("statsd", &error);
                Err(error)
            }
        }
    }

    fn temporality(&self) -> Temporality {
        Temporality::Delta
    }

    fn shutdown(&self) -> Result<(), ExportError> {
        self.shut_down.store(true, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
