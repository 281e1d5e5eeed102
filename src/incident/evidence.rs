//! A run's evidence: where it lives (read once from the stacks), and one pass that collects the
//! state `verify` judges and `report` draws. Only evidence of the run counts: the engine run that
//! answered one of its findings, notifications and audit records naming them, the containment
//! tags and snapshots made for them. Nothing an earlier run left can satisfy a check.

use aws_sdk_ec2::types::{Filter, InstanceAttributeName};
use jiff::{SignedDuration, Timestamp};

use crate::aws::{AwsContext, AwsResultExt};
use crate::error::{Error, Result};
use crate::incident::audit::{self, Kind, Record};
use crate::incident::custody;
use crate::incident::engine_run;
use crate::incident::report::{
    ATTACK, CONTAINED, EvidenceItem, FINDING, FindingFacts, ISOLATED, NOTIFIED, Point, Timeline, VERIFIED,
};
use crate::incident::run_tags;
use crate::incident::verify::{self, Observation};
use crate::lab::playbook;
use crate::lab::stacks::{self, StackInfo};
use crate::lab::state::AttackRun;
use crate::lab::{LabName, Part, Variant};

/// The instance tags the playbooks write while they contain.
pub const STATUS_TAG: &str = "irlab:ir-status";
pub const FINDING_TAG: &str = "irlab:finding-id";
/// The decision the playbook asked for after the containment, and the eradication it sent once
/// approved (the Step Functions and SSM playbooks with ApprovalTimeoutSeconds set).
pub const APPROVAL_TAG: &str = "irlab:approval";
pub const ERADICATION_COMMAND_TAG: &str = "irlab:eradication-command";
/// The playbook's recovery after its eradication: how far it got, the victim that replaced this
/// one, and the indicator check it ran on that victim.
pub const RECOVERY_TAG: &str = "irlab:recovery";
pub const REPLACED_BY_TAG: &str = "irlab:replaced-by";
pub const RECOVERY_CHECK_TAG: &str = "irlab:recovery-check";

/// How far before the recorded start of a run its evidence is looked for: the run's start is
/// this machine's clock, the evidence's times are AWS's.
const CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(30);

/// Where the evidence lives, read once from the stacks.
pub struct Sources {
    pub quarantine_group: String,
    pub audit_group: String,
    pub trail_bucket: Option<String>,
    pub variant: Option<Variant>,
    pub playbook: Option<StackInfo>,
    /// The victim's instance role, whose sessions the containment revokes.
    pub instance_role: Option<String>,
    /// The group every interface passes through so its flows become untracked.
    pub untrack_group: String,
    /// Where the playbooks put the volatile evidence (detection stack).
    pub evidence_bucket: Option<String>,
    /// The victim as `up` recorded it (what a recovery restores).
    pub baseline: Option<crate::lab::state::Baseline>,
}

impl Sources {
    pub async fn load(ctx: &AwsContext, lab: &LabName) -> Result<Sources> {
        let missing = || Error::problem(format!("lab {lab} is not fully deployed")).with_hint("run `irlab up`");
        let (victim, detection, deployed, shared, state) = futures::try_join!(
            stacks::find(ctx, lab, Part::Victim),
            stacks::find(ctx, lab, Part::Detection),
            playbook::deployed(ctx, lab),
            crate::lab::shared::find(ctx),
            crate::lab::state::LabState::load(ctx, lab),
        )?;
        let (victim, detection) = (victim.ok_or_else(missing)?, detection.ok_or_else(missing)?);
        let audit_group = detection.output("AuditLogGroupName").ok_or_else(missing)?.to_string();
        let (variant, playbook) = deployed.into_iter().next().map_or((None, None), |(v, s)| (Some(v), Some(s)));
        Ok(Sources {
            quarantine_group: victim.output("QuarantineSecurityGroupId").unwrap_or_default().to_string(),
            trail_bucket: shared.as_ref().and_then(|s| s.output("TrailBucketName")).map(String::from),
            audit_group,
            variant,
            playbook,
            instance_role: victim.output("InstanceRoleName").map(String::from),
            untrack_group: victim.output("UntrackSecurityGroupId").unwrap_or_default().to_string(),
            evidence_bucket: detection.output("EvidenceBucketName").map(String::from),
            baseline: state.and_then(|s| s.baseline),
        })
    }
}

