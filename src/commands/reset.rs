//! `irlab reset`: undo the containment so the next exercise runs without provisioning again.

use aws_sdk_ec2::types::{Filter, IamInstanceProfileSpecification, InstanceAttributeName, Tag};
use aws_sdk_guardduty::types::{Condition, FindingCriteria};
use serde_json::json;

use crate::aws::{AwsContext, AwsResultExt};
use crate::cli::Global;
use crate::error::{Error, Result};
use crate::incident::approval::{self, Decision};
use crate::incident::run_tags::{EIP_TAG, ORIGINAL_GROUPS_TAG, VOLUMES_TAG, parse_groups, parse_pairs};
use crate::incident::verify::REVOKE_POLICY;
use crate::lab::stacks;
use crate::lab::teardown;
use crate::lab::{LAB_TAG, Part};
use crate::ui::printer::Printer;

/// The tags a playbook run leaves on the victim, including its claim (`irlab:playbook-run`) and
/// what it did after the containment (the approval, the eradication).
const RUN_TAGS: [&str; 13] = [
    "irlab:finding-id",
    "irlab:finding-type",
    "irlab:ir-status",
    ORIGINAL_GROUPS_TAG,
    "irlab:playbook-run",
    VOLUMES_TAG,
    EIP_TAG,
    "irlab:approval",
    "irlab:eradication",
    "irlab:eradication-command",
    "irlab:recovery",
    "irlab:replaced-by",
    "irlab:recovery-check",
];

