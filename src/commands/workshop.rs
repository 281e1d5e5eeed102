//! `irlab workshop`: the attendee's guided path, module by module (texts in `workshop/`), each
//! running the real commands with the attendee's ids and checking the outcome; progress is kept
//! in the lab's state, so any machine resumes it. `workshop check` grades module 3's manual
//! containment; `workshop status` shows where the attendee stands.

use std::io::IsTerminal;
use std::time::Duration;

use serde_json::json;

use crate::cli::{Global, WorkshopArgs, WorkshopCommand};
use crate::error::{Error, Result};
use crate::lab::state::{LabState, ManualRecord, WorkshopRecord};
use crate::lab::{LabName, Variant};
use crate::ui::printer::Printer;
use crate::workshop::{self, AUTOMATED, MANUAL, Module, collect, manual};

pub async fn run(g: &Global, args: &WorkshopArgs, p: &Printer) -> Result<()> {
    match &args.command {
        Some(WorkshopCommand::Status) => status(g, p).await,
        Some(WorkshopCommand::Check) => check(g, p).await.map(|_| ()),
        None => path(g, args, p).await,
    }
}

async fn path(g: &Global, args: &WorkshopArgs, p: &Printer) -> Result<()> {
    let modules = workshop::modules()?;
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !args.non_interactive && !terminal {
        return Err(Error::problem("irlab workshop asks before each module, and this is not a terminal").with_hint(
            "run it in a terminal, or pass `--non-interactive --yes` to go through the path without questions",
        ));
    }
    if args.non_interactive && !g.yes {
        return Err(Error::problem("--non-interactive needs --yes: the path creates and deletes AWS resources")
            .with_hint("pass `--non-interactive --yes`"));
    }
    if p.is_json() {
        return Err(Error::problem("the workshop's path is for people, not --output json").with_hint(
            "`irlab workshop status --output json` and `irlab workshop check --output json` give its data",
        ));
    }
    let ask = !args.non_interactive;
    if g.local {
        super::ensure_standin(g, p)?;
    }
    let (lab, ctx) = super::open(g).await?;
    let me = ctx.identity().await?;
    let mut state = LabState::load(&ctx, &lab).await?.unwrap_or_else(|| LabState::new(&lab, &me.account, &ctx.region));
    if state.workshop.is_none() {
        state.workshop = Some(WorkshopRecord { started_at: jiff::Timestamp::now().to_string(), ..Default::default() });
        state.save(&ctx, &lab).await?;
    }
    let record = state.workshop.clone().unwrap_or_default();
    let count = modules.len() as u8;
    let Some(start) = args.step.or_else(|| record.next(count)) else {
        p.out(format!("every module of the workshop is done in lab {lab}; `irlab workshop --step N` goes back to one"));
        return Ok(());
    };
    if record.done.is_empty() && args.step.is_none() {
        p.info(format!("workshop in lab {lab}: {count} modules, about {} min", workshop::minutes_left(&modules, 1)));
    } else {
        p.info(format!("resuming the workshop in lab {lab} at module {start} (done: {})", done_list(&record)));
    }
    for m in modules.iter().filter(|m| m.front.module >= start) {
        let n = m.front.module;
        if ask
            && !confirm(&format!(
                "Start module {n}: {} ({}, about {} min)?",
                m.front.title, m.front.phase, m.front.minutes
            ))?
        {
            p.out(format!("stopped before module {n}; `irlab workshop` resumes here"));
            return Ok(());
        }
        p.out(format!("\n== Module {n} of {count}: {} ({})", m.front.title, m.front.phase));
        if n != MANUAL {
            // Module 3 shows its text once the finding it names has arrived.
            let facts = collect::facts(&ctx, &lab, LabState::load(&ctx, &lab).await?.as_ref()).await?;
            p.out(workshop::for_terminal(&workshop::render(m.intro().trim_end(), &facts, &[])));
        }
        let outcome = match n {
            MANUAL => manual_module(g, &ctx, &lab, m, ask, p).await,
            AUTOMATED => automated_module(g, &ctx, &lab, m, p).await.map(|()| true),
            _ => m.commands().into_iter().flat_map(|(_, cmds)| cmds).try_for_each(|c| step(g, &c, p)).map(|()| true),
        };
        // A step that failed or was interrupted said why; the module is not done, and is where
        // the next `irlab workshop` starts.
        let finished = outcome.map_err(|mut e| {
            let resume = format!("`irlab workshop` starts again at module {n}");
            let hint = match e.hint.take() {
                Some(h) => format!("{h}; then {resume}"),
                None => resume,
            };
            e.with_hint(hint)
        })?;
        if !finished {
            return Ok(());
        }
        // `down` removed the lab and its state with it: the path is over.
        let Some(mut state) = LabState::load(&ctx, &lab).await? else {
            p.out(format!(
                "module {n} done: lab {lab} is gone, nothing of it is left to bill; the workshop is complete"
            ));
            return Ok(());
        };
        state.workshop.get_or_insert_with(Default::default).mark_done(n);
        state.save(&ctx, &lab).await?;
        let left = workshop::minutes_left(&modules, n + 1);
        p.out(if left > 0 {
            format!("module {n} done; about {left} min left")
        } else {
            format!("module {n} done: the workshop is complete")
        });
    }
    Ok(())
}

