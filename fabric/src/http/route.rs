//! [`Route`]: a service (or an [`Endpoint`]) with its path and methods, and the path
//! patterns routes match with.

use std::fmt;
use std::sync::Arc;

use http::Method;

use super::endpoint::Endpoint;
use crate::Service;

/// What a route serves.
#[derive(Clone)]
pub(super) enum Target {
    /// A service: the router reads its input and writes its result.
    Service(Arc<dyn Service>),
    /// An endpoint: it reads the request and writes the response itself.
    Endpoint(Arc<dyn Endpoint>),
}

impl Target {
    /// The service's alias, or the endpoint's name.
    pub(super) fn name(&self) -> &str {
        match self {
            Target::Service(service) => service.alias(),
            Target::Endpoint(endpoint) => endpoint.name(),
        }
    }
}

/// A service with the path and methods it answers on. A service converts into a
/// route with the defaults: path `/{alias}`, methods GET and POST.
///
/// ```
/// use fabric::prelude::*;
/// use fabric::http::{Method, Route};
///
/// #[derive(Deserialize, Input)]
/// struct Room { room: String }
///
/// #[fabric_service(alias = "members")]
/// async fn members(input: Room, _ctx: Context) -> Result<Vec<String>, Error> {
///     Ok(vec![format!("ada@{}", input.room)])
/// }
///
/// let route = Route::new(members).path("/rooms/:room/members").methods([Method::GET]);
/// assert_eq!(route.to_string(), "GET /rooms/:room/members → members");
/// ```
#[derive(Clone)]
pub struct Route {
    pub(super) target: Target,
    path: Option<String>,
    pub(super) methods: Vec<Method>,
}

impl Route {
    /// The route of `service` with the default path and methods.
    pub fn new(service: impl Service) -> Route {
        Route::shared(Arc::new(service))
    }

    /// The route of a service that is already shared.
    pub fn shared(service: Arc<dyn Service>) -> Route {
        Route {
            target: Target::Service(service),
            path: None,
            methods: vec![Method::GET, Method::POST],
        }
    }

    /// The route of an [`Endpoint`], at `/{name}` and POST unless
    /// [`path`](Route::path) and [`methods`](Route::methods) say otherwise.
    ///
    /// ```
    /// use fabric::http::{Endpoint, HttpBody, Method, Route};
    /// use fabric::Context;
    ///
    /// struct Hook;
    /// impl Endpoint for Hook {
    ///     fn name(&self) -> &str { "hook" }
    ///     fn call(&self, _request: http::Request<bytes::Bytes>, _ctx: Context)
    ///         -> futures_util::future::BoxFuture<'static, http::Response<HttpBody>> {
    ///         Box::pin(async { http::Response::new(HttpBody::new(String::from("ok"))) })
    ///     }
    /// }
    ///
    /// let route = Route::endpoint(Hook).methods([Method::PUT]);
    /// assert_eq!(route.to_string(), "PUT /hook → hook");
    /// ```
    pub fn endpoint(endpoint: impl Endpoint) -> Route {
        Route {
            target: Target::Endpoint(Arc::new(endpoint)),
            path: None,
            methods: vec![Method::POST],
        }
    }

    /// Answers on `path` instead of `/{alias}`. Segments starting with `:` are path
    /// parameters, given to the service as input fields of that name.
    ///
    /// # Panics
    ///
    /// When the path does not start with `/`, or a parameter has no name.
    pub fn path(mut self, path: impl Into<String>) -> Route {
        let path = path.into();
        PathPattern::parse(&path);
        self.path = Some(path);
        self
    }

    /// Answers these methods instead of GET and POST. A route that answers GET also
    /// answers HEAD, with the same status and headers and no body.
    ///
    /// # Panics
    ///
    /// When the list is empty.
    pub fn methods(mut self, methods: impl IntoIterator<Item = Method>) -> Route {
        self.methods = methods.into_iter().collect();
        assert!(
            !self.methods.is_empty(),
            "a route needs at least one method"
        );
        self
    }

    pub(super) fn path_text(&self) -> String {
        self.path
            .clone()
            .unwrap_or_else(|| format!("/{}", self.target.name()))
    }
}

impl<S: Service> From<S> for Route {
    fn from(service: S) -> Route {
        Route::new(service)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let methods: Vec<&str> = self.methods.iter().map(Method::as_str).collect();
        write!(
            f,
            "{} {} → {}",
            methods.join(","),
            self.path_text(),
            self.target.name()
        )
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Route({self})")
    }
}

/// A path split into literal segments and `:name` parameters.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct PathPattern {
    pub(super) segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Segment {
    Literal(String),
    Param(String),
}

impl PathPattern {
    pub(super) fn parse(path: &str) -> PathPattern {
        let Some(rest) = path.strip_prefix('/') else {
            panic!("a route path must start with `/`, got {path:?}");
        };
        let segments = rest
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(|segment| match segment.strip_prefix(':') {
                Some("") => panic!("a path parameter needs a name, in {path:?}"),
                Some(name) => Segment::Param(name.to_owned()),
                None => Segment::Literal(segment.to_owned()),
            })
            .collect();
        PathPattern { segments }
    }

    pub(super) fn params(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Param(_)))
            .count()
    }

    /// The parameters of `path` if it matches; a trailing slash is ignored.
    pub(super) fn matches<'p>(&self, path: &'p str) -> Option<Vec<(&str, &'p str)>> {
        let mut parts = path.split('/').filter(|part| !part.is_empty());
        let mut params = Vec::new();
        for segment in &self.segments {
            let part = parts.next()?;
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => params.push((name.as_str(), part)),
            }
        }
        parts.next().is_none().then_some(params)
    }
}
