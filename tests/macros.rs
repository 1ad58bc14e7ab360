//! Misuse of `#[derive(Input)]` and `#[fabric_service]` is a compile error at the
//! user's code; the expected messages live next to each case in `ui/`.

#[test]
fn misuse_is_a_compile_error_with_a_clear_message() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("../tests/ui/*.rs");
}
