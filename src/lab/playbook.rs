//! The automated response: one playbook stack per variant, fed by the detection and victim
//! stacks' outputs, and exactly one variant deployed at a time.

use serde::Serialize;

use crate::aws::{AwsContext, AwsResultExt, error_code};
use crate::error::{Error, Result};
use crate::lab::avml::Tool;
use crate::lab::stacks::{self, Deployment, Outcome, StackInfo};
use crate::lab::{LAB_TAG, LabName, PART_TAG, Part, Variant};
use crate::ui::progress::Reporter;

/// GuardDuty's Medium band starts at 4.0: Low findings are noise for a containment.
pub const DEFAULT_MIN_SEVERITY: f64 = 4.0;

/// The playbook stacks that exist now (normally zero or one).
pub async fn deployed(ctx: &AwsContext, lab: &LabName) -> Result<Vec<(Variant, StackInfo)>> {
    let mut out = Vec::new();
    for v in Variant::DEPLOYABLE {
        if let Some(s) = stacks::find(ctx, lab, Part::Playbook(v)).await? {
            out.push((v, s));
        }
    }
    Ok(out)
}

/// What a user tunes of the playbook; None keeps what the deployed playbook has, else the default.
#[derive(Debug, Clone, Default)]
pub struct Tuning {
    /// Lowest GuardDuty severity acted on.
    pub min_severity: Option<f64>,
    /// Longest the volatile collection may hold back isolation, in seconds.
    pub evidence_budget: Option<u32>,
    /// Some(Some(tool)) takes a memory image with this AVML before isolation, Some(None) stops
    /// taking it, None keeps what the deployed playbook does.
    pub memory: Option<Option<Tool>>,
    /// Longest the memory capture may hold back isolation, in seconds.
    pub memory_budget: Option<u32>,
    /// Seconds the playbook waits after containment for `irlab approve` or `irlab reject`;
    /// Some(0) stops asking.
    pub approval_timeout: Option<u32>,
}

/// What the deployed playbook does before isolation, beyond the volatile collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memory {
    /// None: no memory image is taken.
    pub tool: Option<Tool>,
    pub budget: u32,
}

/// Deploys `variant` and removes any other variant, so one rule answers each finding.
pub async fn switch(
    ctx: &AwsContext,
    lab: &LabName,
    variant: Variant,
    detection: &StackInfo,
    victim: &StackInfo,
    tuning: Tuning,
    reporter: &dyn Reporter,
) -> Result<(Outcome, StackInfo)> {
    let current = deployed(ctx, lab).await?;
    let kept = |key: &str| current.iter().find_map(|(_, s)| s.kept_parameter(key).map(String::from));
    let min_severity = tuning
        .min_severity
        .or_else(|| kept("MinSeverity").and_then(|v| v.parse().ok()))
        .unwrap_or(DEFAULT_MIN_SEVERITY);
    let budget = tuning
        .evidence_budget
        .or_else(|| kept("EvidenceBudgetSeconds").and_then(|v| v.parse().ok()))
        .unwrap_or(DEFAULT_EVIDENCE_BUDGET);
    let kept_memory = current.iter().map(|(_, s)| memory_of(s)).next();
    let memory = Memory {
        tool: tuning.memory.clone().unwrap_or_else(|| kept_memory.as_ref().and_then(|m| m.tool.clone())),
        budget: tuning.memory_budget.or(kept_memory.map(|m| m.budget)).unwrap_or(DEFAULT_MEMORY_BUDGET),
    };
    let approval =
        tuning.approval_timeout.or_else(|| kept("ApprovalTimeoutSeconds").and_then(|v| v.parse().ok())).unwrap_or(0);
    if approval > 0 && variant == Variant::Lambda {
        return Err(lambda_cannot_wait());
    }
    // Nothing waits without a playbook: the setting stays for the next playbook.
    let approval = if variant == Variant::Manual { 0 } else { approval };
    // SSM's aws:approve takes the principals who may decide: whoever brings the lab up.
    let approver = approver_arn(&ctx.identity().await?.arn);
    // The old variant goes first: two rules would contain the same instance twice.
    for (v, s) in &current {
        if *v != variant {
            stacks::delete(ctx, &s.id, &s.name, reporter).await?;
        }
    }
    let part = Part::Playbook(variant);
    // The Step Functions and SSM playbooks are bigger than a request may carry: they go by S3,
    // under the lab's own prefix of the shared bucket (removed with the lab).
    let template_url = match crate::lab::shared::find(ctx).await?.as_ref().and_then(|s| s.output("TrailBucketName")) {
        Some(bucket) => {
            stacks::stage_template(ctx, part.template(), bucket, &format!("irlab/{lab}/templates/")).await?
        }
        None => None,
    };
    let d = Deployment {
        stack_name: lab.stack_name(part),
        template: part.template(),
        template_url,
        parameters: parameters(variant, lab, detection, victim, min_severity, budget, &memory, approval, &approver)?,
        tags: vec![(LAB_TAG.into(), lab.to_string()), (PART_TAG.into(), part.to_string())],
    };
    stacks::deploy(ctx, &d, part.as_str(), reporter).await
}

