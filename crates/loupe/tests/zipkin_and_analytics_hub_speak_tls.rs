//! The Zipkin and Analytics Hub exporters over `https://`, against a real TLS server
//! (Python's `ssl` module, in the OTLP receiver peer, answering their JSON APIs) with
//! certificates made by the `openssl` command: each trusts the authority it is given,
//! presents its client certificate to a server that requires one, and sends nothing to a
//! server it does not trust.

mod support;

use loupe::config::ExporterKind;
use loupe::export::analytics_hub::{AnalyticsHubConfig, AnalyticsHubExporter};
use loupe::export::tls::TlsConfig;
use loupe::metrics::{MeterProvider, PeriodicReader};
use serde_json::Value as Json;
use std::sync::Arc;
use std::time::Duration;
use support::pki::{pki, tls_receiver};

const WAIT: Duration = Duration::from_secs(30);

/// Zipkin's status for an accepted batch.
const ZIPKIN: [&str; 3] = ["--json-path", "/api/v2/spans", "202"];
/// The Analytics Hub's.
const HUB: [&str; 3] = ["--json-path", "/api/v1/metrics", "200"];

#[test]
fn loupe_init_sends_zipkin_spans_over_mutual_tls_from_the_configuration() {
    let pki = pki("zipkin-mutual");
    let (peer, port) = tls_receiver("http", &pki, true, &ZIPKIN);
    let tls = TlsConfig::default()
        .with_certificate(&pki.ca)
        .with_client_identity(&pki.client_cert, &pki.client_key);
    let config = support::loopback_config("zipkin-tls", 9) // the OTLP port is unused
        .with_logs_exporter(ExporterKind::None)
        .with(move |c| {
            c.tracing.exporter = ExporterKind::Zipkin;
            c.tracing.zipkin_endpoint = format!("https://127.0.0.1:{port}/api/v2/spans");
            c.tracing.zipkin_tls = tls.clone();
        });
    let telemetry = loupe::init(config).unwrap();
    telemetry
        .tracer_provider()
        .tracer("zipkin.tls")
        .in_span("checkout", |span| span.set_attribute("order.items", 3i64));
    telemetry.shutdown().unwrap();

    let got = peer.next_json(WAIT, |v| v["event"] == "json");
    assert_eq!(got["client_cn"], "loupe-test-client", "{got}");
    let span = &got["body"][0];
    assert_eq!(span["name"], "checkout", "{got}");
    assert_eq!(span["localEndpoint"]["serviceName"], "zipkin-tls", "{got}");
    assert_eq!(span["tags"]["order.items"], "3", "{got}");
}

#[test]
fn zipkin_tls_files_in_the_configuration_are_checked_at_init() {
    let config = support::loopback_config("zipkin-bad-tls", 9).with(|c| {
        c.tracing.exporter = ExporterKind::Zipkin;
        c.tracing.zipkin_endpoint = "https://127.0.0.1:9411/api/v2/spans".into();
        c.tracing.zipkin_tls = TlsConfig::default().with_certificate("/nonexistent/ca.pem");
    });
    let Err(err) = loupe::init(config) else {
        panic!("expected a configuration error")
    };
    assert!(
        err.to_string().contains("tracing.zipkin_tls.certificate"),
        "{err}"
    );
}

/// Records one counter and flushes it through an Analytics Hub exporter to `port` with
/// `tls`; returns the exporter's stats and what the flush returned.
fn push_to_hub(
    port: u16,
    tls: TlsConfig,
) -> (Arc<AnalyticsHubExporter>, Result<(), loupe::ExportError>) {
    let exporter = Arc::new(
        AnalyticsHubExporter::new(AnalyticsHubConfig {
            enabled: true,
            endpoint: format!("https://127.0.0.1:{port}"),
            export_interval_secs: 3600,
            max_retries: 0,
            tls,
            ..AnalyticsHubConfig::default()
        })
        .unwrap(),
    );
    let provider = MeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(Arc::clone(&exporter))
                .with_interval(Duration::from_secs(3600))
                .build(),
        )
        .build();
    let requests = provider
        .meter("llm")
        .u64_counter("llm_requests_total")
        .build()
        .unwrap();
    requests.add(7, &[]);
    let flushed = provider.force_flush(WAIT);
    (exporter, flushed)
}

#[test]
fn the_analytics_hub_exporter_trusts_the_authority_it_is_given_and_no_other() {
    let pki = pki("hub");
    let (peer, port) = tls_receiver("http", &pki, false, &HUB);

    // The system's trust store does not know the test authority: nothing is sent.
    let (hub, flushed) = push_to_hub(port, TlsConfig::default());
    assert!(flushed.is_err(), "an untrusted server must fail the export");
    // (Counted in metrics, and Loupe reports on itself too: more than the one counter.)
    assert!(hub.stats().failed.get() > 0);
    assert_eq!(hub.stats().exported.get(), 0);

    let (hub, flushed) = push_to_hub(port, TlsConfig::default().with_certificate(&pki.ca));
    flushed.unwrap();
    assert!(hub.stats().exported.get() > 0);
    assert_eq!(hub.stats().failed.get(), 0);
    let got = peer.next_json(WAIT, |v| v["event"] == "json");
    assert_eq!(got["client_cn"], Json::Null);
    let metric = got["body"]["metrics"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == "llm_requests_total"))
        .unwrap_or_else(|| panic!("no llm_requests_total in {got}"));
    assert_eq!(metric["value"], 7.0, "{got}");
}
