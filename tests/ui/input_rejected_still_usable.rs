//! A rejected input still implements the traits: using it adds no errors of its own.
use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Query {
    #[input(short = 'h')]
    host: String,
}

#[fabric_service]
async fn lookup(input: Query, _ctx: Context) -> Result<String, Error> {
    Ok(input.host)
}

fn main() {
    let _shape = Query::shape;
    let _cli = fabric_cli(lookup);
}
