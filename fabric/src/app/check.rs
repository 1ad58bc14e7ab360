//! Checking an [`App`] and planning how it is served: which function serves which
//! route, which functions share the store, and every mistake as one clear line.

#[cfg(feature = "websocket")]
use std::sync::Arc;

use super::routes::Planner;
use super::{ApiSpec, App, AppError, FunctionAdapter, FunctionSpec};
use crate::describe::{ApiDescription, AppDescription, FunctionDescription, Serves};
use crate::names::check_name;
#[cfg(feature = "websocket")]
use crate::websocket::{RouteSelection, StoreFactory, StoreSource};

/// A checked app, ready to serve.
pub(crate) struct Plan {
    /// What it is, as plain data.
    pub description: AppDescription,
    /// Its functions, in the description's order, each adapter set up to serve as
    /// part of the app (the API's route selection, the app's store).
    pub functions: Vec<PlannedFunction>,
    /// The pages the local gateway serves, by WebSocket API name.
    pub pages: Vec<(String, Option<&'static str>)>,
}

/// One function of a [`Plan`].
pub(crate) struct PlannedFunction {
    pub name: String,
    pub adapter: FunctionAdapter,
    /// Whether it takes the app's store, which the local runtime makes once for all.
    pub uses_app_store: bool,
}

impl Plan {
    /// The function named `name`, taken out of the plan.
    pub(crate) fn take(self, name: &str) -> Result<PlannedFunction, AppError> {
        let names: Vec<String> = self.functions.iter().map(|f| f.name.clone()).collect();
        self.functions
            .into_iter()
            .find(|function| function.name == name)
            .ok_or_else(|| {
                AppError::new(format!(
                    "the app `{}` has no function `{name}` (its functions: {})",
                    self.description.name,
                    names.join(", ")
                ))
            })
    }

