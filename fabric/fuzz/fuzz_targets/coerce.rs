//! Any JSON into a struct with every field type Fabric coerces: the struct, or one
//! 400 whose issues each say what and where; coercing what coercion made changes
//! nothing.
#![no_main]

use fabric::input::{coerce, parse};
use fabric::{Error, Input};
use fabric_fuzz::Everything;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn check(err: &Error) {
    assert_eq!(err.status(), 400, "{err}");
    for issue in err.issues() {
        assert!(!issue.detail().is_empty());
        if let Some(pointer) = issue.pointer() {
            assert!(pointer.is_empty() || pointer.starts_with('/'), "{pointer}");
        }
    }
    serde_json::from_str::<Value>(&err.envelope_json(true)).expect("the envelope is JSON");
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let mut coerced = raw.clone();
    match coerce(Everything::shape(), &mut coerced) {
        Ok(()) => {
            let mut again = coerced.clone();
            coerce(Everything::shape(), &mut again).expect("coerced input coerces again");
            assert_eq!(again, coerced, "coercion is idempotent");
        }
        Err(err) => check(&err),
    }
    if let Err(err) = parse::<Everything>(raw) {
        check(&err);
    }
});