/// Runs one `irlab` command of a module, shown as the attendee would type it.
fn step(g: &Global, command: &str, p: &Printer) -> Result<()> {
    p.info(format!("$ irlab {command}"));
    let words = workshop::words(command);
    let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
    // The module asked already (or --yes was given): the step's own confirmation is not asked again.
    args.insert(0, "--yes");
    super::myself(g, &args)
}

/// Module 3: the attack, the finding, then the attendee's own containment, step by step.
/// Returns whether every step passed.
async fn manual_module(
    g: &Global,
    ctx: &crate::aws::AwsContext,
    lab: &LabName,
    m: &Module,
    ask: bool,
    p: &Printer,
) -> Result<bool> {
    let state = LabState::load(ctx, lab).await?.ok_or_else(|| not_up(lab))?;
    // An attack made for this module and not yet contained is picked up again, not repeated.
    let pending = state.runs.last().is_some_and(|r| r.variant.as_deref() == Some(Variant::Manual.as_str()));
    if !pending {
        let deployed = crate::lab::playbook::deployed(ctx, lab).await?;
        if deployed.iter().any(|(v, _)| *v != Variant::Manual) {
            step(g, "playbook set none", p)?;
        }
        // Back to module 3 after module 4: the victim is still contained by the last playbook.
        if !state.runs.is_empty() {
            step(g, "reset", p)?;
        }
        for (_, cmds) in m.commands() {
            for c in cmds {
                step(g, &c, p)?;
            }
        }
    }
    let state = LabState::load(ctx, lab).await?.ok_or_else(|| not_up(lab))?;
    let run = state.runs.last().cloned().ok_or_else(|| not_up(lab))?;
    let wait = if g.local { Duration::from_secs(120) } else { Duration::from_secs(30 * 60) };
    p.info(format!(
        "waiting for GuardDuty's finding about {} (up to {})",
        run.instance,
        humantime::format_duration(wait)
    ));
    let mut facts = collect::facts(ctx, lab, Some(&state)).await?;
    match collect::finding(ctx, lab, &run, wait).await? {
        Some((f, at)) => {
            p.out(format!("finding {} arrived at {at}: {} about {}", f.id, f.finding_type, run.instance));
            p.out(format!("  severity {}: {}", f.severity_text(), f.title.as_deref().unwrap_or("(no title)")));
            facts.insert("finding", f.id);
        }
        None => p.out("no finding has arrived yet; `irlab workshop check` looks again"),
    }
    facts.insert("instance", run.instance.clone());
    p.out(workshop::for_terminal(&workshop::render(m.intro().trim_end(), &facts, &[])));
    loop {
        let graded = check(g, p).await;
        match graded {
            Ok(()) => return Ok(true),
            Err(e) if e.exit_code() != 1 => return Err(e),
            Err(e) if !ask => {
                p.error(&e);
                p.out("module 3 waits for your containment: do the steps above, then `irlab workshop check`; `irlab workshop` goes on once every step passes");
                return Ok(false);
            }
            Err(e) => p.error(&e),
        }
        let choice = dialoguer::Select::new()
            .with_prompt("Contain the victim with the AWS CLI or console, then")
            .items(["check my work", "stop here (`irlab workshop` resumes)"])
            .default(0)
            .interact()
            .map_err(|e| stopped(e, MANUAL))?;
        if choice == 1 {
            p.out("stopped in module 3; `irlab workshop` resumes here");
            return Ok(false);
        }
    }
}

