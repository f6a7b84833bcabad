//! The [`HealthRegistry`]: runs checks on their intervals, applies thresholds, and knows the
//! overall status and readiness.

use super::check::{CheckResult, HealthCheck};
use super::options::CheckOptions;
use super::report::{CheckReport, CheckStatus, HealthReport, HealthStatus, RESERVED_KEYS};
use super::HealthError;
use crate::common::error::ConfigError;
use crate::metrics::{Counter, MeterProvider};
use crate::KeyValue;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// A check changing status, as given to the transition callback and logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The check's name.
    pub check: String,
    /// The status before.
    pub from: CheckStatus,
    /// The status now: `Unhealthy`, or `Healthy` on recovery.
    pub to: CheckStatus,
    /// Whether the check is critical.
    pub critical: bool,
    /// The runs in a row that crossed the threshold.
    pub consecutive: u32,
    /// The latest run's message (the failure reason when turning unhealthy).
    pub message: Option<String>,
}

impl std::fmt::Display for Transition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.critical {
            "critical"
        } else {
            "non-critical"
        };
        match self.to {
            CheckStatus::Unhealthy => write!(
                f,
                "health check `{}` ({kind}) is unhealthy after {} failures in a row",
                self.check, self.consecutive
            )?,
            _ => write!(
                f,
                "health check `{}` ({kind}) is {} again after {} successes in a row",
                self.check, self.to, self.consecutive
            )?,
        }
        match &self.message {
            Some(message) => write!(f, ": {message}"),
            None => Ok(()),
        }
    }
}

/// How often a check changed status, per direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransitionCounts {
    /// Times it turned unhealthy.
    pub to_unhealthy: u64,
    /// Times it recovered.
    pub to_healthy: u64,
}

type TransitionCallback = Arc<dyn Fn(&Transition) + Send + Sync>;
type DetailsSource = Arc<dyn Fn() -> serde_json::Map<String, serde_json::Value> + Send + Sync>;

/// Builds a [`HealthRegistry`].
#[must_use]
pub struct HealthRegistryBuilder {
    version: Option<String>,
    meter_provider: Option<MeterProvider>,
    on_transition: Option<TransitionCallback>,
    ready: bool,
    details: Option<DetailsSource>,
}

impl std::fmt::Debug for HealthRegistryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthRegistryBuilder")
            .field("version", &self.version)
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

impl HealthRegistryBuilder {
    /// The service version shown as `version` in `GET /health`. Default: none (`null`).
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Counts transitions as the `loupe.health.transitions` counter of `provider`, with
    /// attributes `check` and `to` (`healthy` or `unhealthy`). Default: not published.
    pub fn with_meter_provider(mut self, provider: &MeterProvider) -> Self {
        self.meter_provider = Some(provider.clone());
        self
    }

    /// Calls `callback` on every transition instead of logging it on stderr. It runs on
    /// Loupe's I/O thread, so it must return quickly. Default: one stderr line each.
    pub fn on_transition(mut self, callback: impl Fn(&Transition) + Send + Sync + 'static) -> Self {
        self.on_transition = Some(Arc::new(callback));
        self
    }

    /// Whether the service starts ready. Default `true`; pass `false` when it must warm up
    /// first, and call [`HealthRegistry::set_ready`] when it has.
    pub fn with_initially_ready(mut self, ready: bool) -> Self {
        self.ready = ready;
        self
    }

    /// Adds the application's own top-level fields to every report (003's
    /// `queries_running`, `memory_usage_mb`, ...). Keys the report already has are ignored.
    /// Called for every `GET /health`, so it must be cheap. Default: none.
    pub fn with_details(
        mut self,
        source: impl Fn() -> serde_json::Map<String, serde_json::Value> + Send + Sync + 'static,
    ) -> Self {
        self.details = Some(Arc::new(source));
        self
    }

    /// Builds the registry. Fails only when the transition counter cannot be registered
    /// with the meter provider (a conflicting `loupe.health.transitions` instrument).
    pub fn build(self) -> Result<HealthRegistry, HealthError> {
        let transitions = match &self.meter_provider {
            Some(provider) => Some(
                provider
                    .meter("loupe.health")
                    .u64_counter("loupe.health.transitions")
                    .with_description("Health checks changing status, by check and direction.")
                    .with_unit("{transition}")
                    .build()?,
            ),
            None => None,
        };
        Ok(self.finish(transitions))
    }

