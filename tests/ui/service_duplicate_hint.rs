use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Key {
    key: String,
}

#[fabric_service(read_only, read_only = false)]
async fn get(input: Key, _ctx: Context) -> Result<String, Error> {
    Ok(input.key)
}

fn main() {}