/// Module 4: each playbook in turn, then the comparison with the manual response.
async fn automated_module(
    g: &Global,
    ctx: &crate::aws::AwsContext,
    lab: &LabName,
    m: &Module,
    p: &Printer,
) -> Result<()> {
    let mut rows = Vec::new();
    for (variant, cmds) in m.commands() {
        for c in cmds {
            step(g, &c, p)?;
        }
        let state = LabState::load(ctx, lab).await?.ok_or_else(|| not_up(lab))?;
        let ttc = state.runs.last().and_then(|r| r.verdict.as_ref()).and_then(|v| v.time_to_contain);
        rows.push((variant.map_or("-".to_string(), |v| v.to_string()), ttc));
    }
    let state = LabState::load(ctx, lab).await?.ok_or_else(|| not_up(lab))?;
    let manual = state.workshop.as_ref().and_then(|w| w.manual.as_ref()).map(|m| m.seconds);
    p.out("\nthe same containment, four ways:");
    p.out(format!("  {:<15} {:>16}  {}", "response", "time to contain", "what it can and cannot do"));
    // What each can and cannot do is the text's (`compare:` in its front matter).
    let note = |row: &str| m.front.compare.get(row).map(String::as_str).unwrap_or_default();
    p.out(format!("  {:<15} {:>16}  {}", "you, by hand", secs(manual), note("manual")));
    for (v, ttc) in &rows {
        p.out(format!("  {v:<15} {:>16}  {}", secs(*ttc), note(v)));
    }
    Ok(())
}

fn secs(s: Option<f64>) -> String {
    s.map_or("-".into(), |s| format!("{s:.1} s"))
}

/// `irlab workshop check`: module 3's grading, with the commands of what is missing. Ok when
/// every step passed (recorded in the lab, with the time it took).
async fn check(g: &Global, p: &Printer) -> Result<()> {
    let modules = workshop::modules()?;
    let text = &modules[usize::from(MANUAL) - 1];
    let (lab, ctx) = super::open(g).await?;
    let mut state = LabState::load(&ctx, &lab).await?.ok_or_else(|| not_up(&lab))?;
    let run =
        state.runs.iter().rev().find(|r| r.variant.as_deref() == Some(Variant::Manual.as_str())).cloned().ok_or_else(
            || {
                Error::problem(format!("lab {lab} has no attack made without a playbook to grade"))
                    .with_hint("module 3 makes one: `irlab workshop --step 3`")
            },
        )?;
    let c = collect::manual(&ctx, &lab, &state, &run).await?;
    let graded = manual::grade(&c.seen);
    let started: jiff::Timestamp = run.started_at.parse().unwrap_or_else(|_| jiff::Timestamp::now());
    let all = graded.iter().all(|s| s.done);
    let ttc = manual::time_to_contain(&graded, &c.seen.calls, started);
    p.json(
        &json!({ "run": run.id, "finding": c.seen.finding, "steps": graded, "passed": all, "time_to_contain": ttc }),
    );
    match &c.seen.finding {
        Some(f) => p.out(format!("run {} ({}): finding {f} on {}", run.id, run.scenarios.join(", "), run.instance)),
        None => p.out(format!("run {}: no finding has reached the lab yet (GuardDuty takes minutes on AWS)", run.id)),
    }
    let sections = text.sections();
    let mut first_missing = None;
    for (i, s) in graded.iter().enumerate() {
        p.out(format!("  [{}] {}. {}", if s.done { "x" } else { " " }, i + 1, s.step));
        for ch in &s.checks {
            p.out(format!("        {:<26} {}", ch.name, ch.observed));
        }
        for r in &s.record {
            p.out(format!("        CloudTrail: {r}"));
        }
        for m in &s.mistakes {
            p.out(format!("        wrong: {m}"));
        }
        if !s.done && first_missing.is_none() {
            first_missing = Some(i);
        }
    }
    if let Some(i) = first_missing {
        // The step's own text: what it teaches, then its commands with this lab's ids.
        let section = sections.iter().find(|s| s.id == graded[i].step);
        p.out(format!("\nnext: step {}, {}", i + 1, graded[i].step));
        if let Some(s) = section {
            p.out(workshop::for_terminal(&workshop::render(s.text.trim(), &c.facts, &c.volumes)));
        }
        let done = graded.iter().filter(|s| s.done).count();
        return Err(Error::problem(format!("{done} of {} containment steps done", graded.len()))
            .with_hint("run the commands above (or do the same in the console), then `irlab workshop check` again"));
    }
    let seconds = ttc.unwrap_or_else(|| (jiff::Timestamp::now() - started).as_secs_f64());
    p.out(format!("contained by hand: every step done, {seconds:.0} s after the attack (CloudTrail's record)"));
    let w = state
        .workshop
        .get_or_insert_with(|| WorkshopRecord { started_at: jiff::Timestamp::now().to_string(), ..Default::default() });
    if w.manual.as_ref().is_none_or(|m| m.run != run.id) {
        w.manual =
            Some(ManualRecord { run: run.id.clone(), seconds, contained_at: jiff::Timestamp::now().to_string() });
    }
    w.mark_done(MANUAL);
    state.save(&ctx, &lab).await?;
    Ok(())
}

