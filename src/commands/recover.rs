//! `irlab recover [--run ID] [--discard-compromised]`: a clean victim from the baseline `up`
//! recorded, through the victim stack; the compromised one is kept stopped, isolated and
//! protected as evidence, or terminated once its evidence is complete and verified.

use serde_json::json;

use crate::cli::{Global, RecoverArgs};
use crate::error::{Error, Result};
use crate::incident::eradication::{self, Plan};
use crate::incident::evidence::{self, Sources};
use crate::incident::scenario::{self, Indicators};
use crate::incident::verify::{self, Expect};
use crate::lab::state::{LabState, RecoveryRecord, Retained};
use crate::lab::{Part, playbook, recovery, stacks, teardown};
use crate::ui::printer::Printer;

pub async fn run(g: &Global, args: &RecoverArgs, p: &Printer) -> Result<()> {
    let (lab, ctx) = super::open_for_change(g, "recover").await?;
    let state = LabState::load(&ctx, &lab).await?.ok_or_else(|| {
        Error::problem(format!("lab {lab} is not deployed in {}", ctx.region)).with_hint("run `irlab up` first")
    })?;
    let run = state.run(args.run.as_deref())?.clone();
    let (Some(victim), Some(detection)) =
        (stacks::find(&ctx, &lab, Part::Victim).await?, stacks::find(&ctx, &lab, Part::Detection).await?)
    else {
        return Err(
            Error::problem(format!("lab {lab} is not deployed in {}", ctx.region)).with_hint("run `irlab up` first")
        );
    };
    let current = victim.need("InstanceId")?;
    if let Some(r) = &run.recovery
        && r.recovered == current
    {
        p.out(format!("run {} is already recovered: the victim is {current}, {} is kept", run.id, r.compromised));
        return Ok(());
    }
    // An interrupted recover may have replaced the victim already: the stack names a new
    // instance while the run's, still contained, is kept; the rest is done again.
    let resumed = current != run.instance && run.recovery.is_none();
    if current != run.instance && !resumed {
        return Err(Error::problem(format!(
            "run {} attacked {}, and the lab's victim is now {current}",
            run.id, run.instance
        ))
        .with_hint("recover the latest run (`irlab recover`)"));
    }
    let compromised = run.instance.clone();
    super::eradicate::check_contained(&ctx, &compromised, &run.id).await?;
    let baseline = state.baseline.clone().ok_or_else(|| {
        Error::problem(format!("lab {lab} has no recorded baseline of its victim")).with_hint(
            "`irlab up` records it; a lab brought up by an older irlab has none: `irlab down` and `irlab up`",
        )
    })?;
    let scenarios = run.scenarios.iter().map(|id| scenario::find(id)).collect::<Result<Vec<_>>>()?;
    let indicators = Indicators::union(scenarios.iter().map(|s| &s.indicators));

    // Discarding the compromised instance destroys what only it holds: only once the run's
    // evidence is complete (every volume's snapshot completed) and verified (the volatile
    // collection's manifest, every hash read back).
    if args.discard_compromised {
        let sources = Sources::load(&ctx, &lab).await?;
        let (o, _) = evidence::collect(&ctx, &sources, &run).await?;
        let missing: Vec<String> = verify::judge(&o, Expect::Contained { snapshots_completed: true })
            .into_iter()
            .filter(|c| matches!(c.name, "evidence preserved" | "volatile evidence sealed") && !c.passed)
            .map(|c| format!("{}: {}", c.name, c.observed))
            .collect();
        if !missing.is_empty() {
            return Err(Error::problem(format!(
                "refusing to discard {compromised}: the evidence of run {} is not complete and verified ({})",
                run.id,
                missing.join("; ")
            ))
            .with_hint(
                "run `irlab recover` without --discard-compromised to keep it; `irlab verify` shows what is missing",
            ));
        }
    }

    let started_at = jiff::Timestamp::now();
    let replaced = if resumed {
        p.info(format!("the victim stack already replaced {compromised} with {current}: finishing the recovery"));
        victim
    } else {
        recovery::keep_stopped(&ctx, &compromised, p).await?;
        let host = recovery::free_host(&ctx, &victim.need("SubnetId")?).await?;
        p.info(format!(
            "replacing the victim from its baseline image {} (a new instance at host .{host})",
            baseline.image_id
        ));
        recovery::replace(&ctx, &lab, &victim, &baseline, host, p).await?
    };
    let recovered = replaced.need("InstanceId")?;
    if recovered == compromised {
        return Err(Error::failure(format!("the victim stack kept {compromised}: no new instance was made"))
            .with_hint("the victim stack's template must replace its instance on a new PrivateIpHost"));
    }
    // The playbook's rule answers findings about the lab's victim only: it now names the new one.
    if let Some((variant, _)) = playbook::deployed(&ctx, &lab).await?.into_iter().next() {
        playbook::switch(&ctx, &lab, variant, &detection, &replaced, playbook::Tuning::default(), p).await?;
    }
    let check = eradication::check_only(
        &ctx,
        &Plan {
            instance: &recovered,
            profile_arn: "",
            document: &detection.need("EradicateDocumentName")?,
            commands: vec![":".into()],
            indicators: &indicators,
            timeout_seconds: 60,
            comment: format!("irlab recover {}: indicators on the recovered victim", run.id),
        },
        p,
    )
    .await?;
    if args.discard_compromised {
        p.info(format!("terminating the compromised {compromised} (--discard-compromised; its evidence is kept)"));
        teardown::terminate_kept(&ctx, &compromised).await?;
    }

    let record = RecoveryRecord {
        compromised: compromised.clone(),
        recovered: recovered.clone(),
        started_at: started_at.to_string(),
        ended_at: jiff::Timestamp::now().to_string(),
        check_command_id: check.command_id.clone(),
        discarded: args.discard_compromised,
    };
    let mut state = LabState::load(&ctx, &lab).await?.unwrap_or(state);
    if let Some(r) = state.runs.iter_mut().find(|r| r.id == run.id) {
        r.recovery = Some(record.clone());
    }
    if !args.discard_compromised {
        state.retained.push(Retained {
            instance: compromised.clone(),
            run: run.id.clone(),
            retained_at: record.ended_at.clone(),
        });
    }
    state.save(&ctx, &lab).await?;

    p.json(
        &json!({ "lab": lab.as_str(), "run": run.id, "recovery": record, "indicatorsPresent": check.check.present }),
    );
    p.out(format!("run {}: recovered: the victim is now {recovered}, from image {}", run.id, baseline.image_id));
    if args.discard_compromised {
        p.out(format!("  {compromised} terminated; its snapshots and volatile evidence stay"));
    } else {
        p.out(format!("  {compromised} kept as evidence: stopped, isolated, protected (`irlab down` removes it)"));
    }
    if check.check.eradicated {
        p.out("  no indicator of the run on the new victim; next: `irlab verify --phase recover`");
        Ok(())
    } else {
        Err(Error::problem(format!(
            "the recovered victim {recovered} shows indicators of the run: {}",
            check.check.present.join(", ")
        ))
        .with_hint("the baseline image itself carries them: check the image, then `irlab recover` again"))
    }
}
