//! Checking one EMF document as CloudWatch does before it makes metrics of it: the
//! test suites run every document a test writes through [`check_document`], and
//! an application's tests can do the same with its own.

use std::fmt;

use serde_json::Value;

use super::{MAX_DIMENSIONS_PER_SET, MAX_METRICS_PER_DOCUMENT, MAX_VALUES_PER_METRIC};

/// Why CloudWatch would not take an EMF document (or part of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmfProblem(String);

impl fmt::Display for EmfProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a valid EMF document: {}", self.0)
    }
}

impl std::error::Error for EmfProblem {}

fn problem(text: impl Into<String>) -> EmfProblem {
    EmfProblem(text.into())
}

/// Checks `document` against the EMF specification and CloudWatch's limits: a
/// `_aws` object with an integer `Timestamp` and `CloudWatchMetrics` directives,
/// each with a non-empty `Namespace`; every metric a directive names is a
/// top-level number or a non-empty array of at most 100 numbers; at most 100
/// metrics per document; every dimension named is a top-level non-blank string; at
/// most 30 dimensions per set.
///
/// ```
/// use fabric::metrics::{Metrics, check_document};
/// use serde_json::json;
///
/// let metrics = Metrics::new("Shop").dimension("service", "orders");
/// metrics.add("Orders", 1.0);
/// for document in metrics.documents(1_700_000_000_000) {
///     check_document(&document).unwrap();
/// }
/// let broken = json!({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [
///     {"Namespace": "Shop", "Dimensions": [], "Metrics": [{"Name": "Orders"}]}
/// ]}});
/// assert!(check_document(&broken).unwrap_err().to_string().contains("Orders"));
/// ```
pub fn check_document(document: &Value) -> Result<(), EmfProblem> {
    let fields = document
        .as_object()
        .ok_or_else(|| problem("the document is not a JSON object"))?;
    let emf = fields
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or_else(|| problem("no `_aws` object"))?;
    if !emf.get("Timestamp").is_some_and(Value::is_i64) {
        return Err(problem("`_aws.Timestamp` is not an integer"));
    }
    let directives = emf
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .filter(|directives| !directives.is_empty())
        .ok_or_else(|| problem("`_aws.CloudWatchMetrics` is not a non-empty array"))?;
    let mut defined = 0;
    for directive in directives {
        if directive["Namespace"]
            .as_str()
            .is_none_or(|namespace| namespace.trim().is_empty())
        {
            return Err(problem("a directive has no `Namespace`"));
        }
        let metrics = directive["Metrics"]
            .as_array()
            .ok_or_else(|| problem("a directive's `Metrics` is not an array"))?;
        defined += metrics.len();
        for metric in metrics {
            let name = metric["Name"]
                .as_str()
                .filter(|name| !name.is_empty())
                .ok_or_else(|| problem("a metric has no `Name`"))?;
            check_values(name, fields.get(name))?;
        }
        let sets = directive["Dimensions"]
            .as_array()
            .ok_or_else(|| problem("a directive's `Dimensions` is not an array"))?;
        for set in sets {
            let set = set
                .as_array()
                .ok_or_else(|| problem("a dimension set is not an array"))?;
            if set.len() > MAX_DIMENSIONS_PER_SET {
                return Err(problem(format!(
                    "a dimension set has {} dimensions, more than {MAX_DIMENSIONS_PER_SET}",
                    set.len()
                )));
            }
            for name in set {
                let name = name
                    .as_str()
                    .ok_or_else(|| problem("a dimension's name is not a string"))?;
                if fields
                    .get(name)
                    .and_then(Value::as_str)
                    .is_none_or(|value| value.trim().is_empty())
                {
                    return Err(problem(format!(
                        "the dimension `{name}` is not a top-level non-blank string"
                    )));
                }
            }
        }
    }
    if defined > MAX_METRICS_PER_DOCUMENT {
        return Err(problem(format!(
            "{defined} metrics, more than {MAX_METRICS_PER_DOCUMENT}"
        )));
    }
    Ok(())
}

/// A metric's value: a number, or a non-empty array of at most 100 numbers.
fn check_values(name: &str, value: Option<&Value>) -> Result<(), EmfProblem> {
    match value {
        Some(Value::Number(_)) => Ok(()),
        Some(Value::Array(values))
            if !values.is_empty()
                && values.len() <= MAX_VALUES_PER_METRIC
                && values.iter().all(Value::is_number) =>
        {
            Ok(())
        }
        Some(Value::Array(values)) if values.len() > MAX_VALUES_PER_METRIC => {
            Err(problem(format!(
                "the metric `{name}` has {} values, more than {MAX_VALUES_PER_METRIC}",
                values.len()
            )))
        }
        Some(other) => Err(problem(format!(
            "the metric `{name}` is {other}, not a number or an array of numbers"
        ))),
        None => Err(problem(format!(
            "the metric `{name}` is named but has no top-level value"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(metrics: Value, values: Value) -> Value {
        let mut document = json!({
            "_aws": {"Timestamp": 1, "CloudWatchMetrics": [
                {"Namespace": "N", "Dimensions": [["service"]], "Metrics": metrics}
            ]},
            "service": "s",
        });
        for (name, value) in values.as_object().unwrap() {
            document[name] = value.clone();
        }
        document
    }

    #[test]
    fn each_broken_rule_is_named() {
        let one = json!([{"Name": "X", "Unit": "Count"}]);
        assert!(check_document(&document(one.clone(), json!({"X": 1}))).is_ok());
        assert!(check_document(&document(one.clone(), json!({"X": [1, 2.5]}))).is_ok());
        let cases = [
            (document(one.clone(), json!({})), "no top-level value"),
            (document(one.clone(), json!({"X": "1"})), "not a number"),
            (document(one.clone(), json!({"X": []})), "not a number"),
            (
                document(one.clone(), json!({"X": [1, "2"]})),
                "not a number",
            ),
            (
                document(one.clone(), json!({"X": vec![1; 101]})),
                "101 values",
            ),
            (
                document(one.clone(), json!({"X": 1, "service": 3})),
                "`service`",
            ),
            (
                document(one.clone(), json!({"X": 1, "service": " "})),
                "`service`",
            ),
            (json!({"X": 1}), "no `_aws`"),
            (json!([1]), "not a JSON object"),
        ];
        for (document, expected) in cases {
            let problem = check_document(&document).unwrap_err().to_string();
            assert!(problem.contains(expected), "{problem} for {document}");
        }
        let mut no_time = document(one.clone(), json!({"X": 1}));
        no_time["_aws"]["Timestamp"] = json!("now");
        assert!(check_document(&no_time).is_err());
        let mut no_namespace = document(one.clone(), json!({"X": 1}));
        no_namespace["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!("");
        assert!(check_document(&no_namespace).is_err());
        let many: Vec<Value> = (0..101).map(|i| json!({"Name": format!("m{i}")})).collect();
        let values: serde_json::Map<String, Value> =
            (0..101).map(|i| (format!("m{i}"), json!(1))).collect();
        let problem = check_document(&document(json!(many), Value::Object(values)))
            .unwrap_err()
            .to_string();
        assert!(problem.contains("101 metrics"), "{problem}");
        let mut wide = document(one, json!({"X": 1}));
        let names: Vec<String> = (0..31).map(|i| format!("d{i}")).collect();
        for name in &names {
            wide[name] = json!("v");
        }
        wide["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([names]);
        let problem = check_document(&wide).unwrap_err().to_string();
        assert!(problem.contains("31 dimensions"), "{problem}");
    }
}
