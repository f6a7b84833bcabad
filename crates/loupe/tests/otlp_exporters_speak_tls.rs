//! OTLP over `https://`: against the official `opentelemetry-proto` receiver serving TLS
//! with Python's `ssl` module (HTTP) and grpcio's own TLS (gRPC), with certificates made
//! by the `openssl` command. Exporters trust exactly the authorities they are told to,
//! present a client certificate to servers that require one, and refuse everything else
//! without sending a byte of telemetry.

mod support;

use loupe::export::otlp::{OtlpConfig, Protocol};
use loupe::export::tls::TlsConfig;
use loupe::export::transport::RetryPolicy;
use loupe::trace::{SimpleSpanProcessor, TracerProvider};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use support::pki::{pki, Pki};
use support::Peer;

const WAIT: Duration = Duration::from_secs(30);

fn tls_receiver(mode: &str, pki: &Pki, mutual: bool) -> (Peer, u16) {
    support::pki::tls_receiver(mode, pki, mutual, &[])
}

fn protocol(mode: &str) -> Protocol {
    if mode == "grpc" {
        Protocol::Grpc
    } else {
        Protocol::HttpProtobuf
    }
}

/// Ends one span through an exporter built from `config`; returns the exporter's stats.
fn export_one_span(config: OtlpConfig, name: &str) -> Arc<loupe::common::stats::ExporterStats> {
    let exporter = config
        .with_retry(RetryPolicy::none())
        .with_timeout(Duration::from_secs(10))
        .span_exporter()
        .unwrap();
    let stats = exporter.stats();
    let provider = TracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(exporter))
        .build()
        .unwrap();
    // A simple processor exports as the span ends: the attempt is over when this returns.
    drop(provider.tracer("tls").start(name.to_owned()));
    stats
}

fn decoded_span(peer: &Peer) -> Json {
    let got = peer.next_json(WAIT, |v| v["event"] == "decoded" && v["signal"] == "traces");
    got["spans"][0].clone()
}

fn request(peer: &Peer) -> Json {
    peer.next_json(WAIT, |v| v["event"] == "request")
}

#[test]
fn https_endpoints_are_trusted_through_the_configured_authority() {
    let pki = pki("trusted");
    for mode in ["http", "grpc"] {
        let (peer, port) = tls_receiver(mode, &pki, false);
        let config = OtlpConfig::default()
            .with_protocol(protocol(mode))
            .with_endpoint(format!("https://127.0.0.1:{port}"))
            .with_tls(TlsConfig::default().with_certificate(&pki.ca));
        let stats = export_one_span(config, "over tls");
        assert_eq!(request(&peer)["client_cn"], Json::Null, "{mode}");
        assert_eq!(decoded_span(&peer)["name"], "over tls", "{mode}");
        assert_eq!(stats.exported.get(), 1, "{mode}");
        assert_eq!(stats.failed.get(), 0, "{mode}");
    }
}

#[test]
fn mutual_tls_files_come_from_the_otel_variables() {
    let pki = pki("mutual");
    let path = |p: &PathBuf| p.to_str().unwrap().to_owned();
    for (mode, prefix) in [
        ("grpc", "OTEL_EXPORTER_OTLP_"),
        ("http", "OTEL_EXPORTER_OTLP_TRACES_"),
    ] {
        let (peer, port) = tls_receiver(mode, &pki, true);
        let vars: HashMap<String, String> = [
            (
                "OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(),
                protocol(mode).as_str().to_owned(),
            ),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                format!("https://127.0.0.1:{port}"),
            ),
            (format!("{prefix}CERTIFICATE"), path(&pki.ca)),
            (
                format!("{prefix}CLIENT_CERTIFICATE"),
                path(&pki.client_cert),
            ),
            (format!("{prefix}CLIENT_KEY"), path(&pki.client_key)),
        ]
        .into_iter()
        .collect();
        let config = OtlpConfig::from_lookup(|name| vars.get(name).cloned()).unwrap();
        let stats = export_one_span(config, "mutual");
        assert_eq!(
            request(&peer)["client_cn"],
            "loupe-test-client",
            "{mode}: the server saw the client certificate"
        );
        assert_eq!(decoded_span(&peer)["name"], "mutual", "{mode}");
        assert_eq!(stats.exported.get(), 1, "{mode}");
    }
}

#[test]
fn servers_outside_the_trusted_authorities_get_nothing() {
    let pki = pki("untrusted");
    for mode in ["http", "grpc"] {
        let (peer, port) = tls_receiver(mode, &pki, false);
        let endpoint = format!("https://127.0.0.1:{port}");
        for tls in [
            // Another authority than the one that issued the server's certificate.
            TlsConfig::default().with_certificate(&pki.other_ca),
            // The system's trust store, which does not know the test authority.
            TlsConfig::default(),
        ] {
            let config = OtlpConfig::default()
                .with_protocol(protocol(mode))
                .with_endpoint(endpoint.clone())
                .with_tls(tls.clone());
            let stats = export_one_span(config, "must not arrive");
            assert_eq!(stats.failed.get(), 1, "{mode} {tls:?}");
            assert_eq!(stats.exported.get(), 0, "{mode} {tls:?}");
        }
        let seen = peer.drain(Duration::from_millis(300));
        assert!(seen.is_empty(), "{mode}: the receiver got {seen:?}");
    }
}

#[test]
fn a_mutual_tls_server_refuses_a_client_without_a_certificate() {
    let pki = pki("no-client-cert");
    for mode in ["http", "grpc"] {
        let (peer, port) = tls_receiver(mode, &pki, true);
        let config = OtlpConfig::default()
            .with_protocol(protocol(mode))
            .with_endpoint(format!("https://127.0.0.1:{port}"))
            .with_tls(TlsConfig::default().with_certificate(&pki.ca));
        let stats = export_one_span(config, "anonymous");
        assert_eq!(stats.failed.get(), 1, "{mode}");
        let seen = peer.drain(Duration::from_millis(300));
        assert!(
            !seen.iter().any(|l| l.contains("\"decoded\"")),
            "{mode}: {seen:?}"
        );
    }
}

#[test]
fn unusable_tls_files_are_configuration_errors_naming_the_variable() {
    let pki = pki("bad-files");
    let not_pem = pki.ca.with_file_name("not.pem");
    std::fs::write(&not_pem, "this is not a certificate\n").unwrap();
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            vec![(
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                "/nonexistent/ca.pem".to_owned(),
            )],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", path(&not_pem))],
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        ),
        (
            vec![(
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                path(&pki.client_cert),
            )],
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
        ),
        (
            vec![
                (
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                    path(&pki.client_cert),
                ),
                ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", path(&not_pem)),
            ],
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
        ),
    ];
    for (vars, field) in cases {
        let map: HashMap<&str, String> = vars.iter().cloned().collect();
        let config = OtlpConfig::from_lookup(|name| map.get(name).cloned())
            .unwrap()
            .with_endpoint("https://127.0.0.1:4318");
        let Err(err) = config.span_exporter() else {
            panic!("{vars:?}: expected a configuration error")
        };
        assert_eq!(err.field, field, "{vars:?}: {err}");
    }
}