    /// Gives every function that takes the app's store this one, made once: locally
    /// the whole app runs in one process and shares it, as on AWS the functions
    /// share the tables.
    #[cfg(feature = "websocket")]
    pub(crate) fn share_store(&mut self, store: crate::store::SharedStore) {
        for function in &mut self.functions {
            let shared = StoreSource::Shared(store.clone());
            match (function.uses_app_store, &mut function.adapter) {
                (true, FunctionAdapter::WebSocket(adapter)) => {
                    *adapter = adapter.clone().with_store_source(shared);
                }
                (true, FunctionAdapter::Sweep(sweep)) => {
                    *sweep = sweep.clone().with_store_source(shared);
                }
                _ => {}
            }
        }
    }
}

pub(super) fn plan(app: App) -> Result<Plan, AppError> {
    let App {
        name,
        description,
        #[cfg(feature = "websocket")]
        store,
        apis,
        mut functions,
        layers,
    } = app;
    if !layers.is_empty() {
        for function in &mut functions {
            function.adapter = function.adapter.clone().with_layers_around(&layers);
        }
    }
    check_name("app name", &name).map_err(AppError::new)?;
    if functions.is_empty() {
        return Err(AppError::new(format!("the app `{name}` has no functions")));
    }
    for (index, function) in functions.iter().enumerate() {
        check_name("function name", &function.name).map_err(AppError::new)?;
        if functions[..index].iter().any(|f| f.name == function.name) {
            return Err(AppError::new(format!(
                "the app `{name}` has two functions named `{}`",
                function.name
            )));
        }
        // Resource names keep only letters and digits, case folded to words.
        if let Some(other) = functions[..index]
            .iter()
            .find(|f| resource_base(&f.name) == resource_base(&function.name))
        {
            return Err(AppError::new(format!(
                "functions `{}` and `{}` differ only in case and punctuation, so their resources would share a name",
                other.name, function.name
            )));
        }
    }
    let mut planner = Planner {
        functions: &functions,
        api_of: vec![None; functions.len()],
        routes: vec![Vec::new(); functions.len()],
    };
    let mut described = Vec::new();
    let mut pages = Vec::new();
    for (index, api) in apis.iter().enumerate() {
        let api_name = match api {
            ApiSpec::WebSocket(api) => &api.name,
            ApiSpec::Http(api) => &api.name,
        };
        check_name("API name", api_name).map_err(AppError::new)?;
        if apis[..index].iter().any(|other| match other {
            ApiSpec::WebSocket(other) => &other.name == api_name,
            ApiSpec::Http(other) => &other.name == api_name,
        }) {
            return Err(AppError::new(format!(
                "the app `{name}` has two APIs named `{api_name}`"
            )));
        }
        match api {
            ApiSpec::WebSocket(api) => {
                described.push(planner.websocket(api, index)?);
                pages.push((api.name.clone(), planner.page(api, index)));
            }
            ApiSpec::Http(api) => described.push(planner.http(api, index)?),
        }
    }
    let mut planned = Vec::new();
    let mut descriptions = Vec::new();
    for (index, function) in functions.iter().enumerate() {
        let api = planner.api_of[index].map(|api| described[api].name().to_owned());
        let serves = serves(&function.adapter);
        if api.is_none() && matches!(serves, Serves::Authorizer(_)) {
            return Err(AppError::new(format!(
                "function `{}` is an authorizer that no API uses: name it with .authorizer(\"{0}\") on a WebSocket API",
                function.name
            )));
        }
        #[cfg(feature = "websocket")]
        if let FunctionAdapter::Sweep(sweep) = &function.adapter {
            check_sweep(&function.name, sweep.swept_api(), &described)?;
        }
        if api.is_none() && !runs_alone(&serves) {
            return Err(AppError::new(format!(
                "function `{}` serves no route: route a key of an API to it (.route(key, \"{0}\")) or make it an API's handler (.handler(\"{0}\"))",
                function.name
            )));
        }
        let keys = &planner.routes[index];
        let posts = match &serves {
            Serves::WebSocket(routes) => routes.posts.unwrap_or_else(|| {
                keys.iter()
                    .any(|key| key != "$connect" && key != "$disconnect")
            }),
            _ => false,
        };
        let uses_store = match &serves {
            Serves::WebSocket(routes) => routes.tracks_connections,
            Serves::Sweep(_) => true,
            _ => false,
        };
        let uses_rate_limit_table =
            matches!(&serves, Serves::WebSocket(routes) if routes.uses_rate_limit_table);
        descriptions.push(FunctionDescription {
            name: function.name.clone(),
            serves,
            api,
            uses_store,
            uses_rate_limit_table,
            posts,
            settings: function.settings.clone(),
            secrets: secrets(&function.adapter),
        });
        #[cfg(feature = "websocket")]
        let (adapter, uses_app_store) = prepare(
            function,
            planner.api_of[index].and_then(|api| match &described[api] {
                ApiDescription::WebSocket(api) => Some(api.selection.as_str()),
                ApiDescription::Http(_) => None,
            }),
            store.as_ref(),
        );
        #[cfg(not(feature = "websocket"))]
        let (adapter, uses_app_store) = (function.adapter.clone(), false);
        planned.push(PlannedFunction {
            name: function.name.clone(),
            adapter,
            uses_app_store,
        });
    }
    let description = description.unwrap_or_else(|| {
        let names: Vec<&str> = functions.iter().map(|f| f.name.as_str()).collect();
        format!("{name}: a Fabric application of {}", names.join(", "))
    });
    Ok(Plan {
        description: AppDescription {
            name,
            description,
            functions: descriptions,
            apis: described,
        },
        functions: planned,
        pages,
    })
}

/// A name as it reads in resource names: letters and digits, one case.
fn resource_base(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// What an adapter serves.
fn serves(adapter: &FunctionAdapter) -> Serves {
    match adapter {
        #[cfg(feature = "websocket")]
        FunctionAdapter::WebSocket(adapter) => Serves::WebSocket(adapter.describe()),
        #[cfg(feature = "http")]
        FunctionAdapter::Http(router) => Serves::Http(router.describe()),
        #[cfg(feature = "websocket")]
        FunctionAdapter::Authorizer(authorizer) => Serves::Authorizer(
            authorizer
                .identity_sources()
                .iter()
                .map(crate::websocket::IdentitySource::expression)
                .collect(),
        ),
        #[cfg(feature = "websocket")]
        FunctionAdapter::Sweep(sweep) => Serves::Sweep(sweep.describe()),
    }
}

/// The secrets an adapter declares.
fn secrets(adapter: &FunctionAdapter) -> Vec<String> {
    match adapter {
        #[cfg(feature = "websocket")]
        FunctionAdapter::WebSocket(adapter) => adapter.settings().secret_names().to_vec(),
        #[cfg(feature = "http")]
        FunctionAdapter::Http(router) => router.settings().secret_names().to_vec(),
        #[cfg(feature = "websocket")]
        FunctionAdapter::Authorizer(authorizer) => authorizer.secret_names().to_vec(),
        #[cfg(feature = "websocket")]
        FunctionAdapter::Sweep(_) => Vec::new(),
    }
}

/// A streaming HTTP function answers on its own function URL, outside any API; a
/// sweep runs on its schedule.
fn runs_alone(serves: &Serves) -> bool {
    matches!(serves, Serves::Http(routes) if routes.streaming) || matches!(serves, Serves::Sweep(_))
}

/// A sweep must name one of the app's WebSocket APIs.
#[cfg(feature = "websocket")]
fn check_sweep(
    function: &str,
    swept: Option<&str>,
    apis: &[ApiDescription],
) -> Result<(), AppError> {
    let Some(swept) = swept else {
        return Err(AppError::new(format!(
            "function `{function}` is a sweep of no API: name the WebSocket API whose connections it checks with .sweeps(\"api\")"
        )));
    };
    match apis.iter().find(|api| api.name() == swept) {
        Some(ApiDescription::WebSocket(_)) => Ok(()),
        Some(ApiDescription::Http(_)) => Err(AppError::new(format!(
            "function `{function}` sweeps the API `{swept}`, an HTTP API: only a WebSocket API has connections to sweep"
        ))),
        None => {
            let names: Vec<&str> = apis.iter().map(ApiDescription::name).collect();
            Err(AppError::new(format!(
                "function `{function}` sweeps the API `{swept}`, which the app does not have (its APIs: {})",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )))
        }
    }
}

/// The adapter as it serves inside the app: the API's route selection, and the
/// app's store for a function (or a sweep) that tracks connections in the store
/// chosen when serving.
#[cfg(feature = "websocket")]
fn prepare(
    function: &FunctionSpec,
    selection: Option<&str>,
    store: Option<&StoreFactory>,
) -> (FunctionAdapter, bool) {
    let app_store = || {
        let factory: StoreFactory = match store {
            Some(factory) => factory.clone(),
            None => Arc::new(crate::store::from_env),
        };
        StoreSource::Factory(factory)
    };
    match &function.adapter {
        FunctionAdapter::WebSocket(adapter) => {
            let mut adapter = adapter.clone();
            if let Some(selection) = selection.and_then(|s| RouteSelection::parse(s).ok()) {
                adapter = adapter.with_selection(selection);
            }
            let uses_app_store = matches!(adapter.store_source(), StoreSource::Serving);
            if uses_app_store {
                adapter = adapter.with_store_source(app_store());
            }
            (FunctionAdapter::WebSocket(adapter), uses_app_store)
        }
        FunctionAdapter::Sweep(sweep) if matches!(sweep.store_source(), StoreSource::Serving) => (
            FunctionAdapter::Sweep(sweep.clone().with_store_source(app_store())),
            true,
        ),
        other => (other.clone(), false),
    }
}

impl FunctionAdapter {
    /// The adapter with an app's layers around its own.
    pub(super) fn with_layers_around(self, outer: &crate::layer::Layers) -> FunctionAdapter {
        match self {
            #[cfg(feature = "websocket")]
            FunctionAdapter::WebSocket(adapter) => {
                FunctionAdapter::WebSocket(adapter.with_layers_around(outer))
            }
            #[cfg(feature = "http")]
            FunctionAdapter::Http(router) => {
                FunctionAdapter::Http(router.with_layers_around(outer))
            }
            // An authorizer or a sweep runs no services, so an app's layers have
            // nothing to wrap.
            #[cfg(feature = "websocket")]
            other @ (FunctionAdapter::Authorizer(_) | FunctionAdapter::Sweep(_)) => other,
        }
    }
}
