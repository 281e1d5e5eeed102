//! Removing a lab: a plan built as data from what the account holds, shown to the user, then
//! executed in dependency order with independent parts side by side.
//!
//! Order matters in four places: a trail must stop logging before its bucket is emptied, a
//! bucket must be empty (every version) before CloudFormation can delete it, the lab's state
//! parameter goes after everything else, so an interrupted `down` still knows what the lab owned,
//! and the shared GuardDuty detector comes last of all: only once its own state is gone does a
//! lab look for others, so of two labs leaving together the later one always sees it is last.

use std::collections::HashSet;

use serde::Serialize;

use crate::aws::{AwsContext, AwsResultExt, error_code, is_not_found};
use crate::error::{Error, Result};
use crate::lab::detector::{self, DetectorAction};
use crate::lab::inventory::{self, LabResource};
use crate::lab::shared;
use crate::lab::stacks::{self, StackInfo};
use crate::lab::state::LabState;
use crate::lab::{LabName, Part};
use crate::ui::progress::{Progress, Reporter};

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub lab: String,
    pub stacks: Vec<PlannedStack>,
    /// What the last lab to leave does with the detector.
    pub detector: Option<DetectorAction>,
    /// Other labs of the region that hold the detector now: while there are any, it stays.
    pub detector_shared_with: Vec<String>,
    /// Listings that failed while planning: what is there was not seen, so cannot be deleted.
    pub unchecked: Vec<String>,
    /// Incident timelines kept in the shared trail bucket (see `history`): they go with the lab.
    pub history_runs: usize,
    /// The region's shared parts (trail, bucket, VPC), when this lab is the last to hold them.
    pub shared: Option<PlannedStack>,
    /// Other labs of the region that hold the shared parts now: while there are any, they stay.
    pub shared_kept_for: Vec<String>,
    /// The shared bucket, where the lab's own objects (threat list, history) are removed.
    pub shared_bucket: Option<String>,
    /// Lab resources that no stack manages (snapshots a playbook took, leftovers of a failed run).
    pub outside: Vec<LabResource>,
    pub state_parameter: Option<String>,
    /// The class StackSet (`name@account`) that deployed the lab's stacks, in an attendee's
    /// account of an organization: only the instructor's `class down` deletes those stacks, so
    /// `down` here only prepares them (stops the trail, empties buckets, lifts protection).
    pub stack_set: Option<String>,
    /// Physical ids of what the StackSet's stacks hold: not this command's to delete or count.
    #[serde(skip)]
    pub stack_set_resources: HashSet<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedStack {
    pub name: String,
    pub id: String,
    pub status: String,
    pub resources: usize,
    /// Trails in the stack: stopped before their buckets are emptied.
    pub trails: Vec<String>,
    /// Buckets in the stack and how many object versions each holds.
    pub buckets: Vec<(String, usize)>,
    /// Of those, the ones with S3 Object Lock (the lab's evidence): emptied bypassing retention.
    pub locked_buckets: Vec<String>,
    /// Instances a playbook protected: CloudFormation cannot terminate them until lifted.
    pub protected: Vec<String>,
    /// Volumes a playbook kept from termination (instance, device, volume): they would outlive
    /// the instance and keep costing, so they go with it again.
    pub kept_volumes: Vec<(String, String, String)>,
    /// Roles whose sessions a playbook revoked: the inline policy goes before the role.
    pub revoked_roles: Vec<String>,
    /// Deployed by a class's StackSet: prepared here, deleted by the instructor's `class down`.
    pub stack_set: Option<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty()
            && self.shared.is_none()
            && self.detector.is_none()
            && self.outside.is_empty()
            && self.state_parameter.is_none()
            && self.unchecked.is_empty()
    }

    /// The plan as lines for people.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(set) = &self.stack_set {
            out.push(format!(
                "the lab's stacks belong to the class StackSet {set}: prepare them for its `irlab class down` (which deletes them), keep them here"
            ));
        }
        for s in &self.stacks {
            match &s.stack_set {
                Some(_) => out.push(format!("prepare stack {} ({}, {} resources)", s.name, s.status, s.resources)),
                None => out.push(format!("delete stack {} ({}, {} resources)", s.name, s.status, s.resources)),
            }
            for t in &s.trails {
                out.push(format!("  first stop trail {t} logging"));
            }
            for i in &s.protected {
                out.push(format!("  first lift the termination and stop protection of {i} (set by the playbook)"));
            }
            for (i, _, v) in &s.kept_volumes {
                out.push(format!("  first let {v} go with {i} again (the playbook kept it from termination)"));
            }
            for r in &s.revoked_roles {
                out.push(format!("  first remove the session revocation from role {r}"));
            }
            for (b, n) in &s.buckets {
                if s.locked_buckets.contains(b) {
                    out.push(format!(
                        "  first empty bucket {b} ({n} object versions of evidence), bypassing its governance-mode retention: it is the lab's own; keep a copy first with `irlab evidence get`"
                    ));
                } else {
                    out.push(format!("  first empty bucket {b} ({n} object versions)"));
                }
            }
        }
        if self.history_runs > 0 {
            out.push(format!(
                "delete the lab's history of {} verified run(s) in the shared bucket; keep a copy first with `irlab report --all -o irlab-history.json`",
                self.history_runs
            ));
        }
        match &self.shared {
            Some(s) => {
                out.push(format!(
                    "delete the region's shared parts, stack {} ({} resources: trail, log bucket, VPC): no other lab uses them",
                    s.name, s.resources
                ));
                for t in &s.trails {
                    out.push(format!("  first stop trail {t} logging"));
                }
                for (b, n) in &s.buckets {
                    out.push(format!("  first empty bucket {b} ({n} object versions, the account's CloudTrail logs)"));
                }
            }
            None if !self.shared_kept_for.is_empty() => out.push(format!(
                "keep the region's shared parts ({}: trail, log bucket, VPC): lab(s) {} still use them",
                crate::lab::SHARED_STACK,
                self.shared_kept_for.join(", ")
            )),
            None => {}
        }
        if let Some(d) = &self.detector {
            out.push(d.describe_shared(&self.detector_shared_with));
        }
        for r in &self.outside {
            out.push(format!("delete {r} (tagged with the lab, outside any stack)"));
        }
        if let Some(p) = &self.state_parameter {
            out.push(format!("delete lab state {p}"));
        }
        for u in &self.unchecked {
            out.push(format!("{u} (run `irlab down` again to remove what is there)"));
        }
        out
    }
}

