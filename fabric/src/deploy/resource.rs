//! The pieces every part of a template is made of: resources, references, and the
//! logical ids names become.

use heck::ToUpperCamelCase;
use serde::Serialize;
use serde_json::{Value, json};

/// One resource, its type first as templates are usually read.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Resource {
    #[serde(rename = "Type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Value>,
    pub(super) properties: Value,
}

impl Resource {
    pub(super) fn new(kind: &'static str, properties: Value) -> Resource {
        Resource {
            kind,
            condition: None,
            metadata: None,
            properties,
        }
    }

    /// Created only when `condition` holds.
    pub(super) fn only_if(mut self, condition: &str) -> Resource {
        self.condition = Some(condition.to_owned());
        self
    }

    pub(super) fn metadata(mut self, metadata: Value) -> Resource {
        self.metadata = Some(metadata);
        self
    }
}

/// `{ "Ref": id }`.
pub(super) fn reference(id: &str) -> Value {
    json!({ "Ref": id })
}

/// `{ "Fn::Sub": text }`.
pub(super) fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

/// `division-http` → `DivisionHttp`, `$connect` → `Connect`: an id CloudFormation
/// accepts (letters and digits only, starting with a letter).
pub(super) fn logical_id(text: &str) -> String {
    let id: String = text
        .to_upper_camel_case()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    if id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        id
    } else {
        format!("F{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::logical_id;

    #[test]
    fn names_become_cloudformation_ids() {
        assert_eq!(logical_id("chat"), "Chat");
        assert_eq!(logical_id("division-http"), "DivisionHttp");
        assert_eq!(logical_id("$connect"), "Connect");
        assert_eq!(logical_id("send_message"), "SendMessage");
        assert_eq!(logical_id("sendMessage"), "SendMessage");
        assert_eq!(logical_id("/users/{id}"), "UsersId");
        assert_eq!(logical_id("2fa"), "F2fa");
        assert_eq!(logical_id("--"), "F");
    }
}
