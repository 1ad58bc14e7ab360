use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Empty {}

#[fabric_service]
async fn too_many(_input: Empty, _ctx: Context, _extra: u8) -> Result<(), Error> {
    Ok(())
}

fn main() {}
