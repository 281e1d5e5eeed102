//! CloudFormation: deploying, describing and deleting the lab's stacks while streaming each
//! resource's events as progress.
//!
//! The templates in `stacks/` are the truth; code here reads their outputs and never assumes
//! what a template contains beyond its parameter and output names.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, Parameter, StackEvent, StackStatus, Tag,
};

use crate::aws::{AwsContext, AwsResultExt, error_code};
use crate::error::{Error, Result};
use crate::ui::progress::{Progress, Reporter};

/// A stack as `describe_stacks` tells it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StackInfo {
    pub name: String,
    pub id: String,
    pub status: String,
    pub reason: Option<String>,
    pub outputs: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// The top stack when this one is nested (a part of a lab a class's StackSet deployed).
    pub root_id: Option<String>,
}

impl StackInfo {
    /// The StackSet that deployed this stack (tag `irlab:stackset` = `name@account`), when a
    /// class deployed it to an organization: only the instructor's `class down` may delete it.
    pub fn stack_set(&self) -> Option<&str> {
        self.tags.get(STACK_SET_TAG).map(String::as_str)
    }

    pub fn output(&self, key: &str) -> Option<&str> {
        self.outputs.get(key).map(String::as_str)
    }

    /// An output the lab cannot do without: a stack without it is older than this irlab.
    pub fn need(&self, key: &str) -> crate::error::Result<String> {
        self.output(key).map(String::from).ok_or_else(|| {
            crate::error::Error::problem(format!("stack {} has no output {key}", self.name))
                .with_hint("run `irlab up` to bring the lab up to date")
        })
    }

    /// A parameter's value, only while the stack is in a state worth keeping
    /// (a stack left by a failed create is replaced, not updated).
    pub fn kept_parameter(&self, key: &str) -> Option<&str> {
        let healthy =
            matches!(self.status.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE");
        healthy.then(|| self.parameters.get(key).map(String::as_str)).flatten()
    }

    fn from_sdk(s: &aws_sdk_cloudformation::types::Stack) -> Self {
        StackInfo {
            name: s.stack_name().unwrap_or_default().to_string(),
            id: s.stack_id().unwrap_or_default().to_string(),
            status: s.stack_status().map(|x| x.as_str().to_string()).unwrap_or_default(),
            reason: s.stack_status_reason().map(String::from),
            outputs: s
                .outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
                .collect(),
            parameters: s
                .parameters()
                .iter()
                .filter_map(|p| Some((p.parameter_key()?.to_string(), p.parameter_value()?.to_string())))
                .collect(),
            tags: s.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect(),
            root_id: s.root_id().map(String::from),
        }
    }
}

/// One resource of a stack.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StackResource {
    pub logical_id: String,
    pub physical_id: Option<String>,
    pub resource_type: String,
    pub status: String,
}

/// What `deploy` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// Everything needed to create or update one stack.
pub struct Deployment<'a> {
    pub stack_name: String,
    pub template: &'a str,
    /// Where the template was staged in S3 when it is too big to send (see `stage_template`).
    pub template_url: Option<String>,
    pub parameters: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
}

/// The most CloudFormation takes in a request's TemplateBody; bigger templates go by TemplateURL
/// from S3 (up to 1 MB).
/// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
pub const MAX_TEMPLATE_BODY: usize = 51_200;

/// Puts a template too big for a request's body into `bucket` under `prefix` (named by its
/// content, so an unchanged template is the same object) and returns its URL; None when the
/// template fits in the request.
pub async fn stage_template(ctx: &AwsContext, template: &str, bucket: &str, prefix: &str) -> Result<Option<String>> {
    if template.len() <= MAX_TEMPLATE_BODY {
        return Ok(None);
    }
    let key = format!("{prefix}{}.yaml", fingerprint([template]));
    ctx.s3()
        .put_object()
        .bucket(bucket)
        .key(&key)
        .content_type("application/x-yaml")
        .body(template.as_bytes().to_vec().into())
        .send()
        .await
        .aws(|| format!("staging a {} KB template in s3://{bucket}/{key}", template.len() / 1024), ctx)?;
    Ok(Some(format!("https://{bucket}.s3.{}.amazonaws.com/{key}", ctx.region)))
}

