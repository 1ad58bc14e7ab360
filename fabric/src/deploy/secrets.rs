//! Declared secrets in the template: per secret a parameter naming its Secrets
//! Manager secret and the function's `SECRET_<NAME>` variable; for each function that
//! declares any, the AWS Parameters and Secrets Lambda Extension layer (its account
//! and version by region from a mapping, the version overridable by a parameter)
//! and `secretsmanager:GetSecretValue` on exactly its secrets.

use serde_json::{Value, json};

use super::function::{Architecture, BuildOptions};
use super::resource::{logical_id, reference, sub};
use super::template::Template;
use crate::describe::AppDescription;

/// The mapping of the extension layer's publishing account and versions by region.
const ACCOUNTS: &str = "SecretsExtensionLayers";
/// The parameter of the extension layer's version.
const VERSION: &str = "SecretsExtensionLayerVersion";

/// Where AWS publishes the extension layer, by region: the account, and the layer
/// version of one release in each architecture — release 1.0.103 for arm64 (the
/// version AWS CDK pins, which differs by region: `Arm64:4` where arm64 came
/// first, `Arm64:1` where it came later) and version 2 for x86_64 (published in
/// every region). `None` where that architecture's layer is not published at that
/// version: there the stack needs `SecretsExtensionLayerVersion`.
const LAYERS: [(&str, &str, Option<u32>, u32); 27] = [
    ("us-east-1", "177933569100", Some(4), 2),
    ("us-east-2", "590474943231", Some(4), 2),
    ("us-west-1", "997803712105", Some(1), 2),
    ("us-west-2", "345057560386", Some(4), 2),
    ("af-south-1", "317013901791", Some(1), 2),
    ("ap-east-1", "768336418462", Some(1), 2),
    ("ap-southeast-3", "490737872127", Some(1), 2),
    ("ap-south-1", "176022468876", Some(4), 2),
    ("ap-northeast-3", "576959938190", None, 2),
    ("ap-northeast-2", "738900069198", Some(1), 2),
    ("ap-southeast-1", "044395824272", Some(4), 2),
    ("ap-southeast-2", "665172237481", Some(4), 2),
    ("ap-northeast-1", "133490724326", Some(4), 2),
    ("ca-central-1", "200266452380", Some(1), 2),
    ("cn-north-1", "287114880934", None, 2),
    ("cn-northwest-1", "287310001119", None, 2),
    ("eu-central-1", "187925254637", Some(4), 2),
    ("eu-west-1", "015030872274", Some(4), 2),
    ("eu-west-2", "133256977650", Some(4), 2),
    ("eu-south-1", "325218067255", Some(1), 2),
    ("eu-west-3", "780235371811", Some(1), 2),
    ("eu-north-1", "427196147048", Some(1), 2),
    ("me-south-1", "832021897121", Some(1), 2),
    ("me-central-1", "858974508948", None, 2),
    ("sa-east-1", "933737806257", Some(1), 2),
    ("us-gov-east-1", "129776340158", None, 2),
    ("us-gov-west-1", "127562683043", None, 2),
];

/// The condition that the stack was given a layer version of its own.
const VERSION_GIVEN: &str = "SecretsExtensionLayerVersionGiven";

/// The template parameter naming the secret `name` (`CHAT_TOKEN` → `ChatTokenSecret`).
pub(super) fn parameter_of(name: &str) -> String {
    format!("{}Secret", logical_id(&name.to_ascii_lowercase()))
}

impl Template {
    /// Gives each function of `app` that declares secrets their variables, the
    /// extension layer and read access to exactly those secrets.
    pub(super) fn secrets(&mut self, app: &AppDescription, build: &BuildOptions) {
        let mut any = false;
        for function in &app.functions {
            if function.secrets.is_empty() {
                continue;
            }
            let id = format!("{}Function", logical_id(&function.name));
            let mut variables = Vec::new();
            let mut arns = Vec::new();
            for name in &function.secrets {
                let parameter = parameter_of(name);
                self.parameter(
                    &parameter,
                    json!({
                        "Type": "String",
                        "Default": format!("{}/{name}", app.name),
                        "Description": format!("The name of the Secrets Manager secret holding {name}"),
                        "AllowedPattern": "^[A-Za-z0-9/_+=.@-]+$",
                    }),
                );
                variables.push((format!("SECRET_{name}"), reference(&parameter)));
                // Secret ARNs end in `-` and six random characters.
                arns.push(sub(&format!(
                    "arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:${{{parameter}}}-??????"
                )));
            }
            let Some(resource) = self.resources.get_mut(&id) else {
                continue;
            };
            any = true;
            let properties = &mut resource.properties;
            let environment = &mut properties["Environment"]["Variables"];
            if !environment.is_object() {
                *environment = json!({});
            }
            for (variable, value) in variables {
                environment[variable] = value;
            }
            let statement = json!({
                "Statement": [{ "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": arns }],
            });
            match properties["Policies"].as_array_mut() {
                Some(policies) => policies.push(statement),
                None => properties["Policies"] = json!([statement]),
            }
            properties["Layers"] = json!([layer_arn(build.architecture)]);
        }
        if any {
            self.parameter(
                VERSION,
                json!({
                    "Type": "String",
                    "Default": "",
                    "AllowedPattern": "^[0-9]*$",
                    "Description": "The AWS Parameters and Secrets Lambda Extension layer version; empty for the one this template pins in each region (see its AWS documentation for the latest)",
                }),
            );
            self.conditions.insert(
                VERSION_GIVEN.to_owned(),
                json!({ "Fn::Not": [{ "Fn::Equals": [{ "Ref": VERSION }, ""] }] }),
            );
            let layers: serde_json::Map<String, Value> = LAYERS
                .iter()
                .map(|(region, account, arm64, x86_64)| {
                    let mut entry = json!({ "Account": account, "X86Version": x86_64.to_string() });
                    if let Some(arm64) = arm64 {
                        entry["Arm64Version"] = json!(arm64.to_string());
                    }
                    ((*region).to_owned(), entry)
                })
                .collect();
            self.mappings
                .insert(ACCOUNTS.to_owned(), Value::Object(layers));
        }
    }
}

/// The extension layer's ARN in the stack's region, for `architecture`: the
/// version the stack was given, else the mapping's for the region.
fn layer_arn(architecture: Architecture) -> Value {
    let (suffix, column) = match architecture {
        Architecture::Arm64 => ("-Arm64", "Arm64Version"),
        Architecture::X86_64 => ("", "X86Version"),
    };
    let in_region =
        |key: &str| json!({ "Fn::FindInMap": [ACCOUNTS, { "Ref": "AWS::Region" }, key] });
    json!({
        "Fn::Sub": [
            format!("arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{Account}}:layer:AWS-Parameters-and-Secrets-Lambda-Extension{suffix}:${{Version}}"),
            {
                "Account": in_region("Account"),
                "Version": { "Fn::If": [VERSION_GIVEN, { "Ref": VERSION }, in_region(column)] },
            },
        ]
    })
}
