use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Wrapper<T> {
    value: T,
}

fn main() {}
