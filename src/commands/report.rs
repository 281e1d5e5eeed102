//! `irlab report`: the incident's timeline for a run (or a comparison of runs), collected from
//! the audit queue, GuardDuty and the playbook engine's own records, then rendered.

use std::collections::HashMap;

use jiff::Timestamp;
use serde_json::Value;

use super::verify::Sources;
use crate::aws::{AwsContext, AwsResultExt};
use crate::cli::{Global, ReportArgs, ReportFormat};
use crate::engine_run;
use crate::error::{Error, Result};
use crate::lab::Variant;
use crate::printer::Printer;
use crate::report::{self, ATTACK, CONTAINED, FINDING, Point, Timeline};
use crate::state::{AttackRun, LabState};

pub async fn run(g: &Global, args: &ReportArgs, p: &Printer) -> Result<()> {
    let (lab, ctx) = super::open(g).await?;
    let state = LabState::load(&ctx, &lab).await?.ok_or_else(|| {
        Error::problem(format!("lab {lab} is not deployed in {}", ctx.region))
            .with_hint("run `irlab up`, `irlab attack`, then `irlab report`")
    })?;
    let runs: Vec<AttackRun> = if args.compare {
        // The latest run of each playbook variant, oldest first.
        let mut latest: Vec<AttackRun> = Vec::new();
        for r in state.runs.iter().rev() {
            if !latest.iter().any(|l| l.variant == r.variant) {
                latest.insert(0, r.clone());
            }
        }
        latest
    } else {
        match &args.run {
            Some(id) => vec![
                state
                    .runs
                    .iter()
                    .find(|r| &r.id == id)
                    .cloned()
                    .ok_or_else(|| Error::problem(format!("no run {id} in lab {lab}")))?,
            ],
            None => state.runs.last().cloned().into_iter().collect(),
        }
    };
    if runs.is_empty() {
        return Err(
            Error::problem(format!("lab {lab} has no attack run yet")).with_hint("run `irlab attack SCENARIO` first")
        );
    }
    let sources = Sources::load(&ctx, &lab).await?;
    let messages = audit_messages(&ctx, &sources.queue_url).await?;
    let mut timelines = Vec::new();
    for r in &runs {
        timelines.push(timeline(&ctx, &lab, &sources, &messages, r).await?);
    }
    let format = args.format.unwrap_or(match args.out.as_ref().and_then(|o| o.extension()).and_then(|e| e.to_str()) {
        Some("html" | "htm") => ReportFormat::Html,
        Some("json") => ReportFormat::Json,
        _ if p.is_json() => ReportFormat::Json,
        _ => ReportFormat::Md,
    });
    let text = match format {
        ReportFormat::Md => report::markdown(&timelines),
        ReportFormat::Html => report::html(&timelines),
        ReportFormat::Json => serde_json::to_string_pretty(&timelines).expect("timelines serialize"),
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text)
                .map_err(|e| Error::failure(format!("writing {}: {e}", path.display())).with_source(e))?;
            p.info(format!("report written to {}", path.display()));
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// Every message of the audit queue with its SentTimestamp, read without consuming them.
async fn audit_messages(ctx: &AwsContext, queue_url: &str) -> Result<Vec<(Value, Timestamp)>> {
    let mut seen: HashMap<String, (Value, Timestamp)> = HashMap::new();
    let mut quiet = 0;
    while quiet < 2 {
        let out = ctx
            .sqs()
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .aws(|| "reading the audit queue".into(), ctx)?;
        let before = seen.len();
        for m in out.messages() {
            let sent = m
                .attributes()
                .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp))
                .and_then(|t| t.parse::<i64>().ok())
                .and_then(|ms| Timestamp::from_millisecond(ms).ok())
                .unwrap_or_else(Timestamp::now);
            if let (Some(id), Some(body)) = (m.message_id(), m.body()) {
                seen.entry(id.to_string()).or_insert_with(|| (serde_json::from_str(body).unwrap_or(Value::Null), sent));
            }
        }
        quiet = if seen.len() == before { quiet + 1 } else { 0 };
    }
    Ok(seen.into_values().collect())
}

fn ts(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

async fn timeline(
    ctx: &AwsContext,
    lab: &crate::lab::LabName,
    s: &Sources,
    messages: &[(Value, Timestamp)],
    run: &AttackRun,
) -> Result<Timeline> {
    let mut points = Vec::new();
    let started = ts(&run.started_at).unwrap_or_else(Timestamp::now);
    points.push(Point { label: ATTACK.into(), at: started, key: true });

    let mut finding_ids = run.finding_ids.clone();
    for (m, sent) in messages {
        if m["detail-type"] != "GuardDuty Finding" {
            continue;
        }
        let id = m["detail"]["id"].as_str().unwrap_or_default();
        let for_run = finding_ids.iter().any(|f| f == id)
            || (run.finding_ids.is_empty()
                && *sent >= started
                && run.expected_findings.iter().any(|t| m["detail"]["type"] == t.as_str()));
        if for_run && !points.iter().any(|p: &Point| p.label == FINDING) {
            let created = m["detail"]["createdAt"].as_str().and_then(ts).unwrap_or(*sent);
            points.push(Point { label: FINDING.into(), at: created, key: true });
            points.push(Point { label: "event delivered (audit queue)".into(), at: *sent, key: false });
            if !finding_ids.iter().any(|f| f == id) {
                finding_ids.push(id.to_string());
            }
        }
    }
    let notified = messages
        .iter()
        .filter(|(m, sent)| {
            m["Type"] == "Notification"
                && *sent >= started
                && m["Message"].as_str().is_some_and(|x| x.contains(&run.instance))
        })
        .map(|(_, sent)| *sent)
        .min();
    if let Some(at) = notified {
        points.push(Point { label: "responders notified".into(), at, key: false });
    }
    let variant = run.variant.as_deref().and_then(|v| Variant::ALL.into_iter().find(|x| x.as_str() == v)).or(s.variant);
    if variant == s.variant
        && let (Some(v), Some(stack)) = (variant, &s.playbook)
    {
        if let Some(r) = engine_run::find(ctx, v, stack, &finding_ids, started, true).await? {
            let engine = match v {
                Variant::Lambda => "Lambda",
                Variant::StepFunctions => "Step Functions",
                Variant::Ssm => "SSM Automation",
            };
            if let Some(t) = r.started {
                points.push(Point { label: format!("playbook started ({engine})"), at: t, key: false });
            }
            for (name, t) in r.steps {
                points.push(Point { label: format!("step: {name}"), at: t, key: false });
            }
            if let Some(t) = r.contained {
                points.push(Point { label: CONTAINED.into(), at: t, key: true });
            }
        }
    } else {
        // A replaced playbook's records (executions, logs) went with its stack.
        points.push(Point { label: "playbook records gone with its replaced stack".into(), at: started, key: false });
    }
    if let Some(v) = run.verified_at.as_deref().and_then(ts) {
        points.push(Point { label: "verified".into(), at: v, key: true });
    }
    Ok(Timeline::new(Timeline {
        lab: lab.to_string(),
        run: run.id.clone(),
        scenarios: run.scenarios.clone(),
        mode: run.mode.clone(),
        variant: variant.map(|v| v.as_str().to_string()),
        instance: run.instance.clone(),
        points,
        time_to_detect: None,
        time_to_contain: None,
    }))
}
