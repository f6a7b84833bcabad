//! 000 §7.3's health monitor: the overall status and each check's, published every interval
//! to an async consumer on the host's own runtime, following a real dependency going down.

#[path = "support/tcp_service.rs"]
mod tcp_service;

use loupe::health::{
    CheckOptions, HealthRegistry, HealthReport, HealthStatus, TcpCheck, SYSTEM_HEALTH_TOPIC,
};
use std::time::Duration;
use tcp_service::TcpService;

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn the_monitor_publishes_what_the_checks_see_on_system_health() {
    let transport = TcpService::start("127.0.0.1:0");
    let registry = HealthRegistry::builder()
        .on_transition(|_| {})
        .build()
        .unwrap();
    registry
        .register(
            "transport",
            TcpCheck::to(transport.addr()),
            CheckOptions::default()
                .with_interval(Duration::from_millis(20))
                .with_unhealthy_threshold(1),
        )
        .unwrap();
    let (monitor, mut reports) = registry
        .monitor_channel(Duration::from_millis(20), 16)
        .unwrap();

    // The application's bus runs on its own current-thread runtime.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut published: Vec<(String, serde_json::Value)> = Vec::new();
    let mut next = |wanted: HealthStatus| -> HealthReport {
        runtime.block_on(async {
            tokio::time::timeout(WAIT, async {
                loop {
                    let report = reports.recv().await.expect("the monitor is running");
                    // What 000's monitor does with it: publish on `system.health`.
                    published.push((SYSTEM_HEALTH_TOPIC.to_string(), report.to_json()));
                    if report.status == wanted && report.checks[0].last_checked.is_some() {
                        return report;
                    }
                }
            })
            .await
            .unwrap_or_else(|_| panic!("no {wanted} report within {WAIT:?}"))
        })
    };

    let healthy = next(HealthStatus::Healthy);
    assert!(healthy.is_healthy());
    assert_eq!(healthy.check("transport").unwrap().consecutive_failures, 0);

    drop(transport);
    let unhealthy = next(HealthStatus::Unhealthy);
    assert!(!unhealthy.is_healthy());
    assert!(!unhealthy.ready);
    let check = unhealthy.check("transport").unwrap();
    assert!(check
        .last_error
        .as_deref()
        .unwrap()
        .contains("Connection refused"));

    let (topic, message) = published.last().unwrap();
    assert_eq!(topic, "system.health");
    assert_eq!(message["status"], "unhealthy");
    assert_eq!(message["checks"]["transport"]["status"], "unhealthy");
    // Each report is counted just after it is sent: all but the latest are counted.
    assert!(monitor.published() >= published.len() as u64 - 1);
    monitor.stop();
}
