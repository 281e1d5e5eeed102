//! GuardDuty's detector: one per account and region, so it is managed through the API, not a
//! stack, and every lab in the region holds it together.
//!
//! The first lab finds the account as it was: no detector (the lab creates one, tagged
//! `irlab:lab`), a disabled one (tagged `irlab:prior-status=disabled` before it is enabled, so a
//! lab arriving a moment later still learns how it was), or an enabled one. Every later lab copies
//! that record into its own state. `down` removes its own state first, then looks for other labs:
//! only the last one puts the detector back, so two labs leaving together never both keep it.

use std::collections::HashMap;

use aws_sdk_guardduty::types::{
    DetectorFeature, DetectorFeatureConfiguration, DetectorStatus, FeatureStatus, FindingPublishingFrequency,
};

use crate::aws::{AwsContext, AwsResultExt, error_code};
use crate::error::Result;
use crate::lab::state::{DetectorRecord, LabState, Ownership};
use crate::lab::{LAB_TAG, LabName};

/// Set on an adopted detector that was disabled before the first lab enabled it.
pub const PRIOR_TAG: &str = "irlab:prior-status";

/// What the account has now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DetectorInfo {
    pub id: String,
    pub enabled: bool,
    /// The value of the detector's `irlab:lab` tag: the lab that created it.
    pub owner_lab: Option<String>,
    /// Tagged `irlab:prior-status=disabled`: a lab enabled it and the last one disables it again.
    pub was_disabled: bool,
}

impl DetectorInfo {
    /// How the account had it before any lab, as far as the detector itself tells.
    fn prior(&self) -> DetectorRecord {
        let (ownership, was_enabled) = match (&self.owner_lab, self.was_disabled) {
            (Some(_), _) => (Ownership::Owned, None),
            (None, true) => (Ownership::Adopted, Some(false)),
            (None, false) => (Ownership::Adopted, Some(self.enabled)),
        };
        DetectorRecord { id: self.id.clone(), ownership, was_enabled }
    }
}

pub async fn find(ctx: &AwsContext) -> Result<Option<DetectorInfo>> {
    let gd = ctx.guardduty();
    let list = gd.list_detectors().send().await.aws(|| "listing GuardDuty detectors".into(), ctx)?;
    let Some(id) = list.detector_ids().first().cloned() else {
        return Ok(None);
    };
    let got =
        gd.get_detector().detector_id(&id).send().await.aws(|| format!("reading GuardDuty detector {id}"), ctx)?;
    let tags: HashMap<String, String> = got.tags().cloned().unwrap_or_default();
    Ok(Some(DetectorInfo {
        enabled: got.status() == Some(&DetectorStatus::Enabled),
        owner_lab: tags.get(LAB_TAG).cloned(),
        was_disabled: tags.get(PRIOR_TAG).is_some_and(|v| v == "disabled"),
        id,
    }))
}

/// The other labs holding detector `id`, by name.
pub fn holders(others: &[LabState], id: &str) -> Vec<String> {
    others.iter().filter(|s| s.detector.as_ref().is_some_and(|d| d.id == id)).map(|s| s.lab.clone()).collect()
}

/// Makes sure an enabled detector exists and records how the account had it before any lab.
/// `known` is what this lab recorded earlier; `others` are the other labs of the region, whose
/// record of the same detector is copied, so every lab agrees on how to put it back.
pub async fn ensure(
    ctx: &AwsContext,
    lab: &LabName,
    known: Option<&DetectorRecord>,
    others: &[LabState],
) -> Result<(DetectorRecord, Adoption)> {
    let gd = ctx.guardduty();
    // Labs brought up together race to create the one detector: the loser adopts the winner's.
    for _ in 0..3 {
        let Some(found) = find(ctx).await? else {
            match create(ctx, lab).await? {
                Some(id) => {
                    return Ok((
                        DetectorRecord { id, ownership: Ownership::Owned, was_enabled: None },
                        Adoption::Created,
                    ));
                }
                None => continue,
            }
        };
        let record = known
            .filter(|k| k.id == found.id)
            .or_else(|| others.iter().filter_map(|s| s.detector.as_ref()).find(|d| d.id == found.id))
            .cloned()
            .unwrap_or_else(|| found.prior());
        if found.enabled {
            return Ok((record, Adoption::AlreadyEnabled));
        }
        if record.ownership == Ownership::Adopted && record.was_enabled == Some(false) && !found.was_disabled {
            // Before enabling: a lab that looks a moment later must still learn it was disabled.
            gd.tag_resource()
                .resource_arn(arn(ctx, &found.id).await?)
                .tags(PRIOR_TAG, "disabled")
                .send()
                .await
                .aws(|| format!("tagging GuardDuty detector {} with how it was", found.id), ctx)?;
        }
        gd.update_detector()
            .detector_id(&found.id)
            .enable(true)
            .send()
            .await
            .aws(|| format!("enabling GuardDuty detector {}", found.id), ctx)?;
        return Ok((record, Adoption::Enabled));
    }
    Err(crate::error::Error::failure("GuardDuty kept refusing to create a detector although none is listed")
        .with_hint("run `irlab up` again in a minute; `aws guardduty list-detectors` shows what the account has"))
}

