//! `irlab class up|status|attack|verify|reset|down|report --roster FILE`: the single-lab
//! commands over a whole class, `--parallel` labs at a time, each attendee in its own account
//! where the roster says so. Ends with a summary, exit 1 if any attendee failed, and the command
//! that retries only those.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use serde_json::json;

use crate::class::gradebook;
use crate::class::roster::{self, Attendee, Roster};
use crate::class::runner::{self, Display, Outcome};
use crate::cli::{ClassCommand, ClassSelect, Global, ReportFormat};
use crate::error::{Error, Result};
use crate::ui::printer::Printer;

pub async fn run(g: &Global, command: &ClassCommand, p: &Printer) -> Result<()> {
    let (name, select) = match command {
        ClassCommand::Up(s) => ("up", s),
        ClassCommand::Status(s) => ("status", s),
        ClassCommand::Attack { select, .. } => ("attack", select),
        ClassCommand::Verify { select, .. } => ("verify", select),
        ClassCommand::Reset(s) => ("reset", s),
        ClassCommand::Down(s) => ("down", s),
        ClassCommand::Report { select, .. } => ("report", select),
    };
    if select.parallel == 0 {
        return Err(Error::problem("--parallel must be at least 1"));
    }
    let roster = roster::load(&select.roster)?;
    if let Some(ou) = select.org_unit.as_ref().or(roster.org_unit.as_ref()) {
        roster::check_org_unit(ou).map_err(|e| Error::problem(format!("--org-unit: {e}")))?;
        return super::class_org::run(g, command, name, &roster, ou, select, p).await;
    }
    if roster.attendees.is_empty() {
        return Err(Error::problem(format!("class {} has no attendees and no organizational unit", roster.class))
            .with_hint("list attendees in the roster, or give `--org-unit ou-...` (or `org_unit:` in the roster)"));
    }
    let dir = runner::class_dir(&select.roster, &roster);
    let Some(chosen) = choose(&roster, select, &dir, p)? else { return Ok(()) };
    if name == "down" && !g.yes {
        confirm(&roster, chosen.len())?;
    }
    let (_, ctx) = super::open(g).await?;
    let started = Instant::now();
    let live = std::io::stderr().is_terminal() && !p.is_json();
    let display = Display::new(live, p.quiet);
    p.info(format!(
        "class {}: {name} for {} attendee(s), {} at a time; logs in {}",
        roster.class,
        chosen.len(),
        select.parallel,
        dir.join("logs").display()
    ));
    // Accounts that could not even be checked fail their attendees, not the class.
    let unreachable =
        if name == "up" { preflight(g, &ctx, &roster, &chosen, select, &dir, &display, p).await? } else { Vec::new() };
    let runnable: Vec<Attendee> =
        chosen.iter().filter(|a| !unreachable.iter().any(|o| o.attendee == a.name())).cloned().collect();
    let args = |a: &Attendee| child_args(command, a);
    let mut outcomes =
        runner::run_all(g, &ctx, &roster, &runnable, name, &args, select.parallel, &dir, &display).await?;
    outcomes.extend(unreachable);
    outcomes.sort_by_key(|o| chosen.iter().position(|a| a.name() == o.attendee));
    drop(display);
    let over = Over { noun: "attendee(s)".into(), json: json!({}), removed: None };
    conclude(command, name, &roster, select, &dir, &outcomes, started, &over, p)
}

/// What a class command ran over, for its closing lines: the noun its counts take, what its
/// JSON adds, and what its removal proof adds.
pub(super) struct Over {
    pub noun: String,
    pub json: serde_json::Value,
    pub removed: Option<String>,
}

