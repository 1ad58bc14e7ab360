//! [`AdapterSettings`]: what every adapter — WebSocket, HTTP, command line — shares:
//! the shared state, the `setup` hooks that run once per process, the
//! [layers](crate::layer) around every service, error scrubbing and the
//! unavailable switch. Each adapter holds one and gets the same builder
//! methods (`state`, `setup`, `scrub_errors`, `unavailable`), so the three behave
//! alike.

use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::sync::OnceCell;

use crate::layer::{Layer, Layers};
use crate::{BoxError, Error, State};

type SetupHook = Arc<dyn Fn() -> BoxFuture<'static, Result<State, BoxError>> + Send + Sync>;

/// The settings every adapter shares. Adapters expose them as builder methods; this
/// type is for code that builds adapters of its own.
///
/// ```
/// use fabric::settings::AdapterSettings;
///
/// struct Greeting(&'static str);
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let settings = AdapterSettings::new(true)
///     .with_state(Greeting("hello"))
///     .with_setup(|| async { Ok::<_, fabric::BoxError>(7_u32) });
/// let ready = settings.ready().await.unwrap();
/// assert_eq!(ready.state().get::<Greeting>().unwrap().0, "hello");
/// assert_eq!(ready.state().get::<u32>(), Some(&7));
/// assert!(!ready.unavailable());
/// # })
/// ```
#[derive(Clone)]
pub struct AdapterSettings {
    state: State,
    setup: Vec<SetupHook>,
    scrub_errors: bool,
    unavailable: Option<bool>,
    metrics: Option<Arc<str>>,
    metrics_writer: Option<crate::metrics::EmfWriter>,
    layers: Layers,
    /// The declared secrets' names, for the template.
    secret_names: Vec<String>,
    /// Shared by clones, so an adapter cloned per request sets up once.
    ready: Arc<OnceCell<Ready>>,
}

/// What an adapter serves with once it is set up: the state with every setup's
/// value, and whether it is switched off.
#[derive(Debug, Clone)]
pub struct Ready {
    state: State,
    unavailable: bool,
    metrics: Option<crate::metrics::MetricsConfig>,
}

impl Ready {
    /// The shared state, setup values included.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Whether every call is answered with 503.
    pub fn unavailable(&self) -> bool {
        self.unavailable
    }

    /// The metrics namespace when metrics are on: `FABRIC_METRICS_NAMESPACE` or
    /// `POWERTOOLS_METRICS_NAMESPACE`, else the one given in code.
    pub fn metrics_namespace(&self) -> Option<&Arc<str>> {
        self.metrics
            .as_ref()
            .map(crate::metrics::MetricsConfig::namespace)
    }

    /// How each invocation's metrics are made, when metrics are on.
    pub fn metrics(&self) -> Option<&crate::metrics::MetricsConfig> {
        self.metrics.as_ref()
    }

    /// The 503 every call gets while the adapter is switched off.
    pub fn unavailable_error() -> Error {
        Error::unavailable("The service is switched off")
    }
}

impl AdapterSettings {
    /// Settings with no state and no setup; `scrub_errors` is the transport's
    /// default (on where clients are strangers, off on a command line).
    pub fn new(scrub_errors: bool) -> AdapterSettings {
        AdapterSettings {
            state: State::new(),
            setup: Vec::new(),
            scrub_errors,
            unavailable: None,
            metrics: None,
            metrics_writer: None,
            layers: Layers::new(),
            secret_names: Vec::new(),
            ready: Arc::new(OnceCell::new()),
        }
    }

