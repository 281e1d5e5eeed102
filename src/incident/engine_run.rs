//! The playbook engine's own record of the run that answered a finding: a Step Functions
//! execution, an SSM Automation execution, or the Lambda function's log lines. Shared by
//! `verify` (did it succeed?) and `report` (when did it start, each step, end?).

use aws_sdk_ssm::types::{AutomationExecutionFilter, AutomationExecutionFilterKey};
use jiff::Timestamp;

use crate::aws::{AwsContext, AwsResultExt};
use crate::error::Result;
use crate::incident::log_events;
use crate::lab::Variant;
use crate::lab::stacks::StackInfo;

#[derive(Debug, Clone, Default)]
pub struct EngineRun {
    /// The engine's word: `SUCCEEDED`, `RUNNING`, `FAILED` (Step Functions, and Lambda by its log),
    /// `Success`, `InProgress`, `Failed` (SSM Automation).
    pub status: String,
    pub started: Option<Timestamp>,
    /// When the run contained the victim: its own step that tags it contained (a run may go on
    /// after it, waiting for an approval and eradicating), else the end of a run that succeeded.
    pub contained: Option<Timestamp>,
    /// Each step's last exit, in the engine's order (empty for Lambda: one function).
    pub steps: Vec<(String, Timestamp)>,
    /// Why the run failed, in the engine's words (Step Functions' error and cause, SSM's failure
    /// message).
    pub failure: Option<String>,
}

pub fn smithy(t: &aws_smithy_types::DateTime) -> Option<Timestamp> {
    Timestamp::from_millisecond(t.to_millis().ok()?).ok()
}

/// Finds the engine run, started since `since`, that answered one of `findings`: its input names
/// the finding (Step Functions, SSM), or its log lines do (Lambda).
pub async fn find(
    ctx: &AwsContext,
    variant: Variant,
    stack: &StackInfo,
    findings: &[String],
    since: Timestamp,
    with_steps: bool,
) -> Result<Option<EngineRun>> {
    if findings.is_empty() {
        return Ok(None);
    }
    match variant {
        Variant::StepFunctions => step_functions(ctx, stack, findings, since, with_steps).await,
        Variant::Ssm => automation(ctx, stack, findings, since).await,
        Variant::Lambda => lambda(ctx, stack, findings, since).await,
        // Nothing runs: the responder contains by hand.
        Variant::Manual => Ok(None),
    }
}

async fn step_functions(
    ctx: &AwsContext,
    stack: &StackInfo,
    findings: &[String],
    since: Timestamp,
    with_steps: bool,
) -> Result<Option<EngineRun>> {
    let arn = stack.output("PlaybookArn").unwrap_or_default();
    let sfn = ctx.sfn();
    // Newest first; an execution started before the run cannot be the run's.
    let mut recent = Vec::new();
    let mut token = None;
    'pages: loop {
        let page = sfn
            .list_executions()
            .state_machine_arn(arn)
            .set_next_token(token)
            .send()
            .await
            .aws(|| format!("listing executions of {arn}"), ctx)?;
        for e in page.executions() {
            if smithy(e.start_date()).is_some_and(|t| t < since) {
                break 'pages;
            }
            recent.push(e.execution_arn().to_string());
        }
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    let mut answered = Vec::new();
    for execution_arn in &recent {
        let d = sfn
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .aws(|| format!("reading execution {execution_arn}"), ctx)?;
        if !findings.iter().any(|f| d.input().is_some_and(|i| i.contains(f.as_str()))) {
            continue;
        }
        let status = d.status().as_str().to_string();
        let run = EngineRun {
            contained: if status == "SUCCEEDED" { d.stop_date().and_then(smithy) } else { None },
            started: smithy(d.start_date()),
            status,
            steps: Vec::new(),
            failure: d.error().map(|e| format!("{e}: {}", d.cause().unwrap_or_default())),
        };
        answered.push((execution_arn.clone(), run));
    }
    let Some((execution_arn, mut run)) = pick(answered) else {
        return Ok(None);
    };
    // A run that goes on after containment (an approval, an eradication) has its containment in
    // its history only.
    if with_steps || run.status != "SUCCEEDED" {
        for ev in &history(ctx, &execution_arn).await? {
            if let (Some(exit), Some(t)) = (ev.state_exited_event_details(), smithy(ev.timestamp())) {
                match run.steps.iter_mut().find(|(n, _)| n == exit.name()) {
                    Some(slot) => slot.1 = t,
                    None => run.steps.push((exit.name().to_string(), t)),
                }
            }
        }
        if let Some((_, t)) = run.steps.iter().find(|(n, _)| n == SFN_CONTAINED_STEP) {
            run.contained = Some(*t);
        }
    }
    Ok(Some(run))
}

