//! Carrying the current span across `.await` and into spawned tasks.
//!
//! A thread-local "current span" does not follow a future that moves between threads, so
//! these wrappers re-attach the context every time the future is polled.

use super::context::Context;
use super::span::Span;
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

pin_project! {
    /// A future that runs with a [`Context`] attached. Created by [`FutureExt::with_context`].
    #[derive(Debug)]
    pub struct WithContext<F> {
        #[pin]
        inner: F,
        cx: Context,
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _guard = this.cx.clone().attach();
        this.inner.poll(task)
    }
}

pin_project! {
    /// A future that runs inside a span and ends it when it completes or is dropped.
    /// Created by [`FutureExt::in_span`].
    #[derive(Debug)]
    pub struct InSpan<F> {
        #[pin]
        inner: F,
        cx: Context,
        span: Option<Span>,
    }
}

impl<F: Future> Future for InSpan<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = {
            let _guard = this.cx.clone().attach();
            this.inner.poll(task)
        };
        if output.is_ready() {
            // End now rather than when the wrapper is dropped, so the duration is right.
            if let Some(mut span) = this.span.take() {
                span.end();
            }
        }
        output
    }
}

/// Extension methods that keep the current span across `.await`.
pub trait FutureExt: Future + Sized {
    /// Runs this future inside `span` (current while it is polled) and ends the span when
    /// the future completes or is dropped (a cancelled future still ends its span).
    fn in_span(self, span: Span) -> InSpan<Self> {
        let cx = Context::current().with_span_context(span.span_context().clone());
        InSpan {
            inner: self,
            cx,
            span: Some(span),
        }
    }

    /// Runs this future with `cx` attached on every poll.
    fn with_context(self, cx: Context) -> WithContext<Self> {
        WithContext { inner: self, cx }
    }

    /// Runs this future with the context that is current now (captured here, not when
    /// the future is first polled).
    fn with_current_context(self) -> WithContext<Self> {
        self.with_context(Context::current())
    }
}

impl<F: Future> FutureExt for F {}

/// Spawns a Tokio task that inherits the current context, so spans it starts are children
/// of the current span. Needs the `tokio` feature and a Tokio runtime.
#[cfg(feature = "tokio")]
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.with_current_context())
}