    /// Adds a shared value, found with `ctx.state::<T>()`.
    pub fn with_state<T: Send + Sync + 'static>(mut self, value: T) -> AdapterSettings {
        self.state = self.state.with(value);
        self.changed()
    }

    /// Adds a shared value that is already shared.
    pub fn with_shared_state<T: Send + Sync + 'static>(mut self, value: Arc<T>) -> AdapterSettings {
        self.state = self.state.with_shared(value);
        self.changed()
    }

    /// Adds a setup hook: it runs once per process, before the first call, and its
    /// value joins the state.
    pub fn with_setup<F, Fut, T>(mut self, setup: F) -> AdapterSettings
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, BoxError>> + Send + 'static,
        T: Send + Sync + 'static,
    {
        self.setup.push(Arc::new(move || {
            let future = setup();
            Box::pin(async move { Ok(State::new().with(future.await?)) })
        }));
        self.changed()
    }

    /// Declares secrets (see [`secrets`](crate::secrets)): loaded once per process
    /// before the first call, so one that cannot load fails the start, naming it.
    pub fn with_secrets<I, S>(self, names: I) -> AdapterSettings
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_secrets_from(crate::secrets::Secrets::builder(names))
    }

    /// Like [`with_secrets`](Self::with_secrets), loaded as `builder` says.
    pub fn with_secrets_from(mut self, builder: crate::secrets::SecretsBuilder) -> AdapterSettings {
        for name in builder.names() {
            if !self.secret_names.contains(name) {
                self.secret_names.push(name.clone());
            }
        }
        self.with_setup(move || {
            let builder = builder.clone();
            async move { Ok::<_, BoxError>(builder.load().await?) }
        })
    }

    /// Turns on CloudWatch EMF metrics in `namespace` (see [`metrics`](crate::metrics)).
    pub fn with_metrics(mut self, namespace: impl Into<Arc<str>>) -> AdapterSettings {
        self.metrics = Some(namespace.into());
        self.changed()
    }

    /// Writes the EMF lines to `writer` instead of stdout, on Lambda and off it, when
    /// metrics are on.
    pub fn with_metrics_writer(mut self, writer: crate::metrics::EmfWriter) -> AdapterSettings {
        self.metrics_writer = Some(writer);
        self.changed()
    }

    /// Adds a layer around every service the adapter serves (see
    /// [`layer`](crate::layer)); the first added runs outermost.
    ///
    /// ```
    /// use fabric::layer::{Next, ServiceRequest};
    /// use fabric::settings::AdapterSettings;
    /// let settings = AdapterSettings::new(true).with_layer(|r: ServiceRequest, n: Next| n.run(r));
    /// assert_eq!(settings.layers().len(), 1);
    /// ```
    pub fn with_layer(mut self, layer: impl Layer) -> AdapterSettings {
        self.layers = self.layers.with(layer);
        self
    }

    /// Puts `outer` around the layers there are (an app's around its functions').
    pub fn with_layers_around(mut self, outer: &Layers) -> AdapterSettings {
        self.layers = self.layers.inside(outer);
        self
    }

    /// The layers, outermost first.
    pub fn layers(&self) -> &Layers {
        &self.layers
    }

    /// Whether 5xx details are hidden from clients.
    pub fn with_scrub_errors(mut self, scrub: bool) -> AdapterSettings {
        self.scrub_errors = scrub;
        self.changed()
    }

    /// Answers every call with 503 (`false` keeps it on whatever the environment
    /// says; unset, `FABRIC_UNAVAILABLE` decides when serving starts).
    pub fn with_unavailable(mut self, unavailable: bool) -> AdapterSettings {
        self.unavailable = Some(unavailable);
        self.changed()
    }

    /// The names of the declared secrets, in the order declared (the template gives
    /// each its `SECRET_<NAME>` variable and read access).
    ///
    /// ```
    /// let settings = fabric::settings::AdapterSettings::new(true).with_secrets(["API_KEY"]);
    /// assert_eq!(settings.secret_names(), ["API_KEY"]);
    /// ```
    pub fn secret_names(&self) -> &[String] {
        &self.secret_names
    }

    /// Whether 5xx details are hidden from clients.
    pub fn scrub_errors(&self) -> bool {
        self.scrub_errors
    }

    /// What [`ready`](Self::ready) gave, if it has run: for paths that count an
    /// invocation without setting up (an HTTP request no route takes).
    pub fn ready_now(&self) -> Option<&Ready> {
        self.ready.get()
    }

    /// The state given in code, before any setup ran.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Runs the setup hooks once (a failure is retried on the next call) and reads
    /// `FABRIC_UNAVAILABLE` unless set in code: the runtimes call this before serving,
    /// so a broken setup fails the start, as a Lambda cold start would.
    pub async fn ready(&self) -> Result<&Ready, BoxError> {
        self.ready_with(|| async { Ok(State::new()) }).await
    }

    /// [`ready`](Self::ready), with the transport's own resources (a connection
    /// store, say) made first and added to the state.
    pub async fn ready_with<F, Fut>(&self, transport: F) -> Result<&Ready, BoxError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<State, BoxError>>,
    {
        self.ready
            .get_or_try_init(|| async {
                let mut state = self.state.clone().merge(&transport().await?);
                for setup in &self.setup {
                    state = state.merge(&setup().await?);
                }
                let unavailable = self
                    .unavailable
                    .unwrap_or_else(|| crate::env::flag("FABRIC_UNAVAILABLE"));
                let metrics = crate::env::first(&[
                    "FABRIC_METRICS_NAMESPACE",
                    "POWERTOOLS_METRICS_NAMESPACE",
                ])
                .map(Arc::from)
                .or_else(|| self.metrics.clone())
                .map(|namespace| {
                    crate::metrics::MetricsConfig::new(namespace)
                        .with_writer(self.metrics_writer.clone())
                });
                Ok(Ready {
                    state,
                    unavailable,
                    metrics,
                })
            })
            .await
    }

    /// A change after a clone starts a fresh setup: the old one was for other
    /// settings.
    fn changed(mut self) -> AdapterSettings {
        self.ready = Arc::new(OnceCell::new());
        self
    }
}

