//! The lab's GuardDuty threat list (ThreatIntelSet) for the malicious-IP scenario: a TXT object
//! in the lab's trail bucket, and a set on the detector tagged with the lab so `down` removes it
//! and nothing else (an adopted detector's own lists stay untouched).

use std::net::Ipv4Addr;

use aws_sdk_guardduty::types::{ThreatIntelSetFormat, ThreatIntelSetStatus};

use crate::aws::{AwsContext, AwsResultExt, error_code};
use crate::error::{Error, Result};
use crate::lab::{LAB_TAG, LabName};

/// The set's name: one per lab and detector.
pub fn name(lab: &LabName) -> String {
    format!("irlab-{}", lab.as_str())
}

/// Writes the addresses to the bucket and creates (or updates and re-activates) the lab's set.
/// Returns the set id and its status.
pub async fn ensure(
    ctx: &AwsContext,
    lab: &LabName,
    detector: &str,
    bucket: &str,
    addresses: &[Ipv4Addr],
) -> Result<(String, String)> {
    let key = format!("irlab/{}/threat-list.txt", lab.as_str());
    let body: String = addresses.iter().map(|a| format!("{a}\n")).collect();
    ctx.s3()
        .put_object()
        .bucket(bucket)
        .key(&key)
        .content_type("text/plain")
        .body(body.into_bytes().into())
        .send()
        .await
        .aws(|| format!("writing the threat list to s3://{bucket}/{key}"), ctx)?;
    let location = format!("https://s3.amazonaws.com/{bucket}/{key}");
    let gd = ctx.guardduty();
    let id = match find(ctx, lab, detector).await? {
        Some(id) => {
            gd.update_threat_intel_set()
                .detector_id(detector)
                .threat_intel_set_id(&id)
                .location(&location)
                .activate(true)
                .send()
                .await
                .aws(|| format!("updating GuardDuty threat list {id}"), ctx)?;
            id
        }
        None => {
            let out = gd
                .create_threat_intel_set()
                .detector_id(detector)
                .name(name(lab))
                .format(ThreatIntelSetFormat::Txt)
                .location(&location)
                .activate(true)
                .tags(LAB_TAG, lab.as_str())
                .send()
                .await
                .map_err(|e| {
                    let denied = matches!(error_code(&e), Some("AccessDeniedException" | "AccessDenied"));
                    let err = Err::<(), _>(e).aws(|| "creating the lab's GuardDuty threat list".into(), ctx).unwrap_err();
                    if denied {
                        err.with_hint("uploading a threat list needs iam:PutRolePolicy on GuardDuty's service-linked role; in an organization only the administrator account can add lists")
                    } else {
                        err
                    }
                })?;
            out.threat_intel_set_id().unwrap_or_default().to_string()
        }
    };
    let got = gd
        .get_threat_intel_set()
        .detector_id(detector)
        .threat_intel_set_id(&id)
        .send()
        .await
        .aws(|| format!("reading GuardDuty threat list {id}"), ctx)?;
    let status = got.status().cloned().unwrap_or(ThreatIntelSetStatus::Activating);
    if status == ThreatIntelSetStatus::Error {
        return Err(Error::failure(format!("GuardDuty could not read the threat list at {location}"))
            .with_hint("check that the object exists and GuardDuty may read the bucket"));
    }
    Ok((id, status.as_str().to_string()))
}

/// The lab's set on this detector, found by its lab tag.
pub async fn find(ctx: &AwsContext, lab: &LabName, detector: &str) -> Result<Option<String>> {
    let gd = ctx.guardduty();
    let list = gd
        .list_threat_intel_sets()
        .detector_id(detector)
        .send()
        .await
        .aws(|| "listing GuardDuty threat lists".into(), ctx)?;
    for id in list.threat_intel_set_ids() {
        let got = gd
            .get_threat_intel_set()
            .detector_id(detector)
            .threat_intel_set_id(id)
            .send()
            .await
            .aws(|| format!("reading GuardDuty threat list {id}"), ctx)?;
        if got.tags().and_then(|t| t.get(LAB_TAG)).map(String::as_str) == Some(lab.as_str()) {
            return Ok(Some(id.clone()));
        }
    }
    Ok(None)
}

pub async fn delete(ctx: &AwsContext, detector: &str, id: &str) -> Result<()> {
    match ctx.guardduty().delete_threat_intel_set().detector_id(detector).threat_intel_set_id(id).send().await {
        Ok(_) => Ok(()),
        // Gone already (with its detector, or by hand): nothing left to do.
        Err(e) if error_code(&e) == Some("BadRequestException") && find_gone(ctx, detector, id).await => Ok(()),
        Err(e) => Err(e).aws(|| format!("deleting GuardDuty threat list {id}"), ctx),
    }
}

async fn find_gone(ctx: &AwsContext, detector: &str, id: &str) -> bool {
    match ctx.guardduty().list_threat_intel_sets().detector_id(detector).send().await {
        Ok(list) => !list.threat_intel_set_ids().iter().any(|x| x == id),
        Err(_) => true,
    }
}
