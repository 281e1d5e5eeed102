//! The lab's state that is not a stack, kept in the account as one SSM parameter
//! (`/irlab/<lab>/state`, JSON), so `status` and `down` work from any machine.

use serde::{Deserialize, Serialize};

use crate::aws::{AwsContext, AwsResultExt, error_code};
use crate::error::{Error, Result};
use crate::lab::{LAB_TAG, LabName};

/// Where every lab's parameters live (`/irlab/<lab>/state`).
const STATE_ROOT: &str = "/irlab/";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LabState {
    pub lab: String,
    pub account: String,
    pub region: String,
    /// RFC 3339.
    pub created_at: String,
    pub irlab_version: String,
    #[serde(default)]
    pub detector: Option<DetectorRecord>,
    /// Every `irlab attack`, so `verify` and `report` can find a run from any machine.
    #[serde(default)]
    pub runs: Vec<AttackRun>,
    /// The victim as `up` first brought it up: what `irlab recover` brings back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    /// Compromised victims `irlab recover` replaced and kept as evidence (stopped, isolated,
    /// protected), outside the victim stack; `down` removes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retained: Vec<Retained>,
    /// The attendee's progress through `irlab workshop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workshop: Option<WorkshopRecord>,
}

/// Where an attendee stands in the workshop: kept in the lab, so any machine resumes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct WorkshopRecord {
    /// RFC 3339.
    pub started_at: String,
    /// The modules finished, in the order they were.
    #[serde(default)]
    pub done: Vec<ModuleDone>,
    /// Module 3's containment by hand, once every step passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<ManualRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModuleDone {
    pub module: u8,
    /// RFC 3339.
    pub at: String,
}

/// The attendee's own containment: the run it answered, and from the attack to the last
/// containment call CloudTrail recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManualRecord {
    pub run: String,
    pub seconds: f64,
    /// RFC 3339.
    pub contained_at: String,
}

impl WorkshopRecord {
    pub fn is_done(&self, module: u8) -> bool {
        self.done.iter().any(|d| d.module == module)
    }

    pub fn mark_done(&mut self, module: u8) {
        if !self.is_done(module) {
            self.done.push(ModuleDone { module, at: jiff::Timestamp::now().to_string() });
        }
    }

    /// The first module not done yet; None when all `count` are.
    pub fn next(&self, count: u8) -> Option<u8> {
        (1..=count).find(|m| !self.is_done(*m))
    }
}

/// The victim's known-good definition, read from the instance `up` created.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Baseline {
    pub instance: String,
    pub image_id: String,
    pub instance_type: String,
    /// SHA-256 of the user data (of the empty string when there is none).
    pub user_data_sha256: String,
    pub groups: Vec<String>,
    pub profile_arn: Option<String>,
    /// RFC 3339.
    pub recorded_at: String,
}

/// A compromised victim kept as evidence after a recovery.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Retained {
    pub instance: String,
    pub run: String,
    /// RFC 3339.
    pub retained_at: String,
}

/// One `irlab attack`: what was started, how, and against which instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttackRun {
    pub id: String,
    pub scenarios: Vec<String>,
    pub mode: String,
    pub instance: String,
    /// RFC 3339.
    pub started_at: String,
    /// SSM Run Command ids (traffic mode).
    #[serde(default)]
    pub command_ids: Vec<String>,
    /// Simulated finding ids (inject mode).
    #[serde(default)]
    pub finding_ids: Vec<String>,
    /// The finding types the run should raise.
    #[serde(default)]
    pub expected_findings: Vec<String>,
    /// The playbook variant deployed when the attack started.
    #[serde(default)]
    pub variant: Option<String>,
    /// When `irlab verify` first saw every check pass (RFC 3339).
    #[serde(default)]
    pub verified_at: Option<String>,
    /// Recorded before anything was sent, and not yet confirmed sent: `attack` failed or was
    /// interrupted part-way. verify still judges what did go out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unconfirmed: bool,
    /// The last `irlab verify` of this run: what a grader reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// The last `irlab eradicate` of this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eradication: Option<EradicationRecord>,
    /// The `irlab recover` of this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecoveryRecord>,
    /// The `irlab approve` or `irlab reject` the playbook of this run was answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalRecord>,
}

