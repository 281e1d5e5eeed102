//! The decision a playbook asks for after containment (`irlab approve`, `irlab reject`).
//!
//! With `ApprovalTimeoutSeconds` set, the Step Functions and SSM playbooks tag the contained
//! victim `irlab:approval=waiting` and wait:
//! - Step Functions, in a `sns:publish.waitForTaskToken` task whose message attributes carry the
//!   task token: the token is read back from the execution history (the TaskScheduled event's
//!   parameters), and SendTaskSuccess / SendTaskFailure (error `irlab.Rejected`) answer it;
//! - SSM Automation, in an `aws:approve` step: SendAutomationSignal Approve / Reject answers it,
//!   from a principal the step lists as an approver.
//!
//! Approved, the playbook eradicates in the same execution; rejected or timed out, it leaves the
//! victim contained. The Lambda playbook cannot wait and asks nobody.

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use aws_sdk_ssm::types::{AutomationExecutionFilterKey, AutomationExecutionStatus};
use jiff::Timestamp;

use crate::aws::{AwsContext, AwsResultExt};
use crate::error::{Error, Result};
use crate::incident::engine_run::{self, smithy};
use crate::lab::Variant;
use crate::lab::stacks::StackInfo;

/// The error name `irlab reject` fails the Step Functions task with (its Catch goes to "left
/// contained").
pub const REJECTED_ERROR: &str = "irlab.Rejected";

/// A playbook run that waits for a decision about one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    /// The execution's name (Step Functions) or id (SSM), as the approval message names it.
    pub execution: String,
    pub instance: String,
    /// When the playbook asked.
    pub asked_at: Option<Timestamp>,
    how: Answer,
}

#[derive(Debug, Clone, PartialEq)]
enum Answer {
    TaskToken(String),
    Signal,
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::Reject => "rejected",
        }
    }
}

/// The playbook runs that wait for a decision now, about `instance` or named `execution`.
pub async fn waiting(
    ctx: &AwsContext,
    variant: Variant,
    stack: &StackInfo,
    instance: Option<&str>,
    execution: Option<&str>,
) -> Result<Vec<Waiting>> {
    let mine = |w: &Waiting| {
        execution.is_none_or(|e| w.execution == e || e.ends_with(&format!(":{}", w.execution)))
            && instance.is_none_or(|i| w.instance == i)
    };
    let all = match variant {
        Variant::StepFunctions => step_functions(ctx, stack).await?,
        Variant::Ssm => automation(ctx, stack).await?,
        Variant::Lambda | Variant::Manual => Vec::new(),
    };
    Ok(all.into_iter().filter(mine).collect())
}

/// Sends the decision; `by` and `reason` go with it (the execution's history keeps them).
pub async fn decide(ctx: &AwsContext, w: &Waiting, decision: Decision, by: &str, reason: &str) -> Result<()> {
    match &w.how {
        Answer::TaskToken(token) => {
            let sfn = ctx.sfn();
            match decision {
                Decision::Approve => {
                    let output = serde_json::json!({ "decision": "approved", "by": by, "comment": reason });
                    sfn.send_task_success()
                        .task_token(token)
                        .output(output.to_string())
                        .send()
                        .await
                        .aws(|| format!("approving execution {}", w.execution), ctx)?;
                }
                Decision::Reject => {
                    sfn.send_task_failure()
                        .task_token(token)
                        .error(REJECTED_ERROR)
                        .cause(format!("by {by}: {reason}"))
                        .send()
                        .await
                        .aws(|| format!("rejecting execution {}", w.execution), ctx)?;
                }
            }
        }
        Answer::Signal => {
            let signal = match decision {
                Decision::Approve => aws_sdk_ssm::types::SignalType::Approve,
                Decision::Reject => aws_sdk_ssm::types::SignalType::Reject,
            };
            ctx.ssm()
                .send_automation_signal()
                .automation_execution_id(&w.execution)
                .signal_type(signal)
                .payload("Comment", vec![format!("{} by {by}: {reason}", decision.as_str())])
                .send()
                .await
                .aws(|| format!("sending {} to automation {}", decision.as_str(), w.execution), ctx)?;
        }
    }
    Ok(())
}

