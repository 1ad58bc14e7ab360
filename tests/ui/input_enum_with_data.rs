use fabric::prelude::*;

#[derive(Deserialize, Input)]
enum Shape {
    Circle { radius: f64 },
    Square,
}

fn main() {}
