//! `irlab up`: preflight, adopt or create the GuardDuty detector, deploy the detection and
//! victim stacks side by side, then the chosen playbook, and print what the lab now has.

use std::io::IsTerminal;
use std::time::Instant;

use serde_json::json;

use crate::cli::{Global, UpArgs};
use crate::error::{Error, Result};
use crate::lab::detector::{self, Adoption};
use crate::lab::janitor::{self, Expiry, Times};
use crate::lab::stacks::{self, Deployment, Outcome, StackInfo};
use crate::lab::state::{LabState, Ownership};
use crate::lab::{LAB_TAG, LabName, PART_TAG, Part, Variant};
use crate::lab::{avml, playbook, quota, shared};
use crate::ui::printer::Printer;
use crate::ui::progress::Reporter;

const AMI_X86: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
const AMI_ARM: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64";
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.micro";

pub async fn run(g: &Global, args: &UpArgs, p: &Printer) -> Result<()> {
    let started = Instant::now();
    check_args(args)?;
    let approval_timeout = args.approval_timeout.as_deref().map(parse_approval_timeout).transpose()?;
    let expires = args.expires.as_deref().map(janitor::parse_expires).transpose()?;
    let max_spend = args.max_spend.as_deref().map(janitor::parse_max_spend).transpose()?;
    // AVML is read and pinned before any AWS call: a wrong path or pin costs nothing.
    let avml = match (&args.avml, args.no_memory) {
        (Some(source), _) => Some(Some(avml::prepare(&avml::Source::parse(source), args.avml_sha256.as_deref())?)),
        (None, true) => Some(None),
        (None, false) => None,
    };
    if let Some(Some(prepared)) = &avml {
        p.info(format!("AVML pinned by SHA-256 {}: the victim runs no other", prepared.sha256()));
    }
    let (lab, ctx) = super::open_for_change(g, "up").await?;
    let me = ctx.identity().await?;
    p.info(format!("account {} ({}), region {}, lab {lab}", me.account, me.arn, ctx.region));
    if args.detector_only {
        return detector_only(&ctx, &lab, &me.account, p).await;
    }

    // Preflight: what is already there decides between create and update, and what is kept.
    let mut state = LabState::load(&ctx, &lab).await?.unwrap_or_else(|| LabState::new(&lab, &me.account, &ctx.region));
    let old_detection = stacks::describe(&ctx, &lab.stack_name(Part::Detection)).await?;
    let old_victim = stacks::describe(&ctx, &lab.stack_name(Part::Victim)).await?;
    let old_playbooks = playbook::deployed(&ctx, &lab).await?;
    let existing: Vec<String> = [&old_detection, &old_victim]
        .into_iter()
        .flatten()
        .chain(old_playbooks.iter().map(|(_, s)| s))
        .map(|s| format!("{} ({})", s.name, s.status))
        .collect();
    if !existing.is_empty() {
        p.info(format!("lab {lab} exists: {}; bringing it up to date", existing.join(", ")));
    }
    let variant = choose_variant(args.playbook, old_playbooks.first().map(|(v, _)| *v), g, p)?;
    if variant == Variant::Lambda && approval_timeout.is_some() {
        return Err(playbook::lambda_cannot_wait());
    }
    let instance_type = args
        .instance_type
        .clone()
        .or_else(|| old_victim.as_ref().and_then(|s| s.kept_parameter("InstanceType")).map(String::from))
        .unwrap_or_else(|| DEFAULT_INSTANCE_TYPE.into());

    // Quota preflight, before anything is created.
    let old_shared = shared::find(&ctx).await?;
    let need = quota::Need {
        shared_parts: old_shared.is_none(),
        instance_types: if old_victim.is_none() { vec![instance_type.clone()] } else { Vec::new() },
    };
    preflight(&ctx, &need, p).await?;

    let others = LabState::others(&ctx, &lab).await?;
    // What it costs, before anything is made; a new lab in a real account is asked for.
    if !g.local {
        let labs = u32::try_from(shared::holders(&others).len() + 1).unwrap_or(u32::MAX);
        let c = crate::lab::cost::new_lab(&instance_type, labs);
        p.out(format!(
            "lab {lab} costs about ${:.2}/hour, ${:.2}/day{} at list prices ({}, {}) until `irlab down`",
            c.usd_per_hour,
            c.usd_per_day,
            if c.complete { "" } else { " or more" },
            c.price_region,
            c.price_date
        ));
        if old_victim.is_none() && !g.yes {
            super::confirm_billable().await?;
        }
    }
    let (record, adoption) = detector::ensure(&ctx, &lab, state.detector.as_ref(), &others).await?;
    let holders = detector::holders(&others, &record.id);
    let shared =
        if holders.is_empty() { String::new() } else { format!("; shared with lab(s) {}", holders.join(", ")) };
    let detector_line = match (record.ownership, adoption) {
        (Ownership::Owned, Adoption::Created) => {
            format!("GuardDuty detector {} created; the last lab to leave deletes it", record.id)
        }
        (Ownership::Owned, _) => format!("GuardDuty detector {} (created by a lab{shared})", record.id),
        (Ownership::Adopted, Adoption::Enabled) => {
            format!(
                "GuardDuty detector {} adopted and enabled; the last lab to leave disables it again{shared}",
                record.id
            )
        }
        (Ownership::Adopted, _) => {
            format!("GuardDuty detector {} adopted; the last lab to leave puts it back as it was{shared}", record.id)
        }
    };
    p.info(&detector_line);
    // Recorded before the stacks, so an interrupted `up` still tells `down` what it owns.
    state.detector = Some(record.clone());
    state.save(&ctx, &lab).await?;

    let notify_email = args
        .notify_email
        .clone()
        .or_else(|| old_detection.as_ref().and_then(|s| s.kept_parameter("NotifyEmail")).map(String::from));
    let reporter: &dyn Reporter = p;
    // The shared parts first (this lab's state, saved above, already holds them): the victim's
    // subnet goes into their VPC, and the detection stack, larger than a request may carry, goes
    // by their bucket. Then detection and victim side by side.
    let sh = shared::ensure(&ctx, reporter).await?;
    let mut detection = deployment(&lab, Part::Detection, detection_parameters(&lab, notify_email.as_deref()));
    if let Some(bucket) = sh.1.output("TrailBucketName") {
        detection.template_url =
            stacks::stage_template(&ctx, detection.template, bucket, &format!("irlab/{lab}/templates/")).await?;
    }
    let victim = async {
        let mut kept = old_victim.as_ref().and_then(|s| s.kept_parameter("SubnetCidr")).map(String::from);
        // Two labs coming up at once can pick the same free block; the one whose subnet
        // CloudFormation refuses (InvalidSubnet.Conflict) picks again among what is free now.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let cidr = shared::subnet_cidr(&ctx, &sh.1, &lab, kept.as_deref()).await?;
            let mut parameters = victim_parameters(&lab, &instance_type, &sh.1, &cidr)?;
            // A recovered victim stays the one `irlab recover` made: its image and address.
            for key in ["ImageId", "PrivateIpHost"] {
                if let Some(v) = old_victim.as_ref().and_then(|s| s.kept_parameter(key)) {
                    parameters.push((key.into(), v.to_string()));
                }
            }
            let victim = deployment(&lab, Part::Victim, parameters);
            match stacks::deploy(&ctx, &victim, Part::Victim.as_str(), reporter).await {
                Ok(v) => return Ok::<_, Error>(v),
                Err(e) if attempt < 3 && kept.is_none() && shared::is_subnet_conflict(&e.message) => {
                    reporter.report(crate::ui::progress::Progress::Note(format!(
                        "{cidr} was taken by another lab at the same moment; choosing another block"
                    )));
                }
                Err(e) => return Err(e),
            }
            kept = None;
        }
    };
    let (d, v) = futures::join!(stacks::deploy(&ctx, &detection, Part::Detection.as_str(), reporter), victim);
    let (d, v) = (d?, v?);
    // The known-good victim `irlab recover` brings back, read from the instance `up` made (a
    // recovered victim does not replace it).
    if let Some(instance) = v.1.output("InstanceId")
        && state.baseline.as_ref().is_none_or(|b| b.instance == instance)
    {
        state.baseline = Some(crate::lab::recovery::baseline(&ctx, instance).await?);
        state.save(&ctx, &lab).await?;
    }
    let memory = match &avml {
        Some(Some(prepared)) => Some(Some(avml::place(&ctx, prepared, &d.1.need("EvidenceBucketName")?).await?)),
        Some(None) => Some(None),
        None => None,
    };
    let tuning = playbook::Tuning {
        min_severity: args.min_severity,
        evidence_budget: args.evidence_budget,
        memory,
        memory_budget: args.memory_budget,
        approval_timeout: if args.no_approval { Some(0) } else { approval_timeout },
    };
    let pb = playbook::switch(&ctx, &lab, variant, &d.1, &v.1, tuning, reporter).await?;
    // Last: the janitor removes everything above, and warns on the detection stack's topic.
    let expiry = expire(&ctx, &lab, g, expires, max_spend.as_deref(), &d.1, reporter).await?;
    p.settle();
    let memory = playbook::memory_of(&pb.1);
    match playbook::approval_of(&pb.1) {
        _ if variant == Variant::Manual => p.info("no playbook: a finding about the victim raises an alert on the topic and is recorded; containing it is yours to do (`irlab workshop check` grades each step)"),
        0 if variant == Variant::Lambda => p.info("after containment the lambda playbook stops: it cannot wait for a person; eradicate and recover by hand (`irlab eradicate`, `irlab recover`)"),
        0 => p.info("after containment the playbook stops; eradicate and recover by hand (`irlab eradicate`, `irlab recover`), or let it ask with `irlab up --approval-timeout 1h`"),
        secs => p.info(format!(
            "after containment the playbook waits up to {} for `irlab approve` (it then eradicates) or `irlab reject`; the alert topic gets the request",
            humantime::format_duration(std::time::Duration::from_secs(secs.into()))
        )),
    }
    if memory.tool.is_some() && variant == Variant::Lambda {
        p.info("the lambda playbook takes no memory image: a Lambda run ends at 15 minutes, and an image may take longer (the stepfunctions and ssm playbooks take it)");
    }

    if p.is_json() {
        p.json(&json!({
            "lab": lab.as_str(),
            "account": me.account,
            "region": ctx.region,
            "detector": record,
            "playbook": variant,
            "stacks": { "shared": stack_json(&sh), "detection": stack_json(&d), "victim": stack_json(&v), "playbook": stack_json(&pb) },
            "evidence": evidence_json(&pb.1, &memory),
            "expires_at": expiry.as_ref().and_then(|(t, _)| t.map(|t| t.expires_at.to_string())),
            "janitor": expiry.as_ref().map(|(_, s)| stack_json(s)),
        }));
        return Ok(());
    }
    p.out(format!("lab {lab} is up in {} / {} ({})", me.account, ctx.region, super::elapsed(started)));
    // Stack names say their part: one column fewer, so the table fits 80 columns.
    for (outcome, s) in [&sh, &d, &v, &pb] {
        p.out(format!("  {:<42} {:<16} {}", s.name, s.status, outcome_word(*outcome)));
    }
    p.out(format!("  {detector_line}"));
    let o = |s: &(Outcome, StackInfo), k: &str| s.1.output(k).unwrap_or("-").to_string();
    p.out(format!("  victim instance   {}", o(&v, "InstanceId")));
    p.out(format!("  quarantine group  {}", o(&v, "QuarantineSecurityGroupId")));
    p.out(format!(
        "  trail             {} -> s3://{} (shared by the region's labs)",
        o(&sh, "TrailName"),
        o(&sh, "TrailBucketName")
    ));
    p.out(format!(
        "  network           subnet {} ({}) of VPC {}",
        o(&v, "SubnetId"),
        v.1.kept_parameter("SubnetCidr").unwrap_or("-"),
        o(&sh, "VpcId")
    ));
    p.out(format!("  alert topic       {}", o(&d, "AlertTopicArn")));
    p.out(format!("  playbook          {variant}: rule {} -> {}", o(&pb, "RuleName"), o(&pb, "PlaybookName")));
    p.out(format!("  evidence          {}", evidence_line(&pb.1, &memory, variant)));
    p.out(format!("  expires           {}", expiry_line(expiry.as_ref())));
    if let Some((_, s)) = &expiry
        && let Some(budget) = s.1.kept_parameter("MaxSpendUsd").filter(|b| !b.is_empty())
    {
        p.out(format!(
            "  budget            ${budget} a month on the cost tagged irlab:lab={lab}, alerts at 80% and 100% (needs the cost allocation tag activated; billing lags by hours)"
        ));
    }
    p.out("next: `irlab status` to see it and what it costs; `irlab down` when you are done");
    Ok(())
}

