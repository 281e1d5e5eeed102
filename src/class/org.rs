//! A class over an AWS Organizations OU: one lab in every member account, deployed by one
//! service-managed CloudFormation StackSet from the organization's management account, rather
//! than a loop on the instructor's laptop.
//!
//! - The StackSet's template (`stacks/org-lab.yaml`) nests the lab's own templates, which irlab
//!   uploads to the class's template bucket (`stacks/class-templates.yaml`, readable by the
//!   organization only), so the single-lab templates stay the one truth.
//! - Automatic deployment gives accounts that join the OU later their lab too; accounts that
//!   leave lose it.
//! - Operation preferences bound how many accounts deploy at once and how many may fail.
//! - `class down` deletes the stack instances, then the StackSet and the template bucket.
//!
//! What StackSets cannot do (the GuardDuty detector is adopted or created through the API in
//! each account, as `up` does) the class does per account with the member role.
//! AWS: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudformation::types::{
    AutoDeployment, Capability, DeploymentTargets, OrganizationStatus, Parameter, PermissionModels,
    RegionConcurrencyType, StackSetOperationPreferences, StackSetOperationStatus, Tag,
};

use crate::aws::{AwsContext, AwsResultExt, error_code};
use crate::error::{Error, Result};
use crate::lab::stacks::{self, Deployment, STACK_SET_TAG};
use crate::lab::{LabName, Variant};
use crate::ui::progress::{Progress, Reporter};

pub const ORG_LAB_TEMPLATE: &str = include_str!("../../stacks/org-lab.yaml");
const TEMPLATES_TEMPLATE: &str = include_str!("../../stacks/class-templates.yaml");

/// The templates the StackSet's nested stacks read from the class's bucket.
const NESTED: [(&str, &str); 6] = [
    ("shared.yaml", include_str!("../../stacks/shared.yaml")),
    ("detection.yaml", include_str!("../../stacks/detection.yaml")),
    ("victim.yaml", include_str!("../../stacks/victim.yaml")),
    ("playbook-lambda.yaml", include_str!("../../stacks/playbook-lambda.yaml")),
    ("playbook-stepfunctions.yaml", include_str!("../../stacks/playbook-stepfunctions.yaml")),
    ("playbook-ssm.yaml", include_str!("../../stacks/playbook-ssm.yaml")),
];

/// The class's StackSet and its template bucket's stack, both named after the class.
pub fn stack_set_name(class: &str) -> String {
    format!("irlab-{class}")
}

pub fn templates_stack_name(class: &str) -> String {
    format!("irlab-class-{class}-templates")
}

/// The organization, as its management account sees it.
#[derive(Debug, Clone)]
pub struct Organization {
    pub id: String,
    pub management_account: String,
}

/// A member account of the OU (or of one of its descendant OUs).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Member {
    pub account: String,
    pub name: String,
    pub ou: String,
}

/// An OU and every account the class gives a lab to in it.
#[derive(Debug, Clone)]
pub struct OrgUnit {
    pub id: String,
    pub members: Vec<Member>,
}

/// Where one account's stack instance stands.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceResult {
    pub account: String,
    pub status: String,
    pub reason: Option<String>,
}

impl InstanceResult {
    pub fn ok(&self) -> bool {
        matches!(self.status.as_str(), "SUCCEEDED" | "CURRENT")
    }
}

/// How StackSets paces an operation over the OU's accounts.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub max_concurrent_percent: i32,
    pub failure_tolerance_percent: i32,
}

impl Pace {
    fn preferences(self) -> StackSetOperationPreferences {
        StackSetOperationPreferences::builder()
            .max_concurrent_percentage(self.max_concurrent_percent)
            .failure_tolerance_percentage(self.failure_tolerance_percent)
            .region_concurrency_type(RegionConcurrencyType::Parallel)
            .build()
    }
}

