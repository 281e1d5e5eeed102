//! One pass over the account for the manual module: the victim as `verify` collects it, the
//! snapshots of its volumes, CloudTrail's record of the attendee's calls, and the ids the
//! module's texts name.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Filter;

use crate::aws::{AwsContext, AwsResultExt};
use crate::error::{Error, Result};
use crate::incident::evidence::{self, Sources};
use crate::lab::state::{AttackRun, LabState};
use crate::lab::{LabName, Part, stacks};
use crate::workshop::manual::{self, Seen, Snapshot};
use crate::workshop::{Facts, trail};

/// What the grader needs, and the facts and volumes the hints are rendered with.
pub struct Collected {
    pub seen: Seen,
    pub facts: Facts,
    /// (volume, device) of each volume attached to the victim.
    pub volumes: Vec<(String, String)>,
}

/// The facts every module can name, from the stacks and the lab state (no run needed).
pub async fn facts(ctx: &AwsContext, lab: &LabName, state: Option<&LabState>) -> Result<Facts> {
    let mut f = Facts::new();
    f.insert("lab", lab.to_string());
    f.insert("region", ctx.region.clone());
    if let Some(v) = stacks::find(ctx, lab, Part::Victim).await? {
        for (key, output) in [
            ("instance", "InstanceId"),
            ("quarantine_group", "QuarantineSecurityGroupId"),
            ("untrack_group", "UntrackSecurityGroupId"),
            ("role", "InstanceRoleName"),
        ] {
            if let Some(value) = v.output(output) {
                f.insert(key, value.to_string());
            }
        }
    }
    if let Some(d) = state.and_then(|s| s.detector.as_ref()) {
        f.insert("detector", d.id.clone());
    }
    // The revocation's time: now, to the second, as IAM's condition takes it.
    f.insert("now", jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    Ok(f)
}

pub async fn manual(ctx: &AwsContext, lab: &LabName, state: &LabState, run: &AttackRun) -> Result<Collected> {
    let sources = Sources::load(ctx, lab).await?;
    let (mut o, _) = evidence::collect(ctx, &sources, run).await?;
    let since = evidence::since(run);
    let ec2 = ctx.ec2();
    let instance = run.instance.as_str();

    let desc =
        ec2.describe_instances().instance_ids(instance).send().await.aws(|| format!("describing {instance}"), ctx)?;
    let inst = desc
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .next()
        .ok_or_else(|| Error::problem(format!("the victim {instance} of run {} is gone", run.id)))?;
    let volumes: Vec<(String, String)> = inst
        .block_device_mappings()
        .iter()
        .filter_map(|b| Some((b.ebs()?.volume_id()?.to_string(), b.device_name()?.to_string())))
        .collect();
    let enis: Vec<String> =
        inst.network_interfaces().iter().filter_map(|e| e.network_interface_id()).map(String::from).collect();

    let mut snapshots = Vec::new();
    if !volumes.is_empty() {
        let out = ec2
            .describe_snapshots()
            .owner_ids("self")
            .filters(
                Filter::builder()
                    .name("volume-id")
                    .set_values(Some(volumes.iter().map(|v| v.0.clone()).collect()))
                    .build(),
            )
            .send()
            .await
            .aws(|| format!("listing the snapshots of {instance}'s volumes"), ctx)?;
        for sn in out.snapshots() {
            let started = sn.start_time().and_then(crate::incident::engine_run::smithy);
            if started.is_some_and(|t| t < since) {
                continue;
            }
            snapshots.push(Snapshot {
                id: sn.snapshot_id().unwrap_or_default().to_string(),
                volume: sn.volume_id().unwrap_or_default().to_string(),
                tags: sn
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect::<BTreeMap<_, _>>(),
            });
        }
    }

    let associations = ec2
        .describe_iam_instance_profile_associations()
        .filters(Filter::builder().name("instance-id").values(instance).build())
        .send()
        .await
        .aws(|| format!("reading the profile associations of {instance}"), ctx)?;
    let association = associations
        .iam_instance_profile_associations()
        .iter()
        .find(|a| a.state().is_some_and(|s| s.as_str() == "associated"))
        .and_then(|a| a.association_id())
        .map(String::from);
    // A disassociation names the association, not the instance.
    let association_ids: Vec<String> = associations
        .iam_instance_profile_associations()
        .iter()
        .filter_map(|a| a.association_id())
        .map(String::from)
        .collect();

    let mut facts = facts(ctx, lab, Some(state)).await?;
    facts.insert("instance", instance.to_string());
    let finding = o.findings.first().cloned();
    if let Some(f) = &finding {
        facts.insert("finding", f.clone());
    }
    facts.insert("association", association.unwrap_or_else(|| "(none: already disassociated)".into()));

    let mut mentioning: Vec<String> = vec![instance.to_string()];
    mentioning.extend(enis);
    mentioning.extend(association_ids);
    mentioning.extend(volumes.iter().map(|v| v.0.clone()));
    mentioning.extend(snapshots.iter().map(|s| s.id.clone()));
    if let Some(role) = &sources.instance_role {
        mentioning.push(role.clone());
    }
    let calls = trail::calls(ctx, since, &mentioning).await?;
    o.cut_step = manual::group_changes(&calls, &o.untrack_group, &o.quarantine_group);
    Ok(Collected {
        seen: Seen { o, lab: lab.to_string(), instance: instance.to_string(), finding, snapshots, calls },
        facts,
        volumes,
    })
}

/// The run's finding as the lab recorded it (the audit trail): id, type and when it arrived,
/// waiting for it up to `timeout` (GuardDuty takes minutes on AWS).
pub async fn finding(
    ctx: &AwsContext,
    lab: &LabName,
    run: &AttackRun,
    timeout: std::time::Duration,
) -> Result<Option<(crate::incident::report::FindingFacts, jiff::Timestamp)>> {
    use crate::incident::audit::{self, Kind};
    let sources = Sources::load(ctx, lab).await?;
    let until = std::time::Instant::now() + timeout;
    loop {
        let records = audit::read(ctx, &sources.audit_group, evidence::since(run)).await?;
        let ids = crate::incident::verify::run_findings(run, &records);
        for r in &records {
            if let Kind::Finding { id, finding_type, severity, title, .. } = &r.kind
                && ids.contains(id)
            {
                let facts = crate::incident::report::FindingFacts {
                    id: id.clone(),
                    finding_type: finding_type.clone(),
                    severity: *severity,
                    title: title.clone(),
                };
                return Ok(Some((facts, r.at)));
            }
        }
        if std::time::Instant::now() >= until {
            return Ok(None);
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}
