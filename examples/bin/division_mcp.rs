//! `division` and `greet` as MCP tools. With no arguments it speaks MCP over stdio,
//! as MCP clients launch it; `--http` serves streamable HTTP at
//! `http://127.0.0.1:3000/mcp` (`--port`, `FABRIC_PORT`); on Lambda it answers its
//! function URL, which `--print-template` writes.

use fabric::prelude::*;
use fabric_examples::division::division;
use fabric_examples::greet::greet;

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    let server = fabric_mcp(division)
        .tool(greet)
        .name("division")
        .version(env!("CARGO_PKG_VERSION"))
        .instructions("Divide numbers with `division`; greet people with `greet`.");
    fabric::run(server).await
}