/// The earliest time evidence of `run` can carry.
pub fn since(run: &AttackRun) -> Timestamp {
    let started: Timestamp = run.started_at.parse().unwrap_or_else(|_| Timestamp::now());
    started - CLOCK_SKEW
}

/// One poll: everything `verify` judges, for this run only.
pub async fn collect(ctx: &AwsContext, s: &Sources, run: &AttackRun) -> Result<(Observation, Vec<Record>)> {
    let ec2 = ctx.ec2();
    let instance = run.instance.as_str();
    let since = since(run);
    let records = audit::read(ctx, &s.audit_group, since).await?;
    let mut o = Observation {
        quarantine_group: s.quarantine_group.clone(),
        untrack_group: s.untrack_group.clone(),
        findings: verify::run_findings(run, &records),
        since: Some(since),
        ..Observation::default()
    };
    if run.mode == "traffic" || run.mode == "sample" {
        for id in guardduty_findings(ctx, run, since).await? {
            if !o.findings.contains(&id) {
                o.findings.push(id);
            }
        }
    }
    o.notifications = records.iter().filter(|r| r.notifies_about(&o.findings)).count();
    o.cut_step = records
        .iter()
        .filter(|r| r.notifies_about(&o.findings))
        .flat_map(steps_reported)
        .find(|st| st.name == "cut")
        .map(|st| st.detail);

    let mut playbook_eradication = None;
    let mut playbook_recovered = None;
    let desc =
        ec2.describe_instances().instance_ids(instance).send().await.aws(|| format!("describing {instance}"), ctx)?;
    if let Some(i) = desc.reservations().iter().flat_map(|r| r.instances()).next() {
        for eni in i.network_interfaces() {
            o.interface_groups.insert(
                eni.network_interface_id().unwrap_or_default().to_string(),
                eni.groups().iter().filter_map(|g| g.group_id()).map(String::from).collect(),
            );
        }
        o.volumes = i.block_device_mappings().iter().filter_map(|b| b.ebs()?.volume_id()).map(String::from).collect();
        o.delete_on_termination = i
            .block_device_mappings()
            .iter()
            .filter_map(|b| Some((b.ebs()?.volume_id()?.to_string(), b.ebs()?.delete_on_termination().unwrap_or(true))))
            .collect();
        let tag = |k: &str| i.tags().iter().find(|t| t.key() == Some(k)).and_then(|t| t.value()).map(String::from);
        o.ir_status = tag(STATUS_TAG);
        o.contained_for = tag(FINDING_TAG);
        // What the playbook did after the containment of this run's finding: the decision it
        // asked for, and the eradication it sent once approved.
        if o.contained_for.as_ref().is_some_and(|f| o.findings.contains(f)) {
            o.approval = tag(APPROVAL_TAG);
            playbook_eradication = tag(ERADICATION_COMMAND_TAG);
            o.playbook_recovery = tag(RECOVERY_TAG);
            playbook_recovered = tag(REPLACED_BY_TAG).zip(tag(RECOVERY_CHECK_TAG));
            let pairs = |k: &str| tag(k).map(|v| run_tags::parse_pairs(&v)).unwrap_or_default();
            o.before = verify::Before {
                groups: tag(run_tags::ORIGINAL_GROUPS_TAG)
                    .map(|v| run_tags::parse_groups(&v).into_iter().collect())
                    .unwrap_or_default(),
                delete_on_termination: pairs(run_tags::VOLUMES_TAG)
                    .into_iter()
                    .map(|(volume, was)| (volume, was == "true"))
                    .collect(),
                elastic_ips: pairs(run_tags::EIP_TAG).into_iter().map(|(_, ip)| ip).collect(),
            };
        }
    }
    let assoc = ec2
        .describe_iam_instance_profile_associations()
        .filters(Filter::builder().name("instance-id").values(instance).build())
        .send()
        .await
        .aws(|| format!("reading the profile associations of {instance}"), ctx)?;
    o.profile_associated =
        assoc.iam_instance_profile_associations().iter().any(|a| a.state().is_some_and(|s| s.as_str() == "associated"));
    let addresses = ec2
        .describe_addresses()
        .filters(Filter::builder().name("instance-id").values(instance).build())
        .send()
        .await
        .aws(|| format!("reading the Elastic IPs of {instance}"), ctx)?;
    o.elastic_ips = addresses.addresses().iter().filter_map(|a| a.public_ip()).map(String::from).collect();
    if let Some(role) = &s.instance_role {
        o.sessions_revoked_before = revocation(ctx, role).await?;
    }
    for attr in [InstanceAttributeName::DisableApiTermination, InstanceAttributeName::DisableApiStop] {
        let a = ec2
            .describe_instance_attribute()
            .instance_id(instance)
            .attribute(attr.clone())
            .send()
            .await
            .aws(|| format!("reading the protection of {instance}"), ctx)?;
        match attr {
            InstanceAttributeName::DisableApiTermination => {
                o.termination_protected = a.disable_api_termination().and_then(|b| b.value()) == Some(true)
            }
            _ => o.stop_protected = a.disable_api_stop().and_then(|b| b.value()) == Some(true),
        }
    }
    let snaps = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(Filter::builder().name("tag:irlab:instance").values(instance).build())
        .send()
        .await
        .aws(|| format!("listing the snapshots of {instance}"), ctx)?;
    let of_run = snaps.snapshots().iter().filter(|sn| {
        sn.tags()
            .iter()
            .any(|t| t.key() == Some(FINDING_TAG) && t.value().is_some_and(|v| o.findings.iter().any(|f| f == v)))
    });
    for sn in of_run {
        let (Some(volume), Some(id)) = (sn.volume_id(), sn.snapshot_id()) else { continue };
        o.snapshots.insert(volume.to_string(), sn.state().map(|st| st.as_str().to_string()).unwrap_or_default());
        o.snapshot_ids.insert(volume.to_string(), id.to_string());
    }
    if let (Some(variant), Some(stack)) = (s.variant, &s.playbook)
        && let Some(r) = engine_run::find(ctx, variant, stack, &o.findings, since, false).await?
    {
        o.playbook_status = Some(r.status);
        o.playbook_contained = r.contained;
        o.playbook_failure = r.failure;
    }
    if let (Some(bucket), Some(m)) = (&s.evidence_bucket, run_manifest(ctx, s, &o.findings).await?) {
        let checks = custody::verify(ctx, bucket, &m).await?;
        o.volatile = Some(verify::Volatile {
            items: m.items.len(),
            complete: m.complete,
            gaps: m.gaps.clone(),
            mismatches: checks.iter().filter(|c| !c.ok).map(|c| format!("{}: {}", c.key, c.detail)).collect(),
        });
    }
    // `irlab eradicate`'s record, else the playbook's eradication after an approval.
    if let Some(command) = run.eradication.as_ref().map(|e| e.command_id.clone()).or(playbook_eradication) {
        o.eradication = Some(eradication(ctx, instance, &command).await?);
    }
    // `irlab recover`'s record, else the playbook's recovery after its eradication.
    let recovered =
        run.recovery.as_ref().map(|r| (r.recovered.clone(), r.check_command_id.clone())).or(playbook_recovered);
    if let Some((new_victim, check)) = recovered {
        let mut obs = recovery(ctx, &new_victim, &check, s.baseline.as_ref()).await?;
        for rec in &records {
            if let Kind::Finding { id, instance, .. } = &rec.kind
                && *instance == new_victim
                && !obs.findings.contains(id)
            {
                obs.findings.push(id.clone());
            }
        }
        o.recovery = Some(obs);
    }
    Ok((o, records))
}

