use fabric::prelude::*;

#[fabric_service]
async fn generic<T: Input>(_input: T, _ctx: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {}
