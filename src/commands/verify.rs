//! `irlab verify`: poll until the run's remediation is proven or the time is up, showing a live
//! checklist; collect once per poll, judge with the pure checks in `verify`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{Filter, InstanceAttributeName};
use serde_json::{Value, json};

use crate::aws::{AwsContext, AwsResultExt};
use crate::cli::{Global, VerifyArgs};
use crate::engine_run;
use crate::error::{Error, Result};
use crate::lab::{LabName, Part, Variant};
use crate::playbook;
use crate::printer::Printer;
use crate::progress::{Progress, Reporter};
use crate::stacks::{self, StackInfo};
use crate::state::{AttackRun, LabState};
use crate::verify::{self, Check, Expect, Observation};

pub async fn run(g: &Global, args: &VerifyArgs, p: &Printer) -> Result<()> {
    let (lab, ctx) = super::open(g).await?;
    let state = LabState::load(&ctx, &lab).await?.ok_or_else(|| {
        Error::problem(format!("lab {lab} is not deployed in {}", ctx.region))
            .with_hint("run `irlab up`, then `irlab attack`")
    })?;
    let run = match &args.run {
        Some(id) => state.runs.iter().find(|r| &r.id == id).cloned().ok_or_else(|| {
            let known: Vec<&str> = state.runs.iter().map(|r| r.id.as_str()).collect();
            Error::problem(format!("no run {id} in lab {lab}")).with_hint(format!("known runs: {}", known.join(", ")))
        })?,
        None => state.runs.last().cloned().ok_or_else(|| {
            Error::problem(format!("lab {lab} has no attack run yet")).with_hint("run `irlab attack SCENARIO` first")
        })?,
    };
    let timeout = match &args.timeout {
        Some(t) => humantime::parse_duration(t).map_err(|e| {
            Error::problem(format!("--timeout `{t}`: {e}")).with_hint("use a duration such as 90s, 5m or 1h")
        })?,
        None => match run.mode.as_str() {
            "inject" => Duration::from_secs(120),
            "sample" => Duration::from_secs(600),
            _ => Duration::from_secs(3600),
        },
    };
    let interval = humantime::parse_duration(&args.interval)
        .map_err(|e| Error::problem(format!("--interval `{}`: {e}", args.interval)))?;
    let sources = Sources::load(&ctx, &lab).await?;
    // A variant that waits for its snapshots must see them completed; Lambda only starts them.
    let expect = match (run.mode.as_str(), sources.variant) {
        ("sample", _) => Expect::SamplesOnly,
        (_, Some(Variant::StepFunctions | Variant::Ssm)) => Expect::Contained { snapshots_completed: true },
        _ => Expect::Contained { snapshots_completed: false },
    };
    p.info(format!(
        "verifying {} ({} in {} mode against {}), up to {}",
        run.id,
        run.scenarios.join(", "),
        run.mode,
        run.instance,
        humantime::format_duration(timeout)
    ));

    let started = Instant::now();
    let mut seen: HashMap<String, Value> = HashMap::new();
    let mut last: Vec<Check> = Vec::new();
    loop {
        let o = collect(&ctx, &sources, &run, &mut seen).await?;
        let checks = verify::judge(&o, expect);
        if checks != last {
            let left = timeout.saturating_sub(started.elapsed());
            p.info(format!("-- {}s elapsed, {}s left", started.elapsed().as_secs(), left.as_secs()));
            for c in &checks {
                p.info(format!("  [{}] {:<20} {}", if c.passed { "x" } else { " " }, c.name, c.observed));
            }
            last = checks.clone();
        }
        let passed = checks.iter().filter(|c| c.passed).count();
        p.report(Progress::Tick {
            task: "verify".into(),
            what: format!(
                "{passed}/{} checks pass, {}s left",
                checks.len(),
                timeout.saturating_sub(started.elapsed()).as_secs()
            ),
        });
        let all = checks.iter().all(|c| c.passed);
        if all && run.verified_at.is_none() {
            // Recorded for `irlab report`: the moment the remediation was proven.
            let mut state = LabState::load(&ctx, &lab).await?.unwrap_or(state.clone());
            if let Some(r) = state.runs.iter_mut().find(|r| r.id == run.id) {
                r.verified_at = Some(jiff::Timestamp::now().to_string());
            }
            state.save(&ctx, &lab).await?;
        }
        if all || started.elapsed() >= timeout {
            return finish(&lab, &run, &checks, all, args, p);
        }
        tokio::time::sleep(interval).await;
    }
}