/// Reads what the lab has, without changing anything.
pub async fn plan(ctx: &AwsContext, lab: &LabName) -> Result<Plan> {
    let (state, others, found, shared_stack) = futures::try_join!(
        LabState::load(ctx, lab),
        LabState::others(ctx, lab),
        detector::find(ctx),
        shared::find(ctx)
    )?;
    let detector = DetectorAction::plan(lab, state.as_ref().and_then(|s| s.detector.as_ref()), found.as_ref());
    let detector_shared_with = detector.as_ref().map(|d| detector::holders(&others, d.id())).unwrap_or_default();
    let swept = inventory::sweep(ctx, lab).await;
    let inventory = swept.found;

    // The lab's own stacks by name, plus any other stack tagged with the lab.
    let mut names: Vec<String> = Part::ALL.iter().map(|p| lab.stack_name(*p)).collect();
    names.extend(inventory.iter().filter(|r| r.kind == "cloudformation:stack").map(|r| r.id.clone()));
    // Parts a class's StackSet deployed carry StackSets' names, not the lab's.
    for part in Part::ALL {
        if let Some(s) = stacks::tagged(ctx, Some(lab.as_str()), part.as_str()).await? {
            names.push(s.id);
        }
    }
    names.dedup();
    let mut planned = Vec::new();
    let mut managed: HashSet<String> = HashSet::new();
    for name in names {
        let Some(info) = stacks::describe(ctx, &name).await? else {
            continue;
        };
        if info.status == "DELETE_COMPLETE" || planned.iter().any(|p: &PlannedStack| p.id == info.id) {
            continue;
        }
        planned.push(plan_stack(ctx, &info, &mut managed).await?);
    }
    let shared_kept_for = shared::holders(&others);
    let shared_bucket = shared_stack.as_ref().and_then(|s| s.output("TrailBucketName")).map(String::from);
    let shared = match &shared_stack {
        Some(info) if shared_kept_for.is_empty() => Some(plan_stack(ctx, info, &mut HashSet::new()).await?),
        _ => None,
    };
    let stack_set = planned.iter().chain(&shared).find_map(|s| s.stack_set.clone());
    let mut stack_set_resources = HashSet::new();
    for s in planned.iter().chain(&shared).filter(|s| s.stack_set.is_some()) {
        stack_set_resources.insert(s.id.clone());
        stack_set_resources.insert(s.name.clone());
        for r in stacks::resources(ctx, &s.id).await? {
            if let Some(id) = r.physical_id {
                stack_set_resources.insert(short_id(&id).to_string());
            }
        }
    }
    let state_parameter = lab.state_parameter();
    let outside = inventory
        .into_iter()
        .filter(|r| r.kind != "cloudformation:stack" && r.kind != "guardduty:detector")
        .filter(|r| !(r.kind == "ssm:parameter" && (r.id == state_parameter || r.id == lab.lease_parameter())))
        .filter(|r| !managed.contains(short_id(&r.id)))
        .collect();
    Ok(Plan {
        lab: lab.to_string(),
        unchecked: swept.unchecked,
        history_runs: crate::incident::history::count(ctx, lab).await?,
        stacks: planned,
        shared,
        shared_kept_for: if shared_stack.is_some() { shared_kept_for } else { Vec::new() },
        shared_bucket,
        detector,
        detector_shared_with,
        outside,
        state_parameter: state.map(|_| state_parameter),
        stack_set,
        stack_set_resources,
    })
}

