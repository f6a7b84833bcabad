//! The span pipelines every span benchmark compares: each library's batch processor
//! feeding an exporter that discards, with a queue large enough not to drop.

/// The batch queue of every pipeline.
pub const QUEUE: usize = 1 << 18;

#[derive(Debug)]
pub struct OtelNoopExporter;

impl opentelemetry_sdk::trace::SpanExporter for OtelNoopExporter {
    fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> impl std::future::Future<Output = opentelemetry_sdk::error::OTelSdkResult> + Send {
        drop(batch);
        async { Ok(()) }
    }
}

pub fn otel_tracer_provider(sampled: bool) -> opentelemetry_sdk::trace::SdkTracerProvider {
    use opentelemetry_sdk::trace::{
        BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
    };
    let processor = BatchSpanProcessor::builder(OtelNoopExporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(QUEUE)
                .build(),
        )
        .build();
    SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(if sampled {
            Sampler::AlwaysOn
        } else {
            Sampler::AlwaysOff
        })
        .build()
}

pub fn loupe_tracer_provider(
    sampled: bool,
) -> (
    loupe::trace::TracerProvider,
    loupe::trace::BatchSpanProcessor,
) {
    use loupe::trace::{
        AlwaysOffSampler, AlwaysOnSampler, BatchConfig, BatchSpanProcessor, NoopSpanExporter,
        TracerProvider,
    };
    let bsp = BatchSpanProcessor::with_config(
        NoopSpanExporter,
        BatchConfig {
            max_queue_size: QUEUE,
            ..Default::default()
        },
    )
    .expect("valid config");
    let builder = TracerProvider::builder().with_span_processor(bsp.clone());
    let builder = if sampled {
        builder.with_sampler(AlwaysOnSampler)
    } else {
        builder.with_sampler(AlwaysOffSampler)
    };
    (builder.build().expect("valid config"), bsp)
}
