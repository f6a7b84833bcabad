//! Tracer providers (one pipeline), tracers (one per scope) and the span builder.

use super::context::Context;
use super::ids::{SpanContext, SpanId, TraceFlags, TraceId};
use super::limits::SpanLimits;
use super::processor::SpanProcessor;
use super::sampler::{
    AlwaysOnSampler, ParentBasedSampler, Sampler, SamplingDecision, SamplingParams,
};
use super::span::{limited_attributes, Link, Recording, Span, SpanData, SpanKind};
use crate::common::attribute::{Key, KeyValue, Value};
use crate::common::error::{ConfigError, ExportError};
use crate::common::resource::Resource;
use crate::common::scope::InstrumentationScope;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime};

/// Identifies a provider without holding a reference to it, so spans stay cheap to move
/// between threads.
pub(crate) type ProviderId = u64;

pub(crate) struct TracerShared {
    id: ProviderId,
    resource: Arc<Resource>,
    sampler: Box<dyn Sampler>,
    limits: SpanLimits,
    processors: Vec<Box<dyn SpanProcessor>>,
    is_shutdown: AtomicBool,
}

impl TracerShared {
    pub(crate) fn on_end(&self, data: &mut SpanData) {
        if self.is_shutdown.load(Ordering::Relaxed) {
            span_after_shutdown();
            return;
        }
        match self.processors.as_slice() {
            [] => {}
            [only] => only.on_end_in_place(data),
            [rest @ .., last] => {
                for p in rest {
                    p.on_end(data.clone());
                }
                last.on_end_in_place(data);
            }
        }
    }

    fn force_flush(&self, timeout: Duration) -> Result<(), ExportError> {
        let deadline = std::time::Instant::now() + timeout;
        let mut result = Ok(());
        for p in &self.processors {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if let Err(e) = p.force_flush(left) {
                result = Err(e);
            }
        }
        result
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), ExportError> {
        if self.is_shutdown.swap(true, Ordering::AcqRel) {
            return Err(ExportError::Shutdown);
        }
        let deadline = std::time::Instant::now() + timeout;
        let mut result = Ok(());
        for p in &self.processors {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if let Err(e) = p.shutdown(left) {
                result = Err(e);
            }
        }
        result
    }
}

/// Counts a span lost to a shut-down provider, and says why once.
#[cold]
pub(crate) fn span_after_shutdown() {
    crate::common::stats::sdk_stats()
        .spans_after_shutdown
        .bump();
    crate::common::error::warn_once(
        "a span was started or ended after its TracerProvider was shut down or dropped, so it \
         is not recorded: keep the provider (or loupe::init's guard) alive while tracing"
            .to_owned(),
    );
}

fn registry() -> &'static Mutex<HashMap<ProviderId, Weak<TracerShared>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<ProviderId, Weak<TracerShared>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

thread_local! {
    // Each thread keeps its own strong references to the providers it ends spans for, so
    // ending a span never touches a reference count shared with other threads.
    static PROVIDERS: RefCell<Vec<(ProviderId, Arc<TracerShared>)>> = const { RefCell::new(Vec::new()) };
}

fn lookup_global(id: ProviderId) -> Option<Arc<TracerShared>> {
    registry()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .and_then(Weak::upgrade)
}

/// Runs `f` with the provider `id`, if it still exists; returns false when it does not
/// (the provider was dropped).
///
/// The per-thread cache is borrowed, not cloned: cloning the `Arc` would bump a reference
/// count that every recording thread shares.
pub(crate) fn with_provider(id: ProviderId, f: impl FnOnce(&TracerShared)) -> bool {
    let mut f = Some(f);
    let _ = PROVIDERS.try_with(|cache| {
        if let Ok(cached) = cache.try_borrow() {
            if let Some((_, shared)) = cached.iter().find(|(pid, _)| *pid == id) {
                if let Some(f) = f.take() {
                    f(shared);
                }
                return;
            }
        }
        if let Some(shared) = lookup_global(id) {
            if let Ok(mut cached) = cache.try_borrow_mut() {
                // Forget providers that were shut down, so the cache stays small.
                cached.retain(|(_, s)| !s.is_shutdown.load(Ordering::Relaxed));
                cached.push((id, Arc::clone(&shared)));
            }
            if let Some(f) = f.take() {
                f(&shared);
            }
        }
    });
    // Thread teardown: the cache is gone, take the slow path.
    match f {
        None => true,
        Some(f) => match lookup_global(id) {
            Some(shared) => {
                f(&shared);
                true
            }
            None => false,
        },
    }
}