impl Plan {
    /// True when a resource the final sweep finds belongs to a stack the class's StackSet keeps.
    pub fn kept_for_stack_set(&self, r: &LabResource) -> bool {
        self.stack_set_resources.contains(&r.id) || self.stack_set_resources.contains(short_id(&r.id))
    }
}

async fn plan_stack(ctx: &AwsContext, info: &StackInfo, managed: &mut HashSet<String>) -> Result<PlannedStack> {
    let resources = stacks::resources(ctx, &info.id).await?;
    let mut trails = Vec::new();
    let mut buckets = Vec::new();
    let mut protected = Vec::new();
    let mut kept_volumes = Vec::new();
    let mut revoked_roles = Vec::new();
    let mut locked_buckets = Vec::new();
    for r in &resources {
        let Some(id) = &r.physical_id else { continue };
        managed.insert(short_id(id).to_string());
        match r.resource_type.as_str() {
            "AWS::CloudTrail::Trail" if !r.status.starts_with("DELETE_COMPLETE") => trails.push(id.clone()),
            "AWS::S3::Bucket" if !r.status.starts_with("DELETE_COMPLETE") => {
                if let Some(n) = count_versions(ctx, id).await? {
                    buckets.push((id.clone(), n));
                    if is_locked(ctx, id).await? {
                        locked_buckets.push(id.clone());
                    }
                }
            }
            "AWS::EC2::Instance" if !r.status.starts_with("DELETE_COMPLETE") => {
                if is_protected(ctx, id).await? {
                    protected.push(id.clone());
                }
                kept_volumes.extend(kept_from_termination(ctx, id).await?);
            }
            "AWS::IAM::Role"
                if !r.status.starts_with("DELETE_COMPLETE")
                    && crate::incident::evidence::revocation(ctx, id).await?.is_some() =>
            {
                revoked_roles.push(id.clone());
            }
            // Inventory reports queues by URL and topics by ARN, as CloudFormation does.
            _ => {}
        }
    }
    Ok(PlannedStack {
        name: info.name.clone(),
        id: info.id.clone(),
        status: info.status.clone(),
        resources: resources.len(),
        trails,
        buckets,
        locked_buckets,
        protected,
        kept_volumes,
        revoked_roles,
        stack_set: info.stack_set().map(String::from),
    })
}

/// The instance's volumes with DeleteOnTermination off: (instance, device, volume).
async fn kept_from_termination(ctx: &AwsContext, instance: &str) -> Result<Vec<(String, String, String)>> {
    let out = match ctx.ec2().describe_instances().instance_ids(instance).send().await {
        Ok(out) => out,
        Err(e) if error_code(&e).is_some_and(|c| c.starts_with("InvalidInstanceID")) => return Ok(Vec::new()),
        Err(e) => return Err(e).aws(|| format!("describing {instance}"), ctx),
    };
    Ok(out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter(|i| i.state().and_then(|s| s.name()).is_none_or(|n| n.as_str() != "terminated"))
        .flat_map(|i| i.block_device_mappings())
        .filter_map(|b| {
            let ebs = b.ebs()?;
            let kept = ebs.delete_on_termination() == Some(false);
            kept.then_some((instance.to_string(), b.device_name()?.to_string(), ebs.volume_id()?.to_string()))
        })
        .collect())
}

