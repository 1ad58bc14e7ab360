use fabric::prelude::*;

#[fabric_service]
async fn nothing() -> Result<(), Error> {
    Ok(())
}

fn main() {}