/// The recovered victim as EC2, Systems Manager and GuardDuty see it now.
async fn recovery(
    ctx: &AwsContext,
    instance: &str,
    check_command: &str,
    baseline: Option<&crate::lab::state::Baseline>,
) -> Result<verify::Recovery> {
    let mut out = verify::Recovery {
        instance: instance.into(),
        baseline_groups: baseline.map(|b| b.groups.clone()).unwrap_or_default(),
        baseline_profile_arn: baseline.and_then(|b| b.profile_arn.clone()),
        ..Default::default()
    };
    let desc = ctx
        .ec2()
        .describe_instances()
        .instance_ids(instance)
        .send()
        .await
        .aws(|| format!("describing the recovered {instance}"), ctx)?;
    if let Some(i) = desc.reservations().iter().flat_map(|r| r.instances()).next() {
        out.state = i.state().and_then(|s| s.name()).map(|n| n.as_str().to_string());
        out.groups = i.security_groups().iter().filter_map(|g| g.group_id()).map(String::from).collect();
        out.profile_arn = i.iam_instance_profile().and_then(|p| p.arn()).map(String::from);
    }
    out.agent = crate::lab::agent::ping(ctx, instance).await?;
    let inv = ctx
        .ssm()
        .get_command_invocation()
        .command_id(check_command)
        .instance_id(instance)
        .plugin_name(crate::incident::eradication::CHECK_STEP)
        .send()
        .await
        .aws(|| format!("reading the indicator check {check_command}"), ctx)?;
    out.check_status = inv.status().map(|s| s.as_str().to_string()).unwrap_or_default();
    if let Some(c) = crate::incident::eradication::parse_check(inv.standard_output_content().unwrap_or_default()) {
        out.clean = Some(c.eradicated);
        out.present = c.present;
    }
    out.findings = active_findings_on(ctx, instance).await?;
    Ok(out)
}