/// True when termination or stop protection is on; a terminated or missing instance is not.
async fn is_protected(ctx: &AwsContext, instance: &str) -> Result<bool> {
    use aws_sdk_ec2::types::InstanceAttributeName;
    let ec2 = ctx.ec2();
    let mut on = false;
    for attr in [InstanceAttributeName::DisableApiTermination, InstanceAttributeName::DisableApiStop] {
        let out = match ec2.describe_instance_attribute().instance_id(instance).attribute(attr.clone()).send().await {
            Ok(out) => out,
            Err(e) if error_code(&e).is_some_and(|c| c.starts_with("InvalidInstanceID")) => return Ok(false),
            Err(e) => return Err(e).aws(|| format!("reading the protection of {instance}"), ctx),
        };
        let value = match attr {
            InstanceAttributeName::DisableApiTermination => out.disable_api_termination().and_then(|b| b.value()),
            _ => out.disable_api_stop().and_then(|b| b.value()),
        };
        on |= value == Some(true);
    }
    Ok(on)
}

/// Sets DeleteOnTermination of the volume at `device` (playbooks turn it off to preserve evidence).
pub async fn set_delete_on_termination(ctx: &AwsContext, instance: &str, device: &str, on: bool) -> Result<()> {
    use aws_sdk_ec2::types::{EbsInstanceBlockDeviceSpecification, InstanceBlockDeviceMappingSpecification};
    let mapping = InstanceBlockDeviceMappingSpecification::builder()
        .device_name(device)
        .ebs(EbsInstanceBlockDeviceSpecification::builder().delete_on_termination(on).build())
        .build();
    ctx.ec2()
        .modify_instance_attribute()
        .instance_id(instance)
        .block_device_mappings(mapping)
        .send()
        .await
        .aws(|| format!("setting DeleteOnTermination of {device} on {instance} to {on}"), ctx)?;
    Ok(())
}

/// Terminates an instance a playbook may have protected and whose volumes it may have kept: the
/// volumes go with it, the protection is lifted first.
pub async fn terminate_kept(ctx: &AwsContext, instance: &str) -> Result<()> {
    let ec2 = ctx.ec2();
    let desc =
        ec2.describe_instances().instance_ids(instance).send().await.aws(|| format!("describing {instance}"), ctx)?;
    for i in desc.reservations().iter().flat_map(|r| r.instances()) {
        if i.state().and_then(|s| s.name()).is_some_and(|n| n.as_str() == "terminated") {
            return Ok(());
        }
        for b in i.block_device_mappings() {
            if let (Some(device), Some(false)) = (b.device_name(), b.ebs().and_then(|e| e.delete_on_termination())) {
                set_delete_on_termination(ctx, instance, device, true).await?;
            }
        }
    }
    lift_protection(ctx, instance).await?;
    ec2.terminate_instances().instance_ids(instance).send().await.aws(|| format!("terminating {instance}"), ctx)?;
    wait_terminated(ctx, instance).await
}

/// Removes a containment's session revocation from the role; true when there was one.
pub async fn lift_revocation(ctx: &AwsContext, role: &str) -> Result<bool> {
    match ctx
        .iam()
        .delete_role_policy()
        .role_name(role)
        .policy_name(crate::incident::verify::REVOKE_POLICY)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(e).aws(|| format!("removing the session revocation from role {role}"), ctx),
    }
}

/// Turns off termination and stop protection, which playbooks turn on to preserve evidence.
pub async fn lift_protection(ctx: &AwsContext, instance: &str) -> Result<()> {
    use aws_sdk_ec2::types::AttributeBooleanValue;
    let ec2 = ctx.ec2();
    let off = || AttributeBooleanValue::builder().value(false).build();
    ec2.modify_instance_attribute()
        .instance_id(instance)
        .disable_api_termination(off())
        .send()
        .await
        .aws(|| format!("lifting the termination protection of {instance}"), ctx)?;
    ec2.modify_instance_attribute()
        .instance_id(instance)
        .disable_api_stop(off())
        .send()
        .await
        .aws(|| format!("lifting the stop protection of {instance}"), ctx)?;
    Ok(())
}

