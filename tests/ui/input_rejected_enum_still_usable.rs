//! A rejected choice still implements `InputType`: a field of its type adds no errors
//! of its own.
use fabric::prelude::*;

#[derive(Deserialize, Input)]
enum Mood {
    Happy(u8),
    Calm,
}

#[derive(Deserialize, Input)]
struct Query {
    mood: Mood,
}

#[fabric_service]
async fn feel(_input: Query, _ctx: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {
    let _cli = fabric_cli(feel);
}
