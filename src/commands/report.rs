//! `irlab report`: the post-incident review of a run, every run, or the latest run of each
//! playbook variant side by side. Timelines of verified runs come from the lab's history, where
//! they outlive a playbook swap; other runs are collected from the audit trail, GuardDuty and the
//! playbook engine's own records, and kept in the history once their containment is complete.

use crate::cli::{Global, ReportArgs, ReportFormat};
use crate::error::{Error, Result};
use crate::incident::audit;
use crate::incident::evidence::{self, Sources};
use crate::incident::history;
use crate::incident::report::{self, CONTAINED, Timeline};
use crate::incident::verify::{self, Expect};
use crate::lab::state::LabState;
use crate::ui::printer::Printer;

pub async fn run(g: &Global, args: &ReportArgs, p: &Printer) -> Result<()> {
    let format = ReportFormat::choose(args.format, args.out.as_deref(), p.is_json())?;
    let (lab, ctx) = super::open(g).await?;
    let state = LabState::load(&ctx, &lab).await?.ok_or_else(|| {
        Error::problem(format!("lab {lab} is not deployed in {}", ctx.region))
            .with_hint("run `irlab up`, `irlab attack`, then `irlab report`")
    })?;
    let sources = Sources::load(&ctx, &lab).await?;
    let mut timelines = match &sources.trail_bucket {
        Some(bucket) => history::load(&ctx, bucket, &lab).await?,
        None => Vec::new(),
    };
    // A run is collected again when no timeline of it is kept, or when its playbook was still
    // going when it was kept (waiting for an approval, eradicating).
    timelines.retain(|t| !t.playbook_running);
    let fresh: Vec<_> = state.runs.iter().filter(|r| !timelines.iter().any(|t| t.run == r.id)).collect();
    if let Some(since) = fresh.iter().map(|r| evidence::since(r)).min() {
        let records = audit::read(&ctx, &sources.audit_group, since).await?;
        for r in fresh {
            // What the run's checks say now, for a run no verify kept with its verdict.
            let (o, _) = evidence::collect(&ctx, &sources, r).await?;
            let checks = verify::judge(&o, Expect::for_run(r, sources.variant));
            let t = evidence::timeline(&ctx, &lab, &sources, &records, r).await?.observed(
                &o,
                &checks,
                jiff::Timestamp::now(),
            );
            // Kept once complete, so the run's engine steps survive the next playbook swap.
            if let Some(bucket) = &sources.trail_bucket
                && t.points.iter().any(|p| p.label == CONTAINED)
            {
                history::save(&ctx, bucket, &t).await?;
            }
            timelines.push(t);
        }
    }
    // Eradication and recovery come after the verify that kept a timeline: from the run's record.
    let timelines: Vec<Timeline> = timelines
        .into_iter()
        .map(|mut t| {
            if let Some(run) = state.runs.iter().find(|r| r.id == t.run) {
                for p in report::lifecycle_points(run) {
                    if !t.points.iter().any(|q| q.label == p.label) {
                        t.points.push(p);
                    }
                }
            }
            Timeline::new(t)
        })
        .collect();
    let mut timelines = timelines;
    timelines.sort_by_key(|t| t.points.first().map(|p| p.at));
    let chosen = choose(timelines.clone(), args)?;
    if chosen.is_empty() {
        return Err(
            Error::problem(format!("lab {lab} has no attack run yet")).with_hint("run `irlab attack SCENARIO` first")
        );
    }
    let runs = report::build(chosen, &timelines);
    let text = match format {
        ReportFormat::Md => report::markdown(&runs),
        ReportFormat::Html => report::html(&runs),
        ReportFormat::Json => serde_json::to_string_pretty(&runs).expect("reports serialize"),
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text)
                .map_err(|e| Error::failure(format!("writing {}: {e}", path.display())).with_source(e))?;
            p.info(format!("report written to {}", path.display()));
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// The runs asked for, from every timeline the lab has (oldest first).
fn choose(timelines: Vec<Timeline>, args: &ReportArgs) -> Result<Vec<Timeline>> {
    if args.all {
        return Ok(timelines);
    }
    if args.compare {
        // The latest run of each playbook variant, oldest first.
        let mut latest: Vec<Timeline> = Vec::new();
        for t in timelines.into_iter().rev() {
            if !latest.iter().any(|l| l.variant == t.variant) {
                latest.insert(0, t);
            }
        }
        return Ok(latest);
    }
    match &args.run {
        Some(id) => {
            let known: Vec<String> = timelines.iter().map(|t| t.run.clone()).collect();
            let t = timelines.into_iter().find(|t| &t.run == id).ok_or_else(|| {
                Error::problem(format!("no run {id} in this lab")).with_hint(if known.is_empty() {
                    "the lab has no runs yet: `irlab attack SCENARIO` starts one".to_string()
                } else {
                    format!("known runs: {}", known.join(", "))
                })
            })?;
            Ok(vec![t])
        }
        None => Ok(timelines.into_iter().last().into_iter().collect()),
    }
}
