//! Everything in the account that belongs to one lab, found by its tag (or, for IAM and SSM,
//! by the lab's own path), service by service.
//!
//! `down` plans from it and ends with it: an empty inventory is the proof that nothing is left.
//! It lists explicitly instead of trusting the Resource Groups Tagging API, whose index lags
//! behind deletions and does not cover every type.

use std::collections::HashMap;

use aws_sdk_ec2::types::Filter;
use futures::future::try_join_all;
use serde::Serialize;

use crate::aws::{AwsContext, AwsResultExt, error_code};
use crate::error::Result;
use crate::lab::detector;
use crate::lab::stacks;
use crate::lab::{LAB_TAG, LabName, PART_TAG, Part, SHARED_PART, SHARED_STACK, Variant};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LabResource {
    /// `service:type`, e.g. `ec2:snapshot`.
    pub kind: String,
    pub id: String,
}

impl LabResource {
    fn new(kind: &str, id: impl Into<String>) -> Self {
        LabResource { kind: kind.to_string(), id: id.into() }
    }
}

impl std::fmt::Display for LabResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.id)
    }
}

/// What a sweep found, and the services it could not list.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Inventory {
    pub found: Vec<LabResource>,
    /// "could not check X: why", one per listing that failed even after its retries.
    pub unchecked: Vec<String>,
    /// Each listing that answered, with what of the lab it found: the service-by-service
    /// proof `down` prints.
    pub checked: Vec<(String, Vec<LabResource>)>,
}

impl Inventory {
    fn add(&mut self, what: &str, listing: std::result::Result<Vec<LabResource>, String>) {
        match listing {
            Ok(found) => {
                self.checked.push((what.to_string(), found.clone()));
                self.found.extend(found);
            }
            Err(why) => self.unchecked.push(why),
        }
    }
}

/// Lists every resource of the lab in the context's region (and its IAM roles and profiles).
/// A listing that fails (after the SDK's retries, and once more) is reported in `unchecked`
/// while the others still count: `down` deletes what it could see and says what it could not.
pub async fn sweep(ctx: &AwsContext, lab: &LabName) -> Inventory {
    const NAMES: [&str; 10] = [
        "CloudFormation stacks",
        "EC2 (instances, volumes, snapshots, network)",
        "S3 buckets",
        "SNS topics",
        "SQS queues",
        "CloudTrail trails",
        "IAM roles and instance profiles",
        "SSM parameters",
        "the GuardDuty detector and threat list",
        "playbook engines and the janitor (functions, state machines, rules, documents, log groups, schedules, budget)",
    ];
    let listings = futures::join!(
        retried(NAMES[0], || stacks(ctx, Scope::Lab(lab))),
        retried(NAMES[1], || ec2(ctx, Scope::Lab(lab))),
        retried(NAMES[2], || buckets(ctx, Scope::Lab(lab))),
        retried(NAMES[3], || topics(ctx, lab)),
        retried(NAMES[4], || queues(ctx, lab)),
        retried(NAMES[5], || trails(ctx, Scope::Lab(lab))),
        retried(NAMES[6], || iam(ctx, lab)),
        retried(NAMES[7], || parameters(ctx, lab)),
        retried(NAMES[8], || owned_detector(ctx, lab)),
        retried(NAMES[9], || playbook_engines(ctx, lab)),
    );
    let (a, b, c, d, e, f, g, h, i, j) = listings;
    let mut inv = Inventory::default();
    for (what, listing) in NAMES.iter().zip([a, b, c, d, e, f, g, h, i, j]) {
        inv.add(what, listing);
    }
    inv.found.sort();
    inv.found.dedup();
    inv
}

/// One listing, tried a second time after a pause if it fails.
async fn retried<F, Fut>(what: &str, listing: F) -> std::result::Result<Vec<LabResource>, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<LabResource>>>,
{
    match listing().await {
        Ok(found) => Ok(found),
        Err(_) => {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            listing().await.map_err(|e| format!("could not check {what}: {e}"))
        }
    }
}

