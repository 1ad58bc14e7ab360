//! The `division` service: the smallest complete Fabric service, served by the
//! `division` (CLI), `division-http` and `division-ws` binaries alike.

use fabric::prelude::*;

/// Two numbers to divide.
#[derive(Debug, Deserialize, Validate, Input)]
pub struct DivisionInput {
    /// The number to divide
    #[input(default = 12, short = 'n')]
    pub numerator: f64,
    /// The number to divide by; must not be zero
    #[input(default = 3, short = 'd')]
    #[validate(custom(function = "non_zero"))]
    pub denominator: f64,
}

fn non_zero(value: f64) -> Result<(), ValidationError> {
    if value == 0.0 {
        return Err(ValidationError::new("non_zero").with_message("must not be zero".into()));
    }
    Ok(())
}

/// Divides the numerator by the denominator.
#[fabric_service(alias = "division", description = "Divide two numbers", read_only)]
pub async fn division(input: DivisionInput, _ctx: Context) -> Result<f64, Error> {
    Ok(input.numerator / input.denominator)
}