/// The end of every class command: remember what failed (for `--failed`), answer `status`,
/// `report` and `verify --junit`, print the summary (and the proof of `down`), and say the exact
/// command that retries only the failed ones.
#[allow(clippy::too_many_arguments)]
pub(super) fn conclude(
    command: &ClassCommand,
    name: &str,
    roster: &Roster,
    select: &ClassSelect,
    dir: &Path,
    outcomes: &[Outcome],
    started: Instant,
    over: &Over,
    p: &Printer,
) -> Result<()> {
    // `status` and `report` read only: they do not replace what `--failed` retries.
    if !matches!(name, "status" | "report") {
        runner::save_last(dir, name, outcomes)?;
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok).collect();
    match command {
        ClassCommand::Status(_) => return gradebook_out(roster, outcomes, p),
        ClassCommand::Report { format, out, .. } => return report(roster, outcomes, *format, out.as_deref(), p),
        ClassCommand::Verify { junit: Some(path), .. } => {
            std::fs::write(path, gradebook::junit(outcomes))
                .map_err(|e| Error::failure(format!("writing {}: {e}", path.display())).with_source(e))?;
            p.info(format!("JUnit written to {}", path.display()));
        }
        _ => {}
    }
    if p.is_json() {
        let mut doc = json!({ "class": roster.class, "command": name, "outcomes": outcomes,
            "proof": (name == "down").then(|| down_proof(outcomes)) });
        if let (Some(doc), Some(extra)) = (doc.as_object_mut(), over.json.as_object()) {
            doc.extend(extra.clone());
        }
        p.json(&doc);
    } else {
        summary(outcomes, p);
    }
    if name == "down" {
        let proof = down_proof(outcomes);
        match &over.removed {
            Some(more) => p.out(format!("{}; {more}", proof.line)),
            None => p.out(&proof.line),
        }
        if !proof.clean {
            return Err(retry(roster, name, select, &failed, "some labs are not removed"));
        }
    }
    if failed.is_empty() {
        p.out(format!(
            "class {}: {name} done for {} {} in {}",
            roster.class,
            outcomes.len(),
            over.noun,
            super::elapsed(started)
        ));
        return Ok(());
    }
    Err(retry(
        roster,
        name,
        select,
        &failed,
        &format!("{name} failed for {} of {} {}", failed.len(), outcomes.len(), over.noun),
    ))
}

/// Before anything is created: one quota check per account, for all of that account's labs
/// together (20 labs in one account need one shared VPC and trail, and 20 victims' vCPUs). A
/// quota that is short refuses the whole class; an account that cannot be reached (its role
/// refuses the instructor) fails its own attendees, returned as their outcomes.
#[allow(clippy::too_many_arguments)]
pub(super) async fn preflight(
    g: &Global,
    ctx: &crate::aws::AwsContext,
    roster: &Roster,
    chosen: &[Attendee],
    select: &ClassSelect,
    dir: &Path,
    display: &Display,
    p: &Printer,
) -> Result<Vec<Outcome>> {
    let mut groups: Vec<(roster::Account, Vec<&Attendee>)> = Vec::new();
    for a in chosen {
        match groups.iter_mut().find(|(acc, _)| *acc == a.account) {
            Some((_, members)) => members.push(a),
            None => groups.push((a.account.clone(), vec![a])),
        }
    }
    let representatives: Vec<Attendee> = groups.iter().map(|(_, m)| m[0].clone()).collect();
    let args = |rep: &Attendee| {
        let members = &groups.iter().find(|(acc, _)| *acc == rep.account).expect("a group per representative").1;
        let names: Vec<&str> = members.iter().map(|a| a.lab.as_str()).collect();
        let types: Vec<&str> = members
            .iter()
            .map(|a| a.settings.instance_type.as_deref().unwrap_or(super::up::DEFAULT_INSTANCE_TYPE))
            .collect();
        vec!["preflight".to_string(), "--labs".into(), names.join(","), "--instance-types".into(), types.join(",")]
    };
    p.info(format!("quota preflight in {} account(s)", groups.len()));
    let checked =
        runner::run_all(g, ctx, roster, &representatives, "preflight", &args, select.parallel, dir, display).await?;
    let members_of =
        |o: &Outcome| &groups.iter().find(|(_, m)| m[0].name() == o.attendee).expect("a group per outcome").1;
    // No answer from the check: the account could not be reached at all.
    let mut unreachable = Vec::new();
    for o in checked.iter().filter(|o| !o.ok && o.json.is_none()) {
        for a in members_of(o) {
            unreachable.push(Outcome { attendee: a.name().to_string(), ..o.clone() });
        }
    }
    let short: Vec<&Outcome> = checked.iter().filter(|o| !o.ok && o.json.is_some()).collect();
    if short.is_empty() {
        return Ok(unreachable);
    }
    for o in &short {
        let members = members_of(o);
        let account = o.account.as_deref().unwrap_or("an account");
        p.out(format!(
            "{account} ({} lab(s): {}):",
            members.len(),
            members.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
        ));
        if let Some(j) = &o.json {
            for c in j["checks"].as_array().into_iter().flatten() {
                let (quota, used, need) =
                    (c["quota"].as_f64(), c["used"].as_f64().unwrap_or(0.0), c["need"].as_f64().unwrap_or(0.0));
                if need > 0.0 && quota.is_some_and(|q| used + need > q) {
                    p.out(format!(
                        "  {}: quota {}, used {used}, needed {need}",
                        c["name"].as_str().unwrap_or_default(),
                        quota.unwrap_or_default()
                    ));
                }
            }
            for r in j["remedies"].as_array().into_iter().flatten() {
                p.out(format!("  -> {}", r.as_str().unwrap_or_default()));
            }
        }
    }
    Err(Error::problem(format!(
        "class {}: quota preflight failed in {} of {} account(s); nothing was created",
        roster.class,
        short.len(),
        groups.len()
    ))
    .with_hint("raise the quotas named above, or spread the class over regions (roster `region:`) or attendees' own accounts (roster `account:`), then run `irlab class up` again"))
}

