//! Eradication: stop and remove what the attack left on the contained victim, then look for its
//! indicators again (`irlab eradicate`).
//!
//! The isolated victim reaches nothing but Systems Manager's private endpoints in the shared VPC
//! (its quarantine group allows HTTPS to their group only), and the containment took its instance
//! profile and revoked the role's sessions, so its agent is offline. For the length of the
//! eradication irlab associates the victim stack's `EradicateInstanceProfile`, whose role can do
//! nothing but be a managed node, runs the detection stack's `EradicateDocument`, and takes the
//! profile away again, whatever happened.

use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{Filter, IamInstanceProfileSpecification};
use serde::Deserialize;

use crate::aws::{AwsContext, AwsResultExt, error_code};
use crate::error::{Error, Result};
use crate::incident::scenario::Indicators;
use crate::ui::progress::{Progress, Reporter};

/// The EradicateDocument's step that looks for the indicators (its output is the record).
pub const CHECK_STEP: &str = "checkIndicators";

/// What one eradication needs: where, with what, and what to look for afterwards.
pub struct Plan<'a> {
    pub instance: &'a str,
    pub profile_arn: &'a str,
    pub document: &'a str,
    pub commands: Vec<String>,
    pub indicators: &'a Indicators,
    pub timeout_seconds: u32,
    pub comment: String,
}

/// How an eradication ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub command_id: String,
    /// The eradication step's status (Success, Failed, TimedOut, ...).
    pub eradicate_status: String,
    /// The eradication step's last error line, when it failed.
    pub eradicate_error: Option<String>,
    pub check: Check,
}

/// The check step's record: `{"version": "irlab-eradicate-1", "eradicated": ..., "present": [...]}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Check {
    pub eradicated: bool,
    #[serde(default)]
    pub present: Vec<String>,
}

/// Reads the check step's record from its standard output (the last line that is JSON).
pub fn parse_check(stdout: &str) -> Option<Check> {
    stdout.lines().rev().map(str::trim).filter(|l| l.starts_with('{')).find_map(|l| serde_json::from_str(l).ok())
}

/// Runs the plan: profile on, agent online, document, profile off (also on failure).
pub async fn run(ctx: &AwsContext, plan: &Plan<'_>, reporter: &dyn Reporter) -> Result<Outcome> {
    let association = associate(ctx, plan.instance, plan.profile_arn, reporter).await?;
    let result = async {
        wait_online(ctx, plan.instance, reporter).await?;
        let command_id = send(ctx, plan).await?;
        reporter.report(Progress::Note(format!("Run Command {command_id} eradicates on {}", plan.instance)));
        follow(ctx, plan, &command_id).await
    }
    .await;
    let released = disassociate(ctx, plan.instance, &association).await;
    let outcome = result?;
    released?;
    reporter.report(Progress::Note(format!("the eradication profile is off {} again", plan.instance)));
    Ok(outcome)
}

/// Looks for the indicators on an instance whose agent is online, changing nothing: the
/// EradicateDocument with a command that does nothing (a recovered victim's check).
pub async fn check_only(ctx: &AwsContext, plan: &Plan<'_>, reporter: &dyn Reporter) -> Result<Outcome> {
    wait_online(ctx, plan.instance, reporter).await?;
    let command_id = send(ctx, plan).await?;
    reporter.report(Progress::Note(format!("Run Command {command_id} looks for the indicators on {}", plan.instance)));
    follow(ctx, plan, &command_id).await
}

/// Associates the eradication profile, or keeps it if an interrupted eradication left it on.
async fn associate(ctx: &AwsContext, instance: &str, arn: &str, reporter: &dyn Reporter) -> Result<String> {
    let ec2 = ctx.ec2();
    let current = ec2
        .describe_iam_instance_profile_associations()
        .filters(Filter::builder().name("instance-id").values(instance).build())
        .filters(Filter::builder().name("state").values("associating").values("associated").build())
        .send()
        .await
        .aws(|| format!("reading the profile associations of {instance}"), ctx)?;
    if let Some(a) = current.iam_instance_profile_associations().first() {
        let theirs = a.iam_instance_profile().and_then(|p| p.arn()).unwrap_or_default();
        if theirs == arn {
            return Ok(a.association_id().unwrap_or_default().to_string());
        }
        return Err(Error::problem(format!("the victim {instance} carries the instance profile {theirs}")).with_hint(
            "a contained victim has no profile: eradicate after the playbook has contained it (`irlab verify`)",
        ));
    }
    reporter.report(Progress::Note(format!("associating the eradication profile with {instance}")));
    let out = ec2
        .associate_iam_instance_profile()
        .instance_id(instance)
        .iam_instance_profile(IamInstanceProfileSpecification::builder().arn(arn).build())
        .send()
        .await
        .aws(|| format!("associating the eradication profile with {instance}"), ctx)?;
    Ok(out.iam_instance_profile_association().and_then(|a| a.association_id()).unwrap_or_default().to_string())
}

async fn disassociate(ctx: &AwsContext, instance: &str, association: &str) -> Result<()> {
    match ctx.ec2().disassociate_iam_instance_profile().association_id(association).send().await {
        Ok(_) => Ok(()),
        Err(e) if error_code(&e) == Some("InvalidAssociationID.NotFound") => Ok(()),
        Err(e) => Err(e).aws(|| format!("taking the eradication profile off {instance}"), ctx).map_err(|e| {
            e.with_hint(format!(
                "run `irlab reset` or disassociate {association} yourself: the victim holds a managed-node role"
            ))
        }),
    }
}