/// The organization, and a refusal unless this is its management account: only there (or in a
/// delegated administrator, which irlab does not use) can service-managed StackSets run.
pub async fn organization(ctx: &AwsContext) -> Result<Organization> {
    let out = ctx.organizations().describe_organization().send().await.map_err(|e| {
        let not_in_org = error_code(&e) == Some("AWSOrganizationsNotInUseException");
        let err = Error::problem(if not_in_org {
            "this account is not in an AWS Organizations organization, so `--org-unit` has no accounts to deploy to"
                .to_string()
        } else {
            format!("reading the organization: {e}")
        });
        err.with_hint("use a roster with `account:` entries instead, or run from the organization's management account")
    })?;
    let org = out.organization().ok_or_else(|| Error::failure("DescribeOrganization returned no organization"))?;
    let org = Organization {
        id: org.id().unwrap_or_default().to_string(),
        management_account: org.master_account_id().unwrap_or_default().to_string(),
    };
    let me = ctx.identity().await?;
    if me.account != org.management_account {
        return Err(Error::problem(format!(
            "account {} is not the management account ({}) of organization {}",
            me.account, org.management_account, org.id
        ))
        .with_hint("service-managed StackSets deploy from the management account: run `irlab class ... --org-unit` with its credentials"));
    }
    Ok(org)
}

/// StackSets must be trusted by the organization before service-managed StackSets work.
pub async fn check_trusted_access(ctx: &AwsContext) -> Result<()> {
    let out = ctx
        .cloudformation()
        .describe_organizations_access()
        .send()
        .await
        .aws(|| "reading whether StackSets has trusted access to the organization".to_string(), ctx)?;
    match out.status() {
        Some(OrganizationStatus::Enabled) => Ok(()),
        other => Err(Error::problem(format!(
            "CloudFormation StackSets has no trusted access to the organization ({})",
            other.map_or("unknown", |s| s.as_str())
        ))
        .with_hint("enable it once with `aws cloudformation activate-organizations-access` in the management account, then run the command again")),
    }
}

/// Every active account under the OU, descendant OUs included, except the management account
/// (StackSets never deploys there).
pub async fn members(ctx: &AwsContext, org: &Organization, ou: &str) -> Result<OrgUnit> {
    let orgs = ctx.organizations();
    orgs.describe_organizational_unit()
        .organizational_unit_id(ou)
        .send()
        .await
        .aws(|| format!("reading organizational unit {ou}"), ctx)
        .map_err(|e| e.with_hint("`aws organizations list-organizational-units-for-parent` lists the OUs"))?;
    let mut out = Vec::new();
    let mut queue = vec![ou.to_string()];
    while let Some(parent) = queue.pop() {
        let mut pages = orgs.list_accounts_for_parent().parent_id(&parent).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.aws(|| format!("listing the accounts of {parent}"), ctx)?;
            for a in page.accounts() {
                let active = a.status().is_none_or(|s| s.as_str() == "ACTIVE");
                let id = a.id().unwrap_or_default();
                if active && id != org.management_account {
                    out.push(Member {
                        account: id.to_string(),
                        name: a.name().unwrap_or_default().to_string(),
                        ou: parent.clone(),
                    });
                }
            }
        }
        let mut pages = orgs.list_organizational_units_for_parent().parent_id(&parent).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.aws(|| format!("listing the OUs under {parent}"), ctx)?;
            queue.extend(page.organizational_units().iter().filter_map(|u| u.id().map(String::from)));
        }
    }
    out.sort_by(|a, b| a.account.cmp(&b.account));
    Ok(OrgUnit { id: ou.to_string(), members: out })
}

/// What every lab of the class is made of: one set of parameters for the whole StackSet.
pub struct LabSpec<'a> {
    pub lab: &'a LabName,
    pub variant: Variant,
    pub instance_type: &'a str,
    /// `up --evidence-budget` for every account's playbook, when the roster sets one.
    pub evidence_budget: Option<u32>,
    pub ami_parameter: &'a str,
    pub min_severity: f64,
}

