//! The local HTTP server: the router on 127.0.0.1, for development and tests.

use std::future::Future;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower_service::Service as _;

use super::HttpRouter;
use super::handler::PeerAddr;
use crate::BoxError;
use crate::runtime::{Adapter, LocalArgs};

/// How long open requests may finish after Ctrl-C.
const GRACE: Duration = Duration::from_secs(5);

impl HttpRouter {
    /// Serves on `listener` until `shutdown` completes, then lets open requests
    /// finish (up to 5 seconds). For tests and custom setups; [`fabric::run`](crate::run)
    /// uses it with `--port` and Ctrl-C.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use fabric::prelude::*;
    /// use tokio::net::TcpListener;
    ///
    /// #[derive(Deserialize, Input)]
    /// struct Nothing {}
    ///
    /// #[fabric_service(alias = "ping")]
    /// async fn ping(_input: Nothing, _ctx: Context) -> Result<&'static str, Error> {
    ///     Ok("pong")
    /// }
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let address = listener.local_addr().unwrap();
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let server = tokio::spawn(fabric_http(ping).serve_on(listener, async { stopped.await.ok(); }));
    /// // ... send requests to http://{address}/ping ...
    /// # let _ = address;
    /// stop.send(()).unwrap();
    /// server.await.unwrap().unwrap();
    /// # })
    /// ```
    pub async fn serve_on(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), BoxError> {
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors and the like: keep serving.
                        tracing::warn!(error = %err, "could not accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let router = self.clone();
            let service = hyper::service::service_fn(move |mut request| {
                request.extensions_mut().insert(PeerAddr(peer));
                router.clone().call(request)
            });
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::debug!(error = %err, "connection closed with an error");
                }
            });
        }
        drop(listener);
        if tokio::time::timeout(GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("open requests did not finish in time; stopping anyway");
        }
        Ok(())
    }
}

impl Adapter for HttpRouter {
    async fn serve_lambda(self) -> Result<(), BoxError> {
        self.serve_events().await
    }

    async fn serve_local(self) -> Result<(), BoxError> {
        let args = LocalArgs::from_env(3000);
        args.init_logging();
        let listener = args.bind().await?;
        let address = listener.local_addr()?;
        let stopped = crate::runtime::stop_signal();
        println!("Serving HTTP on http://{address} (Ctrl-C to stop)");
        for route in self.routes() {
            tracing::debug!("route {route}");
        }
        self.serve_on(listener, async {
            stopped.await;
            tracing::info!("shutting down");
        })
        .await
    }

    #[cfg(feature = "deploy")]
    fn template(&self, function: &crate::deploy::Function) -> Option<crate::deploy::Template> {
        let description = format!("{}: a Fabric HTTP API", function.binary());
        Some(crate::deploy::Template::new(description).http(function, self))
    }
}
