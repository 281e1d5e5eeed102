//! `irlab preflight`: whether labs about to come up fit this account's quotas in this region
//! (VPCs, trails, vCPUs of running standard instances, Elastic IPs), checked before anything is
//! created. `irlab up` runs the same check for its own lab; `irlab class up` runs it once per
//! account for all of that account's labs together.

use serde_json::json;

use crate::cli::{Global, PreflightArgs};
use crate::error::{Error, Result};
use crate::lab::stacks;
use crate::lab::{LabName, Part, quota, shared};
use crate::ui::printer::Printer;

pub async fn run(g: &Global, args: &PreflightArgs, p: &Printer) -> Result<()> {
    let (lab, ctx) = super::open(g).await?;
    let labs: Vec<LabName> = if args.labs.is_empty() {
        vec![lab]
    } else {
        args.labs.iter().map(|l| LabName::parse(l)).collect::<Result<_>>()?
    };
    let types = &args.instance_types;
    if types.len() > 1 && types.len() != labs.len() {
        return Err(Error::problem(format!(
            "--instance-types names {} types for {} labs: give one for all, or one per lab",
            types.len(),
            labs.len()
        )));
    }
    let mut need = quota::Need { shared_parts: shared::find(&ctx).await?.is_none(), instance_types: Vec::new() };
    for (i, l) in labs.iter().enumerate() {
        // A lab whose victim is already there launches nothing new.
        if stacks::find(&ctx, l, Part::Victim).await?.is_none() {
            let t = types.get(i).or(types.first()).map_or(super::up::DEFAULT_INSTANCE_TYPE, String::as_str);
            super::up::check_instance_type(t)?;
            need.instance_types.push(t.to_string());
        }
    }
    let me = ctx.identity().await?;
    let checks = quota::check(&ctx, &need).await?;
    let short: Vec<&quota::QuotaCheck> = checks.iter().filter(|c| c.short()).collect();
    let fits = short.is_empty();
    if p.is_json() {
        p.json(&json!({ "account": me.account, "region": ctx.region, "labs": labs.len(), "fits": fits,
            "checks": checks, "remedies": short.iter().map(|c| c.remedy()).collect::<Vec<_>>() }));
    } else {
        p.out(format!("quotas for {} new lab(s) in {} / {}:", need.instance_types.len(), me.account, ctx.region));
        for c in &checks {
            p.out(format!("  {}", c.line()));
        }
    }
    if fits {
        p.out("every quota fits");
        return Ok(());
    }
    Err(Error::problem(format!(
        "{} lab(s) do not fit in {} / {}: {}",
        labs.len(),
        me.account,
        ctx.region,
        short.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
    ))
    .with_hint(short.iter().map(|c| c.remedy()).collect::<Vec<_>>().join("; ")))
}
