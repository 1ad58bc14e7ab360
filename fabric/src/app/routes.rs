//! Which function serves which route of each API, and the rules an API's functions
//! keep: one function a route, one store an API, one selection expression.

#[cfg(feature = "websocket")]
use std::sync::Arc;

use super::{AppError, FunctionAdapter, FunctionSpec};
use crate::describe::ApiDescription;
#[cfg(feature = "websocket")]
use crate::describe::{AuthorizerDescription, WebSocketApiDescription, WebSocketRoute};
#[cfg(feature = "http")]
use crate::describe::{HttpApiDescription, HttpRoute};
use crate::names::check_name;
#[cfg(feature = "websocket")]
use crate::websocket::{IdentitySource, RouteSelection, StoreSource, WebSocketAdapter};

/// The routes found so far, per function.
pub(super) struct Planner<'a> {
    pub(super) functions: &'a [FunctionSpec],
    /// The API each function serves, by index.
    pub(super) api_of: Vec<Option<usize>>,
    /// The route keys (or `METHOD /path`) each function serves.
    pub(super) routes: Vec<Vec<String>>,
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
    pub(super) fn websocket(
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
        let authorizer = self.authorizer(api, api_index, &routes)?;
        Ok(ApiDescription::WebSocket(WebSocketApiDescription {
            authorizer,
            name: api.name.clone(),
            selection,
            stage: api.stage.clone(),
            custom_domain: api.custom_domain.clone(),
            routes,
            throttling: match api.throttling {
                Some(throttling) => Some(throttling),
                None => self.member_throttling(&api.name, &members)?,
            },
            route_throttling: self.member_route_throttling(&api.name, &members)?,
        }))
    }

    #[cfg(not(feature = "websocket"))]
    pub(super) fn websocket(
        &mut self,
        api: &super::WebSocketApi,
        _api_index: usize,
    ) -> Result<ApiDescription, AppError> {
        Err(AppError::new(format!(
            "API `{}` is a WebSocket API, and fabric is built without its `websocket` feature",
            api.name
        )))
    }

    /// The API's authorizer: the function it names, else the one its `$connect`
    /// function's adapter runs behind (served by that same function on Lambda).
    #[cfg(feature = "websocket")]
    fn authorizer(
        &mut self,
        api: &super::WebSocketApi,
        api_index: usize,
        routes: &[WebSocketRoute],
    ) -> Result<Option<AuthorizerDescription>, AppError> {
        let functions = self.functions;
        let connect = routes.iter().find(|route| route.key == "$connect");
        let (function, authorizer) = match &api.authorizer {
            Some(name) => {
                let index = self.find(&api.name, api_index, name)?;
                let authorizer = match &functions[index].adapter {
                    FunctionAdapter::Authorizer(authorizer) => Some(authorizer),
                    FunctionAdapter::WebSocket(adapter) => adapter.authorizer_setting(),
                    _ => None,
                };
                let authorizer = authorizer.ok_or_else(|| {
                    AppError::new(format!(
                        "API `{}` names `{name}` as its authorizer, but that function serves no authorizer (make it a fabric_authorizer)",
                        api.name
                    ))
                })?;
                (name.clone(), authorizer)
            }
            None => {
                let Some(route) = connect else {
                    return Ok(None);
                };
                let Some(index) = functions.iter().position(|f| f.name == route.function) else {
                    return Ok(None);
                };
                match self
                    .websocket_adapter(&api.name, index)?
                    .authorizer_setting()
                {
                    Some(authorizer) => (route.function.clone(), authorizer),
                    None => return Ok(None),
                }
            }
        };
        if connect.is_none() {
            return Err(AppError::new(format!(
                "API `{}` has an authorizer but no `$connect` route for it to guard: route `$connect` to a function",
                api.name
            )));
        }
        Ok(Some(AuthorizerDescription {
            function,
            identity_sources: authorizer
                .identity_sources()
                .iter()
                .map(IdentitySource::expression)
                .collect(),
        }))
    }

    /// The stage throttling the API's functions ask for: the first one's.
    #[cfg(feature = "websocket")]
    fn member_throttling(
        &self,
        api: &str,
        members: &[usize],
    ) -> Result<Option<crate::describe::StageThrottling>, AppError> {
        for &index in members {
            if let Some(throttling) = self
                .websocket_adapter(api, index)?
                .stage_throttling_setting()
            {
                return Ok(Some(throttling));
            }
        }
        Ok(None)
    }

    /// The routes' own throttling the API's functions ask for; for a key asked by
    /// two, the first one's.
    #[cfg(feature = "websocket")]
    fn member_route_throttling(
        &self,
        api: &str,
        members: &[usize],
    ) -> Result<Vec<(String, crate::describe::StageThrottling)>, AppError> {
        let mut all: Vec<(String, crate::describe::StageThrottling)> = Vec::new();
        for &index in members {
            for (key, limits) in self
                .websocket_adapter(api, index)?
                .route_throttling_settings()
            {
                if !all.iter().any(|(known, _)| known == key) {
                    all.push((key.clone(), *limits));
                }
            }
        }
        Ok(all)
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
    pub(super) fn page(&self, api: &super::WebSocketApi, api_index: usize) -> Option<&'static str> {
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
    pub(super) fn page(
        &self,
        _api: &super::WebSocketApi,
        _api_index: usize,
    ) -> Option<&'static str> {
        None
    }

    #[cfg(feature = "http")]
    pub(super) fn http(
        &mut self,
        api: &super::HttpApi,
        api_index: usize,
    ) -> Result<ApiDescription, AppError> {
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
            if described.streaming {
                return Err(AppError::new(format!(
                    "function `{function}` answers in Lambda's response streaming mode, which API Gateway cannot pass on: leave it out of API `{}` (it gets its own function URL) or turn its lambda_streaming off",
                    api.name
                )));
            }
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
    pub(super) fn http(
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
    key.starts_with('$') || adapter.router().has_fallback() || adapter.router().has_route(key)
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
