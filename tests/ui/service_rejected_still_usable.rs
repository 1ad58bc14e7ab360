//! A rejected service still names a value: using it adds no errors of its own.
use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Message {
    text: String,
}

/// Talks.
#[fabric_service(alias = "chat room!")]
async fn chat(input: Message, _ctx: Context) -> Result<String, Error> {
    Ok(input.text)
}

fn main() {
    let _alias = chat.alias();
    let _typed = chat::handle;
    let _websocket = fabric_websocket(chat);
    let _http = fabric_http(chat);
    let _cli = fabric_cli(chat);
}
