//! The workload of the `message_bus` example (seed 000 §5–6): a publisher and three
//! plugins (validator, transcription, database) instrumented with the plugin pack.
//! Shared by the example, the demo and the coverage tests.
//!
//! A message published on `transcript.raw` carries its publisher's trace context; the
//! validator checks it (every tenth message, from the seventh on, fails the schema), the
//! transcription plugin forwards it to `transcript.processed` (every thirteenth, from the
//! fifth on, meets a failing external service) and the database plugin stores it.

use loupe::packs::plugin::{
    publish, BaseMessage, LifecycleEvent, PluginError, PluginTelemetry, ProcessingStatus,
    ResourceUsage,
};
use loupe::Telemetry;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// What became of one delivered message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Validated, transcribed and stored.
    Stored,
    /// The validator rejected it.
    Rejected,
    /// A plugin failed while processing it.
    Failed,
}

impl Delivery {
    /// The spans one delivery records: the publish, then per plugin reached its
    /// `plugin.process_message` and its steps, and a `plugin.error` for a failure.
    pub fn spans(self) -> u64 {
        match self {
            Delivery::Rejected => 3,
            Delivery::Failed => 7,
            Delivery::Stored => 8,
        }
    }
}

/// The bus: its three plugins and the telemetry they share.
pub struct Bus {
    telemetry: Arc<dyn Telemetry>,
    /// The schema validator.
    pub validator: PluginTelemetry,
    /// The transcription plugin.
    pub transcription: PluginTelemetry,
    /// The database plugin.
    pub database: PluginTelemetry,
    pace: f64,
}

impl Bus {
    /// Initialises the three plugins (each gets its `plugin.init` span and counter).
    pub fn start(telemetry: Arc<dyn Telemetry>) -> Result<Bus, PluginError> {
        let bus = Bus {
            validator: PluginTelemetry::new(telemetry.clone(), "validator", "1.0.0"),
            transcription: PluginTelemetry::new(telemetry.clone(), "transcription", "2.1.0"),
            database: PluginTelemetry::new(telemetry.clone(), "database", "1.4.0"),
            telemetry,
            pace: 1.0,
        };
        for plugin in bus.plugins() {
            plugin.lifecycle(LifecycleEvent::Init, || Ok(()))?;
        }
        Ok(bus)
    }

    /// Scales the simulated work and queueing (1.0 by default; 0 for none).
    pub fn with_pace(mut self, pace: f64) -> Bus {
        self.pace = pace;
        self
    }

    /// The plugins, in delivery order.
    pub fn plugins(&self) -> [&PluginTelemetry; 3] {
        [&self.validator, &self.transcription, &self.database]
    }

    fn work(&self, micros: u64) {
        if self.pace > 0.0 {
            std::thread::sleep(Duration::from_micros(micros).mul_f64(self.pace));
        }
    }

    /// A step inside a plugin: a child span of the current `plugin.process_message`.
    fn step(&self, name: &str, micros: u64) {
        if let Some(span) = self.telemetry.create_span(name, None) {
            self.work(micros);
            span.end();
        }
    }

    /// Publishes message `seq` on `transcript.raw` and delivers it through the plugins.
    pub fn deliver(&self, seq: u64) -> Delivery {
        let mut message = BaseMessage::new("recorder", serde_json::json!({ "seq": seq }));
        if let Some(span) = publish(self.telemetry.as_ref(), "transcript.raw", &mut message) {
            message.queued_at = Some(SystemTime::now());
            span.end();
        }
        self.work(300); // waiting in the queue
        message.dequeued_at = Some(SystemTime::now());
        message.processing_started = message.dequeued_at;

        let validated = self
            .validator
            .process_message("transcript.raw", &message, |m| {
                self.step("plugin.validate_schema", 200);
                match m.data.get("seq").and_then(|v| v.as_u64()) {
                    Some(seq) if seq % 10 == 7 => {
                        Ok(ProcessingStatus::Failed("schema mismatch".into()))
                    }
                    _ => Ok(ProcessingStatus::Acknowledged),
                }
            });
        if validated != Ok(ProcessingStatus::Acknowledged) {
            return Delivery::Rejected;
        }
        let forwarded = self
            .transcription
            .process_message("transcript.raw", &message, |_| {
                self.step("transcription.analyze", 1_500);
                self.step("transcription.format", 500);
                if seq % 13 == 5 {
                    return Err(PluginError::ExternalService("provider returned 503".into()));
                }
                Ok(ProcessingStatus::Forward("transcript.processed".into()))
            });
        let Ok(ProcessingStatus::Forward(topic)) = forwarded else {
            return Delivery::Failed;
        };
        match self.database.process_message(&topic, &message, |_| {
            self.step("database.store", 400);
            Ok(ProcessingStatus::Acknowledged)
        }) {
            Ok(ProcessingStatus::Acknowledged) => Delivery::Stored,
            _ => Delivery::Failed,
        }
    }

    /// Reports each plugin's resource usage and shuts it down.
    pub fn stop(&self) -> Result<(), PluginError> {
        for plugin in self.plugins() {
            plugin.record_resource_usage(&ResourceUsage {
                thread_count: Some(2),
                queue_depth: Some(0),
                ..ResourceUsage::default()
            });
            plugin.lifecycle(LifecycleEvent::Shutdown, || Ok(()))?;
        }
        Ok(())
    }
}