/// A short name for some templates' content (FNV-1a, 64 bits): a name, not a security boundary.
pub fn fingerprint<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in texts.into_iter().flat_map(str::bytes) {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// A CloudFormation client request token for one call: the SDK's retries of that call (after a
/// lost answer) resend the same token, so CloudFormation takes them for the same request. Each
/// new call gets a new token: a second delete of the same stack is a new request, not a retry.
fn request_token(op: &str, stack: &str) -> String {
    static RUN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static CALL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let run = RUN.get_or_init(|| format!("{}{}", jiff::Timestamp::now().as_millisecond(), std::process::id()));
    let call = CALL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut token = format!("irlab-{op}-{stack}-{run}-{call}");
    token.retain(|c| c.is_ascii_alphanumeric() || c == '-');
    token.truncate(128);
    token
}

/// How long polls keep trying through failed reads before they give up on a stack.
const LOST_CONTACT: Duration = Duration::from_secs(120);

fn poll_interval(ctx: &AwsContext) -> Duration {
    if ctx.local { Duration::from_millis(250) } else { Duration::from_secs(3) }
}

fn is_terminal(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
}

/// The tag a class's StackSet puts on every stack it deploys: `<stack set name>@<account>`.
pub const STACK_SET_TAG: &str = "irlab:stackset";

/// A part of a lab: the stack `irlab-<lab>-<part>` that `up` deploys, or else, in an account a
/// class's StackSet deployed the lab to (`class up --org-unit`), the nested stack tagged with the
/// lab and the part (StackSets name stacks themselves: `StackSet-<set>-<uuid>-<Part>-<suffix>`).
pub async fn find(ctx: &AwsContext, lab: &crate::lab::LabName, part: crate::lab::Part) -> Result<Option<StackInfo>> {
    if let Some(s) = describe(ctx, &lab.stack_name(part)).await? {
        return Ok(Some(s));
    }
    tagged(ctx, Some(lab.as_str()), part.as_str()).await
}

/// The stack a StackSet deployed for `part` (of `lab`, or of no lab for the shared parts), read
/// fresh. Which stacks StackSets deployed is listed once per process: they are only ever
/// created and removed from the instructor's management account, never by a lab command.
pub async fn tagged(ctx: &AwsContext, lab: Option<&str>, part: &str) -> Result<Option<StackInfo>> {
    static FROM_STACK_SETS: tokio::sync::OnceCell<Vec<StackInfo>> = tokio::sync::OnceCell::const_new();
    let all = FROM_STACK_SETS
        .get_or_try_init(|| async {
            let named = named(ctx, |name| name.starts_with(STACK_SET_NAME_PREFIX)).await?;
            Ok::<_, Error>(named.into_iter().filter(|s| s.stack_set().is_some()).collect())
        })
        .await?;
    let hit = all.iter().find(|s| {
        s.tags.get(crate::lab::PART_TAG).map(String::as_str) == Some(part)
            && s.tags.get(crate::lab::LAB_TAG).map(String::as_str) == lab
    });
    match hit {
        Some(s) => Ok(describe(ctx, &s.id).await?.filter(|s| s.status != "DELETE_COMPLETE")),
        None => Ok(None),
    }
}

/// How StackSets name the stacks they deploy (and CloudFormation their nested stacks, after
/// the parent): `StackSet-<set>-<uuid>[-<LogicalId>-<suffix>]`.
pub const STACK_SET_NAME_PREFIX: &str = "StackSet-";

/// The account's stacks (in the context's region) whose names `wanted` accepts, not deleted,
/// each described with its tags and outputs. ListStacks only summarises, so it names them
/// cheaply; only the wanted few are described. (DescribeStacks without a name describes every
/// stack: with a class's 30 labs in one account that was each lab's sweep rendering 120 stacks.)
pub async fn named(ctx: &AwsContext, wanted: impl Fn(&str) -> bool) -> Result<Vec<StackInfo>> {
    let alive: Vec<StackStatus> =
        StackStatus::values().iter().filter(|s| **s != "DELETE_COMPLETE").map(|s| StackStatus::from(*s)).collect();
    let mut ids = Vec::new();
    let mut pages = ctx.cloudformation().list_stacks().set_stack_status_filter(Some(alive)).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws(|| "listing the account's stacks".to_string(), ctx)?;
        ids.extend(
            page.stack_summaries()
                .iter()
                .filter(|s| s.stack_name().is_some_and(&wanted))
                .filter_map(|s| s.stack_id().or(s.stack_name()).map(String::from)),
        );
    }
    let described = futures::future::try_join_all(ids.iter().map(|id| describe(ctx, id))).await?;
    Ok(described.into_iter().flatten().filter(|s| s.status != "DELETE_COMPLETE").collect())
}