fn tag_matches(tags: &HashMap<String, String>, lab: &LabName) -> bool {
    Scope::Lab(lab).matches(tags)
}

/// Whose resources a listing looks for: one lab's, or the region's shared parts (the shared
/// stack's trail, bucket and VPC, tagged `irlab:part=shared` and no lab).
#[derive(Debug, Clone, Copy)]
enum Scope<'a> {
    Lab(&'a LabName),
    Shared,
}

impl Scope<'_> {
    fn matches(&self, tags: &HashMap<String, String>) -> bool {
        match self {
            Scope::Lab(lab) => tags.get(LAB_TAG).map(String::as_str) == Some(lab.as_str()),
            Scope::Shared => tags.get(PART_TAG).map(String::as_str) == Some(SHARED_PART) && !tags.contains_key(LAB_TAG),
        }
    }

    fn ec2_filter(&self) -> Filter {
        match self {
            Scope::Lab(lab) => Filter::builder().name(format!("tag:{LAB_TAG}")).values(lab.as_str()).build(),
            Scope::Shared => Filter::builder().name(format!("tag:{PART_TAG}")).values(SHARED_PART).build(),
        }
    }

    /// The name prefix CloudFormation gives resources it names after the scope's stacks.
    fn prefix(&self) -> String {
        match self {
            Scope::Lab(lab) => stack_prefix(lab),
            Scope::Shared => format!("{SHARED_STACK}-"),
        }
    }
}

/// The region's shared parts that are still there (after the last lab's `down`: none).
pub async fn sweep_shared(ctx: &AwsContext) -> Inventory {
    let scope = Scope::Shared;
    const NAMES: [&str; 4] =
        ["CloudFormation stacks (shared)", "EC2 (the shared VPC)", "S3 buckets (shared)", "CloudTrail trails (shared)"];
    let listings = futures::join!(
        retried(NAMES[0], || stacks(ctx, scope)),
        retried(NAMES[1], || ec2(ctx, scope)),
        retried(NAMES[2], || buckets(ctx, scope)),
        retried(NAMES[3], || trails(ctx, scope)),
    );
    let (a, b, c, d) = listings;
    let mut inv = Inventory::default();
    for (what, listing) in NAMES.iter().zip([a, b, c, d]) {
        inv.add(what, listing);
    }
    inv.found.sort();
    inv.found.dedup();
    inv
}

