//! `cargo run --bin mint-token -- alice`: prints a development token for the chat
//! app (HS256, signed with `CHAT_JWT_SECRET` or its development default, 12 hours).

fn main() {
    let Some(user) = std::env::args()
        .nth(1)
        .filter(|user| !user.trim().is_empty())
    else {
        eprintln!("usage: mint-token <user>");
        std::process::exit(2);
    };
    match fabric_examples::chat_app::mint_token(&user) {
        Ok(token) => println!("{token}"),
        Err(err) => {
            eprintln!("mint-token: {}", err.detail());
            std::process::exit(1);
        }
    }
}