#[allow(clippy::too_many_arguments)]
fn parameters(
    variant: Variant,
    lab: &LabName,
    detection: &StackInfo,
    victim: &StackInfo,
    min_severity: f64,
    evidence_budget: u32,
    memory: &Memory,
    approval: u32,
    approver: &str,
) -> Result<Vec<(String, String)>> {
    if variant == Variant::Manual {
        // No engine: the rule only alerts and records.
        return Ok(vec![
            ("LabName".into(), lab.to_string()),
            ("AlertTopicArn".into(), detection.need("AlertTopicArn")?),
            ("AuditRecorderArn".into(), detection.need("AuditRecorderArn")?),
            ("InstanceId".into(), victim.need("InstanceId")?),
            ("MinSeverity".into(), format_severity(min_severity)),
        ]);
    }
    let mut out = vec![
        ("LabName".into(), lab.to_string()),
        ("AlertTopicArn".into(), detection.need("AlertTopicArn")?),
        ("AuditRecorderArn".into(), detection.need("AuditRecorderArn")?),
        // The rule matches findings about this instance only: another lab's never start anything here.
        ("InstanceId".into(), victim.need("InstanceId")?),
        ("QuarantineSecurityGroupId".into(), victim.need("QuarantineSecurityGroupId")?),
        // Labs share a VPC: the playbook may move network interfaces of this subnet only.
        ("SubnetId".into(), victim.need("SubnetId")?),
        // Each interface passes through it so its tracked flows become untracked, then are cut.
        ("UntrackSecurityGroupId".into(), victim.need("UntrackSecurityGroupId")?),
        // Sessions of this role issued before the containment are revoked.
        ("InstanceRoleArn".into(), victim.need("InstanceRoleArn")?),
        ("MinSeverity".into(), format_severity(min_severity)),
        // Evidence before isolation: where it goes, how it is collected, for how long at most,
        // and what every built-in scenario leaves behind.
        ("EvidenceBucketName".into(), detection.need("EvidenceBucketName")?),
        ("CollectDocumentName".into(), detection.need("CollectDocumentName")?),
        ("EvidenceBudgetSeconds".into(), evidence_budget.to_string()),
        ("Indicators".into(), indicators()?),
        // With --memory, an AVML image too, from the pinned tool (the Lambda playbook declines:
        // its run ends at 15 minutes).
        ("MemoryDocumentName".into(), detection.need("MemoryDocumentName")?),
        ("MemoryTool".into(), memory.tool.as_ref().map(|t| t.location.clone()).unwrap_or_default()),
        ("MemoryToolSha256".into(), memory.tool.as_ref().map(|t| t.sha256.clone()).unwrap_or_default()),
        ("MemoryBudgetSeconds".into(), memory.budget.to_string()),
    ];
    // After containment, an approval, then the eradication in the same execution (the engines
    // that can wait; the Lambda playbook has none of these parameters).
    if variant != Variant::Lambda {
        let eradication = eradication()?;
        out.extend([
            ("ApprovalTimeoutSeconds".into(), approval.to_string()),
            ("EradicateDocumentName".into(), detection.need("EradicateDocumentName")?),
            ("EradicateInstanceProfileArn".into(), victim.need("EradicateInstanceProfileArn")?),
            ("EradicateRoleArn".into(), victim.need("EradicateRoleArn")?),
            ("EradicateCommands".into(), eradication.0),
            ("EradicateTimeoutSeconds".into(), eradication.1.to_string()),
        ]);
    }
    if variant == Variant::Ssm {
        out.push(("Approvers".into(), approver.to_string()));
    }
    Ok(out)
}

