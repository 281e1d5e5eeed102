//! GuardDuty's detector: one per account and region, so it is managed through the API, not a stack.
//!
//! `up` adopts a detector that exists (enabling it if needed, remembering how it was) or creates one
//! the lab owns; `down` deletes only an owned detector and puts an adopted one back as it was.

use std::collections::HashMap;

use aws_sdk_guardduty::types::{
    DetectorFeature, DetectorFeatureConfiguration, DetectorStatus, FeatureStatus, FindingPublishingFrequency,
};

use crate::aws::{AwsContext, AwsResultExt, error_code};
use crate::error::Result;
use crate::lab::{LAB_TAG, LabName};
use crate::state::{DetectorRecord, Ownership};

/// What the account has now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DetectorInfo {
    pub id: String,
    pub enabled: bool,
    /// The value of the detector's `irlab:lab` tag, if irlab created it.
    pub owner_lab: Option<String>,
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
        id,
    }))
}

/// Makes sure an enabled detector exists and says who owns it.
/// `known` is what the lab recorded earlier, so a second `up` keeps the original prior state.
pub async fn ensure(
    ctx: &AwsContext,
    lab: &LabName,
    known: Option<&DetectorRecord>,
) -> Result<(DetectorRecord, Adoption)> {
    let gd = ctx.guardduty();
    match find(ctx).await? {
        Some(found) => {
            let record = match known {
                Some(k) if k.id == found.id => k.clone(),
                _ if found.owner_lab.as_deref() == Some(lab.as_str()) => {
                    DetectorRecord { id: found.id.clone(), ownership: Ownership::Owned, was_enabled: None }
                }
                _ => DetectorRecord {
                    id: found.id.clone(),
                    ownership: Ownership::Adopted,
                    was_enabled: Some(found.enabled),
                },
            };
            let adoption = if found.enabled {
                Adoption::AlreadyEnabled
            } else {
                gd.update_detector()
                    .detector_id(&found.id)
                    .enable(true)
                    .send()
                    .await
                    .aws(|| format!("enabling GuardDuty detector {}", found.id), ctx)?;
                Adoption::Enabled
            };
            Ok((record, adoption))
        }
        None => {
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
            let out = gd
                .create_detector()
                .enable(true)
                // Updates of an active finding reach EventBridge every 15 minutes instead of 6 hours.
                .finding_publishing_frequency(FindingPublishingFrequency::FifteenMinutes)
                .set_features(Some(features))
                .tags(LAB_TAG, lab.as_str())
                .send()
                .await
                .aws(|| "creating a GuardDuty detector".into(), ctx)?;
            let id = out.detector_id().unwrap_or_default().to_string();
            Ok((DetectorRecord { id, ownership: Ownership::Owned, was_enabled: None }, Adoption::Created))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adoption {
    Created,
    Enabled,
    AlreadyEnabled,
}

/// What `down` will do with the detector.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum DetectorAction {
    Delete { id: String },
    Disable { id: String },
    Leave { id: String },
}

impl DetectorAction {
    /// Decides from the recorded ownership and what the account has now.
    pub fn plan(
        lab: &LabName,
        record: Option<&DetectorRecord>,
        found: Option<&DetectorInfo>,
    ) -> Option<DetectorAction> {
        let found = found?;
        let id = found.id.clone();
        match record {
            Some(r) if r.id == found.id => match r.ownership {
                Ownership::Owned => Some(DetectorAction::Delete { id }),
                Ownership::Adopted if r.was_enabled == Some(false) && found.enabled => {
                    Some(DetectorAction::Disable { id })
                }
                Ownership::Adopted => Some(DetectorAction::Leave { id }),
            },
            // No record (an interrupted `up`): the tag is the proof of ownership.
            _ if found.owner_lab.as_deref() == Some(lab.as_str()) => Some(DetectorAction::Delete { id }),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            DetectorAction::Delete { id } => {
                format!("delete GuardDuty detector {id} (created by the lab)")
            }
            DetectorAction::Disable { id } => {
                format!("disable GuardDuty detector {id} again (it was disabled before the lab)")
            }
            DetectorAction::Leave { id } => {
                format!("leave GuardDuty detector {id} enabled (it was enabled before the lab)")
            }
        }
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
        DetectorInfo { id: "d1".into(), enabled, owner_lab: owner.map(String::from) }
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
