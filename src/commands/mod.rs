//! One file per command, each reading like the lab's own steps.

pub mod attack;
pub mod bench;
pub mod demo;
pub mod down;
pub mod local;
pub mod playbook;
pub mod report;
pub mod reset;
pub mod scenarios;
pub mod status;
pub mod up;
pub mod verify;

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

/// `1m 05s` style durations for people.
pub fn elapsed(since: std::time::Instant) -> String {
    let secs = since.elapsed().as_secs();
    if secs < 60 { format!("{secs}s") } else { format!("{}m {:02}s", secs / 60, secs % 60) }
}

/// Runs this same binary for one step of a longer command (`demo`, `bench`), with the caller's
/// connection flags; the step prints its own progress and errors.
pub fn myself(g: &Global, args: &[&str]) -> Result<()> {
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
    let status = cmd.args(args).stdin(std::process::Stdio::null()).status()?;
    let what = format!("`irlab {}` failed ({status})", args.join(" "));
    match status.code() {
        Some(0) => Ok(()),
        // The step's own verdict: a failed check stays a problem, a failure stays a failure.
        Some(1) => Err(Error::problem(what)),
        _ => Err(Error::failure(what)),
    }
}
