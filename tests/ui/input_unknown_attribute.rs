use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Query {
    #[input(hidden)]
    text: String,
}

fn main() {}
