use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Pair(u32, u32);

fn main() {}