fn finish(lab: &LabName, run: &AttackRun, checks: &[Check], all: bool, args: &VerifyArgs, p: &Printer) -> Result<()> {
    let passed = checks.iter().filter(|c| c.passed).count();
    p.report(Progress::Finished { task: "verify".into(), what: format!("{passed}/{} checks pass", checks.len()) });
    if let Some(path) = &args.junit {
        std::fs::write(path, verify::junit(lab.as_str(), &run.id, checks))
            .map_err(|e| Error::failure(format!("writing {}: {e}", path.display())).with_source(e))?;
    }
    p.json(&json!({ "lab": lab.as_str(), "run": run.id, "passed": all, "checks": checks }));
    for c in checks {
        p.out(format!(
            "{} {:<20} expected {}; observed {}",
            if c.passed { "PASS" } else { "FAIL" },
            c.name,
            c.expected,
            c.observed
        ));
    }
    if all {
        p.out(format!("{}: all {} checks passed", run.id, checks.len()));
        return Ok(());
    }
    let failed: Vec<&str> = checks.iter().filter(|c| !c.passed).map(|c| c.name).collect();
    Err(Error::problem(format!("{}: {} check(s) failed: {}", run.id, failed.len(), failed.join(", "))).with_hint(
        "findings from real traffic can take up to an hour; run `irlab verify --timeout 1h`, or see `irlab status`",
    ))
}

/// Where the evidence lives, read once from the stacks.
pub(super) struct Sources {
    pub quarantine_group: String,
    pub queue_url: String,
    pub variant: Option<Variant>,
    pub playbook: Option<StackInfo>,
}

impl Sources {
    pub(super) async fn load(ctx: &AwsContext, lab: &LabName) -> Result<Sources> {
        let missing = || Error::problem(format!("lab {lab} is not fully deployed")).with_hint("run `irlab up`");
        let victim = stacks::describe(ctx, &lab.stack_name(Part::Victim)).await?.ok_or_else(missing)?;
        let detection = stacks::describe(ctx, &lab.stack_name(Part::Detection)).await?.ok_or_else(missing)?;
        let queue_name = detection.output("AuditQueueUrl").and_then(|u| u.rsplit('/').next()).ok_or_else(missing)?;
        // The output holds the queue's AWS URL; ask the endpoint in use for its own form.
        let queue_url = ctx
            .sqs()
            .get_queue_url()
            .queue_name(queue_name)
            .send()
            .await
            .aws(|| format!("finding the audit queue {queue_name}"), ctx)?
            .queue_url()
            .unwrap_or_default()
            .to_string();
        let deployed = playbook::deployed(ctx, lab).await?;
        let (variant, playbook) = deployed.into_iter().next().map_or((None, None), |(v, s)| (Some(v), Some(s)));
        Ok(Sources {
            quarantine_group: victim.output("QuarantineSecurityGroupId").unwrap_or_default().to_string(),
            queue_url,
            variant,
            playbook,
        })
    }
}