impl std::fmt::Debug for AdapterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterSettings")
            .field("state", &self.state)
            .field("setup_hooks", &self.setup.len())
            .field("scrub_errors", &self.scrub_errors)
            .field("unavailable", &self.unavailable)
            .field("metrics", &self.metrics)
            .field("metrics_writer", &self.metrics_writer.is_some())
            .field("layers", &self.layers.len())
            .field("ready", &self.ready.initialized())
            .finish()
    }
}

/// The builder methods every adapter gets from its [`AdapterSettings`]: `state`,
/// `setup`, `scrub_errors` and `unavailable`, written once. `$adapter` has a
/// `with_settings(self, change)` method; `$example` builds one in the doc examples.
#[allow(unused_macros)] // every transport uses it; a build without one does not
macro_rules! adapter_settings_methods {
    ($adapter:ty, $example:literal) => {
        impl $adapter {
            #[doc = "Adds a shared value, found with `ctx.state::<T>()`."]
            #[doc = ""]
            #[doc = "```"]
            #[doc = "use fabric::prelude::*;"]
            #[doc = "# #[derive(Deserialize, Input)] struct In {}"]
            #[doc = "# #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }"]
            #[doc = "struct Config { greeting: &'static str }"]
            #[doc = concat!("let adapter = ", $example, ".state(Config { greeting: \"hello\" });")]
            #[doc = "# let _ = adapter;"]
            #[doc = "```"]
            pub fn state<T: Send + Sync + 'static>(self, value: T) -> Self {
                self.with_settings(|settings| settings.with_state(value))
            }

            #[doc = "Runs `setup` once per process (per Lambda cold start), before the first"]
            #[doc = "call, and adds its value to the shared state: the place to create clients."]
            #[doc = "The runtimes run it at start, so a broken setup fails the start; if it"]
            #[doc = "fails later, it is retried on the next call."]
            #[doc = ""]
            #[doc = "```"]
            #[doc = "use fabric::prelude::*;"]
            #[doc = "# #[derive(Deserialize, Input)] struct In {}"]
            #[doc = "# #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }"]
            #[doc = "struct Clients { greeting: String }"]
            #[doc = concat!("let adapter = ", $example, ".setup(|| async {")]
            #[doc = "    Ok::<_, fabric::BoxError>(Clients { greeting: \"hello\".into() })"]
            #[doc = "});"]
            #[doc = "# let _ = adapter;"]
            #[doc = "```"]
            pub fn setup<F, Fut, T>(self, setup: F) -> Self
            where
                F: Fn() -> Fut + Send + Sync + 'static,
                Fut: ::std::future::Future<Output = Result<T, crate::BoxError>> + Send + 'static,
                T: Send + Sync + 'static,
            {
                self.with_settings(|settings| settings.with_setup(setup))
            }

            #[doc = "Declares secrets by name, read with `ctx.secret(\"NAME\")`: `SECRET_<NAME>`"]
            #[doc = "(or `<NAME>_SECRET`) names a Secrets Manager secret, else `<NAME>` is the"]
            #[doc = "value. Loaded before the first call; one that cannot load fails the start."]
            #[doc = "See [`secrets`](crate::secrets)."]
            #[doc = ""]
            #[doc = "```"]
            #[doc = "use fabric::prelude::*;"]
            #[doc = "# #[derive(Deserialize, Input)] struct In {}"]
            #[doc = "# #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }"]
            #[doc = concat!("let adapter = ", $example, ".secrets([\"API_KEY\"]);")]
            #[doc = "# let _ = adapter;"]
            #[doc = "```"]
            pub fn secrets<I, S>(self, names: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.with_settings(|settings| settings.with_secrets(names))
            }

            #[doc = "Like `secrets`, loaded as the [`SecretsBuilder`](crate::secrets::SecretsBuilder) says (time to live, source)."]
            pub fn secrets_from(self, builder: crate::secrets::SecretsBuilder) -> Self {
                self.with_settings(|settings| settings.with_secrets_from(builder))
            }

            #[doc = "Writes CloudWatch EMF metrics in `namespace` (per invocation: invocations,"]
            #[doc = "errors, duration; see [`metrics`](crate::metrics)). `FABRIC_METRICS_NAMESPACE`"]
            #[doc = "or `POWERTOOLS_METRICS_NAMESPACE` turn them on too, and win."]
            pub fn metrics(self, namespace: &str) -> Self {
                self.with_settings(|settings| settings.with_metrics(namespace))
            }

            #[doc = "Writes the metrics' EMF lines to `writer` instead of stdout (on Lambda and"]
            #[doc = "off it): a file a CloudWatch agent tails, or a buffer a test reads."]
            #[doc = ""]
            #[doc = "```"]
            #[doc = "use fabric::prelude::*;"]
            #[doc = "# #[derive(Deserialize, Input)] struct In {}"]
            #[doc = "# #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }"]
            #[doc = concat!("let adapter = ", $example, ".metrics(\"Shop\").metrics_writer(std::io::sink());")]
            #[doc = "# let _ = adapter;"]
            #[doc = "```"]
            pub fn metrics_writer(self, writer: impl ::std::io::Write + Send + 'static) -> Self {
                self.with_settings(|settings| {
                    settings.with_metrics_writer(crate::metrics::EmfWriter::new(writer))
                })
            }

            #[doc = "Runs `layer` around every call of every service this adapter serves: it sees"]
            #[doc = "the alias, route, transport, input and context, can refuse with an `Error`"]
            #[doc = "(answered in the transport's form), put values into the context, and run"]
            #[doc = "code after the service. See [`layer`](crate::layer)."]
            #[doc = ""]
            #[doc = "```"]
            #[doc = "use fabric::prelude::*;"]
            #[doc = "use fabric::layer::{Next, ServiceRequest};"]
            #[doc = "# #[derive(Deserialize, Input)] struct In {}"]
            #[doc = "# #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }"]
            #[doc = "async fn log_calls(request: ServiceRequest, next: Next) -> Result<fabric::Output, Error> {"]
            #[doc = "    tracing::info!(alias = request.alias(), transport = %request.transport(), \"called\");"]
            #[doc = "    next.run(request).await"]
            #[doc = "}"]
            #[doc = concat!("let adapter = ", $example, ".layer(log_calls);")]
            #[doc = "# let _ = adapter;"]
            #[doc = "```"]
            pub fn layer(self, layer: impl crate::layer::Layer) -> Self {
                self.with_settings(|settings| settings.with_layer(layer))
            }

            /// Puts an app's layers around this adapter's own.
            #[allow(dead_code)] // apps hold WebSocket and HTTP adapters only
            pub(crate) fn with_layers_around(self, outer: &crate::layer::Layers) -> Self {
                self.with_settings(|settings| settings.with_layers_around(outer))
            }

            #[doc = "Whether 5xx details are hidden from clients (see the error envelope)."]
            pub fn scrub_errors(self, scrub: bool) -> Self {
                self.with_settings(|settings| settings.with_scrub_errors(scrub))
            }

            #[doc = "Answers every call with 503 `The service is switched off`. Unset, the"]
            #[doc = "`FABRIC_UNAVAILABLE` variable (`1` or `true`) decides when serving starts."]
            pub fn unavailable(self, unavailable: bool) -> Self {
                self.with_settings(|settings| settings.with_unavailable(unavailable))
            }
        }
    };
}

#[allow(unused_imports)]
pub(crate) use adapter_settings_methods;