/// Uploads the lab's templates to the class's bucket (created on first use) and returns the
/// folder's https URL. Folders are named by the templates' digest, so a StackSet update that
/// runs while an older one is read never sees a half-written set.
pub async fn publish_templates(
    ctx: &AwsContext,
    class: &str,
    org: &Organization,
    reporter: &dyn Reporter,
) -> Result<String> {
    let d = Deployment {
        stack_name: templates_stack_name(class),
        template: TEMPLATES_TEMPLATE,
        template_url: None,
        parameters: vec![("OrganizationId".into(), org.id.clone())],
        tags: vec![("irlab:class".into(), class.to_string())],
    };
    let (_, info) = stacks::deploy(ctx, &d, "templates", reporter).await?;
    let bucket = info
        .output("TemplateBucketName")
        .ok_or_else(|| Error::failure(format!("stack {} has no TemplateBucketName output", info.name)))?
        .to_string();
    let domain = info
        .output("TemplateBucketDomain")
        .map(String::from)
        .unwrap_or_else(|| format!("{bucket}.s3.{}.amazonaws.com", ctx.region));
    // Folders named by content: an update never reads a half-written set.
    let folder = format!("templates/{}", stacks::fingerprint(NESTED.iter().flat_map(|(n, b)| [*n, *b])));
    for (name, body) in NESTED {
        ctx.s3()
            .put_object()
            .bucket(&bucket)
            .key(format!("{folder}/{name}"))
            .content_type("application/x-yaml")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .aws(|| format!("uploading {name} to the class's template bucket {bucket}"), ctx)?;
    }
    Ok(format!("https://{domain}/{folder}"))
}

fn parameters(spec: &LabSpec<'_>, base_url: &str) -> Result<Vec<Parameter>> {
    let p = |k: &str, v: String| Parameter::builder().parameter_key(k).parameter_value(v).build();
    Ok(vec![
        p("LabName", spec.lab.to_string()),
        p("TemplateBaseUrl", base_url.to_string()),
        p("PlaybookVariant", spec.variant.as_str().to_string()),
        p("InstanceType", spec.instance_type.to_string()),
        p("LatestAmiId", spec.ami_parameter.to_string()),
        p("MinSeverity", format!("{}", spec.min_severity)),
        // What the built-in scenarios leave behind, for the playbook's volatile evidence collection.
        p("Indicators", crate::lab::playbook::indicators()?),
        p(
            "EvidenceBudgetSeconds",
            spec.evidence_budget.unwrap_or(crate::lab::playbook::DEFAULT_EVIDENCE_BUDGET).to_string(),
        ),
    ])
}

