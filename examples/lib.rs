//! Services shared by the example binaries, and what the load tools read. Each
//! binary serves one service over one transport; the service values themselves are
//! transport-free.

pub mod chat;
pub mod chat_app;
pub mod division;
pub mod echo;
pub mod greet;
pub mod load;