/// Deploys, keeps or removes the janitor. `--expires` wins; without it a lab that has a janitor
/// keeps its expiry, and a new one gets the default (8h on AWS; never on the stand-in, where
/// the lab is driven by tests and demos). Returns the expiry (None: never) and the janitor stack.
async fn expire(
    ctx: &crate::aws::AwsContext,
    lab: &LabName,
    g: &Global,
    asked: Option<Expiry>,
    max_spend: Option<&str>,
    detection: &StackInfo,
    reporter: &dyn Reporter,
) -> Result<Option<(Option<Times>, (Outcome, StackInfo))>> {
    let now = jiff::Timestamp::now();
    let old = janitor::find(ctx, lab).await?;
    let times = match (asked, &old) {
        (Some(Expiry::Never), _) => None,
        (Some(Expiry::After(d)), _) => Some(Times::after(d, now)),
        // The stack's own times, warning included: passed back unchanged, nothing moves.
        (None, Some(s)) => janitor::times_of(s),
        (None, None) if g.local => None,
        (None, None) => Some(Times::after(janitor::DEFAULT_AWS, now)),
    };
    let budget = match max_spend {
        Some(m) => !m.is_empty(),
        None => old.as_ref().and_then(|s| s.kept_parameter("MaxSpendUsd")).is_some_and(|b| !b.is_empty()),
    };
    if times.is_none() && !budget {
        if let Some(s) = old {
            stacks::delete(ctx, &s.id, janitor::PART, reporter).await?;
        }
        return Ok(None);
    }
    let topic = detection.need("AlertTopicArn")?;
    // An unchanged expiry passes the stack's own time back: CloudFormation finds nothing to do.
    Ok(Some((times, janitor::deploy(ctx, lab, times, max_spend, &topic, reporter).await?)))
}