/// Owns a tracing pipeline. Cloning shares it; dropping the last clone shuts it down
/// (flushing within five seconds).
#[derive(Clone)]
pub struct TracerProvider {
    owner: Arc<ProviderOwner>,
}

struct ProviderOwner {
    shared: Arc<TracerShared>,
}

impl Drop for ProviderOwner {
    fn drop(&mut self) {
        let _ = self.shared.shutdown(Duration::from_secs(5));
        registry()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.shared.id);
    }
}

impl std::fmt::Debug for TracerProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracerProvider")
            .field("resource", &self.owner.shared.resource)
            .field("sampler", &self.owner.shared.sampler)
            .field("processors", &self.owner.shared.processors.len())
            .finish()
    }
}

impl TracerProvider {
    /// Starts configuring a provider.
    pub fn builder() -> TracerProviderBuilder {
        TracerProviderBuilder::default()
    }

    /// A tracer for an instrumentation scope (a crate, module or component name).
    pub fn tracer(&self, scope: impl Into<InstrumentationScope>) -> Tracer {
        Tracer {
            shared: Some(Arc::clone(&self.owner.shared)),
            scope: scope.into().intern(),
        }
    }

    /// The provider's resource.
    pub fn resource(&self) -> &Resource {
        &self.owner.shared.resource
    }

    /// Exports everything ended so far, waiting at most `timeout`.
    pub fn force_flush(&self, timeout: Duration) -> Result<(), ExportError> {
        self.owner.shared.force_flush(timeout)
    }

    /// Flushes and stops every processor, waiting at most `timeout` in total. Spans ended
    /// afterwards are discarded. A second call returns [`ExportError::Shutdown`].
    pub fn shutdown(&self, timeout: Duration) -> Result<(), ExportError> {
        self.owner.shared.shutdown(timeout)
    }
}

/// Configures a [`TracerProvider`].
#[must_use]
pub struct TracerProviderBuilder {
    resource: Resource,
    sampler: Box<dyn Sampler>,
    limits: SpanLimits,
    processors: Vec<Box<dyn SpanProcessor>>,
}

impl Default for TracerProviderBuilder {
    fn default() -> Self {
        TracerProviderBuilder {
            resource: Resource::default(),
            sampler: Box::new(ParentBasedSampler::new(AlwaysOnSampler)),
            limits: SpanLimits::default(),
            processors: Vec::new(),
        }
    }
}

impl TracerProviderBuilder {
    /// The resource spans are attached to; default [`Resource::default`].
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.resource = resource;
        self
    }

    /// The sampler; default parent-based, always-on for roots.
    pub fn with_sampler(mut self, sampler: impl Sampler) -> Self {
        self.sampler = Box::new(sampler);
        self
    }

    /// The span limits; default [`SpanLimits::default`]. Checked by [`build`](Self::build).
    pub fn with_span_limits(mut self, limits: SpanLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Adds a processor; processors see spans in the order they were added.
    pub fn with_span_processor(mut self, processor: impl SpanProcessor) -> Self {
        self.processors.push(Box::new(processor));
        self
    }

    /// Builds the provider, or names the invalid setting.
    pub fn build(self) -> Result<TracerProvider, ConfigError> {
        self.limits.validate()?;
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let resource = Arc::new(self.resource);
        for p in &self.processors {
            p.set_resource(&resource);
        }
        let shared = Arc::new(TracerShared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            resource,
            sampler: self.sampler,
            limits: self.limits,
            processors: self.processors,
            is_shutdown: AtomicBool::new(false),
        });
        registry()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(shared.id, Arc::downgrade(&shared));
        Ok(TracerProvider {
            owner: Arc::new(ProviderOwner { shared }),
        })
    }
}