/// Creates the lab's detector; None when another lab (or anyone) created one first.
async fn create(ctx: &AwsContext, lab: &LabName) -> Result<Option<String>> {
    // Optional protection plans are turned off: the lab needs only the foundational
    // sources (VPC flow logs, DNS logs, CloudTrail), and each plan bills separately.
    let features = [
        DetectorFeature::S3DataEvents,
        DetectorFeature::EksAuditLogs,
        DetectorFeature::EbsMalwareProtection,
        DetectorFeature::RdsLoginEvents,
        DetectorFeature::LambdaNetworkLogs,
        DetectorFeature::RuntimeMonitoring,
    ]
    .into_iter()
    .map(|name| DetectorFeatureConfiguration::builder().name(name).status(FeatureStatus::Disabled).build())
    .collect::<Vec<_>>();
    let out = ctx
        .guardduty()
        .create_detector()
        .enable(true)
        // Updates of an active finding reach EventBridge every 15 minutes instead of 6 hours.
        .finding_publishing_frequency(FindingPublishingFrequency::FifteenMinutes)
        .set_features(Some(features))
        .tags(LAB_TAG, lab.as_str())
        .send()
        .await;
    match out {
        Ok(out) => Ok(Some(out.detector_id().unwrap_or_default().to_string())),
        // "The request is rejected because a detector already exists for the current account."
        Err(e) if error_code(&e) == Some("BadRequestException") && find(ctx).await?.is_some() => Ok(None),
        Err(e) => Err(e).aws(|| "creating a GuardDuty detector".into(), ctx),
    }
}

async fn arn(ctx: &AwsContext, id: &str) -> Result<String> {
    let me = ctx.identity().await?;
    let partition = me.arn.split(':').nth(1).unwrap_or("aws");
    Ok(format!("arn:{partition}:guardduty:{}:{}:detector/{id}", ctx.region, me.account))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adoption {
    Created,
    Enabled,
    AlreadyEnabled,
}

/// What the last lab to leave does with the detector: put it back as the first lab found it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum DetectorAction {
    Delete { id: String },
    Disable { id: String },
    Leave { id: String },
}

impl DetectorAction {
    /// Decides from the recorded ownership and what the account has now; None when the lab
    /// does not hold the detector.
    pub fn plan(
        lab: &LabName,
        record: Option<&DetectorRecord>,
        found: Option<&DetectorInfo>,
    ) -> Option<DetectorAction> {
        let found = found?;
        let id = found.id.clone();
        let record = match record {
            Some(r) if r.id == found.id => r.clone(),
            // No record (an interrupted `up`): only the lab's own tag proves it created it.
            _ if found.owner_lab.as_deref() == Some(lab.as_str()) => found.prior(),
            _ => return None,
        };
        Some(match record.ownership {
            Ownership::Owned => DetectorAction::Delete { id },
            Ownership::Adopted if record.was_enabled == Some(false) && found.enabled => DetectorAction::Disable { id },
            Ownership::Adopted => DetectorAction::Leave { id },
        })
    }

