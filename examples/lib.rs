//! Services shared by the example binaries. Each binary serves one of them over one
//! transport; the service values themselves are transport-free.

pub mod chat;
pub mod chat_app;
pub mod division;
pub mod echo;
pub mod greet;
