//! `irlab attack`: start the incident. Real traffic on the victim through SSM Run Command,
//! GuardDuty sample findings, or a simulated finding for the real victim on the bus.

use std::time::Duration;

use serde_json::json;

use crate::aws::{AwsContext, AwsResultExt};
use crate::cli::{AttackArgs, AttackMode, Global};
use crate::error::{Error, Result};
use crate::incident::evidence::{FINDING_TAG, STATUS_TAG};
use crate::incident::finding::{self, Simulated};
use crate::incident::scenario::{self, Scenario};
use crate::lab::detector;
use crate::lab::stacks;
use crate::lab::state::{AttackRun, LabState};
use crate::lab::threat_list;
use crate::lab::{LabName, Part};
use crate::ui::printer::Printer;

/// The lab state is one Standard SSM parameter (4 KB): older runs make room for new ones.
const RUNS_KEPT: usize = 10;

pub async fn run(g: &Global, args: &AttackArgs, p: &Printer) -> Result<()> {
    let scenarios = chosen(args)?;
    let (lab, ctx) = super::open_for_change(g, "attack").await?;
    let mode = args.mode.unwrap_or(if g.local { AttackMode::Inject } else { AttackMode::Traffic });
    let me = ctx.identity().await?;
    let Some(mut state) = LabState::load(&ctx, &lab).await? else {
        return Err(not_deployed(&lab, &ctx));
    };
    let victim = stacks::find(&ctx, &lab, Part::Victim).await?.ok_or_else(|| not_deployed(&lab, &ctx))?;
    let instance = victim.output("InstanceId").ok_or_else(|| not_deployed(&lab, &ctx))?.to_string();
    let detector = detector::find(&ctx).await?;
    match &detector {
        Some(d) if d.enabled => {}
        Some(d) => {
            return Err(Error::problem(format!(
                "GuardDuty detector {} is disabled: nothing would detect the attack",
                d.id
            ))
            .with_hint("run `irlab up` to enable it again"));
        }
        None => {
            return Err(Error::problem(format!(
                "GuardDuty has no detector in {}: nothing would detect the attack",
                ctx.region
            ))
            .with_hint("run `irlab up` to create it again"));
        }
    }
    if mode != AttackMode::Sample {
        check_not_contained(&ctx, &instance, args.force, p).await?;
    }
    // Run Command needs the victim's agent Online; right after `up` it is still registering.
    if mode == AttackMode::Traffic {
        wait_online(&ctx, &instance, p).await?;
    }
    // The playbook collects the volatile evidence through Run Command before it isolates: a
    // finding put before the new victim's agent registered would leave only a gap. An agent
    // that registered and lost contact (a contained victim attacked again with --force) will
    // not come back: the collection records that gap.
    if mode == AttackMode::Inject {
        match wait_online(&ctx, &instance, p).await {
            Ok(()) => {}
            Err(e) if e.message.contains("is managed but its SSM agent is") => {
                p.info(format!("warning: {}; the playbook's evidence collection will record the gap", e.message));
            }
            Err(e) => return Err(e),
        }
    }
    let started_at = jiff::Timestamp::now();
    // Ids name the second; a second attack in the same second (a quick --force) gets a suffix,
    // since verify, report and the history find runs by id.
    let base = format!("run-{}", started_at.strftime("%Y%m%d-%H%M%S"));
    let id = (1..)
        .map(|n| if n == 1 { base.clone() } else { format!("{base}-{n}") })
        .find(|id| !state.runs.iter().any(|r| &r.id == id))
        .expect("a free id");
    let mut run = AttackRun {
        id,
        scenarios: scenarios.iter().map(|s| s.id.clone()).collect(),
        mode: mode.as_str().into(),
        instance: instance.clone(),
        started_at: started_at.to_string(),
        command_ids: Vec::new(),
        finding_ids: Vec::new(),
        expected_findings: scenarios.iter().flat_map(|s| s.findings.clone()).collect(),
        variant: crate::lab::playbook::deployed(&ctx, &lab).await?.first().map(|(v, _)| v.as_str().to_string()),
        verified_at: None,
        unconfirmed: true,
        verdict: None,
        eradication: None,
        recovery: None,
        approval: None,
    };

    if mode == AttackMode::Inject {
        run.finding_ids = scenarios.iter().map(|_| finding::new_id()).collect();
    }
    // Recorded before anything is sent: if sending fails half-way, verify can still judge
    // what did go out.
    state.runs.push(run.clone());
    let excess = state.runs.len().saturating_sub(RUNS_KEPT);
    state.runs.drain(..excess);
    state.save(&ctx, &lab).await?;

    let detector = detector.expect("checked above");
    match mode {
        AttackMode::Inject => {
            for (s, id) in scenarios.iter().zip(&run.finding_ids) {
                Simulated {
                    account: &me.account,
                    region: &ctx.region,
                    instance_id: &instance,
                    finding_type: &s.inject.finding_type,
                    severity: s.inject.severity,
                    title: &s.inject.title,
                }
                .put(&ctx, id)
                .await?;
                p.info(format!("{}: put a simulated {} finding ({id}) for {instance}", s.id, s.inject.finding_type));
            }
        }
        AttackMode::Sample => {
            let types: Vec<String> = run.expected_findings.clone();
            ctx.guardduty()
                .create_sample_findings()
                .detector_id(&detector.id)
                .set_finding_types(Some(types.clone()))
                .send()
                .await
                .aws(|| format!("creating GuardDuty sample findings on detector {}", detector.id), &ctx)?;
            p.info(format!("GuardDuty created sample findings: {}", types.join(", ")));
            p.info("note: sample findings name a placeholder instance (i-99999999), so no lab's playbook answers them: they show GuardDuty's finding shapes, not a response");
        }
        AttackMode::Traffic => {
            for s in &scenarios {
                if let Some(list) = &s.traffic.threat_list {
                    let shared = crate::lab::shared::find(&ctx).await?.ok_or_else(|| not_deployed(&lab, &ctx))?;
                    let bucket = shared.output("TrailBucketName").ok_or_else(|| not_deployed(&lab, &ctx))?;
                    let (id, status) = threat_list::ensure(&ctx, &lab, &detector.id, bucket, &list.addresses).await?;
                    p.info(format!(
                        "{}: threat list {id} on detector {} lists {} ({status}; GuardDuty may take up to 15 minutes to use it)",
                        s.id,
                        detector.id,
                        list.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
                    ));
                }
                let out = ctx
                    .ssm()
                    .send_command()
                    .instance_ids(&instance)
                    .document_name("AWS-RunShellScript")
                    .comment(format!("irlab attack {} ({})", s.id, run.id))
                    .timeout_seconds(60)
                    .parameters("commands", s.traffic.commands.clone())
                    .parameters("executionTimeout", vec![s.traffic.timeout_seconds.to_string()])
                    .send()
                    .await
                    .aws(|| format!("sending the {} commands to {instance} (SSM Run Command)", s.id), &ctx)?;
                let id = out.command().and_then(|c| c.command_id()).unwrap_or_default().to_string();
                p.info(format!(
                    "{}: Run Command {id} started on {instance} ({} commands)",
                    s.id,
                    s.traffic.commands.len()
                ));
                run.command_ids.push(id);
            }
        }
    }

    run.unconfirmed = false;
    if let Some(r) = state.runs.iter_mut().find(|r| r.id == run.id) {
        *r = run.clone();
    }
    state.save(&ctx, &lab).await.map_err(|e| {
        // Everything went out; only the confirmation is missing, and verify does not need it.
        e.with_hint(format!("the attack was sent; `irlab verify --run {}` still judges it", run.id))
    })?;

    let wait = match mode {
        AttackMode::Inject | AttackMode::Sample => Duration::from_secs(10),
        AttackMode::Traffic => scenarios.iter().map(Scenario::typical_delay).max().unwrap_or_default(),
    };
    if p.is_json() {
        p.json(&json!({ "run": run, "expected_wait_seconds": wait.as_secs() }));
        return Ok(());
    }
    p.out(format!(
        "attack {} started: {} in {} mode against {instance}",
        run.id,
        run.scenarios.join(", "),
        mode.as_str()
    ));
    p.out(format!("expect GuardDuty findings: {}", run.expected_findings.join(", ")));
    p.out(match mode {
        AttackMode::Inject => {
            "the playbook isolates within seconds; Step Functions and SSM then wait for the snapshots (minutes on AWS)"
                .to_string()
        }
        AttackMode::Sample => {
            "sample findings appear in GuardDuty within minutes; they name no lab's victim, so no playbook runs"
                .to_string()
        }
        AttackMode::Traffic => format!("GuardDuty typically reports this within {}", humantime::format_duration(wait)),
    });
    p.out(format!("then prove the response with `irlab verify --run {}`", run.id));
    Ok(())
}

