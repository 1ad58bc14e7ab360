//! `division` from the command line:
//! `cargo run --bin division -- --numerator 14 --denominator 7`.

use fabric::prelude::*;
use fabric_examples::division::division;

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    fabric::run(fabric_cli(division)).await
}