/// The last path segment: a queue URL and the queue's name compare equal, whichever form a
/// service reports.
fn short_id(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// Object versions and delete markers in a bucket; None when the bucket is already gone.
async fn count_versions(ctx: &AwsContext, bucket: &str) -> Result<Option<usize>> {
    let mut n = 0;
    let mut key_marker = None;
    let mut version_marker = None;
    loop {
        let page = match ctx
            .s3()
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if error_code(&e) == Some("NoSuchBucket") => return Ok(None),
            Err(e) => return Err(e).aws(|| format!("listing the objects of bucket {bucket}"), ctx),
        };
        n += page.versions().len() + page.delete_markers().len();
        if page.is_truncated() != Some(true) {
            return Ok(Some(n));
        }
        key_marker = page.next_key_marker().map(String::from);
        version_marker = page.next_version_id_marker().map(String::from);
    }
}

/// What went wrong, per step; `down` reports them all rather than stopping at the first.
pub struct Outcome {
    pub failures: Vec<Error>,
    /// The region's shared parts were removed: this lab was the last to hold them.
    pub shared_removed: bool,
    /// The detector was left to other labs that held it when this lab decided: its removal is
    /// the last lab's to prove, even if that lab leaves before this one's final look.
    pub detector_kept: bool,
}

pub async fn execute(ctx: &AwsContext, lab: &LabName, plan: &Plan, reporter: &dyn Reporter) -> Outcome {
    // Instances outside the stacks go first and must be gone: their interfaces hold the
    // stacks' subnet and security groups until termination completes.
    let (instances, rest): (Vec<&LabResource>, Vec<&LabResource>) =
        plan.outside.iter().partition(|r| r.kind == "ec2:instance");
    let instance_results = futures::future::join_all(instances.iter().map(|r| remove_outside(ctx, r, reporter))).await;
    let stack_work = plan.stacks.iter().map(|s| remove_stack(ctx, s, reporter));
    // The lab's threat list lives on the detector: it goes with the rest, before the detector changes.
    let lab_objects = async {
        let Some(bucket) = &plan.shared_bucket else { return Ok(()) };
        let n = shared::delete_lab_objects(ctx, bucket, lab).await?;
        if n > 0 {
            reporter.report(Progress::Note(format!(
                "deleted the lab's {n} object version(s) in the shared bucket {bucket}"
            )));
        }
        Ok(())
    };
    let (stack_results, outside_results, objects) = futures::join!(
        futures::future::join_all(stack_work),
        futures::future::join_all(rest.iter().map(|r| remove_outside(ctx, r, reporter))),
        lab_objects
    );
    let mut failures: Vec<Error> = instance_results
        .into_iter()
        .chain(stack_results)
        .chain(outside_results)
        .chain([objects])
        .filter_map(|r| r.err())
        .collect();
    // The state goes after a clean run only, one that could also see everything: a later `down`
    // still needs its ownership facts, and the detector is not put back while some of the lab
    // may be unseen.
    let clean = failures.is_empty() && plan.unchecked.is_empty();
    if clean
        && plan.state_parameter.is_some()
        && let Err(e) = LabState::delete(ctx, lab).await
    {
        failures.push(e);
    }
    let mut shared_removed = false;
    if clean && failures.is_empty() {
        match remove_shared_if_last(ctx, lab, reporter).await {
            Ok(removed) => shared_removed = removed,
            Err(e) => failures.push(e),
        }
    }
    let mut detector_kept = false;
    if clean
        && failures.is_empty()
        && let Some(action) = &plan.detector
    {
        match put_back_detector(ctx, lab, action, reporter).await {
            Ok(kept) => detector_kept = kept,
            Err(e) => failures.push(e),
        }
    }
    Outcome { failures, shared_removed, detector_kept }
}

/// The last lab to leave removes the region's shared parts. Asked again now, after this lab's
/// state is gone, not from the plan: a lab that came or left meanwhile changes the answer.
async fn remove_shared_if_last(ctx: &AwsContext, lab: &LabName, reporter: &dyn Reporter) -> Result<bool> {
    let Some(info) = shared::find(ctx).await? else { return Ok(false) };
    let holders = shared::holders(&LabState::others(ctx, lab).await?);
    if !holders.is_empty() {
        reporter.report(Progress::Note(format!(
            "kept the region's shared parts ({}): lab(s) {} still use them",
            info.name,
            holders.join(", ")
        )));
        return Ok(false);
    }
    let planned = plan_stack(ctx, &info, &mut HashSet::new()).await?;
    remove_stack(ctx, &planned, reporter).await?;
    // Parts a class's StackSet deployed are only prepared here: they are not gone yet.
    Ok(planned.stack_set.is_none())
}

