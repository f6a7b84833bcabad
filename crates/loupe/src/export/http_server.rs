//! The HTTP listener the Prometheus and health endpoints share: an axum router served from
//! Loupe's own I/O thread, independent of any runtime in the host.

use std::net::SocketAddr;

/// Serves `router` on `addr` from Loupe's I/O runtime until the returned handle is shut
/// down or dropped.
pub(crate) fn serve_router(router: axum::Router, addr: SocketAddr) -> std::io::Result<HttpServer> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let local_addr = listener.local_addr()?;
    let runtime = crate::export::transport::runtime();
    let listener = {
        let _entered = runtime.enter();
        tokio::net::TcpListener::from_std(listener)?
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = runtime.spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            eprintln!("loupe: HTTP listener on {local_addr} stopped: {e}");
        }
    });
    Ok(HttpServer {
        local_addr,
        stop: Some(stop),
        task: Some(task),
    })
}

/// A running Loupe HTTP listener (metrics, health); dropping it stops the listener.
#[derive(Debug)]
pub struct HttpServer {
    local_addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl HttpServer {
    /// The address it listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections and waits (up to 5 s) for open requests to finish.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = crate::export::transport::block_on(
                async move {
                    let _ = task.await;
                },
                std::time::Duration::from_secs(5),
            );
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}