/// Creates the class's StackSet or brings its template and parameters up to date, then makes
/// sure every account of the OU has its instance; returns each account's result.
pub async fn deploy(
    ctx: &AwsContext,
    class: &str,
    org: &Organization,
    unit: &OrgUnit,
    spec: &LabSpec<'_>,
    pace: Pace,
    reporter: &dyn Reporter,
) -> Result<Vec<InstanceResult>> {
    let ou = unit.id.as_str();
    let base_url = publish_templates(ctx, class, org, reporter).await?;
    let name = stack_set_name(class);
    let cfn = ctx.cloudformation();
    let params = parameters(spec, &base_url)?;
    let targets = DeploymentTargets::builder().organizational_unit_ids(ou).build();
    let me = ctx.identity().await?;
    let tags = [("irlab:class", class.to_string()), (STACK_SET_TAG, format!("{name}@{}", me.account))]
        .map(|(k, v)| Tag::builder().key(k).value(v).build());

    match describe(ctx, &name).await? {
        None => {
            reporter.report(Progress::Started {
                task: name.clone(),
                what: format!("creating the service-managed StackSet {name}"),
            });
            cfn.create_stack_set()
                .stack_set_name(&name)
                .description(format!("irlab class {class}: one lab per account of the OU (irlab class up --org-unit)"))
                .template_body(ORG_LAB_TEMPLATE)
                .set_parameters(Some(params))
                .capabilities(Capability::CapabilityNamedIam)
                .permission_model(PermissionModels::ServiceManaged)
                .auto_deployment(
                    AutoDeployment::builder().enabled(true).retain_stacks_on_account_removal(false).build(),
                )
                .set_tags(Some(tags.to_vec()))
                .send()
                .await
                .aws(|| format!("creating StackSet {name}"), ctx)?;
        }
        Some(current) if current.changed(&params) => {
            reporter.report(Progress::Started {
                task: name.clone(),
                what: format!("updating StackSet {name} and its instances"),
            });
            let op = cfn
                .update_stack_set()
                .stack_set_name(&name)
                .template_body(ORG_LAB_TEMPLATE)
                .set_parameters(Some(params))
                .capabilities(Capability::CapabilityNamedIam)
                .deployment_targets(targets.clone())
                .regions(&ctx.region)
                .operation_preferences(pace.preferences())
                .send()
                .await
                .aws(|| format!("updating StackSet {name}"), ctx)?;
            if let Some(id) = op.operation_id() {
                wait(ctx, &name, id, reporter).await?;
            }
        }
        Some(_) => {}
    }
    // Only accounts without a current instance need an operation (a class run again, or an
    // account that joined while automatic deployment was still at work).
    let have = instances(ctx, &name).await?;
    let missing: Vec<&Member> =
        unit.members.iter().filter(|m| !have.iter().any(|i| i.account == m.account && i.status == "CURRENT")).collect();
    if missing.is_empty() {
        reporter.report(Progress::Note(format!("{name}: every account of {ou} has its lab")));
        return Ok(have);
    }
    reporter.report(Progress::Started {
        task: name.clone(),
        what: format!(
            "deploying to the accounts of {ou} in {} (at most {}% at once, {}% may fail)",
            ctx.region, pace.max_concurrent_percent, pace.failure_tolerance_percent
        ),
    });
    let op = cfn
        .create_stack_instances()
        .stack_set_name(&name)
        .deployment_targets(targets)
        .regions(&ctx.region)
        .operation_preferences(pace.preferences())
        .send()
        .await
        .aws(|| format!("creating the instances of StackSet {name} in {ou}"), ctx)?;
    let id = op.operation_id().unwrap_or_default().to_string();
    let results = wait(ctx, &name, &id, reporter).await?;
    // Accounts the operation did not touch (instances from before) answer from their instance.
    let mut by_account: BTreeMap<String, InstanceResult> =
        instances(ctx, &name).await?.into_iter().map(|r| (r.account.clone(), r)).collect();
    for r in results {
        by_account.insert(r.account.clone(), r);
    }
    Ok(by_account.into_values().collect())
}

/// The StackSet's instances in this region, one per account.
pub async fn instances(ctx: &AwsContext, name: &str) -> Result<Vec<InstanceResult>> {
    let mut out = Vec::new();
    let mut pages = ctx.cloudformation().list_stack_instances().stack_set_name(name).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) if error_code(&e) == Some("StackSetNotFoundException") => return Ok(Vec::new()),
            Err(e) => return Err(e).aws(|| format!("listing the instances of StackSet {name}"), ctx),
        };
        for s in page.summaries().iter().filter(|s| s.region() == Some(ctx.region.as_str())) {
            let detailed = s.stack_instance_status().and_then(|d| d.detailed_status()).map(|d| d.as_str().to_string());
            let status = s.status().map(|x| x.as_str().to_string()).unwrap_or_default();
            out.push(InstanceResult {
                account: s.account().unwrap_or_default().to_string(),
                // CURRENT only says the instance matches the set; SUCCEEDED/FAILED say how it went.
                status: match (status.as_str(), detailed.as_deref()) {
                    ("CURRENT", _) => "CURRENT".into(),
                    (_, Some(d)) => d.to_string(),
                    (s, None) => s.to_string(),
                },
                reason: s.status_reason().map(String::from),
            });
        }
    }
    Ok(out)
}

struct CurrentSet {
    template: String,
    parameters: BTreeMap<String, String>,
}