/// The scope's stacks: those irlab names for the lab (`irlab-<lab>-<part>`) or the region
/// (`irlab-shared`), and those a class's StackSet deployed, tagged like them. A stack of
/// another name is not irlab's, whatever its tags say.
async fn stacks(ctx: &AwsContext, scope: Scope<'_>) -> Result<Vec<LabResource>> {
    let ours = |name: &str| {
        name.starts_with(stacks::STACK_SET_NAME_PREFIX)
            || match scope {
                Scope::Lab(lab) => name.starts_with(&stack_prefix(lab)),
                Scope::Shared => name == SHARED_STACK,
            }
    };
    Ok(stacks::named(ctx, ours)
        .await?
        .into_iter()
        .filter(|s| scope.matches(&s.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
        .map(|s| LabResource::new("cloudformation:stack", s.name))
        .collect())
}

async fn ec2(ctx: &AwsContext, scope: Scope<'_>) -> Result<Vec<LabResource>> {
    let ec2 = ctx.ec2();
    let by_tag = || scope.ec2_filter();
    let what = |t: &str| format!("listing the lab's EC2 {t}");
    let alive_states = ["pending", "running", "shutting-down", "stopping", "stopped"];
    let instances = ec2
        .describe_instances()
        .filters(by_tag())
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .set_values(Some(alive_states.map(String::from).to_vec()))
                .build(),
        )
        .send();
    let vpcs = ec2.describe_vpcs().filters(by_tag()).send();
    let subnets = ec2.describe_subnets().filters(by_tag()).send();
    let groups = ec2.describe_security_groups().filters(by_tag()).send();
    let igws = ec2.describe_internet_gateways().filters(by_tag()).send();
    let tables = ec2.describe_route_tables().filters(by_tag()).send();
    let volumes = ec2.describe_volumes().filters(by_tag()).send();
    let snapshots = ec2.describe_snapshots().owner_ids("self").filters(by_tag()).send();
    let templates = ec2.describe_launch_templates().filters(by_tag()).send();
    let (instances, vpcs, subnets, groups, igws, tables, volumes, snapshots, templates) =
        futures::join!(instances, vpcs, subnets, groups, igws, tables, volumes, snapshots, templates);
    let mut out = Vec::new();
    for r in instances.aws(|| what("instances"), ctx)?.reservations() {
        for i in r.instances() {
            out.push(LabResource::new("ec2:instance", i.instance_id().unwrap_or_default()));
        }
    }
    out.extend(
        vpcs.aws(|| what("VPCs"), ctx)?
            .vpcs()
            .iter()
            .map(|v| LabResource::new("ec2:vpc", v.vpc_id().unwrap_or_default())),
    );
    out.extend(
        subnets
            .aws(|| what("subnets"), ctx)?
            .subnets()
            .iter()
            .map(|s| LabResource::new("ec2:subnet", s.subnet_id().unwrap_or_default())),
    );
    out.extend(
        groups
            .aws(|| what("security groups"), ctx)?
            .security_groups()
            .iter()
            .map(|g| LabResource::new("ec2:security-group", g.group_id().unwrap_or_default())),
    );
    out.extend(
        igws.aws(|| what("internet gateways"), ctx)?
            .internet_gateways()
            .iter()
            .map(|g| LabResource::new("ec2:internet-gateway", g.internet_gateway_id().unwrap_or_default())),
    );
    out.extend(
        tables
            .aws(|| what("route tables"), ctx)?
            .route_tables()
            .iter()
            .map(|t| LabResource::new("ec2:route-table", t.route_table_id().unwrap_or_default())),
    );
    // A volume attached to one of the lab's instances goes with that instance.
    let lab_instances: Vec<String> = out.iter().map(|r| r.id.clone()).collect();
    out.extend(
        volumes
            .aws(|| what("volumes"), ctx)?
            .volumes()
            .iter()
            .filter(|v| {
                !v.attachments().iter().any(|a| a.instance_id().is_some_and(|i| lab_instances.iter().any(|l| l == i)))
            })
            .map(|v| LabResource::new("ec2:volume", v.volume_id().unwrap_or_default())),
    );
    out.extend(
        snapshots
            .aws(|| what("snapshots"), ctx)?
            .snapshots()
            .iter()
            .map(|s| LabResource::new("ec2:snapshot", s.snapshot_id().unwrap_or_default())),
    );
    out.extend(
        templates
            .aws(|| what("launch templates"), ctx)?
            .launch_templates()
            .iter()
            .map(|t| LabResource::new("ec2:launch-template", t.launch_template_id().unwrap_or_default())),
    );
    Ok(out)
}

/// The name prefix CloudFormation gives resources it names after a lab stack.
fn stack_prefix(lab: &LabName) -> String {
    format!("irlab-{}-", lab.as_str())
}

async fn buckets(ctx: &AwsContext, scope: Scope<'_>) -> Result<Vec<LabResource>> {
    let s3 = &ctx.s3();
    let prefix = scope.prefix();
    let list = s3
        .list_buckets()
        .prefix(&prefix)
        .bucket_region(&ctx.region)
        .send()
        .await
        .aws(|| "listing S3 buckets".into(), ctx)?;
    let candidates: Vec<String> =
        list.buckets().iter().filter_map(|b| b.name()).filter(|n| n.starts_with(&prefix)).map(String::from).collect();
    let checks = candidates.iter().map(|name| async move {
        match s3.get_bucket_tagging().bucket(name).send().await {
            Ok(t) => {
                let tags: HashMap<String, String> =
                    t.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
                Ok(scope.matches(&tags).then(|| LabResource::new("s3:bucket", name.clone())))
            }
            Err(e) if matches!(error_code(&e), Some("NoSuchTagSet" | "NoSuchBucket")) => Ok(None),
            Err(e) => Err(e).aws(|| format!("reading the tags of bucket {name}"), ctx),
        }
    });
    Ok(try_join_all(checks).await?.into_iter().flatten().collect())
}

async fn topics(ctx: &AwsContext, lab: &LabName) -> Result<Vec<LabResource>> {
    let sns = &ctx.sns();
    let mut arns = Vec::new();
    let mut token = None;
    loop {
        let page = sns.list_topics().set_next_token(token).send().await.aws(|| "listing SNS topics".into(), ctx)?;
        arns.extend(
            page.topics()
                .iter()
                .filter_map(|t| t.topic_arn())
                .filter(|a| a.contains(&stack_prefix(lab)))
                .map(String::from),
        );
        token = page.next_token().filter(|t| !t.is_empty()).map(String::from);
        if token.is_none() {
            break;
        }
    }
    let checks = arns.iter().map(|arn| async move {
        let tags = sns
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .aws(|| format!("reading the tags of topic {arn}"), ctx)?;
        let tags: HashMap<String, String> =
            tags.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        Ok::<_, crate::error::Error>(tag_matches(&tags, lab).then(|| LabResource::new("sns:topic", arn.clone())))
    });
    Ok(try_join_all(checks).await?.into_iter().flatten().collect())
}

async fn queues(ctx: &AwsContext, lab: &LabName) -> Result<Vec<LabResource>> {
    let sqs = &ctx.sqs();
    let list =
        sqs.list_queues().queue_name_prefix(stack_prefix(lab)).send().await.aws(|| "listing SQS queues".into(), ctx)?;
    let checks = list.queue_urls().iter().map(|url| async move {
        let tags = match sqs.list_queue_tags().queue_url(url).send().await {
            Ok(t) => t,
            Err(e) if error_code(&e).is_some_and(|c| c.contains("NonExistentQueue")) => {
                return Ok(None);
            }
            Err(e) => return Err(e).aws(|| format!("reading the tags of queue {url}"), ctx),
        };
        Ok::<_, crate::error::Error>(
            tag_matches(&tags.tags().cloned().unwrap_or_default(), lab)
                .then(|| LabResource::new("sqs:queue", url.clone())),
        )
    });
    Ok(try_join_all(checks).await?.into_iter().flatten().collect())
}

async fn trails(ctx: &AwsContext, scope: Scope<'_>) -> Result<Vec<LabResource>> {
    let ct = ctx.cloudtrail();
    let list = ct.list_trails().send().await.aws(|| "listing CloudTrail trails".into(), ctx)?;
    // A multi-region trail is listed in every region; only its home region owns it.
    let arns: Vec<String> = list
        .trails()
        .iter()
        .filter(|t| t.home_region().is_none_or(|r| r == ctx.region))
        .filter_map(|t| t.trail_arn())
        .map(String::from)
        .collect();
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for chunk in arns.chunks(20) {
        let tags = ct
            .list_tags()
            .set_resource_id_list(Some(chunk.to_vec()))
            .send()
            .await
            .aws(|| "reading CloudTrail trail tags".into(), ctx)?;
        for r in tags.resource_tag_list() {
            let map: HashMap<String, String> = r
                .tags_list()
                .iter()
                .map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string()))
                .collect();
            if scope.matches(&map) {
                // Named as CloudFormation names it (the physical id), not by ARN.
                let arn = r.resource_id().unwrap_or_default();
                out.push(LabResource::new("cloudtrail:trail", arn.rsplit_once("trail/").map_or(arn, |(_, name)| name)));
            }
        }
    }
    Ok(out)
}