fn not_deployed(lab: &LabName, ctx: &AwsContext) -> Error {
    Error::problem(format!("lab {lab} is not deployed in {}", ctx.region)).with_hint("run `irlab up` first")
}

/// The scenarios named, from files, or all; nothing runs unless every one is valid.
fn chosen(args: &AttackArgs) -> Result<Vec<Scenario>> {
    let mut out = if args.all { scenario::builtin()? } else { Vec::new() };
    for id in &args.scenarios {
        out.push(scenario::find(id)?);
    }
    for path in &args.scenario_files {
        out.push(scenario::load(path)?);
    }
    if out.is_empty() {
        let known: Vec<String> = scenario::builtin()?.into_iter().map(|s| s.id).collect();
        return Err(Error::problem("name a scenario, --all, or --scenario-file PATH")
            .with_hint(format!("known scenarios: {}", known.join(", "))));
    }
    out.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}

/// One attack at a time per victim: a victim still contained from an earlier run is reset first,
/// or its containment would pass this run's checks before this run's playbook did anything.
async fn check_not_contained(ctx: &AwsContext, instance: &str, force: bool, p: &Printer) -> Result<()> {
    let desc = ctx
        .ec2()
        .describe_instances()
        .instance_ids(instance)
        .send()
        .await
        .aws(|| format!("describing {instance}"), ctx)?;
    let Some(i) = desc.reservations().iter().flat_map(|r| r.instances()).next() else { return Ok(()) };
    let tag = |k: &str| i.tags().iter().find(|t| t.key() == Some(k)).and_then(|t| t.value()).map(String::from);
    let Some(status) = tag(STATUS_TAG) else { return Ok(()) };
    let finding = tag(FINDING_TAG).unwrap_or_else(|| "an unknown finding".into());
    let what = format!("the victim {instance} is still {status} from an earlier run (finding {finding})");
    if force {
        p.info(format!(
            "warning: {what}; attacking anyway (--force): verify counts only this run's evidence, so it passes once this run's playbook has contained the victim again"
        ));
        return Ok(());
    }
    Err(Error::problem(what).with_hint(
        "run `irlab reset` first; or pass --force to attack anyway (verify then waits for this run's own containment)",
    ))
}

