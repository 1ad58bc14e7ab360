//! Who sent an event: the caller's identity, from the authorizer's context when the
//! connection had one, else from what `$connect` saved in the connection store.

use serde_json::{Map, Value};

use crate::{Context, Error};

/// Where an [`Identity`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityOrigin {
    /// `requestContext.authorizer` of the event (a Lambda authorizer ran on `$connect`).
    Authorizer,
    /// The connection's record in the store (`Accept::user` and metadata on `$connect`).
    Store,
}

/// The caller of a WebSocket event.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The principal id, or the user id `$connect` saved.
    pub user_id: String,
    /// The authorizer's context, or the connection's saved metadata.
    pub attributes: Map<String, Value>,
    /// Where it came from.
    pub origin: IdentityOrigin,
}

impl Identity {
    /// The attributes as a typed struct. API Gateway hands authorizer values over as
    /// strings, so they are coerced as a service's input is (`"3"` is a number).
    pub fn attributes_as<T: crate::Input>(&self) -> Result<T, Error> {
        crate::input::parse::<T>(Value::Object(self.attributes.clone())).map_err(|err| {
            Error::internal_message(format!(
                "the caller's identity does not fit {}: {}",
                std::any::type_name::<T>(),
                err.detail()
            ))
        })
    }
}

impl Context {
    /// The caller's identity: the authorizer's principal and context when the event
    /// has them, else the user id and metadata `$connect` saved in the connection
    /// store; `None` off a WebSocket or for an anonymous connection.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use fabric::store::{Connection, MemoryStore, SharedStore};
    /// use fabric::testing::TestConnection;
    /// use fabric::websocket::IdentityOrigin;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store: SharedStore = Arc::new(MemoryStore::new());
    /// store.save(&Connection::new("c1", chrono::Utc::now()).user("ada")).await?;
    /// let (ctx, _posts) = TestConnection::new("c1").store(store).context();
    /// let identity = ctx.identity().await?.unwrap();
    /// assert_eq!((identity.user_id.as_str(), identity.origin), ("ada", IdentityOrigin::Store));
    /// # Ok::<_, fabric::Error>(()) }).unwrap();
    /// ```
    pub async fn identity(&self) -> Result<Option<Identity>, Error> {
        let Some(websocket) = self.websocket() else {
            return Ok(None);
        };
        if let Value::Object(context) = websocket.authorizer() {
            if let Some(Value::String(principal)) = context.get("principalId") {
                let mut attributes = context.clone();
                attributes.remove("principalId");
                // API Gateway adds this to every authorized event; it is not the caller's.
                attributes.remove("integrationLatency");
                return Ok(Some(Identity {
                    user_id: principal.clone(),
                    attributes,
                    origin: IdentityOrigin::Authorizer,
                }));
            }
        }
        let Some(store) = self.shared_state().get::<crate::store::SharedStore>() else {
            return Ok(None);
        };
        let saved = store.get(websocket.connection_id()).await?;
        Ok(saved.and_then(|connection| {
            let (user_id, attributes) = connection.into_user_and_metadata();
            Some(Identity {
                user_id: user_id?,
                attributes,
                origin: IdentityOrigin::Store,
            })
        }))
    }
}

/// An `on_connect` hook finds the token of its `$connect` with
/// [`find_token`](crate::jwt::find_token)`(ws)`.
#[cfg(feature = "jwt")]
impl crate::jwt::TokenSources for super::WebSocket {
    fn query_param(&self, name: &str) -> Option<&str> {
        super::WebSocket::query_param(self, name)
    }
    fn header(&self, name: &str) -> Option<&str> {
        super::WebSocket::header(self, name)
    }
    fn requested_protocols(&self) -> Vec<&str> {
        super::WebSocket::requested_protocols(self)
    }
}
