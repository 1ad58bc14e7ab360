//! The local HTTP server: an HTTP router, or the functions of an app's HTTP API, on
//! 127.0.0.1, for development and tests.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tower_service::Service as _;

use super::parse_error::ErrorStyle;
use super::serve::serve_http1;
use crate::BoxError;
use crate::http::{HttpRouter, PeerAddr};

/// How long open requests may finish after Ctrl-C.
const GRACE: Duration = Duration::from_secs(5);

/// The default port of the local HTTP server.
///
/// ```
/// assert_eq!(fabric::local::DEFAULT_HTTP_PORT, 3000);
/// ```
pub const DEFAULT_HTTP_PORT: u16 = 3000;

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
        HttpApiServer::new(vec![self])
            .serve_on(listener, shutdown)
            .await
    }
}

/// The functions of one HTTP API behind one local server: a request goes to the
/// function whose router serves its path, and to the first function when none does
/// (which answers Fabric's 404), as the API's catch-all route sends it.
#[derive(Clone)]
pub(crate) struct HttpApiServer {
    routers: Arc<Vec<HttpRouter>>,
}

impl HttpApiServer {
    /// A server for `routers`; the first also answers unknown paths.
    pub(crate) fn new(routers: Vec<HttpRouter>) -> HttpApiServer {
        assert!(!routers.is_empty(), "an HTTP API has a function");
        HttpApiServer {
            routers: Arc::new(routers),
        }
    }

    /// The router for a request to `path`.
    fn router_for(&self, path: &str) -> HttpRouter {
        self.routers
            .iter()
            .find(|router| router.serves_path(path))
            .unwrap_or(&self.routers[0])
            .clone()
    }

    /// Each router's routes, for the log.
    pub(crate) fn routes(&self) -> Vec<String> {
        self.routers.iter().flat_map(HttpRouter::routes).collect()
    }

    /// Serves on `listener` until `shutdown`, then lets open requests finish.
    pub(crate) async fn serve_on(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), BoxError> {
        let server = self;
        let make_service = move |peer| {
            let server = server.clone();
            hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(PeerAddr(peer));
                server.router_for(request.uri().path()).call(request)
            })
        };
        serve_http1(
            listener,
            make_service,
            ErrorStyle::Envelope,
            shutdown,
            GRACE,
        )
        .await;
        Ok(())
    }
}