async fn status(g: &Global, p: &Printer) -> Result<()> {
    let modules = workshop::modules()?;
    let (lab, ctx) = super::open(g).await?;
    let record = LabState::load(&ctx, &lab).await?.and_then(|s| s.workshop);
    let Some(record) = record else {
        p.json(&json!({ "lab": lab.as_str(), "started": false }));
        p.out(format!(
            "no workshop in progress in lab {lab} (module 5's `down` removes a finished path's progress with the lab); `irlab workshop` starts one"
        ));
        return Ok(());
    };
    let next = record.next(modules.len() as u8);
    p.json(&json!({
        "lab": lab.as_str(), "started": true, "done": record.done, "next": next,
        "minutes_left": next.map_or(0, |n| workshop::minutes_left(&modules, n)),
        "manual": record.manual,
    }));
    for m in &modules {
        let n = m.front.module;
        let mark = if record.is_done(n) {
            "x"
        } else if Some(n) == next {
            ">"
        } else {
            " "
        };
        p.out(format!("  [{mark}] {n}. {:<32} {:<40} {:>3} min", m.front.title, m.front.phase, m.front.minutes));
    }
    if let Some(m) = &record.manual {
        p.out(format!("your manual containment took {:.0} s (run {})", m.seconds, m.run));
    }
    match next {
        Some(n) => p.out(format!(
            "next: module {n}, about {} min left; `irlab workshop` goes on",
            workshop::minutes_left(&modules, n)
        )),
        None => p.out("every module is done"),
    }
    Ok(())
}

fn done_list(r: &WorkshopRecord) -> String {
    if r.done.is_empty() {
        return "none".into();
    }
    r.done.iter().map(|d| d.module.to_string()).collect::<Vec<_>>().join(", ")
}

fn confirm(question: &str) -> Result<bool> {
    dialoguer::Confirm::new().with_prompt(question).default(true).interact().map_err(|e| stopped(e, 0))
}

/// A prompt that ended without an answer (Ctrl-C, the terminal closed): progress is kept.
fn stopped(e: dialoguer::Error, module: u8) -> Error {
    // The prompt hid the cursor and was interrupted before showing it again.
    let _ = console::Term::stderr().show_cursor();
    let at = if module > 0 { format!(" in module {module}") } else { String::new() };
    Error::interrupted(format!("workshop stopped{at}; what is done is kept in the lab"))
        .with_hint("`irlab workshop` resumes where you stopped")
        .with_source(e)
}

fn not_up(lab: &LabName) -> Error {
    Error::problem(format!("lab {lab} is not up")).with_hint("module 2 brings it up: `irlab workshop --step 2`")
}
