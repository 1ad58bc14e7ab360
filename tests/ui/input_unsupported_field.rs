use fabric::prelude::*;

#[derive(Deserialize)]
struct Opaque {}

#[derive(Deserialize, Input)]
struct Query {
    opaque: Opaque,
}

fn main() {}