fn expiry_line(expiry: Option<&(Option<Times>, (Outcome, StackInfo))>) -> String {
    match expiry.and_then(|(t, _)| *t) {
        Some(t) => format!(
            "removes itself at {} ({}), as `irlab down` would; {}; `irlab extend 2h` keeps it longer",
            t.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
            janitor::left(t.expires_at, jiff::Timestamp::now()),
            if t.warn_at.is_some() { "the alert topic is warned 30 minutes before" } else { "too soon for a warning" }
        ),
        None => "never: the lab stays until `irlab down` (`irlab up --expires 8h` sets one)".into(),
    }
}

/// What the playbook collects before isolation, and how long that may hold isolation back.
fn evidence_line(pb: &StackInfo, memory: &playbook::Memory, variant: Variant) -> String {
    if variant == Variant::Manual {
        return "none collected automatically (no playbook)".into();
    }
    let budget = pb.kept_parameter("EvidenceBudgetSeconds").unwrap_or("-");
    let volatile = format!("volatile data within {budget} s");
    match &memory.tool {
        None => format!("{volatile}; no memory image (`irlab up --memory --avml PATH` takes one)"),
        Some(_) if variant == Variant::Lambda => {
            format!("{volatile}; no memory image (the lambda playbook declines it)")
        }
        Some(t) => format!(
            "{volatile}, then a memory image within {} s (AVML {}, SHA-256 {}…)",
            memory.budget,
            t.location,
            &t.sha256[..t.sha256.len().min(12)]
        ),
    }
}