/// Waits for the instance's agent to be Online: after new credentials (the eradication profile)
/// or a new instance, it registers within minutes; AWS publishes no figure.
pub async fn wait_online(ctx: &AwsContext, instance: &str, reporter: &dyn Reporter) -> Result<()> {
    let limit = if ctx.local { Duration::from_secs(120) } else { Duration::from_secs(600) };
    let started = Instant::now();
    let mut said = false;
    loop {
        let ping = crate::lab::agent::ping(ctx, instance).await?;
        if ping.as_deref() == Some("Online") {
            return Ok(());
        }
        if started.elapsed() > limit {
            return Err(Error::problem(format!(
                "the SSM agent of {instance} is {} after {}",
                ping.as_deref().unwrap_or("not registered"),
                humantime::format_duration(limit)
            ))
            .with_hint("an isolated victim reaches Systems Manager only through the shared VPC's endpoints: check `irlab status` shows them, and that the quarantine group allows HTTPS to their group"));
        }
        if !said {
            reporter.report(Progress::Note(format!(
                "waiting for the SSM agent of {instance} to come online (up to {})",
                humantime::format_duration(limit)
            )));
            said = true;
        }
        tokio::time::sleep(if ctx.local { Duration::from_millis(500) } else { Duration::from_secs(10) }).await;
    }
}

async fn send(ctx: &AwsContext, plan: &Plan<'_>) -> Result<String> {
    let out = ctx
        .ssm()
        .send_command()
        .instance_ids(plan.instance)
        .document_name(plan.document)
        .comment(&plan.comment)
        .timeout_seconds(60)
        .parameters("Commands", plan.commands.clone())
        .parameters("Indicators", vec![plan.indicators.to_json()])
        .parameters("TimeoutSeconds", vec![plan.timeout_seconds.to_string()])
        .send()
        .await
        .aws(|| format!("sending the eradication to {} (SSM Run Command)", plan.instance), ctx)?;
    Ok(out.command().and_then(|c| c.command_id()).unwrap_or_default().to_string())
}

const TERMINAL: [&str; 5] = ["Success", "Failed", "Cancelled", "TimedOut", "DeliveryTimedOut"];

/// Waits for both steps, then reads the check step's record.
async fn follow(ctx: &AwsContext, plan: &Plan<'_>, command_id: &str) -> Result<Outcome> {
    // The eradication's own timeout, the check's, and delivery.
    let limit = Duration::from_secs(u64::from(plan.timeout_seconds) + 300);
    let started = Instant::now();
    loop {
        let step = |name: &'static str| {
            ctx.ssm()
                .get_command_invocation()
                .command_id(command_id)
                .instance_id(plan.instance)
                .plugin_name(name)
                .send()
        };
        match step(CHECK_STEP).await {
            Ok(check) if check.status().is_some_and(|s| TERMINAL.contains(&s.as_str())) => {
                let eradicate =
                    step("eradicate").await.aws(|| format!("reading the eradication step of {command_id}"), ctx)?;
                let stdout = check.standard_output_content().unwrap_or_default();
                let record = parse_check(stdout).ok_or_else(|| {
                    Error::failure(format!(
                        "the indicator check of {command_id} printed no record (status {})",
                        check.status().map(|s| s.as_str()).unwrap_or("unknown")
                    ))
                    .with_hint(format!(
                        "its error output: {}",
                        check.standard_error_content().unwrap_or_default().lines().last().unwrap_or("(none)")
                    ))
                })?;
                let eradicate_status = eradicate.status().map(|s| s.as_str().to_string()).unwrap_or_default();
                let eradicate_error = (eradicate_status != "Success")
                    .then(|| eradicate.standard_error_content().unwrap_or_default().lines().last().map(String::from))
                    .flatten();
                return Ok(Outcome { command_id: command_id.into(), eradicate_status, eradicate_error, check: record });
            }
            Ok(_) => {}
            // Right after SendCommand the invocation may not exist yet.
            Err(e)
                if error_code(&e) == Some("InvocationDoesNotExist") && started.elapsed() < Duration::from_secs(60) => {}
            Err(e) => return Err(e).aws(|| format!("following the eradication {command_id}"), ctx),
        }
        if started.elapsed() > limit {
            return Err(Error::problem(format!(
                "the eradication {command_id} did not end within {}",
                humantime::format_duration(limit)
            ))
            .with_hint("see it in the Systems Manager console (Run Command); the victim stays contained"));
        }
        tokio::time::sleep(if ctx.local { Duration::from_millis(300) } else { Duration::from_secs(5) }).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_is_the_last_json_line_of_the_check() {
        let out = "looking for 3 indicators\n{\"version\": \"irlab-eradicate-1\", \"eradicated\": false, \"present\": [\"processes:tor\"], \"indicators\": {}}\n";
        assert_eq!(parse_check(out), Some(Check { eradicated: false, present: vec!["processes:tor".into()] }));
        assert_eq!(parse_check("no record\n"), None);
        assert_eq!(parse_check("{not json\n"), None);
    }
}
