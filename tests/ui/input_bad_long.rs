use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Query {
    #[input(long = "--max")]
    max: u32,
}

fn main() {}