fn evidence_json(pb: &StackInfo, memory: &playbook::Memory) -> serde_json::Value {
    json!({
        "budgetSeconds": pb.kept_parameter("EvidenceBudgetSeconds").and_then(|v| v.parse::<u32>().ok()),
        "memory": memory.tool.as_ref().map(|t| json!({ "tool": t.location, "sha256": t.sha256, "budgetSeconds": memory.budget })),
    })
}

/// In an attendee's account of an organization, a class's StackSet deploys the stacks; the
/// GuardDuty detector is still the lab's to adopt or create here, with the same rules as `up`.
async fn detector_only(ctx: &crate::aws::AwsContext, lab: &LabName, account: &str, p: &Printer) -> Result<()> {
    let mut state = LabState::load(ctx, lab).await?.unwrap_or_else(|| LabState::new(lab, account, &ctx.region));
    let others = LabState::others(ctx, lab).await?;
    let (record, adoption) = detector::ensure(ctx, lab, state.detector.as_ref(), &others).await?;
    state.detector = Some(record.clone());
    state.save(ctx, lab).await?;
    let how = match (record.ownership, adoption) {
        (Ownership::Owned, Adoption::Created) => "created",
        (Ownership::Adopted, Adoption::Enabled) => "adopted and enabled",
        (Ownership::Adopted, _) => "adopted",
        (Ownership::Owned, _) => "kept",
    };
    p.out(format!("lab {lab} in {account} / {}: GuardDuty detector {} {how}", ctx.region, record.id));
    p.json(&json!({ "lab": lab.as_str(), "account": account, "region": ctx.region, "detector": record }));
    Ok(())
}

