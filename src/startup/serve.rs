//! Serving a built [`App`]: the HTTP listener, the background loops, and a graceful shutdown.

use std::future::Future;
use std::sync::Arc;

use super::App;
use crate::{app, http};

impl App {
    /// Serves until `shutdown` completes, then finishes in-flight requests and closes the pool.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = self.router();
        tokio::spawn(app::watch_backlog(
            Arc::downgrade(&self.services.trust),
            app::BACKLOG_EVERY,
        ));
        tokio::spawn(app::run_outbox(Arc::downgrade(&self.services.inbox)));
        tokio::spawn(app::follow_outside_changes(
            Arc::downgrade(&self.services.accounts),
            app::OUTSIDE_CHANGES_EVERY,
        ));
        if let Some(bind) = &self.config.http.metrics_bind {
            let metrics = tokio::net::TcpListener::bind(bind).await?;
            let app = axum::Router::new()
                .route("/metrics", axum::routing::get(http::observe::metrics_text));
            tracing::info!(address = %bind, "metrics on a listener of their own");
            tokio::spawn(async move {
                if let Err(err) = axum::serve(metrics, app).await {
                    tracing::error!(error = %err, "the metrics listener stopped");
                }
            });
        }
        // On shutdown: stop accepting, let in-flight requests finish, but no longer than the grace period.
        let (started, draining) = tokio::sync::oneshot::channel::<()>();
        let sockets = Arc::clone(&self.sockets);
        let shutdown = async move {
            shutdown.await;
            // Subscription sockets are closed with 1001 at once: their clients reconnect elsewhere.
            sockets.drain();
            let _ = started.send(());
        };
        let limits = http::serve::ConnectionLimits {
            header_read_timeout: self.config.http.header_read_timeout,
            idle_timeout: self.config.http.idle_timeout,
            max_connections: self.config.http.max_connections,
            max_connections_per_client: self.config.http.max_connections_per_client,
        };
        let serving = http::serve::serve(listener, router, limits, shutdown);
        let grace = self.config.http.shutdown_grace;
        let deadline = async move {
            if draining.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let sockets = Arc::clone(&self.sockets);
        let serving = async move {
            let result = serving.await;
            sockets.drained().await;
            result
        };
        let result = tokio::select! {
            result = serving => result,
            () = deadline => {
                tracing::warn!(grace_secs = grace.as_secs(), "requests still running after the grace period; exiting");
                Ok(())
            }
        };
        self.db.close().await;
        result
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
