//! Checking an [`App`] and planning how it is served: which function serves which
//! route, which functions share the store, and every mistake as one clear line.

// Built with one transport, matches over the adapter kinds have a single arm, and
// what only the local runtime reads goes unread.
#![cfg_attr(
    not(all(feature = "websocket", feature = "http", feature = "local")),
    allow(
        irrefutable_let_patterns,
        unreachable_patterns,
        unused_imports,
        dead_code
    )
)]

#[cfg(feature = "websocket")]
use std::sync::Arc;

use super::{ApiSpec, App, AppError, FunctionAdapter, FunctionSpec};
#[cfg(feature = "http")]
use crate::describe::HttpRoute;
use crate::describe::{
    ApiDescription, AppDescription, FunctionDescription, HttpApiDescription, Serves,
};
#[cfg(feature = "websocket")]
use crate::describe::{WebSocketApiDescription, WebSocketRoute};
use crate::names::check_name;
#[cfg(feature = "websocket")]
use crate::websocket::{RouteSelection, StoreFactory, StoreSource, WebSocketAdapter};

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
            if let (true, FunctionAdapter::WebSocket(adapter)) =
                (function.uses_app_store, &mut function.adapter)
            {
                *adapter = adapter
                    .clone()
                    .with_store_source(StoreSource::Shared(store.clone()));
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
        functions,
    } = app;
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
        let uses_store = matches!(&serves, Serves::WebSocket(routes) if routes.tracks_connections);
        descriptions.push(FunctionDescription {
            name: function.name.clone(),
            serves,
            api,
            uses_store,
            posts,
            settings: function.settings.clone(),
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

/// What an adapter serves.
fn serves(adapter: &FunctionAdapter) -> Serves {
    match adapter {
        #[cfg(feature = "websocket")]
        FunctionAdapter::WebSocket(adapter) => Serves::WebSocket(adapter.describe()),
        #[cfg(feature = "http")]
        FunctionAdapter::Http(router) => Serves::Http(router.describe()),
    }
}

/// A streaming HTTP function answers on its own function URL, outside any API.
fn runs_alone(serves: &Serves) -> bool {
    matches!(serves, Serves::Http(routes) if routes.streaming)
}

/// The adapter as it serves inside the app: the API's route selection, and the
/// app's store for a function that tracks connections in the store chosen when
/// serving.
#[cfg(feature = "websocket")]
fn prepare(
    function: &FunctionSpec,
    selection: Option<&str>,
    store: Option<&StoreFactory>,
) -> (FunctionAdapter, bool) {
    let FunctionAdapter::WebSocket(adapter) = &function.adapter else {
        return (function.adapter.clone(), false);
    };
    let mut adapter = adapter.clone();
    if let Some(selection) = selection.and_then(|s| RouteSelection::parse(s).ok()) {
        adapter = adapter.with_selection(selection);
    }
    let uses_app_store = matches!(adapter.store_source(), StoreSource::Serving);
    if uses_app_store {
        let factory: StoreFactory = match store {
            Some(factory) => factory.clone(),
            None => Arc::new(crate::store::from_env),
        };
        adapter = adapter.with_store_source(StoreSource::Factory(factory));
    }
    (FunctionAdapter::WebSocket(adapter), uses_app_store)
}

/// The routes found so far, per function.
struct Planner<'a> {
    functions: &'a [FunctionSpec],
    /// The API each function serves, by index.
    api_of: Vec<Option<usize>>,
    /// The route keys (or `METHOD /path`) each function serves.
    routes: Vec<Vec<String>>,
}

impl Planner<'_> {
    /// The function `name` of the app, by index, for the API `api`.
    fn find(&mut self, api: &str, api_index: usize, name: &str) -> Result<usize, AppError> {
        let index = self
            .functions
            .iter()
            .position(|f| f.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.functions.iter().map(|f| f.name.as_str()).collect();
                AppError::new(format!(
                    "API `{api}` names the function `{name}`, which the app does not have (its functions: {})",
                    names.join(", ")
                ))
            })?;
        match self.api_of[index] {
            Some(other) if other != api_index => Err(AppError::new(format!(
                "function `{name}` serves routes of two APIs; give each API functions of its own"
            ))),
            _ => {
                self.api_of[index] = Some(api_index);
                Ok(index)
            }
        }
    }

    #[cfg(feature = "websocket")]
    fn websocket(
        &mut self,
        api: &super::WebSocketApi,
        api_index: usize,
    ) -> Result<ApiDescription, AppError> {
        let mut routes: Vec<WebSocketRoute> = Vec::new();
        let mut claim = |planner: &mut Self, key: &str, index: usize| -> Result<(), AppError> {
            check_route_key(&api.name, key)?;
            if let Some(existing) = routes.iter().find(|route| route.key == key) {
                if existing.function != planner.functions[index].name {
                    return Err(AppError::new(format!(
                        "route `{key}` of API `{}` is served by two functions: `{}` and `{}`",
                        api.name, existing.function, planner.functions[index].name
                    )));
                }
                return Ok(());
            }
            let adapter = planner.websocket_adapter(&api.name, index)?;
            if !can_serve(adapter, key) {
                return Err(AppError::new(format!(
                    "function `{}` cannot serve route `{key}` of API `{}`: its router has no service for it and no fallback",
                    planner.functions[index].name, api.name
                )));
            }
            let two_way = adapter.is_two_way() && key != "$connect" && key != "$disconnect";
            routes.push(WebSocketRoute {
                key: key.to_owned(),
                function: planner.functions[index].name.clone(),
                two_way,
            });
            planner.routes[index].push(key.to_owned());
            Ok(())
        };
        let mut members = Vec::new();
        for (key, function) in &api.routes {
            let index = self.find(&api.name, api_index, function)?;
            claim(self, key, index)?;
            members.push(index);
        }
        for function in &api.handlers {
            let index = self.find(&api.name, api_index, function)?;
            for key in self.websocket_adapter(&api.name, index)?.route_keys() {
                claim(self, &key, index)?;
            }
            members.push(index);
        }
        // Every custom key a member's router serves is a route of the API.
        members.dedup();
        for &index in &members {
            let keys: Vec<String> = self
                .websocket_adapter(&api.name, index)?
                .router()
                .route_keys()
                .into_iter()
                .map(str::to_owned)
                .collect();
            for key in keys {
                claim(self, &key, index)?;
            }
        }
        let selection = self.selection(api, &members)?;
        self.check_store(&api.name, &members, &routes)?;
        Ok(ApiDescription::WebSocket(WebSocketApiDescription {
            name: api.name.clone(),
            selection,
            stage: api.stage.clone(),
            custom_domain: api.custom_domain.clone(),
            routes,
        }))
    }

    #[cfg(not(feature = "websocket"))]
    fn websocket(
        &mut self,
        api: &super::WebSocketApi,
        _api_index: usize,
    ) -> Result<ApiDescription, AppError> {
        Err(AppError::new(format!(
            "API `{}` is a WebSocket API, and fabric is built without its `websocket` feature",
            api.name
        )))
    }

    #[cfg(feature = "websocket")]
    fn websocket_adapter(&self, api: &str, index: usize) -> Result<&WebSocketAdapter, AppError> {
        match &self.functions[index].adapter {
            FunctionAdapter::WebSocket(adapter) => Ok(adapter),
            _ => Err(AppError::new(format!(
                "API `{api}` is a WebSocket API, but function `{}` does not serve WebSocket events",
                self.functions[index].name
            ))),
        }
    }

    /// The API's route selection expression: its own, or the one its functions were
    /// given (they must agree), or the default.
    #[cfg(feature = "websocket")]
    fn selection(&self, api: &super::WebSocketApi, members: &[usize]) -> Result<String, AppError> {
        let mut chosen = api.selection.clone();
        if let Some(expression) = &chosen {
            RouteSelection::parse(expression)
                .map_err(|err| AppError::new(format!("API `{}`: {}", api.name, err.detail())))?;
        }
        for &index in members {
            let adapter = self.websocket_adapter(&api.name, index)?;
            let Some(own) = adapter.describe().selection else {
                continue;
            };
            match &chosen {
                Some(expression) if *expression != own => {
                    return Err(AppError::new(format!(
                        "function `{}` selects routes by `{own}`, but API `{}` by `{expression}`",
                        self.functions[index].name, api.name
                    )));
                }
                Some(_) => {}
                None => chosen = Some(own),
            }
        }
        Ok(chosen.unwrap_or_else(|| RouteSelection::default().expression().to_owned()))
    }

    /// The functions of one API that track connections share one store, and those
    /// serving `$connect` and `$disconnect` track them too: else connections are
    /// never saved or never forgotten.
    #[cfg(feature = "websocket")]
    fn check_store(
        &self,
        api: &str,
        members: &[usize],
        routes: &[WebSocketRoute],
    ) -> Result<(), AppError> {
        let trackers: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&index| {
                self.websocket_adapter(api, index)
                    .is_ok_and(WebSocketAdapter::tracks_connections)
            })
            .collect();
        let Some(&first) = trackers.first() else {
            return Ok(());
        };
        let source_of = |index: usize| {
            self.websocket_adapter(api, index)
                .map(|adapter| adapter.store_source().clone())
        };
        let first_source = source_of(first)?;
        for &other in &trackers[1..] {
            if !same_store(&first_source, &source_of(other)?) {
                return Err(AppError::new(format!(
                    "functions `{}` and `{}` of API `{api}` track connections in different stores: give them the app's store (.track_connections() and App::store) or one SharedStore",
                    self.functions[first].name, self.functions[other].name
                )));
            }
        }
        for key in ["$connect", "$disconnect"] {
            let served = routes.iter().find(|route| route.key == key);
            let tracker = served.and_then(|route| {
                trackers
                    .iter()
                    .find(|&&index| self.functions[index].name == route.function)
            });
            match (served, tracker) {
                (_, Some(_)) => {}
                (None, None) => {
                    return Err(AppError::new(format!(
                        "API `{api}` tracks connections (function `{}`), so a function that tracks them must serve `{key}`",
                        self.functions[first].name
                    )));
                }
                (Some(route), None) => {
                    return Err(AppError::new(format!(
                        "`{key}` of API `{api}` is served by `{}`, which does not track connections while `{}` does: add .track_connections() to `{}`",
                        route.function, self.functions[first].name, route.function
                    )));
                }
            }
        }
        Ok(())
    }

    #[cfg(feature = "websocket")]
    fn page(&self, api: &super::WebSocketApi, api_index: usize) -> Option<&'static str> {
        api.page.or_else(|| {
            self.functions
                .iter()
                .zip(&self.api_of)
                .filter(|(_, of)| **of == Some(api_index))
                .find_map(|(function, _)| match &function.adapter {
                    FunctionAdapter::WebSocket(adapter) => adapter.page(),
                    _ => None,
                })
        })
    }

    #[cfg(not(feature = "websocket"))]
    fn page(&self, _api: &super::WebSocketApi, _api_index: usize) -> Option<&'static str> {
        None
    }

    #[cfg(feature = "http")]
    fn http(&mut self, api: &super::HttpApi, api_index: usize) -> Result<ApiDescription, AppError> {
        let mut routes: Vec<HttpRoute> = Vec::new();
        let Some(first) = api.handlers.first() else {
            return Err(AppError::new(format!(
                "HTTP API `{}` has no functions: add one with .handler(name)",
                api.name
            )));
        };
        for function in &api.handlers {
            let index = self.find(&api.name, api_index, function)?;
            let FunctionAdapter::Http(router) = &self.functions[index].adapter else {
                return Err(AppError::new(format!(
                    "API `{}` is an HTTP API, but function `{function}` does not serve HTTP requests",
                    api.name
                )));
            };
            let described = router.describe();
            for endpoint in &described.endpoints {
                let mut methods = endpoint.methods.clone();
                if described.cors {
                    methods.push("OPTIONS".to_owned());
                }
                for method in methods {
                    if let Some(existing) = routes
                        .iter()
                        .find(|r| r.path == endpoint.path && r.method == method)
                    {
                        if existing.function != *function {
                            return Err(AppError::new(format!(
                                "{method} {} of API `{}` is served by two functions: `{}` and `{function}`",
                                endpoint.path, api.name, existing.function
                            )));
                        }
                        continue;
                    }
                    self.routes[index].push(format!("{method} {}", endpoint.path));
                    routes.push(HttpRoute {
                        path: endpoint.path.clone(),
                        method,
                        function: function.clone(),
                    });
                }
            }
        }
        Ok(ApiDescription::Http(HttpApiDescription {
            name: api.name.clone(),
            routes,
            default_function: first.clone(),
        }))
    }

    #[cfg(not(feature = "http"))]
    fn http(
        &mut self,
        api: &super::HttpApi,
        _api_index: usize,
    ) -> Result<ApiDescription, AppError> {
        Err(AppError::new(format!(
            "API `{}` is an HTTP API, and fabric is built without its `http` feature",
            api.name
        )))
    }
}

