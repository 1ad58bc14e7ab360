use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Empty {}

#[fabric_service]
fn sync_service(_input: Empty, _ctx: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {}