pub async fn describe(ctx: &AwsContext, name_or_id: &str) -> Result<Option<StackInfo>> {
    match ctx.cloudformation().describe_stacks().stack_name(name_or_id).send().await {
        Ok(out) => Ok(out.stacks().first().map(StackInfo::from_sdk)),
        Err(e) if error_code(&e) == Some("ValidationError") && e.to_string().contains("does not exist") => Ok(None),
        Err(e)
            if e.as_service_error()
                .and_then(|s| aws_smithy_types::error::metadata::ProvideErrorMetadata::message(s))
                .is_some_and(|m| m.contains("does not exist")) =>
        {
            Ok(None)
        }
        Err(e) => Err(e).aws(|| format!("describing stack {name_or_id}"), ctx),
    }
}

pub async fn resources(ctx: &AwsContext, stack: &str) -> Result<Vec<StackResource>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = ctx
            .cloudformation()
            .list_stack_resources()
            .stack_name(stack)
            .set_next_token(token)
            .send()
            .await
            .aws(|| format!("listing the resources of stack {stack}"), ctx)?;
        for r in page.stack_resource_summaries() {
            out.push(StackResource {
                logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
                physical_id: r.physical_resource_id().filter(|p| !p.is_empty()).map(String::from),
                resource_type: r.resource_type().unwrap_or_default().to_string(),
                status: r.resource_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            });
        }
        token = page.next_token().filter(|t| !t.is_empty()).map(String::from);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Creates the stack, or updates it through a change set; a stack left by a failed create is
