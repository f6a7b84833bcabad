//! `/health`, `/ready` and `/live` over real HTTP: the JSON body and its status codes as
//! checks fail, readiness through start-up and shutdown, 404 and 405, custom paths, and one
//! listener shared with the Prometheus endpoint or an application's own routes.

mod support;
#[path = "support/tcp_service.rs"]
mod tcp_service;

use loupe::export::prometheus::PrometheusExporter;
use loupe::health::{self, CheckOptions, HealthPaths, HealthRegistry, TcpCheck};
use loupe::metrics::MeterProvider;
use std::time::Duration;
use support::{free_port, http_get, http_request, wait_for};
use tcp_service::TcpService;

const WAIT: Duration = Duration::from_secs(20);

fn fast() -> CheckOptions {
    CheckOptions::default()
        .with_interval(Duration::from_millis(20))
        .with_unhealthy_threshold(2)
        .with_healthy_threshold(1)
}

fn get_json(url: &str) -> (u16, serde_json::Value) {
    let (status, body) = http_get(url).unwrap_or_else(|| panic!("no answer from {url}"));
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"));
    (status, json)
}

/// Waits until `GET url` answers `status` with a JSON `status` field of `field`.
fn wait_json(url: &str, status: u16, field: &str) -> serde_json::Value {
    wait_for(&format!("{url} to answer {status} {field}"), WAIT, || {
        let (s, json) = get_json(url);
        (s == status && json["status"] == field).then_some(json)
    })
}

fn is_rfc3339_utc(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.len() >= 20
        && text.ends_with('Z')
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':'
        && text[..4].parse::<u16>().is_ok_and(|y| y >= 2024)
}

#[test]
fn health_reports_each_check_and_answers_503_when_a_critical_one_fails() {
    let provider = MeterProvider::builder().build();
    let registry = HealthRegistry::builder()
        .with_version("1.4.2")
        .with_meter_provider(&provider)
        .on_transition(|_| {})
        .build()
        .unwrap();
    let database = TcpService::start("127.0.0.1:0");
    let database_addr = database.addr();
    registry
        .register("database", TcpCheck::to(database_addr), fast())
        .unwrap();
    // Nothing listens on this port: the cache is down from the start.
    let cache = TcpCheck::new("127.0.0.1", free_port());
    registry
        .register("cache", cache, fast().non_critical())
        .unwrap();

    let router = registry
        .router(&HealthPaths::default())
        .unwrap()
        .merge(PrometheusExporter::new(&provider).router("/metrics"));
    let server = health::serve(router, "127.0.0.1:0".parse().unwrap()).unwrap();
    let base = format!("http://{}", server.local_addr());

    // A non-critical check down: degraded, still 200 and ready.
    let body = wait_json(&format!("{base}/health"), 200, "degraded");
    assert_eq!(body["version"], "1.4.2");
    assert!(body["uptime_seconds"].is_u64());
    assert_eq!(body["ready"], true);
    assert!(
        is_rfc3339_utc(body["timestamp"].as_str().unwrap()),
        "{body}"
    );
    let db = &body["checks"]["database"];
    assert_eq!(db["status"], "healthy");
    assert_eq!(db["critical"], true);
    assert_eq!(db["last_error"], serde_json::Value::Null);
    assert_eq!(db["consecutive_failures"], 0);
    let checked = db["last_checked"].as_str().unwrap();
    assert!(is_rfc3339_utc(checked), "{checked}");
    let cache = &body["checks"]["cache"];
    assert_eq!(cache["status"], "unhealthy");
    assert_eq!(cache["critical"], false);
    assert!(cache["consecutive_failures"].as_u64().unwrap() >= 2);
    assert!(cache["last_error"]
        .as_str()
        .unwrap()
        .contains("Connection refused"));
    let (status, ready) = get_json(&format!("{base}/ready"));
    assert_eq!((status, ready["status"].as_str()), (200, Some("ready")));

    // The critical check fails: unhealthy, 503, not ready.
    drop(database);
    let body = wait_json(&format!("{base}/health"), 503, "unhealthy");
    assert_eq!(body["checks"]["database"]["status"], "unhealthy");
    assert_eq!(body["ready"], false);
    let (status, ready) = get_json(&format!("{base}/ready"));
    assert_eq!(status, 503);
    assert_eq!(ready["status"], "not_ready");
    assert_eq!(ready["reason"], "critical check `database` is unhealthy");
    let (status, live) = http_get(&format!("{base}/live")).unwrap();
    assert_eq!((status, live.as_str()), (200, "OK\n"), "alive all the same");

    // It comes back.
    let _database = TcpService::start(&database_addr.to_string());
    wait_json(&format!("{base}/health"), 200, "degraded");

    // The transitions are on the Prometheus endpoint served alongside.
    let (status, metrics) = http_get(&format!("{base}/metrics")).unwrap();
    assert_eq!(status, 200);
    for series in [
        "loupe_health_transitions_total{check=\"database\",to=\"unhealthy\"",
        "loupe_health_transitions_total{check=\"database\",to=\"healthy\"",
        "loupe_health_transitions_total{check=\"cache\",to=\"unhealthy\"",
    ] {
        assert!(
            metrics.contains(series),
            "{series} missing from:\n{metrics}"
        );
    }
    server.shutdown();
}

