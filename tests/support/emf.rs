//! Every EMF document a test run writes goes through one check here:
//! [`fabric::metrics::check_document`], CloudWatch's rules. `CapturedLogs` (the
//! in-process writer) and a Lambda function's stdout run what they captured through
//! [`documents`] when read and again when dropped, so a test that turns metrics on
//! gets the check without asking.

use serde_json::Value;

/// Every EMF document in `text` (one JSON line each), each checked; a line that
/// looks like EMF but does not parse or does not pass fails the test, naming it.
pub(crate) fn documents(text: &str) -> Vec<Value> {
    let mut documents = Vec::new();
    for line in text.lines().filter(|line| line.contains("\"_aws\"")) {
        let start = line.find('{').unwrap_or(0);
        let document: Value = serde_json::from_str(&line[start..])
            .unwrap_or_else(|err| panic!("an EMF line that is not JSON ({err}): {line}"));
        if let Err(problem) = fabric::metrics::check_document(&document) {
            panic!("{problem}: {line}");
        }
        documents.push(document);
    }
    documents
}

/// [`documents`] on drop too, unless the test is already failing.
pub(crate) fn check_on_drop(text: &str) {
    if !std::thread::panicking() {
        documents(text);
    }
}

/// The sum of the metric `name` over `documents` (a number or an array of them).
pub(crate) fn total(documents: &[Value], name: &str) -> f64 {
    documents
        .iter()
        .map(|document| match &document[name] {
            Value::Array(values) => values.iter().filter_map(Value::as_f64).sum(),
            value => value.as_f64().unwrap_or(0.0),
        })
        .sum()
}

/// The documents whose dimension `name` is `value`.
pub(crate) fn with(documents: &[Value], name: &str, value: &str) -> Vec<Value> {
    documents
        .iter()
        .filter(|document| document[name] == value)
        .cloned()
        .collect()
}