/// IAM is global: the lab's roles live under `/irlab/<lab>/<region>/`, so labs of the same name
/// in two regions stay apart.
async fn iam(ctx: &AwsContext, lab: &LabName) -> Result<Vec<LabResource>> {
    let iam = ctx.iam();
    let path = format!("{}{}/", lab.iam_path(), ctx.region);
    // Both listings page (100 items by default, and "IAM might return fewer results, even when
    // there are more results available"): every page is read, or the proof could miss a role.
    let roles = async {
        let mut out = Vec::new();
        let mut pages = iam.list_roles().path_prefix(&path).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.aws(|| "listing the lab's IAM roles".into(), ctx)?;
            out.extend(
                page.roles()
                    .iter()
                    .filter(|r| r.path().starts_with(&path))
                    .map(|r| LabResource::new("iam:role", r.role_name())),
            );
        }
        Ok::<_, crate::error::Error>(out)
    };
    let profiles = async {
        let mut out = Vec::new();
        let mut pages = iam.list_instance_profiles().path_prefix(&path).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.aws(|| "listing the lab's IAM instance profiles".into(), ctx)?;
            out.extend(
                page.instance_profiles()
                    .iter()
                    // Checked here as well: a prefix filter ignored by the server must not widen the sweep.
                    .filter(|p| p.path().starts_with(&path))
                    .map(|p| LabResource::new("iam:instance-profile", p.instance_profile_name())),
            );
        }
        Ok::<_, crate::error::Error>(out)
    };
    let (mut roles, profiles) = futures::try_join!(roles, profiles)?;
    roles.extend(profiles);
    Ok(roles)
}

