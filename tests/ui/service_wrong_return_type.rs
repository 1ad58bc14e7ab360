use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Empty {}

#[fabric_service]
async fn stringly(_input: Empty, _ctx: Context) -> Result<u32, String> {
    Ok(1)
}

fn main() {}