/// The last lab to leave puts the detector back; any other lab leaves it to those that remain.
/// Asked again now, after this lab's state is gone, not from the plan: a lab that left meanwhile
/// saw this one still holding it. True when it was left to others.
async fn put_back_detector(
    ctx: &AwsContext,
    lab: &LabName,
    action: &DetectorAction,
    reporter: &dyn Reporter,
) -> Result<bool> {
    let holders = detector::holders(&LabState::others(ctx, lab).await?, action.id());
    reporter.report(Progress::Started { task: "guardduty".into(), what: action.describe_shared(&holders) });
    if holders.is_empty() {
        action.execute(ctx).await?;
    }
    reporter.report(Progress::Finished { task: "guardduty".into(), what: "done".into() });
    Ok(!holders.is_empty())
}

async fn remove_stack(ctx: &AwsContext, s: &PlannedStack, reporter: &dyn Reporter) -> Result<()> {
    let task = s.name.as_str();
    for trail in &s.trails {
        match ctx.cloudtrail().stop_logging().name(trail).send().await {
            Ok(_) => {}
            Err(e) if error_code(&e).is_some_and(|c| c.contains("TrailNotFound")) => {}
            Err(e) => return Err(e).aws(|| format!("stopping trail {trail}"), ctx),
        }
    }
    for instance in &s.protected {
        reporter.report(Progress::Started { task: task.into(), what: format!("lifting the protection of {instance}") });
        lift_protection(ctx, instance).await?;
    }
    for (instance, device, volume) in &s.kept_volumes {
        reporter.report(Progress::Started { task: task.into(), what: format!("letting {volume} go with {instance}") });
        set_delete_on_termination(ctx, instance, device, true).await?;
    }
    for role in &s.revoked_roles {
        lift_revocation(ctx, role).await?;
    }
    for (bucket, _) in &s.buckets {
        reporter.report(Progress::Started { task: task.into(), what: format!("emptying bucket {bucket}") });
        empty_bucket(ctx, bucket).await?;
    }
    if let Some(set) = &s.stack_set {
        reporter.report(Progress::Note(format!(
            "{task}: prepared; the class StackSet {set} deletes it (`irlab class down --org-unit` in its account)"
        )));
        return Ok(());
    }
    match stacks::delete(ctx, &s.id, task, reporter).await {
        Ok(()) => Ok(()),
        // A log file delivered between emptying and deleting makes the bucket non-empty again.
        Err(_) if !s.buckets.is_empty() => {
            for (bucket, _) in &s.buckets {
                empty_bucket(ctx, bucket).await?;
            }
            stacks::delete(ctx, &s.id, task, reporter).await
        }
        Err(e) => Err(e),
    }
}

/// Deletes every object version and delete marker. A bucket with S3 Object Lock (the lab's
/// evidence bucket) is emptied bypassing its governance-mode retention, which `down`'s plan says;
/// compliance-mode retention cannot be bypassed by anyone, and irlab never sets it.
pub async fn empty_bucket(ctx: &AwsContext, bucket: &str) -> Result<()> {
    let bypass = is_locked(ctx, bucket).await?;
    delete_versions_bypassing(ctx, bucket, None, bypass).await.map(|_| ())
}

/// True when the bucket has S3 Object Lock enabled.
pub async fn is_locked(ctx: &AwsContext, bucket: &str) -> Result<bool> {
    match ctx.s3().get_object_lock_configuration().bucket(bucket).send().await {
        Ok(out) => Ok(out
            .object_lock_configuration()
            .and_then(|c| c.object_lock_enabled())
            .is_some_and(|e| e.as_str() == "Enabled")),
        Err(e)
            if matches!(error_code(&e), Some("ObjectLockConfigurationNotFoundError" | "NoSuchBucket"))
                || is_not_found(&e) =>
        {
            Ok(false)
        }
        Err(e) => Err(e).aws(|| format!("reading the Object Lock configuration of bucket {bucket}"), ctx),
    }
}

/// Deletes every object version and delete marker under `prefix` (all of them without one);
/// returns how many went. A bucket that is gone has none.
pub async fn delete_versions(ctx: &AwsContext, bucket: &str, prefix: Option<&str>) -> Result<usize> {
    delete_versions_bypassing(ctx, bucket, prefix, false).await
}