/// Whether two functions' stores are one: both the app's, or the same store.
#[cfg(feature = "websocket")]
fn same_store(a: &StoreSource, b: &StoreSource) -> bool {
    match (a, b) {
        (StoreSource::Serving, StoreSource::Serving) => true,
        (StoreSource::Shared(a), StoreSource::Shared(b)) => Arc::ptr_eq(a, b),
        (StoreSource::Factory(a), StoreSource::Factory(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

/// Whether an adapter answers `key`: the reserved routes always (without a hook,
/// `$connect` accepts), a custom key when its router has it or a fallback.
#[cfg(feature = "websocket")]
fn can_serve(adapter: &WebSocketAdapter, key: &str) -> bool {
    key.starts_with('$')
        || adapter.router().has_fallback()
        || adapter.router().route_keys().contains(&key)
}

/// `$connect`, `$disconnect`, `$default`, or a custom key by the name rule.
#[cfg(feature = "websocket")]
fn check_route_key(api: &str, key: &str) -> Result<(), AppError> {
    if key.starts_with('$') {
        return match key {
            "$connect" | "$disconnect" | "$default" => Ok(()),
            _ => Err(AppError::new(format!(
                "route `{key}` of API `{api}`: the reserved routes are `$connect`, `$disconnect` and `$default`"
            ))),
        };
    }
    check_name("route key", key).map_err(|err| AppError::new(format!("API `{api}`: {err}")))
}