/// GuardDuty findings that name the instance and are not archived.
async fn active_findings_on(ctx: &AwsContext, instance: &str) -> Result<Vec<String>> {
    Ok(all_findings(ctx)
        .await?
        .iter()
        .filter(|f| f.resource().and_then(|r| r.instance_details()).and_then(|i| i.instance_id()) == Some(instance))
        .filter(|f| !f.service().and_then(|s| s.archived()).unwrap_or(false))
        .filter_map(|f| f.id().map(String::from))
        .collect())
}

/// Every finding of the region's detector (none without one).
async fn all_findings(ctx: &AwsContext) -> Result<Vec<aws_sdk_guardduty::types::Finding>> {
    let Some(d) = crate::lab::detector::find(ctx).await? else { return Ok(Vec::new()) };
    let gd = ctx.guardduty();
    let mut ids = Vec::new();
    let mut token = None;
    loop {
        let page = gd
            .list_findings()
            .detector_id(&d.id)
            .set_next_token(token)
            .send()
            .await
            .aws(|| "listing GuardDuty findings".into(), ctx)?;
        ids.extend(page.finding_ids().iter().cloned());
        token = page.next_token().filter(|t| !t.is_empty()).map(String::from);
        if token.is_none() {
            break;
        }
    }
    let mut out = Vec::new();
    // GetFindings takes at most 50 ids.
    for chunk in ids.chunks(50) {
        let found = gd
            .get_findings()
            .detector_id(&d.id)
            .set_finding_ids(Some(chunk.to_vec()))
            .send()
            .await
            .aws(|| "reading GuardDuty findings".into(), ctx)?;
        out.extend(found.findings().iter().cloned());
    }
    Ok(out)
}

/// The eradication command's two steps as Systems Manager reports them.
async fn eradication(ctx: &AwsContext, instance: &str, command_id: &str) -> Result<verify::Eradication> {
    let mut out = verify::Eradication { command_id: command_id.into(), ..Default::default() };
    for step in ["eradicate", crate::incident::eradication::CHECK_STEP] {
        let inv = ctx
            .ssm()
            .get_command_invocation()
            .command_id(command_id)
            .instance_id(instance)
            .plugin_name(step)
            .send()
            .await
            .aws(|| format!("reading the eradication {command_id} ({step})"), ctx)?;
        let status = inv.status().map(|s| s.as_str().to_string()).unwrap_or_default();
        if step == "eradicate" {
            out.eradicate_status = status;
        } else {
            out.check_status = status;
            if let Some(c) =
                crate::incident::eradication::parse_check(inv.standard_output_content().unwrap_or_default())
            {
                out.eradicated = Some(c.eradicated);
                out.present = c.present;
            }
        }
    }
    Ok(out)
}

