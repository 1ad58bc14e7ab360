//! The WebSocket side of a [`Context`]: the caller's connection, and rooms and users
//! in the connection store. The store itself is a plain data layer; what a service
//! does with it over a WebSocket lives here.

use serde::Serialize;

use super::request::{BroadcastReport, WebSocket};
use crate::store::{Connection, Member, SharedStore};
use crate::{Context, Error};

impl Context {
    /// The WebSocket event and connection tools, when the call came over a WebSocket.
    ///
    /// ```
    /// let (ctx, _) = fabric::Context::test();
    /// assert!(ctx.websocket().is_none());
    /// ```
    pub fn websocket(&self) -> Option<&WebSocket> {
        self.extension::<WebSocket>()
    }

    /// The caller's WebSocket connection id, when the call came over a WebSocket.
    ///
    /// ```
    /// let (ctx, _) = fabric::testing::test_context("Bq7ZkfvLIAMCLbQ=");
    /// assert_eq!(ctx.connection_id(), Some("Bq7ZkfvLIAMCLbQ="));
    /// assert_eq!(fabric::Context::test().0.connection_id(), None);
    /// ```
    pub fn connection_id(&self) -> Option<&str> {
        self.websocket().map(WebSocket::connection_id)
    }

    /// The adapter's connection store; a 500 when it has none.
    ///
    /// The store is the adapter's shared value of type [`SharedStore`], which
    /// [`WebSocketAdapter::store`](crate::websocket::WebSocketAdapter::store) adds;
    /// a test context gets one the same way:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use fabric::store::{Connection, MemoryStore, SharedStore};
    /// use fabric::testing::TestConnection;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store: SharedStore = Arc::new(MemoryStore::new());
    /// store.save(&Connection::new("c1", chrono::Utc::now())).await?;
    /// let (ctx, _posts) = TestConnection::new("c1").store(store).context();
    /// ctx.join("general").await?;
    /// assert_eq!(ctx.rooms().await?, ["general"]);
    ///
    /// let (bare, _posts) = fabric::testing::test_context("c1");
    /// let err = bare.join("general").await.unwrap_err();
    /// assert_eq!(err.status(), 500);
    /// assert!(err.detail().starts_with("no connection store configured"));
    /// # Ok::<_, fabric::Error>(()) }).unwrap();
    /// ```
    pub fn store(&self) -> Result<&SharedStore, Error> {
        self.shared_state().get::<SharedStore>().ok_or_else(|| {
            Error::internal_message(
                "no connection store configured: add .store(MemoryStore::new()) to the adapter",
            )
        })
    }

    /// Adds the caller's connection to `room`. A 400 for an invalid room name.
    pub async fn join(&self, room: &str) -> Result<(), Error> {
        self.store()?.join(room, self.caller("join")?).await
    }

    /// Takes the caller's connection out of `room`.
    pub async fn leave(&self, room: &str) -> Result<(), Error> {
        self.store()?.leave(room, self.caller("leave")?).await
    }

    /// Whether the caller's connection is in `room`.
    pub async fn in_room(&self, room: &str) -> Result<bool, Error> {
        self.store()?.is_member(room, self.caller("in_room")?).await
    }

    /// The rooms the caller's connection is in.
    pub async fn rooms(&self) -> Result<Vec<String>, Error> {
        self.store()?.rooms(self.caller("rooms")?).await
    }

    /// The members of `room`.
    pub async fn room_members(&self, room: &str) -> Result<Vec<Member>, Error> {
        self.store()?.members(room).await
    }

    /// Sends `message` to every member of `room` (the caller too, if a member), at
    /// most the adapter's broadcast concurrency at a time. Members found gone are
    /// deleted from the store, so the next broadcast skips them.
    ///
    /// ```
    /// use fabric::prelude::*;
    ///
    /// #[derive(Deserialize, Input)]
    /// struct Say { room: String, text: String }
    ///
    /// #[fabric_service]
    /// async fn say(input: Say, ctx: Context) -> Result<Value, Error> {
    ///     if !ctx.in_room(&input.room).await? {
    ///         return Err(Error::forbidden("join the room first"));
    ///     }
    ///     let report = ctx.broadcast_room(&input.room, json!({"text": input.text})).await?;
    ///     Ok(json!({"delivered": report.delivered().len(), "gone": report.gone().len()}))
    /// }
    /// ```
    pub async fn broadcast_room(
        &self,
        room: &str,
        message: impl Serialize,
    ) -> Result<BroadcastReport, Error> {
        let ws = self.management("broadcast_room")?;
        let members = self.store()?.members(room).await?;
        ws.broadcast(members.iter().map(|m| &m.connection_id), message)
            .await
    }

    /// The open connections of `user_id`, oldest first.
    pub async fn user_connections(&self, user_id: &str) -> Result<Vec<Connection>, Error> {
        self.store()?.user_connections(user_id).await
    }

    /// Sends `message` to every open connection of `user_id` (a user may have
    /// several tabs or devices), pruning those found gone.
    pub async fn send_to_user(
        &self,
        user_id: &str,
        message: impl Serialize,
    ) -> Result<BroadcastReport, Error> {
        let ws = self.management("send_to_user")?;
        let connections = self.store()?.user_connections(user_id).await?;
        ws.broadcast(connections.iter().map(Connection::connection_id), message)
            .await
    }

    /// The caller's connection id, for the store methods that act on it.
    fn caller(&self, method: &str) -> Result<&str, Error> {
        self.connection_id().ok_or_else(|| {
            Error::internal_message(format!("ctx.{method} needs a WebSocket connection"))
        })
    }

    /// The WebSocket event, for the methods that post.
    fn management(&self, method: &str) -> Result<&WebSocket, Error> {
        self.websocket().ok_or_else(|| {
            Error::internal_message(format!("ctx.{method} needs a WebSocket event to post from"))
        })
    }
}
