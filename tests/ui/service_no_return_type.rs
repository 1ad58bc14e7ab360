use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Empty {}

#[fabric_service]
async fn silent(_input: Empty, _ctx: Context) {}

fn main() {}