    fn finish(self, transitions: Option<Counter<u64>>) -> HealthRegistry {
        HealthRegistry {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared {
                    started: Instant::now(),
                    version: self.version,
                    ready: AtomicBool::new(self.ready),
                    shutting_down: AtomicBool::new(false),
                    slots: RwLock::new(Vec::new()),
                    on_transition: self.on_transition,
                    transitions,
                    details: self.details,
                }),
                tasks: Mutex::new(Vec::new()),
            }),
        }
    }
}

/// The health checks of a service, run in the background, and its overall status and
/// readiness.
///
/// Each registered check runs on its own interval with its own timeout on Loupe's I/O
/// thread (the host needs no Tokio runtime). Thresholds turn run results into a status per
/// check; the overall status is:
///
/// | overall | when |
/// |---|---|
/// | `shutting_down` | [`begin_shutdown`](Self::begin_shutdown) was called |
/// | `unhealthy` | a critical check is unhealthy |
/// | `degraded` | a non-critical check is unhealthy |
/// | `healthy` | otherwise (checks that have not run yet count as healthy) |
///
/// The service is ready when it was marked ready ([`set_ready`](Self::set_ready); ready by
/// default), is not shutting down, and no critical check is unhealthy.
///
/// Cloning gives another handle to the same registry. Checks stop when the last handle
/// (including routers and monitors made from it) is dropped.
#[derive(Clone)]
pub struct HealthRegistry {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthRegistry")
            .field("status", &self.status())
            .field("checks", &self.check_names())
            .finish()
    }
}

impl Default for HealthRegistry {
    fn default() -> Self {
        HealthRegistry::new()
    }
}