/// Every page: SSM answers "on a best-effort basis", with between zero and `MaxResults` (at most
/// 10) parameters and a `NextToken` while more may follow (GetParametersByPath, API reference).
async fn parameters(ctx: &AwsContext, lab: &LabName) -> Result<Vec<LabResource>> {
    let mut out = Vec::new();
    let mut pages = ctx
        .ssm()
        .get_parameters_by_path()
        .path(format!("/irlab/{}", lab.as_str()))
        .recursive(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws(|| "listing the lab's SSM parameters".into(), ctx)?;
        out.extend(page.parameters().iter().filter_map(|p| p.name()).map(|n| LabResource::new("ssm:parameter", n)));
    }
    Ok(out)
}

/// The detector this lab created, unless other labs still hold it (then it is theirs to put
/// back), and the lab's threat list on whichever detector the account has.
async fn owned_detector(ctx: &AwsContext, lab: &LabName) -> Result<Vec<LabResource>> {
    let Some(d) = detector::find(ctx).await? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    if let Some(set) = crate::lab::threat_list::find(ctx, lab, &d.id).await? {
        out.push(LabResource::new("guardduty:threat-intel-set", format!("{}/{set}", d.id)));
    }
    if d.owner_lab.as_deref() == Some(lab.as_str())
        && detector::holders(&crate::lab::state::LabState::others(ctx, lab).await?, &d.id).is_empty()
    {
        out.push(LabResource::new("guardduty:detector", d.id));
    }
    Ok(out)
}

/// What the playbook stacks create: functions, state machines, rules, runbooks, log groups.
/// Their names start with `irlab-<lab>-` (log groups may carry it after a path prefix); the tag decides.
async fn playbook_engines(ctx: &AwsContext, lab: &LabName) -> Result<Vec<LabResource>> {
    let prefix = stack_prefix(lab);
    let (functions, machines, rules, documents, logs, schedules, budget) = futures::try_join!(
        functions(ctx, lab, &prefix),
        state_machines(ctx, lab, &prefix),
        rules(ctx, lab, &prefix),
        documents(ctx, lab, &prefix),
        log_groups(ctx, lab, &prefix),
        schedules(ctx, &prefix),
        budget(ctx, lab),
    )?;
    Ok([functions, machines, rules, documents, logs, schedules, budget].into_iter().flatten().collect())
}

