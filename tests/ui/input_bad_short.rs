use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Query {
    #[input(short = 'h')]
    host: String,
}

fn main() {}