/// The attendees this run covers: all, `--only` (each must be on the roster), or `--failed`.
pub(super) fn choose(roster: &Roster, select: &ClassSelect, dir: &Path, p: &Printer) -> Result<Option<Vec<Attendee>>> {
    if select.failed {
        let Some(last) = runner::load_last(dir)? else {
            return Err(Error::problem(format!("class {} has no earlier class command to retry", roster.class))
                .with_hint("run the command without --failed"));
        };
        if last.failed.is_empty() {
            p.out(format!("nothing failed in the last class command (`{}` at {})", last.command, last.at));
            return Ok(None);
        }
        p.info(format!(
            "retrying the {} attendee(s) that failed `class {}`: {}",
            last.failed.len(),
            last.command,
            last.failed.join(", ")
        ));
        return Ok(Some(
            roster.attendees.iter().filter(|a| last.failed.iter().any(|f| f == a.name())).cloned().collect(),
        ));
    }
    if select.only.is_empty() {
        return Ok(Some(roster.attendees.clone()));
    }
    let unknown: Vec<&String> =
        select.only.iter().filter(|n| !roster.attendees.iter().any(|a| a.name() == n.as_str())).collect();
    if !unknown.is_empty() {
        let names: Vec<&str> = roster.attendees.iter().map(|a| a.name()).collect();
        return Err(Error::problem(format!(
            "not on the roster of class {}: {}",
            roster.class,
            unknown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ))
        .with_hint(format!("attendees: {}", names.join(", "))));
    }
    Ok(Some(roster.attendees.iter().filter(|a| select.only.iter().any(|n| n == a.name())).cloned().collect()))
}

/// The single-lab command each attendee's child runs.
pub(super) fn child_args(command: &ClassCommand, a: &Attendee) -> Vec<String> {
    let s = |x: &str| x.to_string();
    match command {
        ClassCommand::Up(_) => {
            let mut v = vec![
                s("up"),
                s("--playbook"),
                s(a.settings.playbook.unwrap_or(crate::lab::Variant::StepFunctions).as_str()),
            ];
            if let Some(t) = &a.settings.instance_type {
                v.extend([s("--instance-type"), t.clone()]);
            }
            if let Some(b) = a.settings.evidence_budget {
                v.extend([s("--evidence-budget"), b.to_string()]);
            }
            if let Some(e) = &a.email {
                v.extend([s("--notify-email"), e.clone()]);
            }
            v
        }
        ClassCommand::Status(_) | ClassCommand::Report { .. } => vec![s("status")],
        ClassCommand::Attack { args, .. } => {
            let mut v = vec![s("attack")];
            if args.is_empty() {
                v.push(s("--all"));
            } else {
                v.extend(args.iter().cloned());
            }
            v
        }
        ClassCommand::Verify { timeout, .. } => {
            let mut v = vec![s("verify")];
            if let Some(t) = timeout {
                v.extend([s("--timeout"), t.clone()]);
            }
            v
        }
        ClassCommand::Reset(_) => vec![s("reset")],
        ClassCommand::Down(_) => vec![s("down")],
    }
}

/// The instructor types the class name, as `down` asks for the lab's.
pub(super) fn confirm(roster: &Roster, labs: usize) -> Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::problem("refusing to delete without confirmation: standard input is not a terminal")
            .with_hint("pass --yes to confirm"));
    }
    eprint!("this removes {labs} lab(s) of class {}; type the class name to go on: ", roster.class);
    std::io::stderr().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if answer.trim() != roster.class {
        return Err(Error::problem("cancelled: the name did not match; nothing was deleted"));
    }
    Ok(())
}

pub(super) fn summary(outcomes: &[Outcome], p: &Printer) {
    p.out(format!("{:<16} {:<7} {:>7}  {}", "attendee", "result", "time", "detail"));
    for o in outcomes {
        let detail: String = o.message.chars().take(48).collect();
        p.out(format!("{:<16} {:<7} {:>6.0}s  {detail}", o.attendee, if o.ok { "ok" } else { "FAILED" }, o.seconds));
        if !o.ok {
            p.out(format!("  log: {}", o.log.display()));
        }
    }
}

pub(super) fn retry(roster: &Roster, name: &str, select: &ClassSelect, failed: &[&Outcome], message: &str) -> Error {
    let names: Vec<&str> = failed.iter().map(|o| o.attendee.as_str()).collect();
    Error::problem(format!("class {}: {message}: {}", roster.class, names.join(", "))).with_hint(format!(
        "each attendee's log says why; retry only those with `irlab class {name} --roster {}{} --failed`",
        select.roster.display(),
        select.org_unit.as_ref().map(|ou| format!(" --org-unit {ou}")).unwrap_or_default()
    ))
}