async fn collect(
    ctx: &AwsContext,
    s: &Sources,
    run: &AttackRun,
    seen: &mut HashMap<String, Value>,
) -> Result<Observation> {
    let ec2 = ctx.ec2();
    let instance = run.instance.as_str();
    let mut o = Observation { quarantine_group: s.quarantine_group.clone(), ..Observation::default() };

    // The audit queue: read without deleting (visibility 0), so every verify sees every message.
    let msgs = ctx
        .sqs()
        .receive_message()
        .queue_url(&s.queue_url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .aws(|| "reading the audit queue".into(), ctx)?;
    for m in msgs.messages() {
        if let (Some(id), Some(body)) = (m.message_id(), m.body()) {
            seen.entry(id.to_string()).or_insert_with(|| serde_json::from_str(body).unwrap_or(Value::Null));
        }
    }
    let started = run.started_at.as_str();
    for m in seen.values() {
        if m["detail-type"] == "GuardDuty Finding"
            && m["time"].as_str().unwrap_or_default() >= &started[..started.len().min(19)]
        {
            let id = m["detail"]["id"].as_str().unwrap_or_default();
            let for_run = run.finding_ids.iter().any(|f| f == id)
                || (run.finding_ids.is_empty()
                    && run.expected_findings.iter().any(|t| m["detail"]["type"] == t.as_str()));
            if for_run && !o.findings.iter().any(|f| f == id) {
                o.findings.push(id.to_string());
            }
        }
        if m["Type"] == "Notification"
            && m["Message"]
                .as_str()
                .is_some_and(|x| x.contains(instance) || (run.mode == "sample" && x.contains("i-99999999")))
        {
            o.notifications += 1;
        }
    }

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
        o.ir_status =
            i.tags().iter().find(|t| t.key() == Some("irlab:ir-status")).and_then(|t| t.value()).map(String::from);
    }
    let assoc = ec2
        .describe_iam_instance_profile_associations()
        .filters(Filter::builder().name("instance-id").values(instance).build())
        .send()
        .await
        .aws(|| format!("reading the profile associations of {instance}"), ctx)?;
    o.profile_associated =
        assoc.iam_instance_profile_associations().iter().any(|a| a.state().is_some_and(|s| s.as_str() == "associated"));
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
    let finding_of_run: Vec<&String> = o.findings.iter().collect();
    o.snapshots = snaps
        .snapshots()
        .iter()
        .filter(|sn| {
            sn.tags().iter().any(|t| {
                t.key() == Some("irlab:finding-id") && finding_of_run.iter().any(|f| Some(f.as_str()) == t.value())
            })
        })
        .filter_map(|sn| Some((sn.volume_id()?.to_string(), sn.state()?.as_str().to_string())))
        .collect::<BTreeMap<_, _>>();

    if (run.mode == "traffic" || run.mode == "sample")
        && let Some(d) = crate::detector::find(ctx).await?
    {
        let ids = ctx
            .guardduty()
            .list_findings()
            .detector_id(&d.id)
            .send()
            .await
            .aws(|| "listing GuardDuty findings".into(), ctx)?;
        if !ids.finding_ids().is_empty() {
            let found = ctx
                .guardduty()
                .get_findings()
                .detector_id(&d.id)
                .set_finding_ids(Some(ids.finding_ids().to_vec()))
                .send()
                .await
                .aws(|| "reading GuardDuty findings".into(), ctx)?;
            for f in found.findings() {
                let target =
                    f.resource().and_then(|r| r.instance_details()).and_then(|i| i.instance_id()).unwrap_or_default();
                let wanted_target = if run.mode == "sample" { "i-99999999" } else { instance };
                if target == wanted_target && run.expected_findings.iter().any(|t| Some(t.as_str()) == f.r#type()) {
                    o.findings.push(f.id().unwrap_or_default().to_string());
                }
            }
        }
    }
    if let (Some(variant), Some(stack)) = (s.variant, &s.playbook) {
        let since = run.started_at.parse().unwrap_or_else(|_| jiff::Timestamp::now());
        o.playbook_status = engine_run::find(ctx, variant, stack, &o.findings, since, false).await?.map(|r| r.status);
    }
    Ok(o)
}