/// The chain-of-custody manifest of the run's collection: the latest for one of its findings
/// (a repeated delivery may have collected twice), preferring a complete one.
pub async fn run_manifest(ctx: &AwsContext, s: &Sources, findings: &[String]) -> Result<Option<custody::Manifest>> {
    let Some(bucket) = &s.evidence_bucket else { return Ok(None) };
    if findings.is_empty() {
        return Ok(None);
    }
    let mut ours: Vec<custody::Manifest> =
        custody::manifests(ctx, bucket).await?.into_iter().filter(|m| findings.contains(&m.finding)).collect();
    ours.sort_by(|a, b| (a.complete, &a.ended_at).cmp(&(b.complete, &b.ended_at)));
    Ok(ours.pop())
}

/// The time before which the instance role denies sessions, when a containment revoked them.
pub async fn revocation(ctx: &AwsContext, role: &str) -> Result<Option<Timestamp>> {
    match ctx.iam().get_role_policy().role_name(role).policy_name(verify::REVOKE_POLICY).send().await {
        Ok(out) => {
            // IAM returns the document URL-encoded (RFC 3986).
            let doc = percent_decode(out.policy_document());
            Ok(serde_json::from_str(&doc).ok().and_then(|v| verify::revoked_before(&v)))
        }
        Err(e) if crate::aws::is_not_found(&e) => Ok(None),
        Err(e) => Err(e).aws(|| format!("reading the session revocation of role {role}"), ctx),
    }
}

/// RFC 3986 percent-decoding (a `+` stays a `+`: it is not form encoding).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One containment step as a playbook's notification reports it: `N. <step> at <time>: <detail>`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedStep {
    pub name: String,
    pub at: Timestamp,
    pub detail: String,
}

/// The containment steps a notification lists, in order.
pub fn steps_reported(r: &Record) -> Vec<ReportedStep> {
    let audit::Kind::Notification { message, .. } = &r.kind else { return Vec::new() };
    message
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let (number, rest) = line.split_once(". ")?;
            number.parse::<u32>().ok()?;
            let (name, rest) = rest.split_once(" at ")?;
            let (at, detail) = rest.split_once(": ")?;
            Some(ReportedStep { name: name.to_string(), at: at.parse().ok()?, detail: detail.to_string() })
        })
        .collect()
}