pub(super) struct Inner {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

struct Shared {
    started: Instant,
    version: Option<String>,
    ready: AtomicBool,
    shutting_down: AtomicBool,
    slots: RwLock<Vec<Arc<Slot>>>,
    on_transition: Option<TransitionCallback>,
    transitions: Option<Counter<u64>>,
    details: Option<DetailsSource>,
}

struct Slot {
    name: String,
    options: CheckOptions,
    state: Mutex<SlotState>,
}

struct SlotState {
    status: CheckStatus,
    consecutive_failures: u32,
    consecutive_successes: u32,
    message: Option<String>,
    last_error: Option<String>,
    last_checked: Option<SystemTime>,
    last_duration: Option<Duration>,
    counts: TransitionCounts,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl HealthRegistry {
    /// A registry with the defaults: no version, ready, transitions logged on stderr.
    pub fn new() -> Self {
        HealthRegistry::builder().finish(None)
    }

    /// A builder for a registry with a version, metrics, a transition callback or details.
    pub fn builder() -> HealthRegistryBuilder {
        HealthRegistryBuilder {
            version: None,
            meter_provider: None,
            on_transition: None,
            ready: true,
            details: None,
        }
    }

    /// Registers `check` as `name` and starts running it: the first run starts at once,
    /// the next ones every `options.interval`.
    pub fn register(
        &self,
        name: impl Into<String>,
        check: impl HealthCheck,
        options: CheckOptions,
    ) -> Result<(), HealthError> {
        let name = name.into();
        if name.trim().is_empty() {
            return Err(ConfigError::new("name", "\"\"", "a non-empty check name").into());
        }
        options.validate()?;
        let slot = Arc::new(Slot {
            name: name.clone(),
            options,
            state: Mutex::new(SlotState {
                status: CheckStatus::Pending,
                consecutive_failures: 0,
                consecutive_successes: 0,
                message: None,
                last_error: None,
                last_checked: None,
                last_duration: None,
                counts: TransitionCounts::default(),
            }),
        });
        let shared = &self.inner.shared;
        {
            let mut slots = shared.slots.write().unwrap_or_else(|p| p.into_inner());
            if slots.iter().any(|s| s.name == name) {
                return Err(HealthError::DuplicateCheck(name));
            }
            slots.push(Arc::clone(&slot));
        }
        let check: Arc<dyn HealthCheck> = Arc::new(check);
        let task =
            crate::export::transport::runtime().spawn(run_check(Arc::clone(shared), slot, check));
        lock(&self.inner.tasks).push(task.abort_handle());
        Ok(())
    }

    /// The names of the registered checks, in registration order.
    pub fn check_names(&self) -> Vec<String> {
        self.slots().iter().map(|s| s.name.clone()).collect()
    }

    /// The overall status now.
    pub fn status(&self) -> HealthStatus {
        let shared = &self.inner.shared;
        if shared.shutting_down.load(Ordering::Acquire) {
            return HealthStatus::ShuttingDown;
        }
        let mut status = HealthStatus::Healthy;
        for slot in self.slots() {
            if lock(&slot.state).status == CheckStatus::Unhealthy {
                if slot.options.critical {
                    return HealthStatus::Unhealthy;
                }
                status = HealthStatus::Degraded;
            }
        }
        status
    }

    /// Whether `GET /ready` answers 200 now.
    pub fn is_ready(&self) -> bool {
        self.not_ready_reason().is_none()
    }

    /// Why the service is not ready, or `None` when it is.
    pub fn not_ready_reason(&self) -> Option<String> {
        let shared = &self.inner.shared;
        if shared.shutting_down.load(Ordering::Acquire) {
            return Some("shutting down".into());
        }
        if !shared.ready.load(Ordering::Acquire) {
            return Some("not marked ready".into());
        }
        self.slots()
            .iter()
            .find(|s| s.options.critical && lock(&s.state).status == CheckStatus::Unhealthy)
            .map(|s| format!("critical check `{}` is unhealthy", s.name))
    }

    /// Marks the service ready or not (e.g. `false` while caches warm up).
    pub fn set_ready(&self, ready: bool) {
        self.inner.shared.ready.store(ready, Ordering::Release);
    }

    /// Starts shutting down: from now on the status is `shutting_down` and `GET /ready` and
    /// `GET /health` answer 503, so load balancers stop sending traffic while the service
    /// drains. `GET /live` keeps answering 200. Checks keep running.
    pub fn begin_shutdown(&self) {
        self.inner
            .shared
            .shutting_down
            .store(true, Ordering::Release);
    }

    /// Whether [`begin_shutdown`](Self::begin_shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shared.shutting_down.load(Ordering::Acquire)
    }

    /// How often the check `name` changed status, or `None` for an unknown name.
    pub fn transitions(&self, name: &str) -> Option<TransitionCounts> {
        self.slots()
            .iter()
            .find(|s| s.name == name)
            .map(|s| lock(&s.state).counts)
    }

    /// The state of the check `name`, or `None` for an unknown name.
    pub fn check_report(&self, name: &str) -> Option<CheckReport> {
        self.slots()
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.report())
    }

    /// Everything at once: the body of `GET /health`.
    pub fn report(&self) -> HealthReport {
        let shared = &self.inner.shared;
        let checks: Vec<CheckReport> = self.slots().iter().map(|s| s.report()).collect();
        // The status is computed from the same snapshot the checks show.
        let status = if shared.shutting_down.load(Ordering::Acquire) {
            HealthStatus::ShuttingDown
        } else if checks
            .iter()
            .any(|c| c.critical && c.status == CheckStatus::Unhealthy)
        {
            HealthStatus::Unhealthy
        } else if checks.iter().any(|c| c.status == CheckStatus::Unhealthy) {
            HealthStatus::Degraded
        } else {
            HealthStatus::Healthy
        };
        let ready = status != HealthStatus::Unhealthy
            && status != HealthStatus::ShuttingDown
            && shared.ready.load(Ordering::Acquire);
        let mut details = shared.details.as_ref().map(|d| d()).unwrap_or_default();
        details.retain(|k, _| !RESERVED_KEYS.contains(&k.as_str()));
        HealthReport {
            status,
            ready,
            version: shared.version.clone(),
            uptime_seconds: shared.started.elapsed().as_secs(),
            timestamp: SystemTime::now(),
            checks,
            details,
        }
    }

