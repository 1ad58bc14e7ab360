//! Several services in one command line, one subcommand each:
//! `cargo run --bin fabric-demo -- greet --name Ada --also Grace,Linus --style hi`.

use fabric::prelude::*;
use fabric_examples::division::division;
use fabric_examples::greet::greet;

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    let cli = Cli::new("fabric-demo")
        .about("Fabric's example services")
        .service(division)
        .service(greet);
    fabric::run(cli).await
}