impl CurrentSet {
    fn changed(&self, params: &[Parameter]) -> bool {
        let want: BTreeMap<String, String> = params
            .iter()
            .filter_map(|p| Some((p.parameter_key()?.to_string(), p.parameter_value()?.to_string())))
            .collect();
        self.template != ORG_LAB_TEMPLATE || self.parameters != want
    }
}

async fn describe(ctx: &AwsContext, name: &str) -> Result<Option<CurrentSet>> {
    match ctx.cloudformation().describe_stack_set().stack_set_name(name).send().await {
        Ok(out) => {
            Ok(out.stack_set().filter(|s| s.status().is_none_or(|st| st.as_str() != "DELETED")).map(|s| CurrentSet {
                template: s.template_body().unwrap_or_default().to_string(),
                parameters: s
                    .parameters()
                    .iter()
                    .filter_map(|p| Some((p.parameter_key()?.to_string(), p.parameter_value()?.to_string())))
                    .collect(),
            }))
        }
        Err(e) if error_code(&e) == Some("StackSetNotFoundException") => Ok(None),
        Err(e) => Err(e).aws(|| format!("reading StackSet {name}"), ctx),
    }
}

fn poll(ctx: &AwsContext) -> Duration {
    if ctx.local { Duration::from_millis(300) } else { Duration::from_secs(10) }
}

/// Follows an operation to its end, reporting each account's result as it comes; returns them.
async fn wait(ctx: &AwsContext, name: &str, operation: &str, reporter: &dyn Reporter) -> Result<Vec<InstanceResult>> {
    let cfn = ctx.cloudformation();
    let mut told: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let out = cfn
            .describe_stack_set_operation()
            .stack_set_name(name)
            .operation_id(operation)
            .send()
            .await
            .aws(|| format!("following operation {operation} of StackSet {name}"), ctx)?;
        let status = out.stack_set_operation().and_then(|o| o.status()).cloned();
        let results = operation_results(ctx, name, operation).await?;
        for r in &results {
            if told.get(&r.account) != Some(&r.status) {
                told.insert(r.account.clone(), r.status.clone());
                let why = r.reason.as_deref().map(|x| format!(": {x}")).unwrap_or_default();
                reporter.report(Progress::Note(format!(
                    "{name}: account {} {}{why}",
                    r.account,
                    r.status.to_lowercase()
                )));
            }
        }
        match status {
            Some(StackSetOperationStatus::Succeeded)
            | Some(StackSetOperationStatus::Failed)
            | Some(StackSetOperationStatus::Stopped) => {
                reporter.report(Progress::Finished {
                    task: name.to_string(),
                    what: format!(
                        "operation {operation} {}",
                        status.as_ref().map_or("", |s| s.as_str()).to_lowercase()
                    ),
                });
                return Ok(results);
            }
            _ => tokio::time::sleep(poll(ctx)).await,
        }
    }
}

async fn operation_results(ctx: &AwsContext, name: &str, operation: &str) -> Result<Vec<InstanceResult>> {
    let mut out = Vec::new();
    let mut pages = ctx
        .cloudformation()
        .list_stack_set_operation_results()
        .stack_set_name(name)
        .operation_id(operation)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws(|| format!("listing the results of operation {operation}"), ctx)?;
        out.extend(page.summaries().iter().map(|s| InstanceResult {
            account: s.account().unwrap_or_default().to_string(),
            status: s.status().map(|x| x.as_str().to_string()).unwrap_or_default(),
            reason: s.status_reason().map(String::from),
        }));
    }
    Ok(out)
}

