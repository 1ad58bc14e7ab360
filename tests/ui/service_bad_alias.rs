use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Empty {}

#[fabric_service(alias = "chat room!")]
async fn chat(_input: Empty, _ctx: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {}
