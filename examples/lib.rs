//! Services shared by the example binaries. Each binary serves one of them over one
//! transport; the service values themselves are transport-free.

pub mod division;
pub mod greet;