/// replaced. Streams resource events to `reporter` under `task`.
pub async fn deploy(
    ctx: &AwsContext,
    d: &Deployment<'_>,
    task: &str,
    reporter: &dyn Reporter,
) -> Result<(Outcome, StackInfo)> {
    let name = &d.stack_name;
    let mut existing = describe(ctx, name).await?;
    if let Some(s) = &existing
        && !is_terminal(&s.status)
    {
        reporter.report(Progress::Started {
            task: task.into(),
            what: format!("waiting for {} to finish ({})", name, s.status),
        });
        let marker = latest_event_id(ctx, &s.id).await?;
        existing = Some(watch(ctx, &s.id, marker, task, reporter).await?);
    }
    if let Some(s) = &existing {
        match s.status.as_str() {
            // A failed first create leaves a stack that can only be deleted.
            "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "CREATE_FAILED" => {
                reporter.report(Progress::Started {
                    task: task.into(),
                    what: format!("removing {name} left by a failed create"),
                });
                delete(ctx, name, task, reporter).await?;
                existing = None;
            }
            // Deleted while this lab waited (the shared stack, by the last lab out): create it again.
            "DELETE_COMPLETE" => existing = None,
            "DELETE_FAILED" => {
                return Err(Error::problem(format!("stack {name} is in DELETE_FAILED"))
                    .with_hint("run `irlab down` to finish removing it, then `irlab up` again"));
            }
            _ => {}
        }
    }
    let cfn = ctx.cloudformation();
    let parameters: Vec<Parameter> =
        d.parameters.iter().map(|(k, v)| Parameter::builder().parameter_key(k).parameter_value(v).build()).collect();
    let tags: Vec<Tag> = d.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();

    let Some(current) = existing else {
        reporter.report(Progress::Started { task: task.into(), what: format!("creating {name}") });
        let out = cfn
            .create_stack()
            .stack_name(name)
            .set_template_body(d.template_url.is_none().then(|| d.template.to_string()))
            .set_template_url(d.template_url.clone())
            .set_parameters(Some(parameters))
            .set_tags(Some(tags))
            .capabilities(Capability::CapabilityIam)
            .client_request_token(request_token("create", name))
            .send()
            .await;
        let id = match out {
            Ok(out) => out.stack_id().unwrap_or(name).to_string(),
            // Created meanwhile, by this lab (an answer lost on the way back to an earlier run):
            // the lab's own stack is watched, not created twice.
            Err(e) if error_code(&e) == Some("AlreadyExistsException") => match describe(ctx, name).await? {
                Some(s)
                    if s.tags.get(crate::lab::LAB_TAG)
                        == d.tags.iter().find(|(k, _)| k == crate::lab::LAB_TAG).map(|(_, v)| v) =>
                {
                    s.id
                }
                _ => return Err(e).aws(|| format!("creating stack {name}"), ctx),
            },
            Err(e) => return Err(e).aws(|| format!("creating stack {name}"), ctx),
        };
        let done = watch(ctx, &id, None, task, reporter).await?;
        return finish(done, "CREATE_COMPLETE", "creating", Outcome::Created, ctx, task, reporter).await;
    };

    // An existing stack changes only through a change set, so an unchanged lab is a no-op.
    // Unique per process too: labs sharing a stack (the shared parts) check it at the same time.
    let change_set = format!("irlab-{}-{}", jiff::Timestamp::now().as_millisecond(), std::process::id());
    reporter.report(Progress::Started { task: task.into(), what: format!("checking {name} for changes") });
    // By name: moto answers "does not exist" to change sets addressed by stack id.
    cfn.create_change_set()
        .stack_name(name)
        .change_set_name(&change_set)
        .change_set_type(ChangeSetType::Update)
        .set_template_body(d.template_url.is_none().then(|| d.template.to_string()))
        .set_template_url(d.template_url.clone())
        .set_parameters(Some(parameters))
        .set_tags(Some(tags))
        .capabilities(Capability::CapabilityIam)
        .client_token(request_token("change-set", name))
        .send()
        .await
        .aws(|| format!("preparing a change set for stack {name}"), ctx)?;
    loop {
        let cs = cfn
            .describe_change_set()
            .stack_name(name)
            .change_set_name(&change_set)
            .send()
            .await
            .aws(|| format!("reading change set {change_set} of stack {name}"), ctx)?;
        match cs.status() {
            Some(ChangeSetStatus::CreateComplete) => break,
            Some(ChangeSetStatus::Failed) => {
                let reason = cs.status_reason().unwrap_or_default().to_string();
                let _ = cfn.delete_change_set().stack_name(name).change_set_name(&change_set).send().await;
                if reason.contains("didn't contain changes") || reason.contains("No updates") {
                    reporter.report(Progress::Finished { task: task.into(), what: format!("{name} is up to date") });
                    return Ok((Outcome::Unchanged, current));
                }
                return Err(Error::failure(format!("updating stack {name} failed: {reason}")));
            }
            _ => tokio::time::sleep(poll_interval(ctx)).await,
        }
    }
    let marker = latest_event_id(ctx, &current.id).await?;
    reporter.report(Progress::Started { task: task.into(), what: format!("updating {name}") });
    cfn.execute_change_set()
        .stack_name(name)
        .change_set_name(&change_set)
        .client_request_token(request_token("update", name))
        .send()
        .await
        .aws(|| format!("updating stack {name}"), ctx)?;
    let done = watch(ctx, &current.id, marker, task, reporter).await?;
    finish(done, "UPDATE_COMPLETE", "updating", Outcome::Updated, ctx, task, reporter).await
}

async fn finish(
    done: StackInfo,
    want: &str,
    verb: &str,
    outcome: Outcome,
    ctx: &AwsContext,
    task: &str,
    reporter: &dyn Reporter,
) -> Result<(Outcome, StackInfo)> {
    if done.status == want {
        reporter.report(Progress::Finished { task: task.into(), what: format!("{} {}", done.name, done.status) });
        return Ok((outcome, done));
    }
    reporter.report(Progress::Failed { task: task.into(), what: format!("{} {}", done.name, done.status) });
    let cause = first_failure(ctx, &done.id).await.unwrap_or_else(|| done.reason.clone().unwrap_or_default());
    Err(Error::failure(format!("{verb} stack {} failed ({}): {cause}", done.name, done.status))
        .with_hint("CloudFormation rolled the change back; fix the cause, then run `irlab up` again, or `irlab down` to remove what is left"))
}