    fn slots(&self) -> Vec<Arc<Slot>> {
        self.inner
            .shared
            .slots
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Slot {
    fn report(&self) -> CheckReport {
        let state = lock(&self.state);
        CheckReport {
            name: self.name.clone(),
            status: state.status,
            critical: self.options.critical,
            message: state.message.clone(),
            last_error: state.last_error.clone(),
            consecutive_failures: state.consecutive_failures,
            consecutive_successes: state.consecutive_successes,
            last_checked: state.last_checked,
            last_duration_ms: state.last_duration.map(|d| d.as_secs_f64() * 1e3),
        }
    }

    /// Applies one run's result; returns the transition it caused, if any.
    fn apply(&self, result: CheckResult, took: Duration) -> Option<Transition> {
        let options = &self.options;
        let mut state = lock(&self.state);
        let from = state.status;
        state.last_checked = Some(SystemTime::now());
        state.last_duration = Some(took);
        let message = result.message().map(str::to_owned);
        let consecutive;
        if result.is_healthy() {
            state.consecutive_failures = 0;
            state.consecutive_successes = state.consecutive_successes.saturating_add(1);
            consecutive = state.consecutive_successes;
            match from {
                // A first success is enough: there is no bad state to recover from.
                CheckStatus::Pending => state.status = CheckStatus::Healthy,
                CheckStatus::Unhealthy if consecutive >= options.healthy_threshold => {
                    state.status = CheckStatus::Healthy;
                    state.counts.to_healthy += 1;
                }
                _ => {}
            }
            if state.status == CheckStatus::Healthy {
                state.last_error = None;
            }
        } else {
            state.consecutive_successes = 0;
            state.consecutive_failures = state.consecutive_failures.saturating_add(1);
            consecutive = state.consecutive_failures;
            state.last_error = Some(message.clone().unwrap_or_else(|| "failed".into()));
            if from != CheckStatus::Unhealthy && consecutive >= options.unhealthy_threshold {
                state.status = CheckStatus::Unhealthy;
                state.counts.to_unhealthy += 1;
            }
        }
        state.message = message.clone();
        let to = state.status;
        drop(state);
        // Pending → healthy is where every check starts, not a change worth reporting.
        let first_success = from == CheckStatus::Pending && to == CheckStatus::Healthy;
        (to != from && !first_success).then(|| Transition {
            check: self.name.clone(),
            from,
            to,
            critical: options.critical,
            consecutive,
            message,
        })
    }
}

impl Shared {
    fn announce(&self, transition: &Transition) {
        if let Some(counter) = &self.transitions {
            counter.add(
                1,
                &[
                    KeyValue::new("check", transition.check.clone()),
                    KeyValue::new("to", transition.to.as_str()),
                ],
            );
        }
        match &self.on_transition {
            Some(callback) => {
                // A panicking callback must not stop the check that called it.
                let _ =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(transition)));
            }
            None => eprintln!("loupe: {transition}"),
        }
    }
}

/// Aborts a task when dropped, so a run never outlives the loop that started it.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs one check forever (until its registry is dropped and the task aborted).
async fn run_check(shared: Arc<Shared>, slot: Arc<Slot>, check: Arc<dyn HealthCheck>) {
    let timeout = slot.options.timeout;
    let mut ticker = tokio::time::interval(slot.options.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let started = Instant::now();
        // Each run is a task of its own: a panic in the check becomes a failed run, and a
        // run past its timeout is aborted (dropping it kills a command's process).
        let check = Arc::clone(&check);
        let run = tokio::spawn(async move { check.check().await });
        let _abort = AbortOnDrop(run.abort_handle());
        let result = match tokio::time::timeout(timeout, run).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) if e.is_panic() => {
                CheckResult::unhealthy("the check panicked (its message is on stderr)")
            }
            Ok(Err(_)) => CheckResult::unhealthy("the check was cancelled"),
            Err(_) => CheckResult::unhealthy(format!(
                "timed out after {timeout:?}; the run was cancelled"
            )),
        };
        if let Some(transition) = slot.apply(result, started.elapsed()) {
            shared.announce(&transition);
        }
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
