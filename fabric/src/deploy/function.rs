//! [`Function`]: the Lambda function a binary becomes.

use std::time::Duration;

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::template::Resource;

/// The processor a function runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Architecture {
    /// Graviton (the default: cheaper per millisecond).
    #[default]
    Arm64,
    /// Intel/AMD.
    X86_64,
}

impl Architecture {
    /// The name Lambda uses: `arm64` or `x86_64`.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }
}

impl clap::ValueEnum for Architecture {
    fn value_variants<'a>() -> &'a [Self] {
        &[Architecture::Arm64, Architecture::X86_64]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

/// One Lambda function: the Cargo binary it is built from and its settings.
///
/// ```
/// use std::time::Duration;
/// use fabric::deploy::{Architecture, Function};
///
/// let function = Function::new("division-http")
///     .code_uri("examples")
///     .architecture(Architecture::X86_64)
///     .memory_mb(512)
///     .timeout(Duration::from_secs(10))
///     .env("RUST_LOG", "debug");
/// assert_eq!(function.logical_name(), "DivisionHttp");
/// assert_eq!(function.binary(), "division-http");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    binary: String,
    logical_name: String,
    code_uri: String,
    architecture: Architecture,
    memory_mb: u32,
    timeout: Duration,
    environment: IndexMap<String, Value>,
}

impl Function {
    /// The function built from the Cargo binary `binary`: arm64, 256 MB, 29 s (API
    /// Gateway's integration timeout), code in the template's directory.
    pub fn new(binary: &str) -> Function {
        Function {
            binary: binary.to_owned(),
            logical_name: pascal_case(binary),
            code_uri: ".".to_owned(),
            architecture: Architecture::default(),
            memory_mb: 256,
            timeout: Duration::from_secs(29),
            environment: IndexMap::new(),
        }
    }

    /// The directory, relative to the template, whose Cargo.toml builds the binary
    /// (a workspace root works: the binary is picked by name).
    pub fn code_uri(mut self, dir: impl Into<String>) -> Function {
        self.code_uri = dir.into();
        self
    }

    /// The processor architecture.
    pub fn architecture(mut self, architecture: Architecture) -> Function {
        self.architecture = architecture;
        self
    }

    /// Memory in MB (which also sets the CPU share).
    pub fn memory_mb(mut self, memory_mb: u32) -> Function {
        self.memory_mb = memory_mb;
        self
    }

    /// The longest one invocation may run.
    pub fn timeout(mut self, timeout: Duration) -> Function {
        self.timeout = timeout;
        self
    }

    /// An environment variable of the function.
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Function {
        self.environment
            .insert(name.to_owned(), Value::String(value.into()));
        self
    }

    /// The Cargo binary.
    pub fn binary(&self) -> &str {
        &self.binary
    }

    /// The prefix of this function's resources in the template (`Chat`, `DivisionHttp`).
    pub fn logical_name(&self) -> &str {
        &self.logical_name
    }

    /// The architecture.
    pub fn architecture_value(&self) -> Architecture {
        self.architecture
    }

    /// The logical id of the function resource.
    pub(super) fn id(&self) -> String {
        format!("{}Function", self.logical_name)
    }

    /// The `AWS::Serverless::Function` resource, built with cargo-lambda.
    pub(super) fn resource(
        &self,
        environment: IndexMap<String, Value>,
        policies: Vec<Value>,
        events: IndexMap<String, Value>,
    ) -> Resource {
        let mut variables = self.environment.clone();
        variables.extend(environment);
        let mut properties = json!({
            "CodeUri": self.code_uri,
            "Handler": "bootstrap",
            "Runtime": "provided.al2023",
            "Architectures": [self.architecture.as_str()],
            "MemorySize": self.memory_mb,
            "Timeout": self.timeout.as_secs().max(1),
        });
        if !variables.is_empty() {
            properties["Environment"] = json!({ "Variables": variables });
        }
        if !policies.is_empty() {
            properties["Policies"] = Value::Array(policies);
        }
        if !events.is_empty() {
            properties["Events"] = json!(events);
        }
        Resource::new("AWS::Serverless::Function", properties).metadata(json!({
            "BuildMethod": "rust-cargolambda",
            "BuildProperties": { "Binary": self.binary },
        }))
    }
}

/// `division-http` → `DivisionHttp`, `$connect` → `Connect`: an id CloudFormation
/// accepts (letters and digits only).
pub(super) fn pascal_case(text: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() {
            if upper {
                out.push(ch.to_ascii_uppercase());
            } else {
                out.push(ch);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'F');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::pascal_case;

    #[test]
    fn names_become_cloudformation_ids() {
        assert_eq!(pascal_case("chat"), "Chat");
        assert_eq!(pascal_case("division-http"), "DivisionHttp");
        assert_eq!(pascal_case("$connect"), "Connect");
        assert_eq!(pascal_case("send_message"), "SendMessage");
        assert_eq!(pascal_case("2fa"), "F2fa");
        assert_eq!(pascal_case("--"), "F");
    }
}
