//! One writer per lab: a command that changes a lab (`up`, `attack`, `reset`, `playbook set`,
//! `down`) first takes the lab's lease, an SSM parameter `/irlab/<lab>/lease` created without
//! overwrite, so of two such commands only one gets it. The other says who holds the lab and
//! since when, and exits 1.
//!
//! The holder renews the lease while it works; a lease left by a crash expires
//! [`TTL`] after its last renewal, or is broken at once with `--break-lease`. The lease is held
//! for the whole process and released by the front door when the command ends, fails or is
//! interrupted.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::aws::{AwsContext, AwsResultExt, error_code};
use crate::error::{Error, Result};
use crate::lab::LabName;

/// How long a lease outlives its last renewal.
pub const TTL: Duration = Duration::from_secs(600);
const RENEW_EVERY: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Holder {
    /// The command, e.g. `up`.
    pub command: String,
    /// Who ran it (the caller's ARN) and where.
    pub owner: String,
    pub host: String,
    pub pid: u32,
    /// RFC 3339.
    pub since: String,
    pub expires: String,
}

impl Holder {
    fn expired(&self, now: jiff::Timestamp) -> bool {
        self.expires.parse::<jiff::Timestamp>().is_ok_and(|t| t <= now)
    }
}

struct Held {
    ctx: AwsContext,
    name: String,
    holder: Holder,
    renewer: tokio::task::JoinHandle<()>,
}

impl Holder {
    /// The same taking of the lease (renewals change only the expiry).
    fn same(&self, other: &Holder) -> bool {
        self.host == other.host && self.pid == other.pid && self.since == other.since
    }
}

static HELD: Mutex<Option<Held>> = Mutex::new(None);

/// Takes the lab's lease for `command`, or says who holds it.
pub async fn acquire(ctx: &AwsContext, lab: &LabName, command: &str, break_lease: bool) -> Result<()> {
    let name = lab.lease_parameter();
    let me = ctx.identity().await?;
    let now = jiff::Timestamp::now();
    let mut holder = Holder {
        command: command.to_string(),
        owner: me.arn,
        host: hostname(),
        pid: std::process::id(),
        since: now.to_string(),
        expires: expiry(now),
    };
    for attempt in 0..3 {
        match put(ctx, &name, &holder, false).await {
            Ok(()) => {
                let renewer = tokio::spawn(renew(ctx.clone(), name.clone(), holder.clone()));
                *HELD.lock().expect("lease lock") = Some(Held { ctx: ctx.clone(), name, holder, renewer });
                return Ok(());
            }
            Err(e) if error_code(&e) == Some("ParameterAlreadyExists") => {}
            Err(e) => return Err(e).aws(|| format!("taking the lease {name} of lab {lab}"), ctx),
        }
        let current = read(ctx, &name).await?;
        // Our own create, whose answer was lost and which the SDK then retried: it is ours.
        if current.as_ref().is_some_and(|h| h.same(&holder)) {
            let renewer = tokio::spawn(renew(ctx.clone(), name.clone(), holder.clone()));
            *HELD.lock().expect("lease lock") = Some(Held { ctx: ctx.clone(), name, holder, renewer });
            return Ok(());
        }
        let stale = current.as_ref().is_none_or(|h| h.expired(jiff::Timestamp::now()));
        if attempt < 2 && (stale || break_lease) {
            // Gone meanwhile, expired, or broken on purpose: remove it and try again.
            delete(ctx, &name).await?;
            holder.since = jiff::Timestamp::now().to_string();
            continue;
        }
        let h = current.expect("a live lease was read");
        // The holder's command is named without quotes: it ran with its own options, not ours.
        return Err(Error::problem(format!(
            "lab {lab} is busy: irlab {} by {} on {} (pid {}) holds it since {}",
            h.command, h.owner, h.host, h.pid, h.since
        ))
        .with_hint(format!(
            "wait for that command to finish; if it is no longer running, its lease expires at {}, or pass --break-lease",
            h.expires
        )));
    }
    Err(Error::failure(format!("could not take the lease {name} of lab {lab}: it kept changing hands"))
        .with_hint("another irlab command is starting on this lab; try again in a moment"))
}

/// Gives the lease back, if this process holds one. Best effort: a lease that cannot be removed
/// expires on its own.
pub async fn release() {
    let held = HELD.lock().expect("lease lock").take();
    if let Some(h) = held {
        h.renewer.abort();
        // Not when it was broken and taken by another command meanwhile.
        if let Ok(Some(now)) = read(&h.ctx, &h.name).await
            && now.same(&h.holder)
        {
            let _ = delete(&h.ctx, &h.name).await;
        }
    }
}

/// The command holding the lease in this process, if any.
pub fn held() -> bool {
    HELD.lock().expect("lease lock").is_some()
}

async fn renew(ctx: AwsContext, name: String, mut holder: Holder) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        // Renewed only while it is still ours: a lease broken with --break-lease stays broken.
        match read(&ctx, &name).await {
            Ok(Some(h)) if h.same(&holder) => {}
            Ok(_) => return,
            // A failed read is tried again next time; the TTL leaves room for several.
            Err(_) => continue,
        }
        holder.expires = expiry(jiff::Timestamp::now());
        let _ = put(&ctx, &name, &holder, true).await;
    }
}

fn expiry(now: jiff::Timestamp) -> String {
    (now + jiff::SignedDuration::from_secs(TTL.as_secs() as i64)).to_string()
}

async fn put(
    ctx: &AwsContext,
    name: &str,
    holder: &Holder,
    overwrite: bool,
) -> std::result::Result<(), aws_sdk_ssm::error::SdkError<aws_sdk_ssm::operation::put_parameter::PutParameterError>> {
    ctx.ssm()
        .put_parameter()
        .name(name)
        .value(serde_json::to_string(holder).expect("holder serializes"))
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .description("irlab: the command now changing this lab; removed when it ends")
        .overwrite(overwrite)
        .send()
        .await
        .map(|_| ())
}

async fn read(ctx: &AwsContext, name: &str) -> Result<Option<Holder>> {
    match ctx.ssm().get_parameter().name(name).send().await {
        Ok(out) => {
            let text = out.parameter().and_then(|p| p.value()).unwrap_or_default();
            // Unreadable: treated as expired, so a broken lease never locks a lab for good.
            Ok(serde_json::from_str(text).ok().or(Some(Holder {
                command: "?".into(),
                owner: "?".into(),
                host: "?".into(),
                pid: 0,
                since: String::new(),
                expires: jiff::Timestamp::UNIX_EPOCH.to_string(),
            })))
        }
        Err(e) if error_code(&e) == Some("ParameterNotFound") => Ok(None),
        Err(e) => Err(e).aws(|| format!("reading the lease {name}"), ctx),
    }
}

async fn delete(ctx: &AwsContext, name: &str) -> Result<()> {
    match ctx.ssm().delete_parameter().name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if error_code(&e) == Some("ParameterNotFound") => Ok(()),
        Err(e) => Err(e).aws(|| format!("removing the lease {name}"), ctx),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_past_its_expiry_is_stale() {
        let h = Holder {
            command: "up".into(),
            owner: "arn".into(),
            host: "h".into(),
            pid: 1,
            since: "2026-12-01T10:00:00Z".into(),
            expires: "2026-12-01T10:10:00Z".into(),
        };
        assert!(!h.expired("2026-12-01T10:09:59Z".parse().unwrap()));
        assert!(h.expired("2026-12-01T10:10:00Z".parse().unwrap()));
    }
}
