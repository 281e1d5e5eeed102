//! One file per command, each reading like the lab's own steps.

pub mod approve;
pub mod attack;
pub mod bench;
pub mod class;
pub mod class_org;
pub mod demo;
pub mod down;
pub mod eradicate;
pub mod evidence;
pub mod extend;
pub mod labs;
pub mod local;
pub mod playbook;
pub mod preflight;
pub mod recover;
pub mod report;
pub mod reset;
pub mod scenarios;
pub mod status;
pub mod up;
pub mod verify;
pub mod workshop;

use crate::aws::{AwsContext, Connection};
use crate::cli::Global;
use crate::error::{Error, Result};
use crate::lab::LabName;

/// Validates the lab name before any AWS call, then connects.
pub async fn open(g: &Global) -> Result<(LabName, AwsContext)> {
    let lab = LabName::parse(&g.lab)?;
    let conn = Connection {
        profile: g.profile.clone(),
        region: g.region.clone(),
        endpoint_url: g.endpoint_url.clone(),
        local: g.local,
    };
    let ctx = AwsContext::connect(&conn).await?;
    Ok((lab, ctx))
}

/// Opens the lab for a command that changes it: validates, connects, and takes the lab's lease,
/// so no two such commands work on one lab at once (see `lease`).
pub async fn open_for_change(g: &Global, command: &str) -> Result<(LabName, AwsContext)> {
    let (lab, ctx) = open(g).await?;
    crate::lab::lease::acquire(&ctx, &lab, command, g.break_lease).await?;
    Ok((lab, ctx))
}

/// With `--local`: starts the stand-in at the local endpoint unless it answers already; the port
/// it started, if it did.
pub fn ensure_standin(g: &Global, p: &crate::ui::printer::Printer) -> Result<Option<u16>> {
    let conn = Connection { endpoint_url: g.endpoint_url.clone(), local: true, ..Default::default() };
    let addr = crate::emulator::socket_addr_of(&conn.local_endpoint())
        .ok_or_else(|| Error::problem(format!("`{}` is not an http://host:port endpoint", conn.local_endpoint())))?;
    let host = addr.ip().to_string();
    if crate::emulator::answers(&host, addr.port()) {
        return Ok(None);
    }
    crate::emulator::start(&host, addr.port(), 0.05, p)?;
    Ok(Some(addr.port()))
}

/// Asks before billable resources are created (`--yes` skips the question); without a
/// terminal to ask on, refuses.
pub async fn confirm_billable() -> Result<()> {
    let refuse = Error::problem("refusing to create billable resources without confirmation")
        .with_hint("pass --yes, or use --local");
    let answer = crate::ui::prompt::line("continue? [y/N]", "cancelled: nothing was created", refuse).await?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Error::problem("cancelled: nothing was created"))
    }
}

/// `1m 05s` style durations for people.
pub fn elapsed(since: std::time::Instant) -> String {
    let secs = since.elapsed().as_secs();
    if secs < 60 { format!("{secs}s") } else { format!("{}m {:02}s", secs / 60, secs % 60) }
}

/// Runs this same binary for one step of a longer command (`demo`, `bench`), with the caller's
/// connection flags; the step prints its own progress and errors.
pub fn myself(g: &Global, args: &[&str]) -> Result<()> {
    run_myself(g, args, std::process::Stdio::inherit())
}

/// As [`myself`], with the step's results not shown (its errors still are).
pub fn myself_silently(g: &Global, args: &[&str]) -> Result<()> {
    run_myself(g, args, std::process::Stdio::null())
}

fn run_myself(g: &Global, args: &[&str], stdout: std::process::Stdio) -> Result<()> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(["--lab", &g.lab]);
    if g.local {
        cmd.arg("--local");
    }
    for (flag, value) in [("--endpoint-url", &g.endpoint_url), ("--region", &g.region), ("--profile", &g.profile)] {
        if let Some(v) = value {
            cmd.args([flag, v]);
        }
    }
    if g.quiet {
        cmd.arg("--quiet");
    }
    let status = cmd.args(args).stdin(std::process::Stdio::null()).stdout(stdout).status()?;
    let what = format!("`irlab {}` failed ({status})", args.join(" "));
    match status.code() {
        Some(0) => Ok(()),
        // The step's own verdict: a failed check stays a problem, a failure stays a failure.
        Some(1) => Err(Error::problem(what)),
        // Ctrl-C reached the step too: it said what state it left.
        Some(130) => Err(Error::interrupted(what)),
        _ => Err(Error::failure(what)),
    }
}

/// What an interrupted command says: what stopped, and the command that finishes the job.
pub fn interrupted(command: &crate::cli::Command) -> Error {
    use crate::cli::{Command, PlaybookCommand};
    let (what, next) = match command {
        Command::Up(_) => ("`irlab up`", "run `irlab up` again to finish, or `irlab down` to remove what was made"),
        Command::Down(_) => ("`irlab down`", "run `irlab down` again: it picks up where this one stopped"),
        Command::Attack(_) => (
            "`irlab attack`",
            "the run is recorded; `irlab verify` judges what was sent, or `irlab reset` then attack again",
        ),
        Command::Reset => ("`irlab reset`", "run `irlab reset` again to finish"),
        Command::Extend { .. } => ("`irlab extend`", "run `irlab extend` again; `irlab status` shows the expiry now"),
        Command::Recover(_) => (
            "`irlab recover`",
            "run `irlab recover` again: it picks up from the victim stack; `irlab status` shows both instances",
        ),
        Command::Eradicate(_) => (
            "`irlab eradicate`",
            "run `irlab eradicate` again (its commands may run twice); it takes the eradication profile off the victim at the end",
        ),
        Command::Playbook(PlaybookCommand::Set { variant, .. }) => {
            return Error::interrupted("interrupted: `irlab playbook set` stopped part-way").with_hint(format!(
                "run `irlab playbook set {variant}` again to finish; `irlab status` shows the lab"
            ));
        }
        Command::Verify(_) => ("`irlab verify`", "nothing was changed; run `irlab verify` again"),
        Command::Demo(_) => ("`irlab demo`", "run `irlab down --yes` to remove the demo's lab"),
        Command::Bench(_) => ("`irlab bench`", "run `irlab down --yes` to remove the benchmark's lab"),
        Command::Workshop(_) => ("`irlab workshop`", "`irlab workshop` resumes at the module that was interrupted"),
        _ => ("the command", "nothing was changed"),
    };
    Error::interrupted(format!("interrupted: {what} stopped part-way; `irlab status` shows where the lab stands"))
        .with_hint(next)
}

/// After an interrupt: where the lab's stacks stand, in a few seconds at most.
pub async fn print_lab_state(g: &Global, p: &crate::ui::printer::Printer) {
    let look = async {
        let (lab, ctx) = open(g).await?;
        for part in crate::lab::Part::ALL {
            if let Some(s) = crate::lab::stacks::find(&ctx, &lab, part).await? {
                p.info(format!("  {:<36} {}", s.name, s.status));
            }
        }
        if let Some(s) = crate::lab::shared::find(&ctx).await? {
            p.info(format!("  {:<36} {} (shared by the region's labs)", s.name, s.status));
        }
        Ok::<(), Error>(())
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), look).await;
}
