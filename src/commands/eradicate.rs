//! `irlab eradicate [--run ID]`: run the run's scenarios' eradication on the contained victim
//! and look for their indicators again; exit 0 only when none is left. The result goes in the
//! run's record, where `verify --phase eradicate` finds the command to read again.

use serde_json::json;

use crate::aws::AwsResultExt;
use crate::cli::{EradicateArgs, Global};
use crate::error::{Error, Result};
use crate::incident::eradication::{self, Plan};
use crate::incident::evidence::{FINDING_TAG, STATUS_TAG};
use crate::incident::scenario::{self, Indicators};
use crate::lab::state::{EradicationRecord, LabState};
use crate::lab::{Part, stacks};
use crate::ui::printer::Printer;

pub async fn run(g: &Global, args: &EradicateArgs, p: &Printer) -> Result<()> {
    let (lab, ctx) = super::open_for_change(g, "eradicate").await?;
    let mut state = LabState::load(&ctx, &lab).await?.ok_or_else(|| {
        Error::problem(format!("lab {lab} is not deployed in {}", ctx.region)).with_hint("run `irlab up` first")
    })?;
    let run = state.run(args.run.as_deref())?.clone();
    let mut scenarios = Vec::new();
    for id in &run.scenarios {
        let s = scenario::find(id).map_err(|e| {
            e.with_hint(format!("run {} used a scenario file; eradicate knows the built-in scenarios only", run.id))
        })?;
        if s.eradicate.is_none() {
            return Err(Error::problem(format!("scenario {id} says nothing about eradication"))
                .with_hint("add an `eradicate:` section with the commands that remove what it leaves"));
        }
        scenarios.push(s);
    }

    let victim = stacks::find(&ctx, &lab, Part::Victim).await?;
    let detection = stacks::find(&ctx, &lab, Part::Detection).await?;
    let (Some(victim), Some(detection)) = (victim, detection) else {
        return Err(
            Error::problem(format!("lab {lab} is not deployed in {}", ctx.region)).with_hint("run `irlab up` first")
        );
    };
    let instance = victim.need("InstanceId")?;
    if instance != run.instance {
        return Err(Error::problem(format!(
            "run {} attacked {}, and the lab's victim is now {instance}",
            run.id, run.instance
        ))
        .with_hint("eradicate the latest run (`irlab eradicate`), or attack the new victim first"));
    }
    check_contained(&ctx, &instance, &run.id).await?;

    let plan = Plan {
        instance: &instance,
        profile_arn: &victim.need("EradicateInstanceProfileArn")?,
        document: &detection.need("EradicateDocumentName")?,
        commands: scenarios.iter().flat_map(|s| s.eradicate.as_ref().expect("checked").commands.clone()).collect(),
        indicators: &Indicators::union(scenarios.iter().map(|s| &s.indicators)),
        timeout_seconds: scenarios.iter().map(|s| s.eradicate.as_ref().expect("checked").timeout_seconds).sum(),
        comment: format!("irlab eradicate {} ({})", run.id, run.scenarios.join(", ")),
    };
    p.info(format!(
        "eradicating {} on {instance}: {} command(s), then a look for {} indicator(s)",
        run.scenarios.join(", "),
        plan.commands.len(),
        plan.indicators.processes.len() + plan.indicators.files.len() + plan.indicators.domains.len()
    ));
    let started_at = jiff::Timestamp::now();
    let outcome = eradication::run(&ctx, &plan, p).await?;
    let record = EradicationRecord {
        command_id: outcome.command_id.clone(),
        started_at: started_at.to_string(),
        ended_at: jiff::Timestamp::now().to_string(),
        eradicated: outcome.check.eradicated,
        present: outcome.check.present.clone(),
    };
    // Reloaded: the state may have changed while the commands ran (another run recorded).
    if let Some(fresh) = LabState::load(&ctx, &lab).await? {
        state = fresh;
    }
    if let Some(r) = state.runs.iter_mut().find(|r| r.id == run.id) {
        r.eradication = Some(record.clone());
    }
    state.save(&ctx, &lab).await?;

    p.json(&json!({
        "lab": lab.as_str(),
        "run": run.id,
        "instance": instance,
        "command": outcome.command_id,
        "eradicateStatus": outcome.eradicate_status,
        "eradicated": record.eradicated,
        "present": record.present,
    }));
    if outcome.eradicate_status != "Success" {
        p.info(format!(
            "the eradication commands ended {}: {}",
            outcome.eradicate_status,
            outcome.eradicate_error.as_deref().unwrap_or("no error output")
        ));
    }
    if record.eradicated {
        p.out(format!(
            "run {}: eradicated on {instance}: none of its indicators is present (Run Command {})",
            run.id, outcome.command_id
        ));
        p.out("the victim stays contained; next: `irlab verify --phase eradicate`");
        Ok(())
    } else {
        Err(Error::problem(format!(
            "run {}: still on {instance} after eradication: {}",
            run.id,
            record.present.join(", ")
        ))
        .with_hint(format!(
            "see Run Command {} for what each command did; the victim stays contained",
            outcome.command_id
        )))
    }
}

/// Eradication runs on a contained victim only: before containment the attacker still holds it.
pub(super) async fn check_contained(ctx: &crate::aws::AwsContext, instance: &str, run: &str) -> Result<()> {
    let desc = ctx
        .ec2()
        .describe_instances()
        .instance_ids(instance)
        .send()
        .await
        .aws(|| format!("describing {instance}"), ctx)?;
    let tags: Vec<(String, String)> = desc
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .flat_map(|i| i.tags())
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect();
    let tag = |k: &str| tags.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    match tag(STATUS_TAG) {
        Some("contained") => Ok(()),
        other => Err(Error::problem(format!(
            "the victim {instance} is {} (finding {}): eradication runs on a contained victim",
            other.map(|s| format!("`{s}`")).unwrap_or_else(|| "not contained".into()),
            tag(FINDING_TAG).unwrap_or("none")
        ))
        .with_hint(format!(
            "wait for the playbook: `irlab verify --run {run}` passes once it has contained the victim"
        ))),
    }
}