/// The Step Functions playbook's state that tags the victim contained.
const SFN_CONTAINED_STEP: &str = "Mark contained";
/// The SSM playbook's step that does.
const SSM_CONTAINED_STEP: &str = "tagContained";

/// The lifecycle point a playbook's step after containment stands for: its eradication after an
/// approval, or the approval's timeout (Step Functions states, SSM steps).
pub fn after_containment(step: &str) -> Option<&'static str> {
    use crate::incident::report::{APPROVAL_TIMED_OUT, ERADICATED_BY_PLAYBOOK, RECOVERED_BY_PLAYBOOK};
    match step {
        "Mark recovered" | "tagRecovered" => Some(RECOVERED_BY_PLAYBOOK),
        "Mark eradicated" | "confirmEradicated" => Some(ERADICATED_BY_PLAYBOOK),
        "Approval timed out" | "tagTimedOut" => Some(APPROVAL_TIMED_OUT),
        _ => None,
    }
}

/// EventBridge delivers at least once, so one finding may start the engine twice. The run's
/// verdict is the first that contained the victim; else one still running; else the latest.
fn pick<K>(runs: Vec<(K, EngineRun)>) -> Option<(K, EngineRun)> {
    runs.into_iter().min_by_key(|(_, r)| {
        let at = r.started.map_or(0, |t| t.as_millisecond());
        match r.status.as_str() {
            // The earliest success is when containment really happened.
            "SUCCEEDED" | "Success" => (0, at),
            "RUNNING" | "InProgress" | "Pending" | "Waiting" => (1, -at),
            _ => (2, -at),
        }
    })
}

async fn automation(
    ctx: &AwsContext,
    stack: &StackInfo,
    findings: &[String],
    since: Timestamp,
) -> Result<Option<EngineRun>> {
    let after = (AutomationExecutionFilterKey::StartTimeAfter, since.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    let ids: Vec<String> = automations(ctx, stack, after)
        .await?
        .iter()
        .filter(|e| e.execution_start_time().and_then(smithy).is_none_or(|t| t >= since))
        .filter_map(|e| e.automation_execution_id().map(String::from))
        .collect();
    let mut answered = Vec::new();
    for id in &ids {
        let got = ctx
            .ssm()
            .get_automation_execution()
            .automation_execution_id(id)
            .send()
            .await
            .aws(|| format!("reading automation {id}"), ctx)?;
        let Some(x) = got.automation_execution() else { continue };
        let params = x.parameters().cloned().unwrap_or_default();
        if !params.get("FindingId").is_some_and(|v| v.iter().any(|p| findings.contains(p))) {
            continue;
        }
        let status = x.automation_execution_status().map(|s| s.as_str().to_string()).unwrap_or_default();
        let tagged = x
            .step_executions()
            .iter()
            .find(|s| {
                s.step_name() == Some(SSM_CONTAINED_STEP) && s.step_status().is_some_and(|st| st.as_str() == "Success")
            })
            .and_then(|s| s.execution_end_time().and_then(smithy));
        answered.push((
            (),
            EngineRun {
                contained: tagged.or(if status == "Success" { x.execution_end_time().and_then(smithy) } else { None }),
                started: x.execution_start_time().and_then(smithy),
                // A step that did not succeed says so in its name ("confirmEradicated (Failed)").
                steps: x
                    .step_executions()
                    .iter()
                    .filter_map(|s| {
                        let name = s.step_name()?;
                        let ended = s.execution_end_time().and_then(smithy)?;
                        Some(match s.step_status().map(|st| st.as_str()) {
                            Some("Success") | None => (name.to_string(), ended),
                            Some(other) => (format!("{name} ({other})"), ended),
                        })
                    })
                    .collect(),
                status,
                failure: x.failure_message().map(String::from),
            },
        ));
    }
    Ok(pick(answered).map(|(_, r)| r))
}

/// A Step Functions execution's whole history, page by page (1,000 events at most a page; the
/// collection's Map states alone make hundreds).
pub async fn history(ctx: &AwsContext, execution_arn: &str) -> Result<Vec<aws_sdk_sfn::types::HistoryEvent>> {
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let page = ctx
            .sfn()
            .get_execution_history()
            .execution_arn(execution_arn)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .aws(|| format!("reading the history of {execution_arn}"), ctx)?;
        events.extend(page.events().iter().cloned());
        token = page.next_token().map(String::from);
        if token.is_none() {
            return Ok(events);
        }
    }
}