/// Deletes a stack and waits until it is gone; a stack that does not exist is already deleted.
pub async fn delete(ctx: &AwsContext, name_or_id: &str, task: &str, reporter: &dyn Reporter) -> Result<()> {
    let Some(stack) = describe(ctx, name_or_id).await? else {
        return Ok(());
    };
    if stack.status == "DELETE_COMPLETE" {
        return Ok(());
    }
    let marker = latest_event_id(ctx, &stack.id).await?;
    // A stack another `down` is already deleting (the last labs of a class leave together) is
    // asked for again: CloudFormation accepts that and goes on with the one deletion.
    reporter.report(Progress::Started { task: task.into(), what: format!("deleting {}", stack.name) });
    ctx.cloudformation()
        .delete_stack()
        .stack_name(&stack.id)
        .client_request_token(request_token("delete", &stack.name))
        .send()
        .await
        .aws(|| format!("deleting stack {}", stack.name), ctx)?;
    let done = watch(ctx, &stack.id, marker, task, reporter).await?;
    if done.status == "DELETE_COMPLETE" {
        reporter.report(Progress::Finished { task: task.into(), what: format!("{} deleted", stack.name) });
        return Ok(());
    }
    reporter.report(Progress::Failed { task: task.into(), what: format!("{} {}", stack.name, done.status) });
    let cause = first_failure(ctx, &stack.id).await.unwrap_or_else(|| done.reason.clone().unwrap_or_default());
    Err(Error::failure(format!("deleting stack {} failed: {cause}", stack.name))
        .with_hint("run `irlab down` again; if it fails the same way, remove the named resource by hand"))
}

/// Polls until the stack leaves every `*_IN_PROGRESS` state, reporting each new resource event.
/// A stack that vanished while being deleted counts as `DELETE_COMPLETE`.
async fn watch(
    ctx: &AwsContext,
    stack_id: &str,
    marker: Option<String>,
    task: &str,
    reporter: &dyn Reporter,
) -> Result<StackInfo> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut failing_since: Option<std::time::Instant> = None;
    loop {
        // Progress lines are best effort: a failed read of the events is tried again next poll.
        let events = new_events(ctx, stack_id, marker.as_deref()).await.unwrap_or_default();
        for ev in events.iter().rev() {
            let id = ev.event_id().unwrap_or_default().to_string();
            if !seen.insert(id) {
                continue;
            }
            // Stack-level events repeat what the bar already says.
            if ev.resource_type() == Some("AWS::CloudFormation::Stack") {
                continue;
            }
            reporter.report(Progress::Resource {
                task: task.into(),
                logical_id: ev.logical_resource_id().unwrap_or_default().to_string(),
                resource_type: ev.resource_type().unwrap_or_default().to_string(),
                status: ev.resource_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
                reason: ev.resource_status_reason().filter(|r| !r.is_empty()).map(String::from),
            });
        }
        // CloudFormation goes on whether or not a read of its state succeeds: a failed read (after
        // the SDK's own retries) is tried again, until reads have failed for LOST_CONTACT.
        let now = match describe(ctx, stack_id).await {
            Ok(now) => {
                failing_since = None;
                now
            }
            Err(e) => {
                let since = *failing_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() >= LOST_CONTACT {
                    return Err(Error::failure(format!(
                        "lost contact with CloudFormation for {}s while watching stack {stack_id}",
                        LOST_CONTACT.as_secs()
                    ))
                    .with_hint("the stack may still be changing; run the same command again: it waits for the stack and goes on")
                    .with_source(e));
                }
                reporter.report(Progress::Note(format!("{task}: reading the stack failed ({e}); trying again")));
                tokio::time::sleep(poll_interval(ctx) * 4).await;
                continue;
            }
        };
        match now {
            None => {
                return Ok(StackInfo {
                    name: stack_id.to_string(),
                    id: stack_id.to_string(),
                    status: "DELETE_COMPLETE".into(),
                    reason: None,
                    outputs: BTreeMap::new(),
                    parameters: BTreeMap::new(),
                    tags: BTreeMap::new(),
                    root_id: None,
                });
            }
            Some(s) if is_terminal(&s.status) => return Ok(s),
            Some(_) => tokio::time::sleep(poll_interval(ctx)).await,
        }
    }
}

async fn latest_event_id(ctx: &AwsContext, stack_id: &str) -> Result<Option<String>> {
    let out = ctx
        .cloudformation()
        .describe_stack_events()
        .stack_name(stack_id)
        .send()
        .await
        .aws(|| format!("reading events of stack {stack_id}"), ctx)?;
    Ok(out.stack_events().first().and_then(|e| e.event_id()).map(String::from))
}

