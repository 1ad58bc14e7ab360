//! The Lambda function a binary becomes, and how every function is built.

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::resource::{Resource, logical_id};
use crate::describe::FunctionSettings;

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

/// How the functions are built and run, from `--print-template`'s flags: where the
/// Cargo workspace is, relative to the template, and the processor.
///
/// ```
/// use fabric::deploy::{Architecture, BuildOptions};
/// let options = BuildOptions::default().code_uri("examples").architecture(Architecture::X86_64);
/// assert_eq!(options.code_uri, "examples");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// The directory, relative to the template, whose Cargo.toml builds the binaries
    /// (a workspace root works: each binary is picked by name).
    pub code_uri: String,
    /// The processor architecture.
    pub architecture: Architecture,
}

impl Default for BuildOptions {
    fn default() -> BuildOptions {
        BuildOptions {
            code_uri: ".".to_owned(),
            architecture: Architecture::default(),
        }
    }
}

impl BuildOptions {
    /// The directory whose Cargo.toml builds the binaries.
    pub fn code_uri(mut self, dir: impl Into<String>) -> BuildOptions {
        self.code_uri = dir.into();
        self
    }

    /// The processor architecture.
    pub fn architecture(mut self, architecture: Architecture) -> BuildOptions {
        self.architecture = architecture;
        self
    }
}

/// One Lambda function of the template: the Cargo binary it is built from.
pub(super) struct Function<'a> {
    binary: &'a str,
    logical: String,
    build: &'a BuildOptions,
    settings: &'a FunctionSettings,
}

impl<'a> Function<'a> {
    pub(super) fn new(
        binary: &'a str,
        build: &'a BuildOptions,
        settings: &'a FunctionSettings,
    ) -> Function<'a> {
        Function {
            binary,
            logical: logical_id(binary),
            build,
            settings,
        }
    }

    /// The prefix of this function's resources (`Chat`, `DivisionHttp`).
    pub(super) fn logical_name(&self) -> &str {
        &self.logical
    }

    /// The logical id of the function resource.
    pub(super) fn id(&self) -> String {
        format!("{}Function", self.logical)
    }

    /// The `AWS::Serverless::Function` resource, built with cargo-lambda: arm64 by
    /// default, 256 MB and 29 s (API Gateway's integration timeout) unless set.
    pub(super) fn resource(
        &self,
        environment: IndexMap<String, Value>,
        policies: Vec<Value>,
        events: IndexMap<String, Value>,
    ) -> Resource {
        let mut variables: IndexMap<String, Value> = self
            .settings
            .environment
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        variables.extend(environment);
        let timeout = self.settings.timeout.map_or(29, |t| t.as_secs().max(1));
        let mut properties = json!({
            "CodeUri": self.build.code_uri,
            "Handler": "bootstrap",
            "Runtime": "provided.al2023",
            "Architectures": [self.build.architecture.as_str()],
            "MemorySize": self.settings.memory_mb.unwrap_or(256),
            "Timeout": timeout,
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