/// Run Command reaches only managed instances whose agent is online.
/// How long `attack` waits for a new victim's SSM agent: AWS publishes no figure; registration
/// commonly takes one to several minutes after the instance runs.
const AGENT_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Waits until the victim's agent is Online (a new victim's agent registers within minutes);
/// an agent that registered and then lost contact is an error at once.
async fn wait_online(ctx: &AwsContext, instance: &str, p: &Printer) -> Result<()> {
    let started = std::time::Instant::now();
    let mut said = false;
    loop {
        match check_online(ctx, instance).await {
            Ok(()) => return Ok(()),
            Err(e) if e.message.contains("not registered") && started.elapsed() < AGENT_WAIT => {
                if !said {
                    p.info(format!(
                        "waiting for the SSM agent on {instance} to register (up to {} after `irlab up`)",
                        humantime::format_duration(AGENT_WAIT)
                    ));
                    said = true;
                }
                tokio::time::sleep(if ctx.local {
                    std::time::Duration::from_millis(500)
                } else {
                    std::time::Duration::from_secs(10)
                })
                .await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn check_online(ctx: &AwsContext, instance: &str) -> Result<()> {
    let ping = crate::lab::agent::ping(ctx, instance).await?;
    match ping.as_deref() {
        Some("Online") => Ok(()),
        Some(other) => Err(Error::problem(format!("the victim {instance} is managed but its SSM agent is {other}"))
            .with_hint("a contained victim has lost its instance profile: `irlab recover` brings back a clean one; or use --mode inject")),
        None => Err(Error::problem(format!("the victim {instance} is not registered with Systems Manager yet"))
            .with_hint("the agent did not register within 10 minutes: check the instance's network and `irlab status`")),
    }
}