/// Every built-in scenario's eradication commands, as one line of JSON, and the seconds they may
/// take together: the playbook eradicates whatever of them the attack left (each command
/// succeeds again when there is nothing to remove).
pub fn eradication() -> Result<(String, u32)> {
    let all = crate::incident::scenario::builtin()?;
    let steps: Vec<&crate::incident::scenario::Eradicate> = all.iter().filter_map(|s| s.eradicate.as_ref()).collect();
    let commands: Vec<&String> = steps.iter().flat_map(|e| &e.commands).collect();
    let json = serde_json::to_string(&commands).map_err(|e| Error::failure(format!("eradication commands: {e}")))?;
    Ok((json, steps.iter().map(|e| e.timeout_seconds).sum::<u32>().clamp(30, 3600)))
}

/// The principal SSM's aws:approve lists as an approver: an IAM user or role ARN as is; an
/// assumed role's session (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION) as its role, so that
/// the next session of the same role may decide too.
pub fn approver_arn(caller: &str) -> String {
    let parts: Vec<&str> = caller.splitn(6, ':').collect();
    if let [arn, partition, "sts", _, account, resource] = parts.as_slice()
        && let Some(rest) = resource.strip_prefix("assumed-role/")
        && let Some((role, _session)) = rest.split_once('/')
    {
        return format!("{arn}:{partition}:iam::{account}:role/{role}");
    }
    caller.to_string()
}

/// Why a lab with approvals cannot switch to the Lambda playbook.
pub fn lambda_cannot_wait() -> Error {
    Error::problem("the lambda playbook cannot wait for an approval: a Lambda run ends at 15 minutes")
        .with_hint("use `--playbook stepfunctions` or `--playbook ssm` with --approval-timeout, or `irlab up --no-approval` to stop asking")
}

/// Seconds the deployed playbook waits for a decision after containment (0: it asks nobody).
pub fn approval_of(stack: &StackInfo) -> u32 {
    stack.kept_parameter("ApprovalTimeoutSeconds").and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn format_severity(x: f64) -> String {
    if x.fract() == 0.0 { format!("{x:.0}") } else { format!("{x}") }
}

/// Seconds the volatile collection may hold back isolation (`up --evidence-budget`).
pub const DEFAULT_EVIDENCE_BUDGET: u32 = 120;

/// Seconds the memory capture may hold back isolation (`up --memory-budget`).
pub const DEFAULT_MEMORY_BUDGET: u32 = 300;

/// What the deployed playbook stack does about memory, read from its parameters.
pub fn memory_of(stack: &StackInfo) -> Memory {
    let tool = stack.kept_parameter("MemoryTool").filter(|t| !t.is_empty()).map(|location| Tool {
        location: location.to_string(),
        sha256: stack.kept_parameter("MemoryToolSha256").unwrap_or_default().to_string(),
    });
    let budget =
        stack.kept_parameter("MemoryBudgetSeconds").and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_MEMORY_BUDGET);
    Memory { tool, budget }
}

/// Every built-in scenario's indicators, as one line of JSON for the collection document.
pub fn indicators() -> Result<String> {
    let all = crate::incident::scenario::builtin()?;
    Ok(crate::incident::scenario::Indicators::union(all.iter().map(|s| &s.indicators)).to_json())
}

pub fn check_min_severity(x: f64) -> Result<f64> {
    if (1.0..=10.0).contains(&x) {
        Ok(x)
    } else {
        Err(Error::problem(format!("--min-severity {x} is outside GuardDuty's 1-10 scale"))
            .with_hint("Low is 1-3.9, Medium 4-6.9, High 7-8.9, Critical 9-10; the default is 4"))
    }
}

/// Is the deployed playbook able to answer a finding?
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub variant: Variant,
    pub stack: String,
    pub stack_status: String,
    pub min_severity: Option<String>,
    pub rule: Option<String>,
    pub rule_enabled: bool,
    pub targets: usize,
    /// The engine's own state ("function Active", "state machine ACTIVE", "document Active").
    pub engine: String,
    pub problems: Vec<String>,
}

impl Health {
    pub fn healthy(&self) -> bool {
        self.problems.is_empty()
    }
}

