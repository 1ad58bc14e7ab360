use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Paging {
    page: u32,
}

#[derive(Deserialize, Input)]
struct Query {
    #[serde(flatten)]
    paging: Paging,
}

fn main() {}