/// The janitor's EventBridge Scheduler schedules (`irlab-<lab>-expiry`, `-warning`), by name:
/// schedules take no tags through CloudFormation.
async fn schedules(ctx: &AwsContext, prefix: &str) -> Result<Vec<LabResource>> {
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let page = ctx
            .scheduler()
            .list_schedules()
            .name_prefix(prefix)
            .set_next_token(token)
            .send()
            .await
            .aws(|| "listing EventBridge Scheduler schedules".into(), ctx)?;
        found.extend(page.schedules().iter().filter_map(|s| {
            Some(LabResource::new("scheduler:schedule", format!("{}/{}", s.group_name()?, s.name()?)))
        }));
        token = page.next_token().map(String::from);
        if token.is_none() {
            return Ok(found);
        }
    }
}

/// The janitor's AWS Budgets budget (`up --max-spend`), named for the lab and region; budgets
/// are global to the account.
async fn budget(ctx: &AwsContext, lab: &LabName) -> Result<Vec<LabResource>> {
    let name = crate::lab::janitor::budget_name(lab, &ctx.region);
    let account = ctx.identity().await?.account;
    match ctx.budgets().describe_budget().account_id(&account).budget_name(&name).send().await {
        Ok(_) => Ok(vec![LabResource::new("budgets:budget", name)]),
        Err(e) if crate::aws::error_code(&e) == Some("NotFoundException") => Ok(Vec::new()),
        Err(e) => Err(e).aws(|| format!("reading budget {name}"), ctx),
    }
}

async fn functions(ctx: &AwsContext, lab: &LabName, prefix: &str) -> Result<Vec<LabResource>> {
    let lambda = &ctx.lambda();
    let mut found = Vec::new();
    let mut marker = None;
    loop {
        let page =
            lambda.list_functions().set_marker(marker).send().await.aws(|| "listing Lambda functions".into(), ctx)?;
        found.extend(
            page.functions()
                .iter()
                .filter(|f| f.function_name().is_some_and(|n| n.starts_with(prefix)))
                .filter_map(|f| Some((f.function_name()?.to_string(), f.function_arn()?.to_string()))),
        );
        marker = page.next_marker().filter(|t| !t.is_empty()).map(String::from);
        if marker.is_none() {
            break;
        }
    }
    let checks = found.iter().map(|(name, arn)| async move {
        let tags = lambda
            .list_tags()
            .resource(arn)
            .send()
            .await
            .aws(|| format!("reading the tags of function {name}"), ctx)?;
        Ok::<_, crate::error::Error>(
            tag_matches(&tags.tags().cloned().unwrap_or_default(), lab)
                .then(|| LabResource::new("lambda:function", name.clone())),
        )
    });
    Ok(try_join_all(checks).await?.into_iter().flatten().collect())
}

async fn state_machines(ctx: &AwsContext, lab: &LabName, prefix: &str) -> Result<Vec<LabResource>> {
    let sfn = &ctx.sfn();
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let page = sfn
            .list_state_machines()
            .set_next_token(token)
            .send()
            .await
            .aws(|| "listing Step Functions state machines".into(), ctx)?;
        found.extend(
            page.state_machines()
                .iter()
                .filter(|m| m.name().starts_with(prefix))
                .map(|m| m.state_machine_arn().to_string()),
        );
        token = page.next_token().filter(|t| !t.is_empty()).map(String::from);
        if token.is_none() {
            break;
        }
    }
    let checks = found.iter().map(|arn| async move {
        let tags = sfn
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .aws(|| format!("reading the tags of {arn}"), ctx)?;
        let tags: HashMap<String, String> =
            tags.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect();
        Ok::<_, crate::error::Error>(
            tag_matches(&tags, lab).then(|| LabResource::new("states:state-machine", arn.clone())),
        )
    });
    Ok(try_join_all(checks).await?.into_iter().flatten().collect())
}