/// Creates spans for one instrumentation scope. Cheap to clone.
#[derive(Clone)]
pub struct Tracer {
    // `None` for [`Tracer::noop`].
    shared: Option<Arc<TracerShared>>,
    scope: &'static InstrumentationScope,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("scope", &self.scope)
            .finish()
    }
}

impl Tracer {
    /// A tracer whose spans record nothing: no ids are drawn, no clock is read, nothing
    /// is allocated per span (a builder given an explicit parent keeps it in a block
    /// from the thread's pool, allocated once). Each span carries its parent's context (invalid for a root), so
    /// entering one leaves the surrounding trace current and real spans started inside
    /// still join it. For disabled telemetry and for overhead baselines.
    pub fn noop() -> Tracer {
        static NOOP: std::sync::OnceLock<&'static InstrumentationScope> =
            std::sync::OnceLock::new();
        Tracer {
            shared: None,
            scope: NOOP.get_or_init(|| InstrumentationScope::new("loupe.noop").intern()),
        }
    }

    /// Whether spans from this tracer can be recorded (false for [`Tracer::noop`]).
    pub fn is_enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// The tracer's instrumentation scope.
    pub fn scope(&self) -> &'static InstrumentationScope {
        self.scope
    }

    /// Starts building a span.
    #[inline]
    pub fn span_builder(&self, name: impl Into<Cow<'static, str>>) -> SpanBuilder<'_> {
        if self.shared.is_none() {
            return SpanBuilder {
                tracer: self,
                rec: None,
            };
        }
        let mut rec = super::slot::take();
        rec.data.name = name.into();
        rec.data.scope = self.scope;
        SpanBuilder {
            tracer: self,
            rec: Some(rec),
        }
    }

    /// Starts a span named `name`, child of the current span.
    pub fn start(&self, name: impl Into<Cow<'static, str>>) -> Span {
        self.span_builder(name).start()
    }

    /// Runs `f` inside a new span that is current for its duration, then ends it.
    pub fn in_span<T>(
        &self,
        name: impl Into<Cow<'static, str>>,
        f: impl FnOnce(&mut Span) -> T,
    ) -> T {
        let mut span = self.start(name);
        let _guard = span.enter();
        f(&mut span)
    }
}

/// Which span a new span is the child of.
pub(crate) enum Parent {
    /// The current span, if any.
    Current,
    /// None: a new trace.
    Root,
    /// This one (a root if invalid).
    Explicit(SpanContext),
}

/// Describes a span before it starts. Created by [`Tracer::span_builder`].
#[must_use = "a span builder does nothing until `start` is called"]
pub struct SpanBuilder<'a> {
    tracer: &'a Tracer,
    /// The span's block, filled as the builder goes and kept by the span (`None` for a
    /// no-op tracer, until a parent is set). A pointer, so that moving the builder along
    /// a chain of calls copies one word.
    rec: Option<Box<Recording>>,
}

impl Drop for SpanBuilder<'_> {
    fn drop(&mut self) {
        if let Some(rec) = self.rec.take() {
            super::slot::give_back(rec);
        }
    }
}