    pub fn id(&self) -> &str {
        match self {
            DetectorAction::Delete { id } | DetectorAction::Disable { id } | DetectorAction::Leave { id } => id,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            DetectorAction::Delete { id } => {
                format!("delete GuardDuty detector {id} (a lab created it)")
            }
            DetectorAction::Disable { id } => {
                format!("disable GuardDuty detector {id} again (it was disabled before the first lab)")
            }
            DetectorAction::Leave { id } => {
                format!("leave GuardDuty detector {id} enabled (it was enabled before the first lab)")
            }
        }
    }

    /// The plan's line: what happens now, given the labs that still hold the detector.
    pub fn describe_shared(&self, holders: &[String]) -> String {
        if holders.is_empty() {
            return self.describe();
        }
        let verb = match self {
            DetectorAction::Delete { .. } => "deletes it",
            DetectorAction::Disable { .. } => "disables it again",
            DetectorAction::Leave { .. } => "leaves it enabled",
        };
        format!(
            "keep GuardDuty detector {}: lab(s) {} still use it (the last lab to leave {verb})",
            self.id(),
            holders.join(", ")
        )
    }

    pub async fn execute(&self, ctx: &AwsContext) -> Result<()> {
        let gd = ctx.guardduty();
        match self {
            DetectorAction::Delete { id } => match gd.delete_detector().detector_id(id).send().await {
                Ok(_) => Ok(()),
                Err(e) if error_code(&e) == Some("BadRequestException") && find(ctx).await?.is_none() => Ok(()),
                Err(e) => Err(e).aws(|| format!("deleting GuardDuty detector {id}"), ctx),
            },
            DetectorAction::Disable { id } => {
                gd.update_detector()
                    .detector_id(id)
                    .enable(false)
                    .send()
                    .await
                    .aws(|| format!("disabling GuardDuty detector {id}"), ctx)?;
                gd.untag_resource()
                    .resource_arn(arn(ctx, id).await?)
                    .tag_keys(PRIOR_TAG)
                    .send()
                    .await
                    .aws(|| format!("removing the tag {PRIOR_TAG} from GuardDuty detector {id}"), ctx)?;
                Ok(())
            }
            DetectorAction::Leave { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> LabName {
        LabName::parse("t").unwrap()
    }

    fn found(enabled: bool, owner: Option<&str>) -> DetectorInfo {
        DetectorInfo { id: "d1".into(), enabled, owner_lab: owner.map(String::from), was_disabled: false }
    }

    #[test]
    fn an_owned_detector_is_deleted() {
        let rec = DetectorRecord { id: "d1".into(), ownership: Ownership::Owned, was_enabled: None };
        let plan = DetectorAction::plan(&lab(), Some(&rec), Some(&found(true, Some("t"))));
        assert_eq!(plan, Some(DetectorAction::Delete { id: "d1".into() }));
    }

    #[test]
    fn an_adopted_detector_goes_back_to_how_it_was() {
        let was_off = DetectorRecord { id: "d1".into(), ownership: Ownership::Adopted, was_enabled: Some(false) };
        assert_eq!(
            DetectorAction::plan(&lab(), Some(&was_off), Some(&found(true, None))),
            Some(DetectorAction::Disable { id: "d1".into() })
        );
        let was_on = DetectorRecord { id: "d1".into(), ownership: Ownership::Adopted, was_enabled: Some(true) };
        assert_eq!(
            DetectorAction::plan(&lab(), Some(&was_on), Some(&found(true, None))),
            Some(DetectorAction::Leave { id: "d1".into() })
        );
    }

    #[test]
    fn without_a_record_only_the_lab_tag_proves_ownership() {
        assert_eq!(
            DetectorAction::plan(&lab(), None, Some(&found(true, Some("t")))),
            Some(DetectorAction::Delete { id: "d1".into() })
        );
        assert_eq!(DetectorAction::plan(&lab(), None, Some(&found(true, Some("other")))), None);
        assert_eq!(DetectorAction::plan(&lab(), None, Some(&found(true, None))), None);
        assert_eq!(DetectorAction::plan(&lab(), None, None), None);
    }

    #[test]
    fn a_record_for_a_detector_that_was_replaced_is_not_trusted() {
        let rec = DetectorRecord { id: "old".into(), ownership: Ownership::Owned, was_enabled: None };
        assert_eq!(DetectorAction::plan(&lab(), Some(&rec), Some(&found(true, None))), None);
    }
}