async fn delete_versions_bypassing(
    ctx: &AwsContext,
    bucket: &str,
    prefix: Option<&str>,
    bypass: bool,
) -> Result<usize> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let s3 = ctx.s3();
    let mut deleted = 0;
    loop {
        let page = match s3.list_object_versions().bucket(bucket).set_prefix(prefix.map(String::from)).send().await {
            Ok(p) => p,
            Err(e) if error_code(&e) == Some("NoSuchBucket") => return Ok(deleted),
            Err(e) => return Err(e).aws(|| format!("listing the objects of bucket {bucket}"), ctx),
        };
        let ids: Vec<ObjectIdentifier> = page
            .versions()
            .iter()
            .map(|v| (v.key(), v.version_id()))
            .chain(page.delete_markers().iter().map(|m| (m.key(), m.version_id())))
            .filter_map(|(k, v)| ObjectIdentifier::builder().key(k?).set_version_id(v.map(String::from)).build().ok())
            .collect();
        if ids.is_empty() {
            return Ok(deleted);
        }
        for chunk in ids.chunks(1000) {
            let delete = Delete::builder().set_objects(Some(chunk.to_vec())).quiet(true).build().expect("objects set");
            let out = s3
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .set_bypass_governance_retention(bypass.then_some(true))
                .send()
                .await
                .aws(|| format!("emptying bucket {bucket}"), ctx)?;
            if let Some(err) = out.errors().first() {
                return Err(Error::failure(format!(
                    "emptying bucket {bucket}: {} {}",
                    err.code().unwrap_or_default(),
                    err.message().unwrap_or_default()
                )));
            }
            deleted += chunk.len();
        }
    }
}

async fn remove_outside(ctx: &AwsContext, r: &LabResource, reporter: &dyn Reporter) -> Result<()> {
    let ec2 = ctx.ec2();
    let what = || format!("deleting {r}");
    let result = match r.kind.as_str() {
        // Already gone (a repeated or concurrent `down`) is done.
        "ec2:snapshot" => gone_is_done(ec2.delete_snapshot().snapshot_id(&r.id).send().await).aws(what, ctx),
        "ec2:volume" => gone_is_done(ec2.delete_volume().volume_id(&r.id).send().await).aws(what, ctx),
        // An instance the lab launched outside its stacks (`irlab bench`), or a compromised victim
        // `irlab recover` kept as evidence: possibly protected, its volumes kept by a playbook.
        "ec2:instance" => terminate_kept(ctx, &r.id).await,
        "ssm:parameter" => gone_is_done(ctx.ssm().delete_parameter().name(&r.id).send().await).aws(what, ctx),
        "guardduty:threat-intel-set" => {
            let (detector, set) = r.id.split_once('/').unwrap_or_default();
            crate::lab::threat_list::delete(ctx, detector, set).await
        }
        "s3:bucket" => {
            empty_bucket(ctx, &r.id).await?;
            gone_is_done(ctx.s3().delete_bucket().bucket(&r.id).send().await).aws(what, ctx)
        }
        _ => {
            reporter.report(Progress::Skipped {
                what: r.to_string(),
                why: "irlab does not delete this kind outside a stack; remove it by hand".into(),
            });
            return Ok(());
        }
    };
    if result.is_ok() {
        reporter.report(Progress::Note(format!("deleted {r}")));
    }
    result
}

fn gone_is_done<T, E, R>(
    r: std::result::Result<T, aws_sdk_sts::error::SdkError<E, R>>,
) -> std::result::Result<(), aws_sdk_sts::error::SdkError<E, R>>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn wait_terminated(ctx: &AwsContext, instance: &str) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let out = ctx
            .ec2()
            .describe_instances()
            .instance_ids(instance)
            .send()
            .await
            .aws(|| format!("waiting for {instance} to terminate"), ctx)?;
        let state = out.reservations().iter().flat_map(|r| r.instances()).find_map(|i| i.state()?.name().cloned());
        if state.is_none_or(|s| s.as_str() == "terminated") {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(Error::failure(format!("{instance} did not terminate within 10 minutes")));
        }
        tokio::time::sleep(if ctx.local {
            std::time::Duration::from_millis(200)
        } else {
            std::time::Duration::from_secs(5)
        })
        .await;
    }
}