impl SpanBuilder<'_> {
    /// The span kind; default [`SpanKind::Internal`].
    #[inline]
    pub fn with_kind(mut self, kind: SpanKind) -> Self {
        if let Some(rec) = &mut self.rec {
            rec.data.kind = kind;
        }
        self
    }

    /// Adds an attribute (samplers see it).
    #[inline(always)]
    pub fn with_attribute(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        // The check comes before the attribute is built: a no-op tracer builds nothing.
        if let Some(rec) = &mut self.rec {
            // Into the vector the block kept from its last span (see `trace/ring.rs`).
            crate::common::attribute::__push_attribute(&mut rec.data.attributes, key, value);
        }
        self
    }

    /// Adds attributes (samplers see them).
    #[inline]
    pub fn with_attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        if let Some(rec) = &mut self.rec {
            rec.data.attributes.extend(attributes);
        }
        self
    }

    /// Adds links to other spans.
    pub fn with_links(mut self, links: impl IntoIterator<Item = Link>) -> Self {
        if let Some(rec) = &mut self.rec {
            rec.data.links.extend(links);
        }
        self
    }

    /// Makes the span a child of `parent` (a local span's context or a remote one) instead
    /// of the current span. An invalid context makes it a root.
    #[inline]
    pub fn with_parent(mut self, parent: SpanContext) -> Self {
        self.set_parent(Parent::Explicit(parent));
        self
    }

    /// Makes the span a child of the span in `cx`, or a root if `cx` has none.
    #[inline]
    pub fn with_parent_context(mut self, cx: &Context) -> Self {
        self.set_parent(match cx.span_context() {
            Some(sc) => Parent::Explicit(sc.clone()),
            None => Parent::Root,
        });
        self
    }

    /// Starts a new trace even if a span is current.
    #[inline]
    pub fn as_root(mut self) -> Self {
        self.set_parent(Parent::Root);
        self
    }

    fn set_parent(&mut self, parent: Parent) {
        // A no-op tracer's span stands for its parent, so even it keeps the parent: in a
        // block from the pool, which allocates only when this thread has none.
        let rec = self.rec.get_or_insert_with(super::slot::take);
        rec.parent = parent;
    }

    /// The start time; default now.
    #[inline]
    pub fn with_start_time(mut self, time: SystemTime) -> Self {
        if let Some(rec) = &mut self.rec {
            rec.data.start_time = time;
            rec.start_time_given = true;
        }
        self
    }

    /// Starts the span.
    #[inline]
    pub fn start(mut self) -> Span {
        start(self.tracer, self.rec.take())
    }
}

/// Starts the span described by `rec`, in place: the span keeps the block.
fn start(tracer: &Tracer, rec: Option<Box<Recording>>) -> Span {
    let Some(shared) = &tracer.shared else {
        // A no-op span stands for its parent, as in OpenTelemetry: entering it keeps
        // the surrounding trace current, so real spans started inside still join it.
        let parent = match rec {
            None => Context::current_span_context(),
            Some(mut rec) => {
                let parent = std::mem::replace(&mut rec.parent, Parent::Current);
                super::slot::give_back(rec);
                match parent {
                    Parent::Current => Context::current_span_context(),
                    Parent::Root => None,
                    Parent::Explicit(sc) => Some(sc),
                }
            }
        };
        return Span::new(parent.unwrap_or(SpanContext::INVALID), None);
    };
    // A real tracer's builder always has a block.
    let mut rec = rec.unwrap_or_else(|| {
        let mut rec = super::slot::take();
        rec.data.scope = tracer.scope;
        rec
    });
    // By reference: moving the whole `Parent` out would read forty bytes of which the
    // builder usually wrote one, which stalls on store forwarding.
    let parent = match &rec.parent {
        Parent::Current => Context::current_span_context(),
        Parent::Root => None,
        Parent::Explicit(sc) => Some(sc.clone()),
    }
    .filter(SpanContext::is_valid);
    let trace_id = parent
        .as_ref()
        .map_or_else(TraceId::random, SpanContext::trace_id);
    let data = &mut rec.data;
    let result = shared.sampler.should_sample(&SamplingParams {
        parent: parent.as_ref(),
        trace_id,
        name: &data.name,
        kind: data.kind,
        attributes: &data.attributes,
        links: &data.links,
    });
    let flags = match &parent {
        Some(p) => p.trace_flags(),
        // Loupe's trace ids are fully random: say so (W3C Trace Context level 2).
        None => TraceFlags::RANDOM,
    }
    .with_sampled(result.decision == SamplingDecision::RecordAndSample);
    let state = result
        .trace_state
        .or_else(|| parent.as_ref().map(|p| p.trace_state().clone()))
        .unwrap_or_default();
    let context = SpanContext::new(trace_id, SpanId::random(), flags, false, state);
    if result.decision == SamplingDecision::Drop {
        super::slot::give_back(rec);
        return Span::new(context, None);
    }
    if shared.is_shutdown.load(Ordering::Relaxed) {
        super::slot::give_back(rec);
        span_after_shutdown();
        return Span::new(context, None);
    }

    let limits = shared.limits;
    rec.limits = limits;
    rec.provider = shared.id;
    let data = &mut rec.data;
    if !result.attributes.is_empty() {
        data.attributes.extend(result.attributes);
    }
    let (attributes, dropped_attributes_count) = limited_attributes(
        std::mem::take(&mut data.attributes),
        limits.max_attributes_per_span as usize,
        limits.max_attribute_value_length,
    );
    data.attributes = attributes;
    data.dropped_attributes_count = dropped_attributes_count;
    data.dropped_links_count = 0;
    if !data.links.is_empty() {
        limit_links(&mut data.links, &mut data.dropped_links_count, &limits);
    }
    if !rec.start_time_given {
        data.start_time = crate::common::clock::now();
    }
    data.end_time = data.start_time;
    data.parent_span_id = parent
        .as_ref()
        .map_or(SpanId::INVALID, SpanContext::span_id);
    data.parent_is_remote = parent.as_ref().is_some_and(SpanContext::is_remote);
    data.span_context = context.clone();
    // Handed to processors where it is: no copies.
    for p in &shared.processors {
        p.on_start(data, parent.as_ref());
    }
    Span::new(context, Some(rec))
}

