//! The playbook engine's own record of the run that answered a finding: a Step Functions
//! execution, an SSM Automation execution, or the Lambda function's log lines. Shared by
//! `verify` (did it succeed?) and `report` (when did it start, each step, end?).

use jiff::Timestamp;

use crate::aws::{AwsContext, AwsResultExt};
use crate::error::Result;
use crate::lab::Variant;
use crate::stacks::StackInfo;

#[derive(Debug, Clone, Default)]
pub struct EngineRun {
    /// The engine's word: `SUCCEEDED`, `RUNNING`, `FAILED` (Step Functions, and Lambda by its log),
    /// `Success`, `InProgress`, `Failed` (SSM Automation).
    pub status: String,
    pub started: Option<Timestamp>,
    /// Set only when the run succeeded.
    pub contained: Option<Timestamp>,
    /// Each step's last exit, in the engine's order (empty for Lambda: one function).
    pub steps: Vec<(String, Timestamp)>,
}

fn smithy(t: &aws_smithy_types::DateTime) -> Option<Timestamp> {
    Timestamp::from_millisecond(t.to_millis().ok()?).ok()
}

/// Finds the run whose input names one of `findings` (Lambda: the invocations since `since`).
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
        Variant::StepFunctions => step_functions(ctx, stack, findings, with_steps).await,
        Variant::Ssm => automation(ctx, stack, findings).await,
        Variant::Lambda => lambda(ctx, stack, since).await,
    }
}

async fn step_functions(
    ctx: &AwsContext,
    stack: &StackInfo,
    findings: &[String],
    with_steps: bool,
) -> Result<Option<EngineRun>> {
    let arn = stack.output("PlaybookArn").unwrap_or_default();
    let sfn = ctx.sfn();
    let list = sfn
        .list_executions()
        .state_machine_arn(arn)
        .send()
        .await
        .aws(|| format!("listing executions of {arn}"), ctx)?;
    for e in list.executions() {
        let d = sfn
            .describe_execution()
            .execution_arn(e.execution_arn())
            .send()
            .await
            .aws(|| "reading an execution".into(), ctx)?;
        if !findings.iter().any(|f| d.input().is_some_and(|i| i.contains(f.as_str()))) {
            continue;
        }
        let status = d.status().as_str().to_string();
        let mut run = EngineRun {
            contained: if status == "SUCCEEDED" { d.stop_date().and_then(smithy) } else { None },
            started: smithy(d.start_date()),
            status,
            steps: Vec::new(),
        };
        if with_steps {
            let history = sfn
                .get_execution_history()
                .execution_arn(e.execution_arn())
                .max_results(1000)
                .send()
                .await
                .aws(|| "reading the execution history".into(), ctx)?;
            for ev in history.events() {
                if let (Some(exit), Some(t)) = (ev.state_exited_event_details(), smithy(ev.timestamp())) {
                    match run.steps.iter_mut().find(|(n, _)| n == exit.name()) {
                        Some(slot) => slot.1 = t,
                        None => run.steps.push((exit.name().to_string(), t)),
                    }
                }
            }
        }
        return Ok(Some(run));
    }
    Ok(None)
}

async fn automation(ctx: &AwsContext, stack: &StackInfo, findings: &[String]) -> Result<Option<EngineRun>> {
    use aws_sdk_ssm::types::{AutomationExecutionFilter, AutomationExecutionFilterKey};
    let name = stack.output("AutomationDocumentName").or(stack.output("PlaybookName")).unwrap_or_default();
    let filter = AutomationExecutionFilter::builder()
        .key(AutomationExecutionFilterKey::DocumentNamePrefix)
        .values(name)
        .build()
        .expect("key and values set");
    let list = ctx
        .ssm()
        .describe_automation_executions()
        .filters(filter)
        .send()
        .await
        .aws(|| format!("listing executions of {name}"), ctx)?;
    for e in list.automation_execution_metadata_list() {
        let Some(id) = e.automation_execution_id() else { continue };
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
        return Ok(Some(EngineRun {
            contained: if status == "Success" { x.execution_end_time().and_then(smithy) } else { None },
            started: x.execution_start_time().and_then(smithy),
            steps: x
                .step_executions()
                .iter()
                .filter_map(|s| Some((s.step_name()?.to_string(), s.execution_end_time().and_then(smithy)?)))
                .collect(),
            status,
        }));
    }
    Ok(None)
}

/// One function, no execution record: its log group tells when it ran and whether it failed.
async fn lambda(ctx: &AwsContext, stack: &StackInfo, since: Timestamp) -> Result<Option<EngineRun>> {
    let group = stack.output("LogGroupName").unwrap_or_default();
    let events = ctx
        .logs()
        .filter_log_events()
        .log_group_name(group)
        .start_time(since.as_millisecond())
        .send()
        .await
        .aws(|| format!("reading log group {group}"), ctx)?;
    let at = |prefix: &str| {
        events
            .events()
            .iter()
            .find(|e| e.message().is_some_and(|m| m.starts_with(prefix)))
            .and_then(|e| e.timestamp())
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
    };
    let (started, ended) = (at("START"), at("REPORT"));
    if started.is_none() {
        return Ok(None);
    }
    let failed = events
        .events()
        .iter()
        .filter_map(|e| e.message())
        .any(|l| l.contains("[ERROR]") || l.contains("\"errorType\"") || l.contains("Traceback"));
    let status = match (ended, failed) {
        (None, _) => "RUNNING",
        (Some(_), true) => "FAILED",
        (Some(_), false) => "SUCCEEDED",
    };
    Ok(Some(EngineRun {
        status: status.into(),
        started,
        contained: if status == "SUCCEEDED" { ended } else { None },
        steps: Vec::new(),
    }))
}
