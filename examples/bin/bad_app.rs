//! An app with a mistake in it, for the tests of how Fabric reports one: `BAD_APP`
//! picks it (`two-functions`, `no-routes`, `two-stores`). Every one fails at start
//! and at `--print-template` with one line and exit status 1.

use fabric::app::App;
use fabric::store::MemoryStore;
use fabric::websocket::{WebSocketAdapter, fabric_websocket};
use fabric_examples::chat_app;

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    let app = match std::env::var("BAD_APP").as_deref() {
        // chat-default serves every route its router declares, sendMessage too.
        Ok("two-functions") => App::new("ChatApp")
            .websocket_api("Chat", |api| {
                api.route("sendMessage", "chat-send")
                    .handler("chat-default")
            })
            .function("chat-send", fabric_websocket(chat_app::send_routes()))
            .function("chat-default", fabric_websocket(chat_app::send_routes())),
        Ok("no-routes") => chat_app::app().function("chat-typing", WebSocketAdapter::new()),
        Ok("two-stores") => App::new("TwoStores")
            .websocket_api("Chat", |api| {
                api.route("$connect", "connect")
                    .route("$disconnect", "disconnect")
            })
            .function("connect", WebSocketAdapter::new().store(MemoryStore::new()))
            .function(
                "disconnect",
                WebSocketAdapter::new().store(MemoryStore::new()),
            ),
        _ => return Err("set BAD_APP to two-functions, no-routes or two-stores".into()),
    };
    fabric::run(app).await
}