/// Deletes the OU's stack instances (their stacks with them), then the StackSet once it is
/// empty, then the template bucket. Returns each account's deletion result.
pub async fn remove(
    ctx: &AwsContext,
    class: &str,
    ou: &str,
    pace: Pace,
    reporter: &dyn Reporter,
) -> Result<Vec<InstanceResult>> {
    let name = stack_set_name(class);
    let cfn = ctx.cloudformation();
    let mut results = Vec::new();
    if describe(ctx, &name).await?.is_some() {
        if !instances(ctx, &name).await?.is_empty() {
            reporter.report(Progress::Started {
                task: name.clone(),
                what: format!("deleting the stack instances in the accounts of {ou}"),
            });
            let op = cfn
                .delete_stack_instances()
                .stack_set_name(&name)
                .deployment_targets(DeploymentTargets::builder().organizational_unit_ids(ou).build())
                .regions(&ctx.region)
                .retain_stacks(false)
                .operation_preferences(pace.preferences())
                .send()
                .await
                .aws(|| format!("deleting the instances of StackSet {name}"), ctx)?;
            results = wait(ctx, &name, op.operation_id().unwrap_or_default(), reporter).await?;
        }
        let left = instances(ctx, &name).await?;
        if !left.is_empty() {
            let list: Vec<String> = left.iter().map(|r| format!("{} ({})", r.account, r.status)).collect();
            return Err(Error::failure(format!(
                "StackSet {name} still has {} instance(s): {}",
                left.len(),
                list.join(", ")
            ))
            .with_hint("instances outside the OU (or in another region) are not the class's: remove them with `aws cloudformation delete-stack-instances`, then run `irlab class down` again"));
        }
        cfn.delete_stack_set().stack_set_name(&name).send().await.aws(|| format!("deleting StackSet {name}"), ctx)?;
        reporter.report(Progress::Finished { task: name.clone(), what: "StackSet deleted".into() });
    }
    let templates = templates_stack_name(class);
    if let Some(info) = stacks::describe(ctx, &templates).await?.filter(|s| s.status != "DELETE_COMPLETE") {
        if let Some(bucket) = info.output("TemplateBucketName") {
            crate::lab::teardown::empty_bucket(ctx, bucket).await?;
        }
        stacks::delete(ctx, &info.id, &templates, reporter).await?;
    }
    Ok(results)
}

/// What the organization's management account still holds of the class: the StackSet, its
/// instances and the template bucket's stack. Empty after a clean `class down`.
pub async fn leftovers(ctx: &AwsContext, class: &str) -> Result<Vec<String>> {
    let name = stack_set_name(class);
    let mut left = Vec::new();
    if describe(ctx, &name).await?.is_some() {
        left.push(format!("cloudformation:stack-set {name}"));
        for r in instances(ctx, &name).await? {
            left.push(format!("cloudformation:stack-instance {name} {} ({})", r.account, r.status));
        }
    }
    let templates = templates_stack_name(class);
    if stacks::describe(ctx, &templates).await?.is_some_and(|s| s.status != "DELETE_COMPLETE") {
        left.push(format!("cloudformation:stack {templates}"));
    }
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrapper_nests_every_template_it_names_and_only_those() {
        for (name, _) in NESTED {
            let stem = name.trim_end_matches(".yaml");
            let named = ORG_LAB_TEMPLATE.contains(&format!("/{name}\""))
                || (stem.starts_with("playbook-") && ORG_LAB_TEMPLATE.contains("/playbook-${PlaybookVariant}.yaml"));
            assert!(named, "{name} is uploaded but org-lab.yaml never nests it");
        }
        for v in Variant::ALL {
            assert!(NESTED.iter().any(|(n, _)| *n == format!("playbook-{}.yaml", v.as_str())), "{v:?} not uploaded");
        }
    }

    #[test]
    fn a_changed_parameter_or_template_updates_the_set() {
        let p = |k: &str, v: &str| Parameter::builder().parameter_key(k).parameter_value(v).build();
        let current = CurrentSet {
            template: ORG_LAB_TEMPLATE.to_string(),
            parameters: [("LabName".to_string(), "lab".to_string())].into(),
        };
        assert!(!current.changed(&[p("LabName", "lab")]));
        assert!(current.changed(&[p("LabName", "other")]));
        let old = CurrentSet { template: "old".into(), ..current };
        assert!(old.changed(&[p("LabName", "lab")]));
    }
}
