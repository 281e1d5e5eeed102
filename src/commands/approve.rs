//! `irlab approve [RUN|EXECUTION]` and `irlab reject [RUN|EXECUTION]`: the decision a playbook
//! asks for after it contained the victim (`up --approval-timeout`). Approved, the Step Functions
//! or SSM playbook eradicates in the same execution; rejected, the victim stays contained. The
//! playbook tags the victim with the outcome (`irlab:approval`), where `verify` and `report`
//! read it.

use serde_json::json;

use crate::cli::{DecideArgs, Global};
use crate::error::{Error, Result};
use crate::incident::approval::{self, Decision};
use crate::incident::evidence::APPROVAL_TAG;
use crate::lab::playbook;
use crate::lab::state::{ApprovalRecord, LabState};
use crate::ui::printer::Printer;

pub async fn run(g: &Global, args: &DecideArgs, decision: Decision, p: &Printer) -> Result<()> {
    let verb = match decision {
        Decision::Approve => "approve",
        Decision::Reject => "reject",
    };
    let (lab, ctx) = super::open_for_change(g, verb).await?;
    let mut state = LabState::load(&ctx, &lab).await?.ok_or_else(|| {
        Error::problem(format!("lab {lab} is not deployed in {}", ctx.region)).with_hint("run `irlab up` first")
    })?;
    let Some((variant, stack)) = playbook::deployed(&ctx, &lab).await?.into_iter().next() else {
        return Err(Error::problem(format!("lab {lab} has no playbook deployed"))
            .with_hint("run `irlab up` (or `irlab playbook set VARIANT`) first"));
    };
    // A run id names the run's victim; anything else is the execution the request named.
    let run = match args.target.as_deref() {
        Some(t) if !state.runs.iter().any(|r| r.id == t) => None,
        t => Some(state.run(t)?.clone()),
    };
    let execution = if run.is_none() { args.target.as_deref() } else { None };
    let instance = run.as_ref().map(|r| r.instance.as_str());
    let waiting = approval::waiting(&ctx, variant, &stack, instance, execution).await?;
    let w = match waiting.as_slice() {
        [w] => w.clone(),
        [] => {
            let tag = match instance {
                Some(i) => tag_of(&ctx, i).await?,
                None => None,
            };
            return Err(approval::nothing_waits(
                instance.or(execution).unwrap_or("the victim"),
                tag.as_deref(),
                variant,
            ));
        }
        many => {
            let names: Vec<&str> = many.iter().map(|w| w.execution.as_str()).collect();
            return Err(Error::problem(format!("{} playbook runs wait for a decision", many.len()))
                .with_hint(format!("name one: `irlab {verb} EXECUTION` with one of {}", names.join(", "))));
        }
    };
    let me = ctx.identity().await?;
    let reason = args.reason.clone().unwrap_or_else(|| format!("irlab {verb}"));
    approval::decide(&ctx, &w, decision, &me.arn, &reason).await?;

    let at = jiff::Timestamp::now();
    let record = ApprovalRecord {
        decision: decision.as_str().into(),
        execution: w.execution.clone(),
        by: me.arn.clone(),
        at: at.to_string(),
    };
    let run_id = state.runs.iter().rev().find(|r| r.instance == w.instance).map(|r| r.id.clone());
    if let Some(r) = state.runs.iter_mut().rev().find(|r| Some(&r.id) == run_id.as_ref()) {
        r.approval = Some(record.clone());
        state.save(&ctx, &lab).await?;
    }
    p.json(&json!({
        "lab": lab.as_str(),
        "run": run_id,
        "playbook": variant,
        "execution": w.execution,
        "instance": w.instance,
        "decision": record.decision,
        "by": record.by,
    }));
    let waited = w.asked_at.map(|t| {
        humantime::format_duration(std::time::Duration::from_secs(at.duration_since(t).as_secs().max(0) as u64))
            .to_string()
    });
    p.out(format!(
        "{}: the {variant} playbook's execution {} for {}{}",
        record.decision,
        w.execution,
        w.instance,
        waited.map(|d| format!(" (it waited {d})")).unwrap_or_default()
    ));
    match decision {
        Decision::Approve => p.out(format!(
            "it eradicates {} now; `irlab verify --phase eradicate` follows it, then `irlab recover` brings back a clean victim",
            w.instance
        )),
        Decision::Reject => p.out(format!(
            "{} stays contained; by hand: `irlab eradicate`, then `irlab recover`",
            w.instance
        )),
    }
    Ok(())
}

/// The victim's `irlab:approval` tag: what became of an earlier request.
async fn tag_of(ctx: &crate::aws::AwsContext, instance: &str) -> Result<Option<String>> {
    use crate::aws::AwsResultExt;
    let out = ctx
        .ec2()
        .describe_tags()
        .filters(aws_sdk_ec2::types::Filter::builder().name("resource-id").values(instance).build())
        .filters(aws_sdk_ec2::types::Filter::builder().name("key").values(APPROVAL_TAG).build())
        .send()
        .await
        .aws(|| format!("reading the tags of {instance}"), ctx)?;
    Ok(out.tags().first().and_then(|t| t.value()).map(String::from))
}