/// Applies the span limits to links given at the start.
#[cold]
fn limit_links(links: &mut Vec<Link>, dropped: &mut u32, limits: &SpanLimits) {
    let max_links = limits.max_links_per_span as usize;
    *dropped = links.len().saturating_sub(max_links) as u32;
    links.truncate(max_links);
    for link in links.iter_mut() {
        let (attributes, dropped) = limited_attributes(
            std::mem::take(&mut link.attributes),
            limits.max_attributes_per_link as usize,
            limits.max_attribute_value_length,
        );
        link.attributes = attributes;
        link.dropped_attributes_count += dropped;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Status;

    #[test]
    fn a_noop_tracer_starts_spans_that_record_nothing_and_stand_for_their_parent() {
        let tracer = Tracer::noop();
        assert!(!tracer.is_enabled());
        let mut span = tracer.span_builder("work").with_attribute("k", "v").start();
        assert!(!span.is_recording());
        assert!(!span.span_context().is_valid(), "no parent: invalid");
        span.set_attribute("more", 1_i64);
        span.end();

        // Inside a real trace, a no-op span carries the current context, so entering it
        // keeps real spans started inside in that trace.
        let exporter = crate::export::InMemorySpanExporter::default();
        let provider = TracerProvider::builder()
            .with_span_processor(crate::trace::SimpleSpanProcessor::new(exporter.clone()))
            .build()
            .unwrap();
        let real = provider.tracer("real");
        let outer = real.start("outer");
        let outer_context = outer.span_context().clone();
        let _outer = outer.entered();
        let noop = tracer.start("skipped");
        assert_eq!(noop.span_context(), &outer_context);
        let _noop = noop.entered();
        drop(real.start("inner"));
        let inner = exporter.span("inner").unwrap();
        assert_eq!(inner.parent_span_id, outer_context.span_id());
    }

    #[test]
    fn every_processor_gets_the_whole_span_whichever_way_it_takes_it() {
        use crate::trace::{BatchSpanProcessor, SimpleSpanProcessor};
        // The batch processor takes the span in place (last), the simple one a copy.
        let (copied, moved) = (
            crate::export::InMemorySpanExporter::default(),
            crate::export::InMemorySpanExporter::default(),
        );
        let provider = TracerProvider::builder()
            .with_span_processor(SimpleSpanProcessor::new(copied.clone()))
            .with_span_processor(BatchSpanProcessor::new(moved.clone()))
            .build()
            .unwrap();
        let mut span = provider
            .tracer("both")
            .span_builder("work")
            .with_kind(SpanKind::Server)
            .with_attribute("k", "v")
            .start();
        span.add_event("step", vec![KeyValue::new("n", 1_i64)]);
        span.set_status(Status::error("failed"));
        let context = span.span_context().clone();
        span.end();
        assert_eq!(
            span.span_context(),
            &context,
            "the context outlives the end"
        );
        provider.force_flush(Duration::from_secs(10)).unwrap();
        let (a, b) = (copied.span("work").unwrap(), moved.span("work").unwrap());
        assert_eq!(a, b);
        assert_eq!(b.span_context, context);
        assert_eq!(b.kind, SpanKind::Server);
        assert_eq!(b.attribute("k"), Some(&Value::from("v")));
        assert_eq!(b.events.len(), 1);
        assert_eq!(b.status, Status::error("failed"));
        assert!(b.end_time >= b.start_time);
    }
}
