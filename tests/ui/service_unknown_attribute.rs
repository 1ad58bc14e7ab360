use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Empty {}

#[fabric_service(alias = "ok", timeout = 5)]
async fn slow(_input: Empty, _ctx: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {}
