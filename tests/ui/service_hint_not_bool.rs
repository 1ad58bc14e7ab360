use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Key {
    key: String,
}

#[fabric_service(idempotent = "yes")]
async fn put(input: Key, _ctx: Context) -> Result<String, Error> {
    Ok(input.key)
}

fn main() {}