/// The playbook runbook's automation executions that pass one more filter, every page.
pub async fn automations(
    ctx: &AwsContext,
    stack: &StackInfo,
    (key, value): (AutomationExecutionFilterKey, String),
) -> Result<Vec<aws_sdk_ssm::types::AutomationExecutionMetadata>> {
    let name = stack.output("AutomationDocumentName").or(stack.output("PlaybookName")).unwrap_or_default();
    let filter = |key, value: &str| {
        AutomationExecutionFilter::builder().key(key).values(value).build().expect("key and values set")
    };
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = ctx
            .ssm()
            .describe_automation_executions()
            .filters(filter(AutomationExecutionFilterKey::DocumentNamePrefix, name))
            .filters(filter(key.clone(), &value))
            .set_next_token(token)
            .send()
            .await
            .aws(|| format!("listing executions of {name}"), ctx)?;
        out.extend(page.automation_execution_metadata_list().iter().cloned());
        token = page.next_token().map(String::from);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// One function, no execution record: its log group tells which invocation answered the finding
/// (the handler logs the finding id; the runtime's lines carry the request id), when it ran and
/// whether it failed.
async fn lambda(
    ctx: &AwsContext,
    stack: &StackInfo,
    findings: &[String],
    since: Timestamp,
) -> Result<Option<EngineRun>> {
    let group = stack.output("LogGroupName").unwrap_or_default();
    // `[INFO]\t<time>\t<request id>\tfinding <id> ...`: one request per delivery of a finding.
    let mut requests: Vec<String> = Vec::new();
    for f in findings {
        for (_, m) in log_events::read(ctx, group, since, Some(f)).await? {
            if let Some(r) = m.split('\t').nth(2).filter(|r| m.starts_with('[') && !r.is_empty())
                && !requests.iter().any(|x| x == r)
            {
                requests.push(r.to_string());
            }
        }
    }
    let mut answered = Vec::new();
    for request in requests {
        let events = log_events::read(ctx, group, since, Some(&request)).await?;
        let at = |prefix: &str| {
            events.iter().find(|(_, m)| m.starts_with(prefix)).and_then(|(ms, _)| Timestamp::from_millisecond(*ms).ok())
        };
        let (started, ended) = (at("START"), at("REPORT"));
        if started.is_none() {
            continue;
        }
        let failed = events
            .iter()
            .map(|(_, m)| m)
            .any(|l| l.contains("[ERROR]") || l.contains("\"errorType\"") || l.contains("Traceback"));
        let status = match (ended, failed) {
            (None, _) => "RUNNING",
            (Some(_), true) => "FAILED",
            (Some(_), false) => "SUCCEEDED",
        };
        answered.push((
            (),
            EngineRun {
                status: status.into(),
                started,
                contained: if status == "SUCCEEDED" { ended } else { None },
                steps: Vec::new(),
                failure: None,
            },
        ));
    }
    Ok(pick(answered).map(|(_, r)| r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: &str, started_ms: i64) -> ((), EngineRun) {
        (
            (),
            EngineRun {
                status: status.into(),
                started: Timestamp::from_millisecond(started_ms).ok(),
                ..EngineRun::default()
            },
        )
    }

    #[test]
    fn a_duplicate_delivery_that_failed_does_not_hide_the_one_that_contained() {
        let (_, r) = pick(vec![run("FAILED", 3000), run("SUCCEEDED", 2000), run("SUCCEEDED", 1000)]).unwrap();
        assert_eq!((r.status.as_str(), r.started.unwrap().as_millisecond()), ("SUCCEEDED", 1000));
        let (_, r) = pick(vec![run("Failed", 1000), run("InProgress", 2000)]).unwrap();
        assert_eq!(r.status, "InProgress");
        let (_, r) = pick(vec![run("FAILED", 1000), run("TIMED_OUT", 2000)]).unwrap();
        assert_eq!(r.status, "TIMED_OUT", "with no success, the latest run speaks");
        assert!(pick::<()>(vec![]).is_none());
    }
}
