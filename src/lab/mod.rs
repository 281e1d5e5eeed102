//! A lab's name and the names and tags derived from it.
//!
//! Several labs can live in one account and region; everything a lab creates is named
//! `irlab-<lab>-...` and tagged `irlab:lab=<lab>`, which is how `down` finds it and nothing else.

pub mod agent;
pub mod avml;
pub mod cost;
pub mod detector;
pub mod inventory;
pub mod janitor;
pub mod lease;
pub mod playbook;
pub mod quota;
pub mod recovery;
pub mod shared;
pub mod stacks;
pub mod state;
pub mod teardown;
pub mod threat_list;

use std::fmt;

use crate::error::{Error, Result};

/// The tag every lab resource carries.
pub const LAB_TAG: &str = "irlab:lab";
/// The tag naming which part (stack) of the lab a resource belongs to.
pub const PART_TAG: &str = "irlab:part";
/// The stack of the region's shared parts (`stacks/shared.yaml`): the trail and its bucket and
/// the VPC, held jointly by every lab of the account and region (see `shared`).
pub const SHARED_STACK: &str = "irlab-shared";
/// The `irlab:part` tag value of the shared parts, which carry no `irlab:lab` tag.
pub const SHARED_PART: &str = "shared";
pub const SHARED_TEMPLATE: &str = include_str!("../../stacks/shared.yaml");
/// Longest lab name: keeps `irlab-<lab>-<part>` and CloudFormation's generated S3 bucket
/// names (stack name + logical id + suffix, at most 63 characters) readable and unique.
pub const MAX_LAB_LEN: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LabName(String);

impl LabName {
    /// Validates against the stricter of CloudFormation stack-name and S3 bucket-name rules:
    /// lowercase letters, digits and single hyphens, starting with a letter.
    pub fn parse(name: &str) -> Result<Self> {
        let hint =
            "use 1-24 lowercase letters, digits and hyphens, starting with a letter (for example `irlab` or `class-3`)";
        let bad = |why: &str| Err(Error::problem(format!("invalid lab name `{name}`: {why}")).with_hint(hint));
        if name.is_empty() {
            return bad("it is empty");
        }
        if name.len() > MAX_LAB_LEN {
            return bad(&format!("it is longer than {MAX_LAB_LEN} characters"));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return bad("it must start with a lowercase letter");
        }
        if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
            return bad(&format!("`{c}` is not allowed"));
        }
        if name.ends_with('-') || name.contains("--") {
            return bad("hyphens may not end it or come in pairs");
        }
        Ok(LabName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn stack_name(&self, part: Part) -> String {
        format!("irlab-{}-{}", self.0, part.as_str())
    }

    /// Where the lab keeps facts that are not stacks (see `state`).
    pub fn state_parameter(&self) -> String {
        format!("/irlab/{}/state", self.0)
    }

    /// The lab's one-writer lease (see `lease`).
    pub fn lease_parameter(&self) -> String {
        format!("/irlab/{}/lease", self.0)
    }

    /// The IAM path of the lab's roles and instance profiles.
    pub fn iam_path(&self) -> String {
        format!("/irlab/{}/", self.0)
    }
}

impl fmt::Display for LabName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The lab's CloudFormation stacks. Each is one template in `stacks/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    Detection,
    Victim,
    Playbook(Variant),
}

impl Part {
    pub const ALL: [Part; 6] = [
        Part::Detection,
        Part::Victim,
        Part::Playbook(Variant::Lambda),
        Part::Playbook(Variant::StepFunctions),
        Part::Playbook(Variant::Ssm),
        Part::Playbook(Variant::Manual),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Detection => "detection",
            Part::Victim => "victim",
            Part::Playbook(Variant::Lambda) => "playbook-lambda",
            Part::Playbook(Variant::StepFunctions) => "playbook-stepfunctions",
            Part::Playbook(Variant::Ssm) => "playbook-ssm",
            Part::Playbook(Variant::Manual) => "playbook-none",
        }
    }

    pub fn template(self) -> &'static str {
        match self {
            Part::Detection => include_str!("../../stacks/detection.yaml"),
            Part::Victim => include_str!("../../stacks/victim.yaml"),
            Part::Playbook(Variant::Lambda) => include_str!("../../stacks/playbook-lambda.yaml"),
            Part::Playbook(Variant::StepFunctions) => include_str!("../../stacks/playbook-stepfunctions.yaml"),
            Part::Playbook(Variant::Ssm) => include_str!("../../stacks/playbook-ssm.yaml"),
            Part::Playbook(Variant::Manual) => include_str!("../../stacks/playbook-none.yaml"),
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl serde::Serialize for Part {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The three ways the lab automates the same containment, and none: the responder contains by
/// hand (the workshop's manual module).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// One Lambda function: fast, but capped at 15 minutes, so it starts the snapshots and returns.
    Lambda,
    /// A Step Functions Standard workflow: long-running, parallel, retries, waits for the snapshots.
    #[value(name = "stepfunctions")]
    #[serde(rename = "stepfunctions")]
    StepFunctions,
    /// An SSM Automation runbook: AWS's own operations tooling, waits for the snapshots.
    Ssm,
    /// No playbook: findings still raise an alert and are recorded; you contain the victim by hand.
    #[value(name = "none")]
    #[serde(rename = "none")]
    Manual,
}

impl Variant {
    /// The automated playbooks.
    pub const ALL: [Variant; 3] = [Variant::Lambda, Variant::StepFunctions, Variant::Ssm];
    /// What `up --playbook` may deploy: the automated playbooks and none.
    pub const DEPLOYABLE: [Variant; 4] = [Variant::Lambda, Variant::StepFunctions, Variant::Ssm, Variant::Manual];

    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Lambda => "lambda",
            Variant::StepFunctions => "stepfunctions",
            Variant::Ssm => "ssm",
            Variant::Manual => "none",
        }
    }

    /// One line for the prompt and `--help`.
    pub fn pitch(self) -> &'static str {
        match self {
            Variant::Lambda => {
                "Lambda: one function, contains in seconds; capped at 15 minutes, so it only starts the snapshots"
            }
            Variant::StepFunctions => {
                "Step Functions: a workflow with parallel steps and retries that waits for the snapshots (recommended)"
            }
            Variant::Ssm => "SSM Automation: a runbook in AWS's operations tooling that waits for the snapshots",
            Variant::Manual => {
                "None: findings raise an alert, and you contain the victim by hand (the workshop's module 3)"
            }
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names_pass() {
        for name in ["irlab", "a", "class-3", "x1-y2-z3", "abcdefghijklmnopqrstuvwx"] {
            assert!(LabName::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn names_that_break_stack_or_bucket_rules_fail() {
        for name in
            ["", "Irlab", "1lab", "-lab", "lab-", "la--b", "lab_1", "lab.1", "abcdefghijklmnopqrstuvwxy", "lab 1"]
        {
            let err = LabName::parse(name).unwrap_err();
            assert_eq!(err.exit_code(), 1, "{name}");
            assert!(err.hint.is_some());
        }
    }

    #[test]
    fn names_derive_from_the_lab() {
        let lab = LabName::parse("class-3").unwrap();
        assert_eq!(lab.stack_name(Part::Victim), "irlab-class-3-victim");
        assert_eq!(lab.state_parameter(), "/irlab/class-3/state");
        assert_eq!(lab.iam_path(), "/irlab/class-3/");
    }
}
