use fabric::prelude::*;

#[derive(Deserialize, Input)]
struct Key {
    key: String,
}

// Rejected for its hints, the service is still a value: using it adds no errors.
#[fabric_service(read_only, destructive = true)]
async fn drop_key(input: Key, _ctx: Context) -> Result<String, Error> {
    Ok(input.key)
}

fn main() {
    let _ = drop_key.hints();
    let _ = drop_key.output_schema();
}