#[test]
fn ready_follows_start_up_and_shutdown_while_live_stays_up() {
    let registry = HealthRegistry::builder()
        .with_initially_ready(false)
        .build()
        .unwrap();
    let server = health::serve(
        registry.router(&HealthPaths::default()).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let base = format!("http://{}", server.local_addr());

    let (status, ready) = get_json(&format!("{base}/ready"));
    assert_eq!(status, 503);
    assert_eq!(ready["reason"], "not marked ready");
    assert_eq!(
        get_json(&format!("{base}/health")).0,
        200,
        "healthy, not ready"
    );

    registry.set_ready(true);
    let ready = http_request("GET", &format!("{base}/ready"), &[]).unwrap();
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body, r#"{"status":"ready"}"#);
    assert_eq!(ready.header("content-type"), Some("application/json"));
    assert_eq!(ready.header("cache-control"), Some("no-store"));

    registry.begin_shutdown();
    let (status, ready) = get_json(&format!("{base}/ready"));
    assert_eq!(status, 503);
    assert_eq!(
        ready,
        serde_json::json!({"status": "not_ready", "reason": "shutting down"})
    );
    let (status, health) = get_json(&format!("{base}/health"));
    assert_eq!(
        (status, health["status"].as_str()),
        (503, Some("shutting_down"))
    );
    assert_eq!(http_get(&format!("{base}/live")).unwrap().0, 200);
    server.shutdown();
}

#[test]
fn unknown_paths_get_404_and_wrong_methods_get_405_with_allow() {
    let registry = HealthRegistry::new();
    let server = health::serve(
        registry.router(&HealthPaths::default()).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let base = format!("http://{}", server.local_addr());

    assert_eq!(http_get(&format!("{base}/nope")).unwrap().0, 404);
    assert_eq!(http_get(&format!("{base}/health/extra")).unwrap().0, 404);
    for path in ["/health", "/ready", "/live"] {
        for method in ["POST", "PUT", "DELETE"] {
            let response = http_request(method, &format!("{base}{path}"), &[]).unwrap();
            assert_eq!(response.status, 405, "{method} {path}");
            let allow = response.header("allow").unwrap_or_default();
            assert!(allow.contains("GET") && allow.contains("HEAD"), "{allow}");
        }
        let head = http_request("HEAD", &format!("{base}{path}"), &[]).unwrap();
        assert_eq!(head.status, 200, "HEAD {path}");
        assert_eq!(head.body, "", "HEAD {path} has no body");
    }
    server.shutdown();
}

#[test]
fn paths_are_configurable_and_mount_into_an_application() {
    let registry = HealthRegistry::new();
    let paths = HealthPaths {
        health: "/healthz".into(),
        readiness: "/probe/ready".into(),
        liveness: "/probe/live".into(),
    };
    let app = axum::Router::new()
        .route("/api/orders", axum::routing::get(|| async { "orders" }))
        .merge(registry.router(&paths).unwrap());
    let server = health::serve(app, "127.0.0.1:0".parse().unwrap()).unwrap();
    let base = format!("http://{}", server.local_addr());

    assert_eq!(get_json(&format!("{base}/healthz")).1["status"], "healthy");
    assert_eq!(get_json(&format!("{base}/probe/ready")).0, 200);
    assert_eq!(http_get(&format!("{base}/probe/live")).unwrap().0, 200);
    assert_eq!(
        http_get(&format!("{base}/api/orders")).unwrap(),
        (200, "orders".to_string())
    );
    for default in ["/health", "/ready", "/live"] {
        assert_eq!(http_get(&format!("{base}{default}")).unwrap().0, 404);
    }
    server.shutdown();

    // 002 names its liveness endpoint `/health`: with the report also there, that is an
    // error naming the field rather than a panic inside axum.
    let clash = HealthPaths {
        liveness: "/health".into(),
        ..HealthPaths::default()
    };
    let err = registry.router(&clash).unwrap_err();
    assert_eq!(err.field, "liveness_endpoint");
}

#[test]
fn the_endpoints_are_served_while_the_host_runs_its_own_runtime() {
    // A current-thread runtime in the host blocks on the request: Loupe's listener runs
    // on its own thread, so it still answers.
    let registry = HealthRegistry::new();
    let server = health::serve(
        registry.router(&HealthPaths::default()).unwrap(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let url = format!("http://{}/live", server.local_addr());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let answer = runtime.block_on(async move { http_get(&url) });
    assert_eq!(answer, Some((200, "OK\n".to_string())));
    server.shutdown();
}

#[test]
fn init_registers_the_checks_of_the_config_file() {
    let service = TcpService::start("127.0.0.1:0");
    let yaml = format!(
        r#"
service:
  name: clusterdb
metrics:
  otlp_enabled: false
  prometheus_listen: "127.0.0.1:0"
tracing:
  exporter: none
logging:
  exporter: none
  sinks: []
health:
  listen: "127.0.0.1:0"
  drain_period_secs: 0
  checks:
    - name: database
      check: {{ type: tcp, host: 127.0.0.1, port: {port} }}
      interval_secs: 1
      timeout_secs: 2
      unhealthy_threshold: 1
      healthy_threshold: 1
    - name: backup-script
      check: {{ type: script, command: ["sh", "-c", "exit 3"] }}
      interval_secs: 1
      unhealthy_threshold: 1
      healthy_threshold: 1
      critical: false
"#,
        port = service.addr().port()
    );
    let config = loupe::config::TelemetryConfig::from_yaml_str(&yaml).unwrap();
    let telemetry = loupe::init(config).unwrap();
    let addr = telemetry.health_addr().unwrap();
    let body = wait_json(&format!("http://{addr}/health"), 200, "degraded");
    assert_eq!(body["checks"]["database"]["status"], "healthy", "{body}");
    assert_eq!(
        body["checks"]["backup-script"]["status"], "unhealthy",
        "{body}"
    );
    assert_eq!(body["checks"]["backup-script"]["critical"], false, "{body}");
    telemetry.shutdown().unwrap();

    // A check the registry refuses is an init error that names it.
    let bad = yaml.replace(r#"["sh", "-c", "exit 3"]"#, "[]");
    let err = loupe::init(loupe::config::TelemetryConfig::from_yaml_str(&bad).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("command"), "{err}");
}