pub struct Proof {
    pub clean: bool,
    pub line: String,
}

impl serde::Serialize for Proof {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        json!({ "clean": self.clean, "line": self.line }).serialize(s)
    }
}

/// One aggregate proof from every lab's own sweep.
pub(super) fn down_proof(outcomes: &[Outcome]) -> Proof {
    let mut accounts: Vec<&str> = outcomes.iter().filter_map(|o| o.account.as_deref()).collect();
    accounts.sort();
    accounts.dedup();
    let mut left = Vec::new();
    let mut unseen = Vec::new();
    for o in outcomes {
        match &o.json {
            Some(j) if o.ok => {
                for r in j["left"].as_array().into_iter().flatten() {
                    left.push(format!("{}: {}", o.attendee, r));
                }
            }
            _ => unseen.push(o.attendee.as_str()),
        }
    }
    let where_ = format!("{} labs across {} account(s)", outcomes.len(), accounts.len());
    if left.is_empty() && unseen.is_empty() {
        return Proof { clean: true, line: format!("0 resources left in {where_}") };
    }
    let mut line = format!("{} resource(s) left in {where_}", left.len());
    for l in &left {
        line.push_str(&format!("\n  {l}"));
    }
    if !unseen.is_empty() {
        line.push_str(&format!("\n  not proven for: {} (their down failed; see the logs)", unseen.join(", ")));
    }
    Proof { clean: false, line }
}

pub(super) fn gradebook_out(roster: &Roster, outcomes: &[Outcome], p: &Printer) -> Result<()> {
    let book = gradebook::build(&roster.class, outcomes);
    if p.is_json() {
        p.json(&serde_json::to_value(&book).expect("gradebook serializes"));
    } else {
        book.lines().iter().for_each(|l| p.out(l));
    }
    unreadable(&book)
}

/// Exit 1 when some attendee's lab could not be read at all.
fn unreadable(book: &gradebook::Gradebook) -> Result<()> {
    let bad: Vec<&str> = book.rows.iter().filter(|r| r.state == "unknown").map(|r| r.attendee.as_str()).collect();
    if bad.is_empty() {
        return Ok(());
    }
    Err(Error::problem(format!("could not read the lab of: {}", bad.join(", ")))
        .with_hint("each attendee's log under the class directory says why"))
}

pub(super) fn report(
    roster: &Roster,
    outcomes: &[Outcome],
    format: Option<ReportFormat>,
    out: Option<&Path>,
    p: &Printer,
) -> Result<()> {
    let book = gradebook::build(&roster.class, outcomes);
    let format = ReportFormat::choose(format, out, p.is_json())?;
    let text = match format {
        ReportFormat::Html => book.html(),
        ReportFormat::Json => serde_json::to_string_pretty(&book).expect("gradebook serializes"),
        ReportFormat::Md => {
            let mut md = format!("# irlab class {}\n\n```\n", roster.class);
            book.lines().iter().for_each(|l| {
                md.push_str(l);
                md.push('\n');
            });
            md.push_str("```\n");
            md
        }
    };
    match out {
        Some(path) => {
            std::fs::write(path, text)
                .map_err(|e| Error::failure(format!("writing {}: {e}", path.display())).with_source(e))?;
            p.info(format!("class report written to {}", path.display()));
        }
        None => print!("{text}"),
    }
    unreadable(&book)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(name: &str, account: &str, ok: bool, left: usize) -> Outcome {
        let left: Vec<String> = (0..left).map(|i| format!("ec2:snapshot snap-{i}")).collect();
        Outcome {
            attendee: name.into(),
            account: Some(account.into()),
            ok,
            exit_code: if ok { 0 } else { 1 },
            seconds: 1.0,
            message: String::new(),
            json: ok.then(|| json!({ "left": left })),
            log: "x".into(),
        }
    }

    #[test]
    fn the_down_proof_counts_labs_and_accounts_and_lists_what_remains() {
        let clean = down_proof(&[o("a", "1", true, 0), o("b", "2", true, 0), o("c", "1", true, 0)]);
        assert!(clean.clean);
        assert_eq!(clean.line, "0 resources left in 3 labs across 2 account(s)");
        let dirty = down_proof(&[o("a", "1", true, 1), o("b", "2", false, 0)]);
        assert!(!dirty.clean);
        assert!(dirty.line.starts_with("1 resource(s) left in 2 labs across 2 account(s)"), "{}", dirty.line);
        assert!(dirty.line.contains("a: \"ec2:snapshot snap-0\""), "{}", dirty.line);
        assert!(dirty.line.contains("not proven for: b"), "{}", dirty.line);
    }
}