pub async fn run(g: &Global, p: &Printer) -> Result<()> {
    let (lab, ctx) = super::open_for_change(g, "reset").await?;
    let victim = stacks::find(&ctx, &lab, Part::Victim).await?.ok_or_else(|| {
        Error::problem(format!("lab {lab} is not deployed in {}", ctx.region)).with_hint("run `irlab up`")
    })?;
    let out = |k: &str| {
        victim
            .output(k)
            .map(String::from)
            .ok_or_else(|| Error::failure(format!("stack {} has no output {k}", victim.name)))
    };
    let instance = out("InstanceId")?;
    let ec2 = ctx.ec2();
    let mut done = Vec::new();

    // 0. A playbook still waiting for a decision about the victim would act on the reset one
    // once approved: it is rejected first.
    for (variant, stack) in crate::lab::playbook::deployed(&ctx, &lab).await? {
        for w in approval::waiting(&ctx, variant, &stack, Some(&instance), None).await? {
            let me = ctx.identity().await?;
            approval::decide(&ctx, &w, Decision::Reject, &me.arn, "irlab reset").await?;
            done.push(format!(
                "the {variant} playbook's execution {} no longer waits for approval (rejected)",
                w.execution
            ));
        }
    }

    // 1. The original groups, per interface, from the tag the playbook recorded.
    let desc =
        ec2.describe_instances().instance_ids(&instance).send().await.aws(|| format!("describing {instance}"), &ctx)?;
    let inst = desc
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .next()
        .ok_or_else(|| Error::failure(format!("{instance} is gone")))?;
    let tags: Vec<(String, String)> =
        inst.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect();
    let original =
        tags.iter().find(|(k, _)| k == ORIGINAL_GROUPS_TAG).map(|(_, v)| parse_groups(v)).unwrap_or_default();
    let app_group = out("AppSecurityGroupId")?;
    for eni in inst.network_interfaces() {
        let id = eni.network_interface_id().unwrap_or_default();
        let want =
            original.iter().find(|(e, _)| e == id).map(|(_, g)| g.clone()).unwrap_or_else(|| vec![app_group.clone()]);
        let now: Vec<String> = eni.groups().iter().filter_map(|g| g.group_id()).map(String::from).collect();
        if now != want {
            ec2.modify_network_interface_attribute()
                .network_interface_id(id)
                .set_groups(Some(want.clone()))
                .send()
                .await
                .aws(|| format!("restoring the groups of {id}"), &ctx)?;
            done.push(format!("restored {} on {id}", want.join(", ")));
        }
    }

    // 2. The instance profile.
    let assoc = ec2
        .describe_iam_instance_profile_associations()
        .filters(Filter::builder().name("instance-id").values(&instance).build())
        .send()
        .await
        .aws(|| format!("reading the profile associations of {instance}"), &ctx)?;
    let associated =
        assoc.iam_instance_profile_associations().iter().any(|a| a.state().is_some_and(|s| s.as_str() == "associated"));
    if !associated {
        let spec = IamInstanceProfileSpecification::builder().arn(out("InstanceProfileArn")?).build();
        ec2.associate_iam_instance_profile()
            .instance_id(&instance)
            .iam_instance_profile(spec)
            .send()
            .await
            .aws(|| format!("re-associating the instance profile of {instance}"), &ctx)?;
        done.push("re-associated the instance profile".into());
    }

    // 3. The sessions the containment revoked: new credentials of the role work again.
    if let Some(role) = victim.output("InstanceRoleName")
        && teardown::lift_revocation(&ctx, role).await?
    {
        done.push(format!("removed the session revocation ({REVOKE_POLICY}) from role {role}"));
    }

    // 4. The protections, and each volume's DeleteOnTermination as it was before.
    let mut protected = Vec::new();
    for (attribute, what) in
        [(InstanceAttributeName::DisableApiTermination, "termination"), (InstanceAttributeName::DisableApiStop, "stop")]
    {
        let a = ec2
            .describe_instance_attribute()
            .instance_id(&instance)
            .attribute(attribute)
            .send()
            .await
            .aws(|| format!("reading the {what} protection of {instance}"), &ctx)?;
        let on = a.disable_api_termination().or(a.disable_api_stop()).and_then(|b| b.value()) == Some(true);
        if on {
            protected.push(what);
        }
    }
    // Only what is on is lifted, and said: an untouched victim has nothing to lift.
    if !protected.is_empty() {
        teardown::lift_protection(&ctx, &instance).await?;
        done.push(format!("lifted {} protection", protected.join(" and ")));
    }
    let recorded = tags.iter().find(|(k, _)| k == VOLUMES_TAG).map(|(_, v)| parse_pairs(v)).unwrap_or_default();
    for b in inst.block_device_mappings() {
        let (Some(device), Some(ebs)) = (b.device_name(), b.ebs()) else { continue };
        let volume = ebs.volume_id().unwrap_or_default();
        let Some(want) = recorded.iter().find(|(v, _)| v == volume).map(|(_, d)| d == "true") else { continue };
        if ebs.delete_on_termination() != Some(want) {
            teardown::set_delete_on_termination(&ctx, &instance, device, want).await?;
            done.push(format!("DeleteOnTermination of {volume} back to {want}"));
        }
    }

    // 5. The Elastic IPs the containment disassociated.
    for (allocation, ip) in tags.iter().find(|(k, _)| k == EIP_TAG).map(|(_, v)| parse_pairs(v)).unwrap_or_default() {
        let now = ec2
            .describe_addresses()
            .allocation_ids(&allocation)
            .send()
            .await
            .aws(|| format!("reading Elastic IP {allocation}"), &ctx)?;
        let Some(address) = now.addresses().first() else {
            done.push(format!("Elastic IP {ip} ({allocation}) is released: not re-associated"));
            continue;
        };
        if address.association_id().is_some() {
            continue;
        }
        ec2.associate_address()
            .allocation_id(&allocation)
            .instance_id(&instance)
            .send()
            .await
            .aws(|| format!("re-associating Elastic IP {ip} with {instance}"), &ctx)?;
        done.push(format!("re-associated Elastic IP {ip}"));
    }

    // 6. The lab's snapshots.
    let snaps = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(Filter::builder().name(format!("tag:{LAB_TAG}")).values(lab.as_str()).build())
        .send()
        .await
        .aws(|| "listing the lab's snapshots".into(), &ctx)?;
    for s in snaps.snapshots() {
        let id = s.snapshot_id().unwrap_or_default();
        ec2.delete_snapshot().snapshot_id(id).send().await.aws(|| format!("deleting snapshot {id}"), &ctx)?;
        done.push(format!("deleted snapshot {id}"));
    }

    // 7. The lab's findings: those about the victim, and the samples the lab asked for.
    let archived = archive_findings(&ctx, &instance).await?;
    if archived > 0 {
        done.push(format!("archived {archived} GuardDuty finding(s)"));
    }

    // 8. The run's tags.
    let present: Vec<Tag> = tags
        .iter()
        .filter(|(k, _)| RUN_TAGS.contains(&k.as_str()))
        .map(|(k, _)| Tag::builder().key(k).build())
        .collect();
    if !present.is_empty() {
        ec2.delete_tags()
            .resources(&instance)
            .set_tags(Some(present))
            .send()
            .await
            .aws(|| format!("clearing the run's tags on {instance}"), &ctx)?;
        done.push("cleared the run's tags".into());
    }

    p.json(&json!({ "lab": lab.as_str(), "instance": instance, "done": done }));
    p.out(format!("victim {instance} is back in its starting state:"));
    for d in &done {
        p.out(format!("  {d}"));
    }
    p.out("next: `irlab attack SCENARIO` for another exercise");
    Ok(())
}

/// Archives the GuardDuty findings about the lab's own victim. Only those: sample findings
/// (i-99999999) belong to no lab, and archiving them would change another lab's results.
async fn archive_findings(ctx: &AwsContext, instance: &str) -> Result<usize> {
    let Some(d) = crate::lab::detector::find(ctx).await? else { return Ok(0) };
    let gd = ctx.guardduty();
    let criteria = FindingCriteria::builder()
        .criterion("resource.instanceDetails.instanceId", Condition::builder().equals(instance).build())
        .criterion("service.archived", Condition::builder().equals("false").build())
        .build();
    let ids = gd
        .list_findings()
        .detector_id(&d.id)
        .finding_criteria(criteria)
        .send()
        .await
        .aws(|| "listing the lab's GuardDuty findings".into(), ctx)?
        .finding_ids()
        .to_vec();
    for chunk in ids.chunks(50) {
        gd.archive_findings()
            .detector_id(&d.id)
            .set_finding_ids(Some(chunk.to_vec()))
            .send()
            .await
            .aws(|| "archiving the lab's GuardDuty findings".into(), ctx)?;
    }
    Ok(ids.len())
}