/// Who answered the playbook's approval request, how and when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApprovalRecord {
    /// `approved` or `rejected`.
    pub decision: String,
    /// The playbook execution answered.
    pub execution: String,
    /// The caller's ARN.
    pub by: String,
    /// RFC 3339.
    pub at: String,
}

/// What `irlab recover` replaced and with what; verify reads the new victim and the check again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecoveryRecord {
    pub compromised: String,
    pub recovered: String,
    /// RFC 3339.
    pub started_at: String,
    pub ended_at: String,
    /// The indicator check on the recovered victim (the EradicateDocument with no command to run).
    pub check_command_id: String,
    /// The compromised instance was terminated (`--discard-compromised`) rather than kept.
    #[serde(default)]
    pub discarded: bool,
}

/// What `irlab eradicate` sent and found: verify reads the command's own output again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EradicationRecord {
    /// The Run Command of the EradicateDocument.
    pub command_id: String,
    /// RFC 3339: when the commands were sent and when the check ended.
    pub started_at: String,
    pub ended_at: String,
    /// No indicator of the run's scenarios was present afterwards.
    pub eradicated: bool,
    /// `kind:item` of each indicator still present.
    #[serde(default)]
    pub present: Vec<String>,
}

/// How `irlab verify` last ended for a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verdict {
    pub passed: bool,
    /// RFC 3339.
    pub at: String,
    /// Names of the checks that failed.
    #[serde(default)]
    pub failed: Vec<String>,
    /// Seconds from the finding to the victim contained, from the run's timeline.
    #[serde(default)]
    pub time_to_contain: Option<f64>,
}

/// How the account's GuardDuty detector was before the first lab came: the detector belongs to
/// the account and region, every lab holds it together, and the last to leave puts it back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DetectorRecord {
    pub id: String,
    /// `Owned`: a lab created it (the account had none), so the last lab deletes it.
    /// `Adopted`: it was there before any lab.
    pub ownership: Ownership,
    /// For an adopted detector: whether it was enabled before the first lab, so the last one can
    /// put it back.
    #[serde(default)]
    pub was_enabled: Option<bool>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Ownership {
    Owned,
    Adopted,
}

impl LabState {
    /// The run named, or the latest one.
    pub fn run(&self, id: Option<&str>) -> Result<&AttackRun> {
        match id {
            Some(id) => self.runs.iter().find(|r| r.id == id).ok_or_else(|| {
                let known: Vec<&str> = self.runs.iter().map(|r| r.id.as_str()).collect();
                Error::problem(format!("no run {id} in lab {}", self.lab)).with_hint(if known.is_empty() {
                    "the lab has no runs yet: `irlab attack SCENARIO` starts one".to_string()
                } else {
                    format!("known runs: {}", known.join(", "))
                })
            }),
            None => self.runs.last().ok_or_else(|| {
                Error::problem(format!("lab {} has no attack run yet", self.lab))
                    .with_hint("run `irlab attack SCENARIO` first")
            }),
        }
    }

    pub fn new(lab: &LabName, account: &str, region: &str) -> Self {
        LabState {
            lab: lab.to_string(),
            account: account.to_string(),
            region: region.to_string(),
            created_at: jiff::Timestamp::now().to_string(),
            irlab_version: env!("CARGO_PKG_VERSION").to_string(),
            detector: None,
            runs: Vec::new(),
            baseline: None,
            retained: Vec::new(),
            workshop: None,
        }
    }