pub async fn health(ctx: &AwsContext, variant: Variant, stack: &StackInfo) -> Result<Health> {
    let mut problems = Vec::new();
    if !matches!(stack.status.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE") {
        problems.push(format!("stack is {}", stack.status));
    }
    let rule = stack.output("RuleName").map(String::from);
    let (mut rule_enabled, mut targets) = (false, 0);
    if let Some(name) = &rule {
        let events = ctx.events();
        match events.describe_rule().name(name).send().await {
            Ok(r) => rule_enabled = r.state().is_some_and(|s| s.as_str() == "ENABLED"),
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => {
                problems.push(format!("rule {name} is missing"))
            }
            Err(e) => return Err(e).aws(|| format!("reading rule {name}"), ctx),
        }
        if let Ok(t) = events.list_targets_by_rule().rule(name).send().await {
            targets = t.targets().len();
        }
        if !rule_enabled {
            problems.push(format!("rule {name} is not enabled"));
        }
        if targets < 2 {
            problems.push(format!(
                "rule {name} has {targets} targets, expected the {} and the audit recorder",
                if variant == Variant::Manual { "alert topic" } else { "playbook" }
            ));
        }
    } else {
        problems.push("the stack has no RuleName output".into());
    }
    let engine = match (variant, stack.output("PlaybookName")) {
        (_, None) => "unknown".to_string(),
        (Variant::Manual, Some(_)) => "none: findings go to the alert topic".to_string(),
        (Variant::Lambda, Some(name)) => {
            let f = ctx
                .lambda()
                .get_function()
                .function_name(name)
                .send()
                .await
                .aws(|| format!("reading function {name}"), ctx)?;
            let state = f
                .configuration()
                .and_then(|c| c.state())
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "Active".into());
            if state != "Active" {
                problems.push(format!("function {name} is {state}"));
            }
            format!("function {state}")
        }
        (Variant::StepFunctions, Some(_)) => {
            let arn = stack.output("PlaybookArn").unwrap_or_default();
            let m = ctx
                .sfn()
                .describe_state_machine()
                .state_machine_arn(arn)
                .send()
                .await
                .aws(|| format!("reading state machine {arn}"), ctx)?;
            let status = m.status().map(|s| s.as_str().to_string()).unwrap_or_else(|| "ACTIVE".into());
            if status != "ACTIVE" {
                problems.push(format!("state machine is {status}"));
            }
            format!("state machine {status}")
        }
        (Variant::Ssm, Some(name)) => {
            let d = ctx
                .ssm()
                .describe_document()
                .name(name)
                .send()
                .await
                .aws(|| format!("reading document {name}"), ctx)?;
            let status = d
                .document()
                .and_then(|d| d.status())
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "Active".into());
            if status != "Active" {
                problems.push(format!("document {name} is {status}"));
            }
            format!("document {status}")
        }
    };
    Ok(Health {
        variant,
        stack: stack.name.clone(),
        stack_status: stack.status.clone(),
        min_severity: stack.parameters.get("MinSeverity").cloned(),
        rule,
        rule_enabled,
        targets,
        engine,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_outside_guardduty_scale_are_refused() {
        assert_eq!(check_min_severity(4.0).unwrap(), 4.0);
        assert_eq!(check_min_severity(8.5).unwrap(), 8.5);
        assert_eq!(check_min_severity(0.5).unwrap_err().exit_code(), 1);
        assert!(check_min_severity(11.0).is_err());
        assert_eq!(format_severity(4.0), "4");
        assert_eq!(format_severity(7.5), "7.5");
    }

    #[test]
    fn an_assumed_role_session_approves_as_its_role() {
        assert_eq!(
            approver_arn("arn:aws:sts::123456789012:assumed-role/Instructor/alice@example.com"),
            "arn:aws:iam::123456789012:role/Instructor"
        );
        assert_eq!(
            approver_arn("arn:aws-us-gov:sts::123456789012:assumed-role/R/s"),
            "arn:aws-us-gov:iam::123456789012:role/R"
        );
        assert_eq!(approver_arn("arn:aws:iam::123456789012:user/bob"), "arn:aws:iam::123456789012:user/bob");
    }

    #[test]
    fn the_playbooks_eradication_is_every_scenarios_commands_in_one_parameter() {
        let (json, timeout) = eradication().unwrap();
        let commands: Vec<String> = serde_json::from_str(&json).unwrap();
        for s in crate::incident::scenario::builtin().unwrap() {
            for c in &s.eradicate.as_ref().unwrap().commands {
                assert!(commands.contains(c), "{}: {c}", s.id);
            }
        }
        // A CloudFormation parameter value holds at most 4,096 bytes, one line (the templates'
        // AllowedPattern).
        assert!(json.len() <= 4096 && !json.contains('\n'), "{} bytes", json.len());
        assert!((30..=3600).contains(&timeout));
    }
}
