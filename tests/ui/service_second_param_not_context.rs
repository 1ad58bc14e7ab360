use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Empty {}

#[fabric_service]
async fn wrong_context(_input: Empty, _ctx: String) -> Result<(), Error> {
    Ok(())
}

fn main() {}