/// GuardDuty's own findings of the run: the expected types on the run's instance (the samples'
/// placeholder for sample mode), updated since the run started.
async fn guardduty_findings(ctx: &AwsContext, run: &AttackRun, since: Timestamp) -> Result<Vec<String>> {
    let target = if run.mode == "sample" { "i-99999999" } else { run.instance.as_str() };
    let mut out = Vec::new();
    for f in all_findings(ctx).await? {
        let on = f.resource().and_then(|r| r.instance_details()).and_then(|i| i.instance_id()).unwrap_or_default();
        let updated = f.updated_at().and_then(|t| t.parse::<Timestamp>().ok());
        if on == target
            && run.expected_findings.iter().any(|t| Some(t.as_str()) == f.r#type())
            && updated.is_none_or(|u| u >= since)
        {
            out.push(f.id().unwrap_or_default().to_string());
        }
    }
    Ok(out)
}

/// The run's timeline: attack, finding, delivery, playbook start and steps, contained,
/// notified, verified. `records` are the audit records since the run started.
pub async fn timeline(
    ctx: &AwsContext,
    lab: &LabName,
    s: &Sources,
    records: &[Record],
    run: &AttackRun,
) -> Result<Timeline> {
    let mut points = Vec::new();
    let started: Timestamp = run.started_at.parse().unwrap_or_else(|_| Timestamp::now());
    points.push(Point { label: ATTACK.into(), at: started, key: true });
    let findings = verify::run_findings(run, records);
    let mut finding = None;
    if let Some((r, facts, created)) = records.iter().find_map(|r| match &r.kind {
        audit::Kind::Finding { id, finding_type, created_at, severity, title, .. } if findings.contains(id) => {
            let facts = FindingFacts {
                id: id.clone(),
                finding_type: finding_type.clone(),
                severity: *severity,
                title: title.clone(),
            };
            Some((r, facts, *created_at))
        }
        _ => None,
    }) {
        points.push(Point { label: FINDING.into(), at: created.unwrap_or(r.at), key: true });
        points.push(Point { label: "event delivered (audit trail)".into(), at: r.at, key: false });
        finding = Some(facts);
    }
    if let Some(r) = records.iter().find(|r| r.notifies_about(&findings)) {
        points.push(Point { label: NOTIFIED.into(), at: r.at, key: false });
        // Each containment step when the playbook says it happened, the same in every variant;
        // its `cut` is the moment the victim was isolated.
        for st in steps_reported(r) {
            match st.name.as_str() {
                "cut" => points.push(Point { label: ISOLATED.into(), at: st.at, key: true }),
                name => points.push(Point { label: format!("containment: {name}"), at: st.at, key: false }),
            }
        }
    }
    let variant = run.variant.as_deref().and_then(|v| Variant::ALL.into_iter().find(|x| x.as_str() == v)).or(s.variant);
    let mut playbook_running = false;
    if variant == s.variant
        && let (Some(v), Some(stack)) = (variant, &s.playbook)
        && let Some(r) = engine_run::find(ctx, v, stack, &findings, since(run), true).await?
    {
        let engine = match v {
            Variant::Lambda => "Lambda",
            Variant::StepFunctions => "Step Functions",
            Variant::Ssm => "SSM Automation",
            Variant::Manual => "no playbook",
        };
        playbook_running = matches!(r.status.as_str(), "RUNNING" | "InProgress" | "Pending" | "Waiting");
        if let Some(t) = r.started {
            points.push(Point { label: format!("playbook started ({engine})"), at: t, key: false });
        }
        for (name, t) in r.steps {
            // What the playbook did after containment, as lifecycle points of their own.
            match engine_run::after_containment(&name) {
                Some(label) => points.push(Point { label: label.into(), at: t, key: true }),
                None => points.push(Point { label: format!("step: {name}"), at: t, key: false }),
            }
        }
        if let Some(t) = r.contained {
            points.push(Point { label: CONTAINED.into(), at: t, key: true });
        }
    }
    if let Some(v) = run.verified_at.as_deref().and_then(|t| t.parse().ok()) {
        points.push(Point { label: VERIFIED.into(), at: v, key: true });
    }
    let evidence = run_manifest(ctx, s, &findings)
        .await?
        .map(|m| {
            m.items
                .iter()
                .map(|i| EvidenceItem {
                    item: i.name().to_string(),
                    sha256: i.sha256_hex(),
                    bytes: i.bytes,
                    collected_at: i.collected_at.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Timeline::new(Timeline {
        lab: lab.to_string(),
        run: run.id.clone(),
        scenarios: run.scenarios.clone(),
        mode: run.mode.clone(),
        variant: variant.map(|v| v.as_str().to_string()),
        instance: run.instance.clone(),
        points,
        time_to_detect: None,
        time_to_contain: None,
        time_to_isolate: None,
        evidence,
        playbook_running,
        account: ctx.identity().await?.account,
        region: ctx.region.clone(),
        finding,
        checks: Vec::new(),
        checked_at: None,
        snapshots: Vec::new(),
        changes: Vec::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_document_iam_url_encoded_decodes_whole() {
        let enc = "%7B%22Condition%22%3A%7B%22DateLessThan%22%3A%7B%22aws%3ATokenIssueTime%22%3A%222026-12-01T10%3A00%3A05%2B00%3A00%22%7D%7D%7D";
        assert_eq!(
            percent_decode(enc),
            r#"{"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-12-01T10:00:05+00:00"}}}"#
        );
        assert_eq!(percent_decode("a+b%"), "a+b%");
    }

    #[test]
    fn the_steps_a_notification_reports_keep_their_order_time_and_detail() {
        let message = "Containment of i-1\n\n  1. record at 2026-12-01T10:00:00.100Z: tagged\n  2. revoke at 2026-12-01T10:00:00.900Z: policy\n  3. cut at 2026-12-01T10:00:01.500Z: eni-1: sg-u, then sg-q\nFinding id: f1\n";
        let r = Record {
            at: Timestamp::now(),
            kind: audit::Kind::Notification { subject: "s".into(), message: message.into() },
        };
        let steps = steps_reported(&r);
        let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["record", "revoke", "cut"]);
        assert_eq!(steps[2].detail, "eni-1: sg-u, then sg-q");
        assert_eq!(steps[1].at, "2026-12-01T10:00:00.900Z".parse().unwrap());
    }
}
