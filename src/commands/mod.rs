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
use crate::error::Result;
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
