use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Query {
    #[input(short = 'n')]
    name: String,
    #[input(short = 'n')]
    number: u32,
}

fn main() {}
