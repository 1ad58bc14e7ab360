//! A checked app's WebSocket APIs as they are served: which function answers which
//! route key, and the store the app's functions share. The local gateway and the
//! in-process test gateway both serve from these, so both route as API Gateway does.

use std::sync::Arc;

use super::{AppError, FunctionAdapter, Plan};
use crate::describe::ApiDescription;
use crate::websocket::{AuthorizerAdapter, RouteSelection, WebSocketAdapter};

/// One function behind the API: a name and the adapter it serves, as on Lambda.
#[derive(Debug)]
pub(crate) struct Function {
    pub name: String,
    pub adapter: Arc<WebSocketAdapter>,
}

/// Which function serves which route key, and how API Gateway picks the key.
#[derive(Debug)]
pub(crate) struct Routes {
    functions: Vec<Function>,
    /// Route key → index into `functions`.
    keys: Vec<(String, usize)>,
    /// The custom (not `$`-prefixed) keys, for route selection.
    custom_keys: Vec<String>,
    selection: RouteSelection,
    /// The REQUEST authorizer `$connect` runs behind.
    authorizer: Option<Arc<AuthorizerAdapter>>,
}

impl Routes {
    /// One adapter serving every route key it declares: a single-function program.
    pub(crate) fn single(adapter: WebSocketAdapter) -> Routes {
        let keys = adapter.route_keys();
        let selection = adapter.selection().clone();
        let authorizer = adapter.authorizer_setting().cloned().map(Arc::new);
        let function = Function {
            name: String::new(),
            adapter: Arc::new(adapter),
        };
        Routes::new(
            selection,
            vec![function],
            keys.into_iter().map(|key| (key, 0)).collect(),
        )
        .with_authorizer(authorizer)
    }

    /// These routes with `$connect` behind `authorizer`.
    pub(crate) fn with_authorizer(mut self, authorizer: Option<Arc<AuthorizerAdapter>>) -> Routes {
        self.authorizer = authorizer;
        self
    }

    /// The REQUEST authorizer `$connect` runs behind, if any.
    pub(crate) fn authorizer(&self) -> Option<&AuthorizerAdapter> {
        self.authorizer.as_deref()
    }

    /// `functions`, each serving the keys `keys` map to it.
    pub(crate) fn new(
        selection: RouteSelection,
        functions: Vec<Function>,
        keys: Vec<(String, usize)>,
    ) -> Routes {
        let custom_keys = keys
            .iter()
            .map(|(key, _)| key)
            .filter(|key| !key.starts_with('$'))
            .cloned()
            .collect();
        Routes {
            functions,
            keys,
            custom_keys,
            selection,
            authorizer: None,
        }
    }

    /// The function serving `key`.
    pub(crate) fn function(&self, key: &str) -> Option<&Function> {
        self.keys
            .iter()
            .find(|(k, _)| k == key)
            .map(|&(_, index)| &self.functions[index])
    }

    /// The functions, in the order given.
    pub(crate) fn functions(&self) -> &[Function] {
        &self.functions
    }

    /// Each route key and the function that serves it, for the ready line.
    pub(crate) fn table(&self) -> Vec<(&str, &str)> {
        self.keys
            .iter()
            .map(|(key, index)| (key.as_str(), self.functions[*index].name.as_str()))
            .collect()
    }

    /// Whether log lines name the function (there are several).
    pub(crate) fn names_functions(&self) -> bool {
        self.functions.len() > 1
    }

    /// The route key API Gateway picks for a text frame: the selected value when it
    /// names a custom key, else `$default`.
    pub(crate) fn route_key(&self, body: &str) -> String {
        if self.custom_keys.is_empty() {
            return "$default".to_owned();
        }
        let keys: Vec<&str> = self.custom_keys.iter().map(String::as_str).collect();
        self.selection.route_key(body, &keys).to_owned()
    }
}

/// One WebSocket API of an app, ready to serve.
#[derive(Debug)]
pub(crate) struct WebSocketApiPlan {
    pub name: String,
    pub routes: Routes,
    /// The page the local gateway serves at `/`.
    pub page: Option<&'static str>,
    /// The API's stage, when it names one.
    pub stage: Option<String>,
}

impl Plan {
    /// Makes the app's store, once, when some function takes it, and gives it to
    /// every such function: the whole app shares it, as on AWS the functions share
    /// the tables.
    pub(crate) fn share_app_store(&mut self) -> Result<(), AppError> {
        let source = self.functions.iter().find_map(|function| {
            match (function.uses_app_store, &function.adapter) {
                (true, FunctionAdapter::WebSocket(adapter)) => Some(adapter.store_source()),
                _ => None,
            }
        });
        let Some(source) = source else {
            return Ok(());
        };
        let store = source
            .resolve()
            .map_err(|err| AppError::new(format!("the connection store: {}", err.detail())))?;
        if let Some(store) = store {
            self.share_store(store);
        }
        Ok(())
    }

    /// The app's WebSocket APIs, in the app's order, each function with its own
    /// adapter (so its own setup and state).
    pub(crate) fn websocket_apis(self) -> Result<Vec<WebSocketApiPlan>, AppError> {
        let Plan {
            description,
            functions,
            pages,
        } = self;
        // Each authorizer by the name of the function that serves it.
        let authorizers: Vec<(String, Arc<AuthorizerAdapter>)> = functions
            .iter()
            .filter_map(|function| {
                let authorizer = match &function.adapter {
                    FunctionAdapter::Authorizer(authorizer) => Some(authorizer),
                    FunctionAdapter::WebSocket(adapter) => adapter.authorizer_setting(),
                    #[allow(unreachable_patterns)]
                    _ => None,
                };
                authorizer.map(|authorizer| (function.name.clone(), Arc::new(authorizer.clone())))
            })
            .collect();
        let mut adapters: Vec<(String, Arc<WebSocketAdapter>)> = functions
            .into_iter()
            .filter_map(|function| match function.adapter {
                FunctionAdapter::WebSocket(adapter) => Some((function.name, Arc::new(adapter))),
                #[allow(unreachable_patterns)]
                _ => None,
            })
            .collect();
        let mut apis = Vec::new();
        for api in &description.apis {
            let ApiDescription::WebSocket(api) = api else {
                continue;
            };
            let mut members: Vec<Function> = Vec::new();
            let mut keys = Vec::new();
            for route in &api.routes {
                let index = match members.iter().position(|f| f.name == route.function) {
                    Some(index) => index,
                    None => {
                        let at = adapters
                            .iter()
                            .position(|(name, _)| *name == route.function)
                            .ok_or_else(|| {
                                AppError::new(format!("no function `{}`", route.function))
                            })?;
                        let (name, adapter) = adapters.swap_remove(at);
                        members.push(Function { name, adapter });
                        members.len() - 1
                    }
                };
                keys.push((route.key.clone(), index));
            }
            let selection = RouteSelection::parse(&api.selection)
                .map_err(|err| AppError::new(err.detail().to_owned()))?;
            let page = pages
                .iter()
                .find(|(name, _)| *name == api.name)
                .and_then(|(_, page)| *page);
            apis.push(WebSocketApiPlan {
                name: api.name.clone(),
                routes: Routes::new(selection, members, keys).with_authorizer(
                    api.authorizer.as_ref().and_then(|described| {
                        authorizers
                            .iter()
                            .find(|(name, _)| *name == described.function)
                            .map(|(_, authorizer)| authorizer.clone())
                    }),
                ),
                page,
                stage: api.stage.clone(),
            });
        }
        Ok(apis)
    }
}
