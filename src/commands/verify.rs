//! `irlab verify`: poll until the run's remediation is proven or the time is up, showing a live
//! checklist; collect once per poll, judge with the pure checks in `verify`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::aws::AwsContext;
use crate::cli::{Global, VerifyArgs};
use crate::error::{Error, Result};
use crate::incident::evidence::{self, Sources};
use crate::incident::history;
use crate::incident::verify::{self, Check, Expect, Phase};
use crate::lab::state::{AttackRun, LabState, Verdict};
use crate::lab::{LabName, Variant};
use crate::ui::printer::Printer;
use crate::ui::progress::{Progress, Reporter};

pub async fn run(g: &Global, args: &VerifyArgs, p: &Printer) -> Result<()> {
    let (lab, ctx) = super::open(g).await?;
    let state = LabState::load(&ctx, &lab).await?.ok_or_else(|| {
        Error::problem(format!("lab {lab} is not deployed in {}", ctx.region))
            .with_hint("run `irlab up`, then `irlab attack`")
    })?;
    let run = state.run(args.run.as_deref())?.clone();
    let timeout = match &args.timeout {
        Some(t) => humantime::parse_duration(t).map_err(|e| {
            Error::problem(format!("--timeout `{t}`: {e}")).with_hint("use a duration such as 90s, 5m or 1h")
        })?,
        None => match run.mode.as_str() {
            // Isolation takes seconds; Step Functions and SSM wait for the snapshots, which
            // take minutes on AWS (an 8 GiB first snapshot, about 3 minutes in the stand-in's
            // model). A playbook that ends FAILED stops the wait at once.
            "inject" => Duration::from_secs(900),
            "sample" => Duration::from_secs(600),
            _ => Duration::from_secs(3600),
        },
    };
    let interval = humantime::parse_duration(&args.interval)
        .map_err(|e| Error::problem(format!("--interval `{}`: {e}", args.interval)))?;
    if run.variant.as_deref() == Some(Variant::Manual.as_str())
        && run.mode != "sample"
        && matches!(args.phase, Phase::Contain | Phase::All)
    {
        return Err(Error::problem(format!(
            "run {} was attacked with no playbook deployed: nothing automated contains its victim",
            run.id
        ))
        .with_hint(
            "grade your own containment with `irlab workshop check`, or deploy a playbook (`irlab playbook set stepfunctions`), `irlab reset` and attack again",
        ));
    }
    let sources = Sources::load(&ctx, &lab).await?;
    // A variant that waits for its snapshots must see them completed; Lambda only starts them.
    let expect = Expect::for_run(&run, sources.variant);
    p.info(format!(
        "verifying {} ({} in {} mode against {}), up to {}",
        run.id,
        run.scenarios.join(", "),
        run.mode,
        run.instance,
        humantime::format_duration(timeout)
    ));

    let started = Instant::now();
    let mut last: Vec<Check> = Vec::new();
    loop {
        let (o, records) = evidence::collect(&ctx, &sources, &run).await?;
        let checks = verify::judge_phase(&o, expect, args.phase);
        if checks != last {
            let left = timeout.saturating_sub(started.elapsed());
            p.info(format!("-- {}s elapsed, {}s left", started.elapsed().as_secs(), left.as_secs()));
            let w = name_width(&checks);
            for c in &checks {
                p.info(format!("  [{}] {:<w$}  {}", if c.passed { "x" } else { " " }, c.name, c.observed));
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
        // The containment may still be under way, and so may an eradication the playbook waits
        // to be approved for or runs; `irlab eradicate` and `recover` are over when recorded.
        let containment = verify::judge(&o, expect);
        let contained = containment.iter().all(|c| c.passed);
        let settled = match args.phase {
            Phase::Contain => all,
            Phase::Eradicate => all || !verify::eradication_pending(&o),
            Phase::Recover => all || !verify::recovery_pending(&o),
            Phase::All => contained && (all || !verify::eradication_pending(&o) && !verify::recovery_pending(&o)),
        };
        let mut time_to_contain = None;
        if contained && run.verified_at.is_none() && matches!(args.phase, Phase::Contain | Phase::All) {
            time_to_contain = record_verified(&ctx, &lab, &sources, (&records, &o, &containment), &run, p).await?;
        }
        let engine_failed = o.playbook_status.as_deref().is_some_and(is_terminal_failure);
        if settled || engine_failed || started.elapsed() >= timeout {
            if matches!(args.phase, Phase::Contain | Phase::All) {
                record_verdict(&ctx, &lab, &run, &checks, time_to_contain).await?;
            }
            return finish(&lab, &run, &checks, all, args, p);
        }
        tokio::time::sleep(interval).await;
    }
}

/// The width of the check-name column: the longest name, so every observation starts in line.
fn name_width(checks: &[Check]) -> usize {
    checks.iter().map(|c| c.name.len()).max().unwrap_or(0)
}

/// The engine's own final word that it failed: no later poll can pass the run.
fn is_terminal_failure(status: &str) -> bool {
    matches!(status, "FAILED" | "TIMED_OUT" | "ABORTED" | "Failed" | "TimedOut" | "Cancelled" | "Cancelling")
}

fn finish(lab: &LabName, run: &AttackRun, checks: &[Check], all: bool, args: &VerifyArgs, p: &Printer) -> Result<()> {
    let passed = checks.iter().filter(|c| c.passed).count();
    p.report(Progress::Finished { task: "verify".into(), what: format!("{passed}/{} checks pass", checks.len()) });
    if let Some(path) = &args.junit {
        std::fs::write(path, verify::junit(lab.as_str(), &run.id, checks))
            .map_err(|e| Error::failure(format!("writing {}: {e}", path.display())).with_source(e))?;
    }
    p.json(&json!({ "lab": lab.as_str(), "run": run.id, "passed": all, "checks": checks }));
    // On a terminal the live checklist above already showed every check: the result repeats
    // only what failed. Piped, the result lists every check (what a script reads).
    let seen_live = !p.quiet && std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
    let w = name_width(checks);
    for c in checks.iter().filter(|c| !(seen_live && c.passed)) {
        p.out(format!(
            "{} {:<w$}  expected {}; observed {}",
            Printer::verdict(c.passed, "PASS", "FAIL"),
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
    let hint = match run.mode.as_str() {
        // A playbook that waits for a decision goes on by itself once answered.
        _ if failed.contains(&"eradication ran") && checks.iter().any(|c| c.observed.contains("irlab approve")) => {
            format!(
                "the playbook waits for a decision: `irlab approve {}` lets it eradicate, `irlab reject {}` leaves the victim contained",
                run.id, run.id
            )
        }
        _ if failed.iter().any(|f| matches!(*f, "recovered" | "baseline restored" | "recovered clean")) => format!(
            "run `irlab recover --run {}` to bring back a clean victim; `irlab status` shows both instances",
            run.id
        ),
        _ if failed.iter().any(|f| matches!(*f, "eradication ran" | "indicators gone")) => format!(
            "run `irlab eradicate --run {}` on the contained victim (again: its commands may run twice)",
            run.id
        ),
        "traffic" => format!(
            "findings from real traffic can take up to an hour; run `irlab verify --run {} --timeout 1h`, or see `irlab status`",
            run.id
        ),
        "sample" => format!(
            "sample findings reach GuardDuty within minutes; run `irlab verify --run {} --timeout 15m`",
            run.id
        ),
        _ => "see which step failed with `irlab status` and `irlab report`; a playbook still waiting for its snapshots finishes with `irlab verify` again"
            .to_string(),
    };
    Err(Error::problem(format!("{}: {} check(s) failed: {}", run.id, failed.len(), failed.join(", "))).with_hint(hint))
}

/// Every check passed: the moment is recorded in the run, and its timeline, engine steps
/// included, is kept in the lab's history, which outlives a later playbook swap, with what this
/// poll saw: each check's verdict, the snapshots, and what the containment changed.
async fn record_verified(
    ctx: &AwsContext,
    lab: &LabName,
    sources: &Sources,
    (records, o, checks): (&[crate::incident::audit::Record], &verify::Observation, &[Check]),
    run: &AttackRun,
    p: &Printer,
) -> Result<Option<f64>> {
    let now = jiff::Timestamp::now().to_string();
    // Read again: another command may have written the state since this verify started.
    let mut state = LabState::load(ctx, lab).await?.ok_or_else(|| {
        Error::problem(format!("lab {lab} was removed while it was being verified")).with_hint("run `irlab up`")
    })?;
    let mut verified = run.clone();
    verified.verified_at = Some(now.clone());
    if let Some(r) = state.runs.iter_mut().find(|r| r.id == run.id) {
        r.verified_at = Some(now);
    }
    state.save(ctx, lab).await?;
    let timeline =
        evidence::timeline(ctx, lab, sources, records, &verified).await?.observed(o, checks, jiff::Timestamp::now());
    if let Some(bucket) = &sources.trail_bucket {
        history::save(ctx, bucket, &timeline).await?;
    } else {
        p.info("the lab has no trail bucket: this run's timeline is not kept in its history");
    }
    Ok(timeline.time_to_contain)
}

/// How this verify ended, kept with the run for `status` and a class's gradebook. A verdict
/// without a new time to contain keeps the one an earlier passing verify measured.
async fn record_verdict(
    ctx: &AwsContext,
    lab: &LabName,
    run: &AttackRun,
    checks: &[Check],
    time_to_contain: Option<f64>,
) -> Result<()> {
    let Some(mut state) = LabState::load(ctx, lab).await? else { return Ok(()) };
    let Some(r) = state.runs.iter_mut().find(|r| r.id == run.id) else { return Ok(()) };
    let passed = checks.iter().all(|c| c.passed);
    let earlier = r.verdict.as_ref().and_then(|v| v.time_to_contain);
    r.verdict = Some(Verdict {
        passed,
        at: jiff::Timestamp::now().to_string(),
        failed: checks.iter().filter(|c| !c.passed).map(|c| c.name.to_string()).collect(),
        time_to_contain: time_to_contain.or(earlier).filter(|_| passed),
    });
    state.save(ctx, lab).await
}