async fn rules(ctx: &AwsContext, lab: &LabName, prefix: &str) -> Result<Vec<LabResource>> {
    let events = &ctx.events();
    let page = events.list_rules().name_prefix(prefix).send().await.aws(|| "listing EventBridge rules".into(), ctx)?;
    let found: Vec<(String, String)> =
        page.rules().iter().filter_map(|r| Some((r.name()?.to_string(), r.arn()?.to_string()))).collect();
    let checks = found.iter().map(|(name, arn)| async move {
        let tags = events
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .aws(|| format!("reading the tags of rule {name}"), ctx)?;
        let tags: HashMap<String, String> =
            tags.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        // Rule tags are not documented to come from stack tags; the playbook stacks name their rule
        // exactly like the stack, which is as unambiguous as the tag.
        let named = Variant::DEPLOYABLE.iter().any(|v| *name == lab.stack_name(Part::Playbook(*v)));
        Ok::<_, crate::error::Error>(
            (named || tag_matches(&tags, lab)).then(|| LabResource::new("events:rule", name.clone())),
        )
    });
    Ok(try_join_all(checks).await?.into_iter().flatten().collect())
}

async fn documents(ctx: &AwsContext, lab: &LabName, prefix: &str) -> Result<Vec<LabResource>> {
    use aws_sdk_ssm::types::DocumentKeyValuesFilter;
    let ssm = &ctx.ssm();
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let page = ssm
            .list_documents()
            .filters(DocumentKeyValuesFilter::builder().key("Owner").values("Self").build())
            // The most a page may hold: a class's documents in a few pages, not tens.
            .max_results(50)
            .set_next_token(token)
            .send()
            .await
            .aws(|| "listing SSM documents".into(), ctx)?;
        found.extend(
            page.document_identifiers()
                .iter()
                .filter_map(|d| d.name())
                .filter(|n| n.starts_with(prefix))
                .map(String::from),
        );
        token = page.next_token().filter(|t| !t.is_empty()).map(String::from);
        if token.is_none() {
            break;
        }
    }
    let checks = found.iter().map(|name| async move {
        let tags = ssm
            .list_tags_for_resource()
            .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Document)
            .resource_id(name)
            .send()
            .await
            .aws(|| format!("reading the tags of document {name}"), ctx)?;
        let tags: HashMap<String, String> =
            tags.tag_list().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        Ok::<_, crate::error::Error>(tag_matches(&tags, lab).then(|| LabResource::new("ssm:document", name.clone())))
    });
    Ok(try_join_all(checks).await?.into_iter().flatten().collect())
}

async fn log_groups(ctx: &AwsContext, lab: &LabName, prefix: &str) -> Result<Vec<LabResource>> {
    let logs = &ctx.logs();
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let page = logs
            .describe_log_groups()
            .set_next_token(token)
            .send()
            .await
            .aws(|| "listing CloudWatch log groups".into(), ctx)?;
        found.extend(
            page.log_groups()
                .iter()
                .filter_map(|g| g.log_group_name())
                .filter(|n| {
                    n.rsplit('/').next().is_some_and(|last| last.starts_with(prefix))
                        || n.contains(&format!("/irlab/{}/", lab.as_str()))
                })
                .map(String::from),
        );
        token = page.next_token().filter(|t| !t.is_empty()).map(String::from);
        if token.is_none() {
            break;
        }
    }
    // The name pattern is specific to the lab (`irlab-<lab>-`, or `/irlab/<lab>/`), but `irlab-a-`
    // also prefixes lab `a-b`'s names: the tag settles it.
    let checks = found.iter().map(|name| async move {
        #[allow(deprecated)]
        let tags = logs
            .list_tags_log_group()
            .log_group_name(name)
            .send()
            .await
            .aws(|| format!("reading the tags of log group {name}"), ctx)?;
        Ok::<_, crate::error::Error>(
            tag_matches(&tags.tags().cloned().unwrap_or_default(), lab)
                .then(|| LabResource::new("logs:log-group", name.clone())),
        )
    });
    Ok(try_join_all(checks).await?.into_iter().flatten().collect())
}
