use fabric::prelude::*;

#[derive(Deserialize)]
struct Plain {
    name: String,
}

#[fabric_service]
async fn plain(input: Plain, _ctx: Context) -> Result<String, Error> {
    Ok(input.name)
}

fn main() {}
