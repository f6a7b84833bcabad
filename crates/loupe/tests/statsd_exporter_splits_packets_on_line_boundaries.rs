//! The StatsD exporter sends delta lines to a real UDP socket on loopback, in datagrams no
//! larger than the limit, each line whole.

use loupe::export::statsd::{StatsdExporter, StatsdFlavor};
use loupe::metrics::{MeterProvider, PeriodicReader};
use loupe::KeyValue;
use std::collections::HashMap;
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);
const MAX_PACKET: usize = 160;

/// A StatsD server stand-in: a UDP socket on loopback.
struct Server {
    socket: UdpSocket,
    /// Every datagram received so far.
    datagrams: Vec<String>,
}

impl Server {
    fn start() -> Server {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Server {
            socket,
            datagrams: Vec::new(),
        }
    }

    fn host(&self) -> String {
        self.socket.local_addr().unwrap().to_string()
    }

    /// Every line received so far, with how often it came.
    fn lines(&self) -> HashMap<String, usize> {
        let mut lines = HashMap::new();
        for line in self.datagrams.iter().flat_map(|d| d.split('\n')) {
            *lines.entry(line.to_owned()).or_default() += 1;
        }
        lines
    }

    /// Receives until every `expected` line arrived, failing after `WAIT`.
    fn wait_for_lines(&mut self, expected: &[String]) {
        let deadline = Instant::now() + WAIT;
        let mut buf = vec![0u8; 65_536];
        while !expected.iter().all(|l| self.lines().contains_key(l)) {
            assert!(
                Instant::now() < deadline,
                "missing {:?}; received {:?}",
                expected
                    .iter()
                    .filter(|l| !self.lines().contains_key(*l))
                    .collect::<Vec<_>>(),
                self.datagrams
            );
            if let Ok(n) = self.socket.recv(&mut buf) {
                self.datagrams
                    .push(String::from_utf8(buf[..n].to_vec()).expect("UTF-8 datagram"));
            }
        }
    }

    /// Takes whatever is already queued on the socket (loopback delivers during `send`, so
    /// after a flush returned, everything it sent is here).
    fn drain(&mut self) {
        self.socket.set_nonblocking(true).unwrap();
        let mut buf = vec![0u8; 65_536];
        while let Ok(n) = self.socket.recv(&mut buf) {
            self.datagrams
                .push(String::from_utf8(buf[..n].to_vec()).expect("UTF-8 datagram"));
        }
        self.socket.set_nonblocking(false).unwrap();
    }
}

fn exporter(server: &Server) -> Arc<StatsdExporter> {
    Arc::new(
        StatsdExporter::builder()
            .with_host(server.host())
            .with_prefix("api")
            .with_flavor(StatsdFlavor::DogStatsd)
            .with_max_packet_size(MAX_PACKET)
            .with_tag(KeyValue::new("env", "test"))
            .build()
            .unwrap(),
    )
}

/// A provider whose reader exports only when flushed.
fn provider(exporter: &Arc<StatsdExporter>) -> MeterProvider {
    MeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(Arc::clone(exporter))
                .with_interval(Duration::from_secs(3600))
                .build(),
        )
        .build()
}

#[test]
fn many_series_arrive_whole_in_datagrams_under_the_limit() {
    let mut server = Server::start();
    let exporter = exporter(&server);
    let provider = provider(&exporter);
    let meter = provider.meter("api");
    let requests = meter.u64_counter("http_requests_total").build().unwrap();
    let latency = meter
        .f64_histogram("request_duration_seconds")
        .build()
        .unwrap();
    let in_flight = meter.i64_up_down_counter("in_flight").build().unwrap();
    let mut expected = Vec::new();
    for i in 0..40u64 {
        let route = format!("/users/{i}");
        requests.add(i + 1, &[KeyValue::new("route", route.clone())]);
        expected.push(format!(
            "api.http_requests_total:{}|c|#route:{route},env:test",
            i + 1
        ));
    }
    latency.record(0.25, &[]);
    latency.record(0.5, &[]);
    in_flight.add(-3, &[]);
    expected.extend([
        "api.request_duration_seconds.count:2|c|#env:test".to_owned(),
        "api.request_duration_seconds.sum:0.75|c|#env:test".to_owned(),
        "api.in_flight:-3|g|#env:test".to_owned(),
    ]);

    provider.force_flush(WAIT).unwrap();
    server.wait_for_lines(&expected);
    server.drain();

    assert!(
        server.datagrams.len() >= 15,
        "40+ lines of ~50 bytes need many {MAX_PACKET}-byte datagrams, got {}",
        server.datagrams.len()
    );
    for datagram in &server.datagrams {
        assert!(
            datagram.len() <= MAX_PACKET,
            "{} bytes: {datagram}",
            datagram.len()
        );
        for line in datagram.split('\n') {
            let (name, rest) = line.split_once(':').expect("name:value");
            assert!(name.starts_with("api."), "{line}");
            let mut fields = rest.split('|');
            assert!(fields.next().unwrap().parse::<f64>().is_ok(), "{line}");
            assert!(matches!(fields.next(), Some("c" | "g")), "{line}");
            assert!(fields.next().unwrap().starts_with('#'), "{line}");
        }
    }
    let lines = server.lines();
    for line in &expected {
        assert_eq!(lines[line], 1, "{line} sent once");
    }
    assert_eq!(exporter.stats().failed.get(), 0);
    assert_eq!(exporter.stats().rejected.get(), 0);
    assert!(exporter.stats().exported.get() >= 42);
}

#[test]
fn a_second_flush_sends_only_what_changed() {
    let mut server = Server::start();
    let exporter = exporter(&server);
    let provider = provider(&exporter);
    let meter = provider.meter("api");
    let jobs = meter.u64_counter("jobs").build().unwrap();
    let idle = meter.u64_counter("idle").build().unwrap();
    jobs.add(4, &[]);
    idle.add(1, &[]);
    provider.force_flush(WAIT).unwrap();
    server.wait_for_lines(&[
        "api.jobs:4|c|#env:test".into(),
        "api.idle:1|c|#env:test".into(),
    ]);
    server.drain();

    server.datagrams.clear();
    jobs.add(1, &[]);
    provider.force_flush(WAIT).unwrap();
    server.wait_for_lines(&["api.jobs:1|c|#env:test".into()]);
    server.drain();
    let lines = server.lines();
    assert!(
        !lines.keys().any(|l| l.starts_with("api.idle:")),
        "an unchanged counter is not sent again: {lines:?}"
    );
    assert!(
        !lines.contains_key("api.jobs:5|c|#env:test"),
        "deltas, not totals"
    );
}

#[test]
fn a_line_longer_than_the_limit_is_dropped_and_counted() {
    let mut server = Server::start();
    let exporter = exporter(&server);
    let provider = provider(&exporter);
    let meter = provider.meter("api");
    let counter = meter.u64_counter("uploads").build().unwrap();
    counter.add(1, &[KeyValue::new("file", "x".repeat(MAX_PACKET))]);
    counter.add(2, &[KeyValue::new("file", "small")]);
    provider.force_flush(WAIT).unwrap();
    server.wait_for_lines(&["api.uploads:2|c|#file:small,env:test".into()]);
    server.drain();

    assert!(
        !server.lines().keys().any(|l| l.contains("xxxx")),
        "the oversized line was not sent"
    );
    assert_eq!(exporter.stats().rejected.get(), 1);
}