/// Events newer than `marker`, newest first.
async fn new_events(ctx: &AwsContext, stack_id: &str, marker: Option<&str>) -> Result<Vec<StackEvent>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = ctx
            .cloudformation()
            .describe_stack_events()
            .stack_name(stack_id)
            .set_next_token(token)
            .send()
            .await
            .aws(|| format!("reading events of stack {stack_id}"), ctx)?;
        for ev in page.stack_events() {
            if marker.is_some() && ev.event_id() == marker {
                return Ok(out);
            }
            out.push(ev.clone());
        }
        token = page.next_token().filter(|t| !t.is_empty()).map(String::from);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The first resource failure of the stack's latest operation, as "Logical (Type): reason".
async fn first_failure(ctx: &AwsContext, stack_id: &str) -> Option<String> {
    let events = new_events(ctx, stack_id, None).await.ok()?;
    failure_cause(&events)
}

/// Picks the root cause among events (newest first): the oldest resource failure of the latest
/// operation, skipping the "cancelled" failures that a root cause drags along.
pub fn failure_cause(events_newest_first: &[StackEvent]) -> Option<String> {
    let latest_op: Vec<&StackEvent> = {
        let mut ops = Vec::new();
        for ev in events_newest_first {
            ops.push(ev);
            let stack_level = ev.resource_type() == Some("AWS::CloudFormation::Stack");
            let status = ev.resource_status().map(|s| s.as_str()).unwrap_or_default();
            if stack_level
                && status.ends_with("_IN_PROGRESS")
                && !status.contains("ROLLBACK")
                && !status.contains("CLEANUP")
            {
                break;
            }
        }
        ops
    };
    latest_op
        .iter()
        .rev()
        .filter(|ev| ev.resource_type() != Some("AWS::CloudFormation::Stack"))
        .filter(|ev| ev.resource_status().is_some_and(|s| s.as_str().ends_with("_FAILED")))
        .filter(|ev| !ev.resource_status_reason().unwrap_or_default().contains("cancelled"))
        .map(|ev| {
            format!(
                "{} ({}): {}",
                ev.logical_resource_id().unwrap_or_default(),
                ev.resource_type().unwrap_or_default(),
                ev.resource_status_reason().unwrap_or("no reason given")
            )
        })
        .next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::ResourceStatus;

    fn ev(logical: &str, ty: &str, status: &str, reason: Option<&str>) -> StackEvent {
        StackEvent::builder()
            .event_id(format!("{logical}-{status}"))
            .stack_id("s")
            .stack_name("s")
            .timestamp(aws_smithy_types::DateTime::from_secs(0))
            .logical_resource_id(logical)
            .resource_type(ty)
            .resource_status(ResourceStatus::from(status))
            .set_resource_status_reason(reason.map(String::from))
            .build()
    }

    #[test]
    fn the_root_cause_is_the_first_real_failure_of_the_latest_operation() {
        // Newest first, as DescribeStackEvents returns them.
        let events = vec![
            ev("s", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE", None),
            ev("Vpc", "AWS::EC2::VPC", "DELETE_COMPLETE", None),
            ev("Topic", "AWS::SNS::Topic", "CREATE_FAILED", Some("Resource creation cancelled")),
            ev(
                "Instance",
                "AWS::EC2::Instance",
                "CREATE_FAILED",
                Some("The requested configuration is currently not supported"),
            ),
            ev("Vpc", "AWS::EC2::VPC", "CREATE_COMPLETE", None),
            ev("s", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", None),
            ev("Old", "AWS::EC2::VPC", "CREATE_FAILED", Some("an older operation")),
        ];
        assert_eq!(
            failure_cause(&events).as_deref(),
            Some("Instance (AWS::EC2::Instance): The requested configuration is currently not supported")
        );
    }

    #[test]
    fn no_failure_means_no_cause() {
        let events = vec![ev("Vpc", "AWS::EC2::VPC", "CREATE_COMPLETE", None)];
        assert_eq!(failure_cause(&events), None);
    }

    #[test]
    fn only_in_progress_states_are_waited_on() {
        assert!(!is_terminal("CREATE_IN_PROGRESS"));
        assert!(!is_terminal("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"));
        assert!(is_terminal("ROLLBACK_COMPLETE"));
        assert!(is_terminal("DELETE_FAILED"));
    }
}