/// Running executions whose last callback task (`.waitForTaskToken`) has not ended.
async fn step_functions(ctx: &AwsContext, stack: &StackInfo) -> Result<Vec<Waiting>> {
    let arn = stack.need("PlaybookArn")?;
    let sfn = ctx.sfn();
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = sfn
            .list_executions()
            .state_machine_arn(&arn)
            .status_filter(ExecutionStatus::Running)
            .set_next_token(token)
            .send()
            .await
            .aws(|| format!("listing the running executions of {arn}"), ctx)?;
        for e in page.executions() {
            // The open request is near the end of the whole history.
            let events = engine_run::history(ctx, e.execution_arn()).await?;
            let input = sfn
                .describe_execution()
                .execution_arn(e.execution_arn())
                .send()
                .await
                .aws(|| format!("reading execution {}", e.name()), ctx)?;
            let instance = input.input().and_then(instance_of).unwrap_or_default();
            let mut open: Option<(String, Option<Timestamp>)> = None;
            for ev in &events {
                match ev.r#type() {
                    HistoryEventType::TaskScheduled => {
                        let details = ev.task_scheduled_event_details();
                        let callback = details.is_some_and(|d| d.resource().ends_with(".waitForTaskToken"));
                        open = details
                            .filter(|_| callback)
                            .and_then(|d| task_token(d.parameters()))
                            .map(|t| (t, smithy(ev.timestamp())));
                    }
                    HistoryEventType::TaskSucceeded
                    | HistoryEventType::TaskFailed
                    | HistoryEventType::TaskTimedOut
                    | HistoryEventType::TaskStartFailed
                    | HistoryEventType::TaskSubmitFailed => open = None,
                    _ => {}
                }
            }
            if let Some((t, asked_at)) = open {
                out.push(Waiting { execution: e.name().to_string(), instance, asked_at, how: Answer::TaskToken(t) });
            }
        }
        token = page.next_token().map(String::from);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The instance a GuardDuty finding event names.
fn instance_of(input: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(input).ok()?;
    v.pointer("/detail/resource/instanceDetails/instanceId")?.as_str().map(String::from)
}

/// The task token the approval request carries as its `irlab.task-token` message attribute.
fn task_token(parameters: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(parameters).ok()?;
    v.pointer("/MessageAttributes/irlab.task-token/StringValue")?.as_str().map(String::from)
}

/// Automation executions of the playbook in status Waiting (an `aws:approve` step waits).
async fn automation(ctx: &AwsContext, stack: &StackInfo) -> Result<Vec<Waiting>> {
    let waiting =
        (AutomationExecutionFilterKey::ExecutionStatus, AutomationExecutionStatus::Waiting.as_str().to_string());
    let mut out = Vec::new();
    for e in engine_run::automations(ctx, stack, waiting).await? {
        let Some(id) = e.automation_execution_id() else { continue };
        let got = ctx
            .ssm()
            .get_automation_execution()
            .automation_execution_id(id)
            .send()
            .await
            .aws(|| format!("reading automation {id}"), ctx)?;
        let Some(x) = got.automation_execution() else { continue };
        let approve =
            x.step_executions().iter().rev().find(|s| {
                s.action() == Some("aws:approve") && s.step_status().is_some_and(|st| st.as_str() == "Waiting")
            });
        let Some(step) = approve else { continue };
        let instance =
            x.parameters().and_then(|p| p.get("InstanceId")).and_then(|v| v.first()).cloned().unwrap_or_default();
        out.push(Waiting {
            execution: id.to_string(),
            instance,
            asked_at: step.execution_start_time().and_then(smithy),
            how: Answer::Signal,
        });
    }
    Ok(out)
}

/// What to tell someone who asked to decide when nothing waits, from the victim's approval tag.
pub fn nothing_waits(instance: &str, approval: Option<&str>, variant: Variant) -> Error {
    let e = Error::problem(format!("no {variant} playbook run waits for a decision about {instance}"));
    match (variant, approval) {
        (Variant::Lambda, _) => e.with_hint(
            "the lambda playbook cannot wait for a person (a run ends at 15 minutes): it stops after containment; eradicate and recover by hand with `irlab eradicate` and `irlab recover`",
        ),
        (_, Some(a @ ("approved" | "rejected" | "timed-out" | "not-asked"))) => e.with_hint(format!(
            "the playbook's approval for it was {a} already; by hand: `irlab eradicate`, then `irlab recover`"
        )),
        (_, _) => e.with_hint(
            "the playbook asks only when the lab was brought up with `irlab up --approval-timeout DURATION`, and only once it has contained the victim (`irlab verify` shows it)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_from_the_approval_requests_message_attributes() {
        let params = r#"{"TopicArn":"arn:aws:sns:us-east-1:123456789012:t","Subject":"s","Message":"m",
            "MessageAttributes":{"irlab.task-token":{"DataType":"String","StringValue":"AAAA+token/=="}}}"#;
        assert_eq!(task_token(params).as_deref(), Some("AAAA+token/=="));
        assert_eq!(task_token(r#"{"TopicArn":"t","Message":"m"}"#), None, "a notification is no request");
        assert_eq!(task_token("not json"), None);
    }

    #[test]
    fn the_instance_is_the_one_the_finding_event_names() {
        let input = r#"{"detail":{"resource":{"instanceDetails":{"instanceId":"i-0abc"}}}}"#;
        assert_eq!(instance_of(input).as_deref(), Some("i-0abc"));
        assert_eq!(instance_of(r#"{"detail":{}}"#), None);
    }
}
