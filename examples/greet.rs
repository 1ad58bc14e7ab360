//! The `greet` service: a required field, a list, a choice and a switch (the flags
//! a command line has to get right), and a message sent for each person greeted
//! (which the CLI prints on stderr and HTTP streams to clients that ask).

use fabric::prelude::*;

/// How to greet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Input)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// Hello, Ada!
    Hello,
    /// Hi, Ada!
    Hi,
    /// Welcome, Ada!
    Welcome,
}

/// Who to greet, and how.
#[derive(Debug, Deserialize, Validate, Input)]
pub struct GreetInput {
    /// Who to greet
    #[input(short = 'n')]
    #[validate(length(min = 1, max = 64))]
    pub name: String,
    /// More people to greet
    #[serde(default)]
    pub also: Vec<String>,
    /// How to greet them
    #[input(default = Style::Hello, short = 's')]
    pub style: Style,
    /// Greet in capitals
    #[serde(default)]
    pub shout: bool,
}

/// Greets everyone named, sending each greeting as a message as it goes.
#[fabric_service(alias = "greet", description = "Greet people", read_only)]
pub async fn greet(input: GreetInput, ctx: Context) -> Result<Vec<String>, Error> {
    let word = match input.style {
        Style::Hello => "Hello",
        Style::Hi => "Hi",
        Style::Welcome => "Welcome",
    };
    let mut greetings = Vec::new();
    for name in std::iter::once(&input.name).chain(&input.also) {
        let mut greeting = format!("{word}, {name}!");
        if input.shout {
            greeting = greeting.to_uppercase();
        }
        ctx.send_message(json!({ "greeting": greeting })).await?;
        greetings.push(greeting);
    }
    Ok(greetings)
}