/// The flag wins; then the variant already deployed; then a prompt on a terminal; else Step Functions.
fn choose_variant(flag: Option<Variant>, deployed: Option<Variant>, g: &Global, p: &Printer) -> Result<Variant> {
    if let Some(v) = flag.or(deployed) {
        return Ok(v);
    }
    let interactive =
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal() && !g.yes && !p.is_json() && !p.quiet;
    if !interactive {
        return Ok(Variant::StepFunctions);
    }
    // One line per item at the terminal's width: a wrapped item leaves stale lines behind.
    let width = console::Term::stderr().size().1 as usize;
    let items: Vec<String> = Variant::DEPLOYABLE
        .iter()
        .map(|v| {
            let pitch = v.pitch();
            if pitch.chars().count() + 4 <= width {
                pitch.to_string()
            } else {
                format!("{}…", pitch.chars().take(width.saturating_sub(5)).collect::<String>())
            }
        })
        .collect();
    let default = Variant::DEPLOYABLE.iter().position(|v| *v == Variant::StepFunctions).unwrap_or(0);
    let chosen = dialoguer::Select::new()
        .with_prompt("Which playbook contains the victim? (later: `irlab playbook set`)")
        .items(&items)
        .default(default)
        .interact()
        .map_err(|e| {
            Error::problem("no playbook chosen")
                .with_hint("pass --playbook lambda|stepfunctions|ssm|none")
                .with_source(e)
        })?;
    Ok(Variant::DEPLOYABLE[chosen])
}

fn check_args(args: &UpArgs) -> Result<()> {
    if let Some(email) = &args.notify_email {
        check_email(email)?;
    }
    if let Some(t) = &args.instance_type {
        check_instance_type(t)?;
    }
    if let Some(x) = args.min_severity {
        playbook::check_min_severity(x)?;
    }
    Ok(())
}

pub fn check_email(email: &str) -> Result<()> {
    let ok = email
        .split_once('@')
        .is_some_and(|(user, host)| !user.is_empty() && host.contains('.') && !email.contains(' '));
    if ok {
        Ok(())
    } else {
        Err(Error::problem(format!("`{email}` is not an email address"))
            .with_hint("pass --notify-email you@example.com"))
    }
}

