use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Query {
    #[input(default = "ten")]
    limit: u32,
}

fn main() {}
