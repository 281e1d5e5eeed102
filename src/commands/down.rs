//! `irlab down`: plan, show, confirm, delete, then prove that nothing of the lab is left.

use std::time::Instant;

use serde_json::json;

use crate::cli::{DownArgs, Global};
use crate::error::{Error, Result};
use crate::lab::inventory;
use crate::lab::lease;
use crate::lab::state::LabState;
use crate::lab::teardown;
use crate::ui::printer::Printer;

pub async fn run(g: &Global, args: &DownArgs, p: &Printer) -> Result<()> {
    let started = Instant::now();
    let (lab, ctx) = super::open_for_change(g, "down").await?;
    let me = ctx.identity().await?;
    p.info(format!("account {}, region {}, lab {lab}", me.account, ctx.region));

    let plan = teardown::plan(&ctx, &lab).await?;
    if plan.is_empty() {
        // Nothing of the lab; with no other lab in the region, the shared parts must be gone too.
        let mut left = Vec::new();
        if LabState::others(&ctx, &lab).await?.is_empty() {
            left = inventory::sweep_shared(&ctx).await.found;
        }
        p.out(format!("lab {lab} does not exist in {} / {}; nothing to remove", me.account, ctx.region));
        let names: Vec<String> = LabState::all(&ctx).await?.into_iter().map(|s| s.lab).collect();
        if !names.is_empty() {
            p.out(format!("labs here: {} (`irlab labs` lists them; `--lab NAME` picks one)", names.join(", ")));
        }
        for r in &left {
            p.out(format!("  but the region's shared parts are still there: {r}"));
        }
        p.json(&json!({ "lab": lab.as_str(), "account": me.account, "region": ctx.region, "plan": plan, "deleted": false, "left": left }));
        return Ok(());
    }
    if let Some(set) = &plan.stack_set
        && !args.for_stack_set
    {
        return Err(Error::problem(format!(
            "lab {lab}'s stacks in {} / {} belong to the class StackSet {set}; they cannot be removed from here",
            me.account, ctx.region
        ))
        .with_hint("the instructor removes the class's labs with `irlab class down --org-unit OU --roster FILE` in the organization's management account"));
    }
    if p.is_json() && args.dry_run {
        p.json(&json!({ "lab": lab.as_str(), "account": me.account, "region": ctx.region, "plan": plan, "deleted": false }));
        return Ok(());
    }
    // The plan is shown even with --yes: it is the record of what was removed.
    let header = format!("plan to remove lab {lab} from {} / {}:", me.account, ctx.region);
    if p.is_json() {
        p.info(&header);
        plan.lines().iter().for_each(|l| p.info(format!("  {l}")));
    } else {
        p.out(&header);
        plan.lines().iter().for_each(|l| p.out_item(format!("  {l}")));
        p.out("billing stops for the victim (instance, volumes, snapshots, public IPv4 address) and the lab's GuardDuty use; the region's trail and Systems Manager endpoints go with the last lab of the region");
        p.out("deleted with it: the lab's audit log, its evidence bucket and its incident history; keep a report first with `irlab report --all -o report.html`");
    }
    if args.dry_run {
        p.out("dry run: nothing was deleted");
        return Ok(());
    }
    if !g.yes {
        confirm(lab.as_str()).await?;
    }

    let outcome = teardown::execute(&ctx, &lab, &plan, p).await;
    p.settle();
    // The lease goes before the last look, which must find nothing of the lab.
    lease::release().await;
    let mut swept = inventory::sweep(&ctx, &lab).await;
    // What the class StackSet keeps is its `class down`'s to delete and prove.
    swept.found.retain(|r| !plan.kept_for_stack_set(r));
    if outcome.detector_kept {
        swept.found.retain(|r| r.kind != "guardduty:detector");
    }
    // The last lab out also proves the region's shared parts are gone.
    if outcome.shared_removed {
        let shared = inventory::sweep_shared(&ctx).await;
        swept.found.extend(shared.found);
        swept.unchecked.extend(shared.unchecked);
        swept.checked.extend(shared.checked);
    }
    // Every failure is said, with its reason, before the verdict.
    for e in &outcome.failures {
        p.error(e);
    }
    let unchecked: Vec<&String> = plan.unchecked.iter().chain(&swept.unchecked).collect();
    for u in &unchecked {
        p.out(format!("warning: {u}"));
    }
    // The proof, service by service: what each listing found of the lab (after the kept parts).
    p.out("checked, service by service:");
    for (what, found) in &swept.checked {
        let n = found.iter().filter(|r| swept.found.contains(r)).count();
        p.out(format!("  {n} left  {what}"));
    }
    let left = swept.found;
    p.json(&json!({ "lab": lab.as_str(), "account": me.account, "region": ctx.region, "plan": plan, "deleted": true, "left": left, "unchecked": unchecked, "failures": outcome.failures.iter().map(|e| e.to_string()).collect::<Vec<_>>() }));
    if left.is_empty() && outcome.failures.is_empty() && unchecked.is_empty() {
        if let Some(set) = &plan.stack_set {
            p.out(format!(
                "lab {lab} released in {}; its stacks are prepared for the class StackSet {set} to delete",
                super::elapsed(started)
            ));
            return Ok(());
        }
        p.out(format!("0 resources left (lab {lab} removed in {})", super::elapsed(started)));
        return Ok(());
    }
    if !left.is_empty() {
        p.out(format!("{} resources left:", left.len()));
        for r in &left {
            p.out(format!("  {r}"));
        }
    }
    let unseen = if unchecked.is_empty() {
        String::new()
    } else {
        format!(", and {} listing(s) failed, so more may be there", unchecked.len())
    };
    let err = if !outcome.failures.is_empty() {
        Error::failure(format!("{} step(s) of removing lab {lab} failed{unseen}", outcome.failures.len()))
    } else if !left.is_empty() {
        Error::problem(format!("{} resources of lab {lab} are still there{unseen}", left.len()))
    } else {
        Error::problem(format!("lab {lab} is removed as far as irlab could see{unseen}"))
    };
    Err(err.with_hint("run `irlab down` again; it picks up where this one stopped"))
}

/// The user types the lab's name, as aws-nuke asks for the account alias.
async fn confirm(lab: &str) -> Result<()> {
    let refuse = Error::problem("refusing to delete without confirmation: standard input is not a terminal")
        .with_hint("pass --yes to confirm, or --dry-run to see the plan only");
    let question = format!("type the lab name ({lab}) to delete it:");
    let answer = crate::ui::prompt::line(&question, "cancelled, nothing deleted", refuse).await?;
    if answer.trim() != lab {
        return Err(Error::problem("the name did not match; nothing was deleted"));
    }
    Ok(())
}