pub fn check_instance_type(t: &str) -> Result<()> {
    let valid_type = t.split_once('.').is_some_and(|(family, size)| {
        family.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && family.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !size.is_empty()
            && size.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if valid_type {
        Ok(())
    } else {
        Err(Error::problem(format!("`{t}` is not an EC2 instance type"))
            .with_hint("use a type such as t3.micro (the default) or t4g.micro"))
    }
}

/// `--approval-timeout`: a duration from a minute to seven days (aws:approve's longest wait).
pub fn parse_approval_timeout(text: &str) -> Result<u32> {
    let d = humantime::parse_duration(text)
        .map_err(|e| Error::problem(format!("--approval-timeout `{text}`: {e}")).with_hint("e.g. 30m, 2h or 1d"))?;
    let secs = d.as_secs();
    if !(60..=604_800).contains(&secs) {
        return Err(Error::problem(format!("--approval-timeout `{text}` is outside 1m-7d"))
            .with_hint("SSM's aws:approve waits at most 7 days; use --no-approval to stop asking"));
    }
    Ok(secs as u32)
}

/// The SSM public parameter naming the latest Amazon Linux 2023 image for the type's architecture.
pub fn ami_parameter(instance_type: &str) -> &'static str {
    if is_arm(instance_type) { AMI_ARM } else { AMI_X86 }
}

/// Graviton families carry a `g` after their generation digit (t4g, m7g, c6gn): they need the arm64 AMI.
fn is_arm(instance_type: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or_default();
    let after_letters = family.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = after_letters.trim_start_matches(|c: char| c.is_ascii_digit());
    !after_letters.is_empty() && suffix.contains('g')
}

fn detection_parameters(lab: &LabName, notify_email: Option<&str>) -> Vec<(String, String)> {
    vec![("LabName".into(), lab.to_string()), ("NotifyEmail".into(), notify_email.unwrap_or_default().to_string())]
}

fn victim_parameters(
    lab: &LabName,
    instance_type: &str,
    shared: &StackInfo,
    cidr: &str,
) -> Result<Vec<(String, String)>> {
    let ami = ami_parameter(instance_type);
    let out = |k: &str| {
        shared.output(k).map(String::from).ok_or_else(|| {
            Error::failure(format!("stack {} has no output {k}", shared.name))
                .with_hint("run `irlab up` again: it brings the shared parts up to date")
        })
    };
    Ok(vec![
        ("LabName".into(), lab.to_string()),
        ("InstanceType".into(), instance_type.to_string()),
        ("LatestAmiId".into(), ami.into()),
        ("VpcId".into(), out("VpcId")?),
        ("RouteTableId".into(), out("RouteTableId")?),
        ("SubnetCidr".into(), cidr.to_string()),
        // The isolated victim may reach these endpoints and nothing else (eradication).
        ("EndpointSecurityGroupId".into(), out("EndpointSecurityGroupId")?),
    ])
}

/// Refuses, before anything is created, when the labs about to come up do not fit the account's
/// quotas, with what to do about each short one.
pub async fn preflight(
    ctx: &crate::aws::AwsContext,
    need: &quota::Need,
    p: &Printer,
) -> Result<Vec<quota::QuotaCheck>> {
    let checks = quota::check(ctx, need).await?;
    let short: Vec<&quota::QuotaCheck> = checks.iter().filter(|c| c.short()).collect();
    if short.is_empty() {
        return Ok(checks);
    }
    for c in &checks {
        p.info(format!("  {}", c.line()));
    }
    let remedies: Vec<String> = short.iter().map(|c| c.remedy()).collect();
    Err(Error::problem(format!(
        "quota preflight: {} does not fit in {}; nothing was created",
        short.iter().map(|c| c.name).collect::<Vec<_>>().join(", "),
        ctx.region
    ))
    .with_hint(remedies.join("; ")))
}

fn deployment(lab: &LabName, part: Part, parameters: Vec<(String, String)>) -> Deployment<'static> {
    Deployment {
        stack_name: lab.stack_name(part),
        template: part.template(),
        template_url: None,
        parameters,
        tags: vec![(LAB_TAG.into(), lab.to_string()), (PART_TAG.into(), part.to_string())],
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Created => "created",
        Outcome::Updated => "updated",
        Outcome::Unchanged => "unchanged",
    }
}

fn stack_json((outcome, s): &(Outcome, StackInfo)) -> serde_json::Value {
    json!({ "name": s.name, "status": s.status, "outcome": outcome, "outputs": s.outputs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graviton_types_get_the_arm_image() {
        for t in ["t4g.micro", "m7g.large", "c6gn.xlarge", "x2gd.medium", "m6gd.large"] {
            assert!(is_arm(t), "{t}");
        }
        for t in ["t3.micro", "t3a.small", "g4dn.xlarge", "m7i.large", "c5.large"] {
            assert!(!is_arm(t), "{t}");
        }
    }

    fn args(t: Option<&str>, e: Option<&str>, sev: Option<f64>) -> UpArgs {
        UpArgs {
            playbook: None,
            min_severity: sev,
            instance_type: t.map(String::from),
            notify_email: e.map(String::from),
            evidence_budget: None,
            memory: false,
            avml: None,
            avml_sha256: None,
            memory_budget: None,
            no_memory: false,
            approval_timeout: None,
            no_approval: false,
            expires: None,
            max_spend: None,
            detector_only: false,
        }
    }

    #[test]
    fn bad_arguments_are_refused_before_any_aws_call() {
        assert!(check_args(&args(Some("t3.micro"), Some("a@example.com"), Some(4.0))).is_ok());
        assert!(check_args(&args(None, None, None)).is_ok());
        for bad in [
            args(Some("t3micro"), None, None),
            args(Some("T3.micro"), None, None),
            args(Some("t3."), None, None),
            args(None, Some("nobody"), None),
            args(None, Some("a@b"), None),
            args(None, None, Some(0.0)),
            args(None, None, Some(10.5)),
        ] {
            assert_eq!(check_args(&bad).unwrap_err().exit_code(), 1, "{bad:?}");
        }
    }
}