    pub async fn load(ctx: &AwsContext, lab: &LabName) -> Result<Option<LabState>> {
        let name = lab.state_parameter();
        let out = match ctx.ssm().get_parameter().name(&name).send().await {
            Ok(out) => out,
            Err(e) if error_code(&e) == Some("ParameterNotFound") => return Ok(None),
            Err(e) => return Err(e).aws(|| format!("reading lab state {name}"), ctx),
        };
        let text = out.parameter().and_then(|p| p.value()).unwrap_or_default();
        serde_json::from_str(text).map(Some).map_err(|e| {
            Error::failure(format!("lab state {name} is not valid irlab state"))
                .with_hint("another tool wrote it, or a newer irlab did; inspect it with `aws ssm get-parameter`")
                .with_source(e)
        })
    }

    /// Writes the state: created with the lab's tag the first time, overwritten after that. The
    /// create is tried first and never overwrites, so a read that failed is never mistaken for
    /// "missing" and nothing written meanwhile by another command is lost by a blind create.
    pub async fn save(&self, ctx: &AwsContext, lab: &LabName) -> Result<()> {
        let name = lab.state_parameter();
        let value = serde_json::to_string(self).expect("state serializes");
        let put = || {
            ctx.ssm()
                .put_parameter()
                .name(&name)
                .value(value.clone())
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .description("irlab lab state: do not edit; removed by `irlab down`")
        };
        // Tags may only be given when the parameter is created.
        let tag =
            aws_sdk_ssm::types::Tag::builder().key(LAB_TAG).value(lab.as_str()).build().expect("key and value set");
        match put().overwrite(false).tags(tag).send().await {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e) == Some("ParameterAlreadyExists") => {
                put().overwrite(true).send().await.aws(|| format!("writing lab state {name}"), ctx)?;
                Ok(())
            }
            Err(e) => Err(e).aws(|| format!("writing lab state {name}"), ctx),
        }
    }

    /// Every other lab in this account and region, with its state: how labs learn who else
    /// holds the shared detector. Unreadable entries (another tool's parameter) are skipped.
    pub async fn others(ctx: &AwsContext, lab: &LabName) -> Result<Vec<LabState>> {
        Ok(Self::all(ctx).await?.into_iter().filter(|s| s.lab != lab.as_str()).collect())
    }

    /// Every lab in this account and region with its state (what `irlab labs` lists).
    pub async fn all(ctx: &AwsContext) -> Result<Vec<LabState>> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = ctx
                .ssm()
                .get_parameters_by_path()
                .path(STATE_ROOT)
                .recursive(true)
                .set_next_token(token)
                .send()
                .await
                .aws(|| format!("listing the labs under {STATE_ROOT}"), ctx)?;
            for p in page.parameters() {
                let (Some(name), Some(value)) = (p.name(), p.value()) else { continue };
                if !name.ends_with("/state") {
                    continue;
                }
                if let Ok(state) = serde_json::from_str::<LabState>(value) {
                    out.push(state);
                }
            }
            token = page.next_token().map(String::from);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    pub async fn delete(ctx: &AwsContext, lab: &LabName) -> Result<()> {
        let name = lab.state_parameter();
        match ctx.ssm().delete_parameter().name(&name).send().await {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e) == Some("ParameterNotFound") => Ok(()),
            Err(e) => Err(e).aws(|| format!("deleting lab state {name}"), ctx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_tolerates_missing_optional_fields() {
        let lab = LabName::parse("t").unwrap();
        let mut state = LabState::new(&lab, "123456789012", "us-east-1");
        state.detector =
            Some(DetectorRecord { id: "d1".into(), ownership: Ownership::Adopted, was_enabled: Some(false) });
        let text = serde_json::to_string(&state).unwrap();
        assert!(text.contains("\"ownership\":\"adopted\""));
        assert_eq!(serde_json::from_str::<LabState>(&text).unwrap(), state);
        let old = r#"{"lab":"t","account":"1","region":"us-east-1","created_at":"x","irlab_version":"0.0.1"}"#;
        assert_eq!(serde_json::from_str::<LabState>(old).unwrap().detector, None);
    }
}
