//! `irlab bench --local`: event-to-contained time of each playbook variant on the stand-in.
//!
//! For each variant it deploys the lab, then per run launches a fresh lab-tagged instance beside
//! the victim, puts a simulated finding for it, and times until the instance is tagged
//! `irlab:ir-status=contained`. It measures the engines' orchestration, not AWS's latency.

use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{Filter, IamInstanceProfileSpecification, ResourceType, Tag, TagSpecification};
use serde::Serialize;
use serde_json::json;

use crate::aws::{AwsContext, AwsResultExt};
use crate::cli::{BenchArgs, Global};
use crate::error::{Error, Result};
use crate::finding::Simulated;
use crate::lab::{LAB_TAG, LabName, Part, Variant};
use crate::printer::Printer;
use crate::stacks;
use crate::teardown;

#[derive(Debug, Serialize)]
pub struct Row {
    pub variant: Variant,
    pub runs: usize,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub stdev_ms: f64,
}

pub async fn run(g: &Global, args: &BenchArgs, p: &Printer) -> Result<()> {
    if !g.local {
        return Err(Error::problem(
            "bench launches instances and runs every playbook repeatedly: it runs only on the local stand-in",
        )
        .with_hint("add --local"));
    }
    if args.runs == 0 {
        return Err(Error::problem("--runs must be at least 1"));
    }
    let (lab, ctx) = super::open(g).await?;
    let me = ctx.identity().await?;
    let variants = if args.variants.is_empty() { Variant::ALL.to_vec() } else { args.variants.clone() };
    let mut rows = Vec::new();
    for variant in variants {
        p.info(format!("{variant}: deploying"));
        super::myself(g, &["up", "--playbook", variant.as_str(), "--quiet"])?;
        let mut times = Vec::new();
        for i in 0..args.runs {
            let instance = launch_victim(&ctx, &lab).await?;
            let started = Instant::now();
            Simulated {
                account: &me.account,
                region: &ctx.region,
                instance_id: &instance,
                finding_type: "UnauthorizedAccess:EC2/TorClient",
                severity: 8.0,
                title: "irlab bench",
            }
            .put(&ctx)
            .await?;
            let status = wait_contained(&ctx, &instance, Duration::from_secs(120)).await?;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            if status != "contained" {
                return Err(Error::problem(format!("{variant}: run {} ended `{status}` instead of contained", i + 1)));
            }
            p.info(format!("{variant}: run {}/{}: {ms:.0} ms", i + 1, args.runs));
            times.push(ms);
            release(&ctx, &instance).await?;
        }
        rows.push(row(variant, &times));
    }
    super::myself(g, &["down", "--yes", "--quiet"])?;
    if p.is_json() {
        p.json(&json!({ "runs": args.runs, "results": rows }));
        return Ok(());
    }
    p.out(format!("event-to-contained on the local stand-in, {} runs per variant", args.runs));
    p.out("| variant | median | min | max | stdev |");
    p.out("|---|---|---|---|---|");
    for r in &rows {
        p.out(format!(
            "| {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms |",
            r.variant, r.median_ms, r.min_ms, r.max_ms, r.stdev_ms
        ));
    }
    Ok(())
}

fn row(variant: Variant, times: &[f64]) -> Row {
    let mut sorted = times.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let n = sorted.len();
    let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let var = sorted.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n as f64;
    Row { variant, runs: n, median_ms: median, min_ms: sorted[0], max_ms: sorted[n - 1], stdev_ms: var.sqrt() }
}

/// A fresh instance like the victim: same image, subnet, group, profile and lab tag.
async fn launch_victim(ctx: &AwsContext, lab: &LabName) -> Result<String> {
    let victim = stacks::describe(ctx, &lab.stack_name(Part::Victim))
        .await?
        .ok_or_else(|| Error::failure("the victim stack vanished during the benchmark"))?;
    let out = |k: &str| {
        victim.output(k).map(String::from).ok_or_else(|| Error::failure(format!("victim stack has no output {k}")))
    };
    let ec2 = ctx.ec2();
    let original = ec2
        .describe_instances()
        .instance_ids(out("InstanceId")?)
        .send()
        .await
        .aws(|| "describing the victim".into(), ctx)?;
    let image = original
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find_map(|i| i.image_id())
        .unwrap_or_default()
        .to_string();
    let tags = TagSpecification::builder()
        .resource_type(ResourceType::Instance)
        .tags(Tag::builder().key(LAB_TAG).value(lab.as_str()).build())
        .tags(Tag::builder().key("Name").value("irlab-bench").build())
        .build();
    let run = ec2
        .run_instances()
        .image_id(image)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .subnet_id(out("SubnetId")?)
        .security_group_ids(out("AppSecurityGroupId")?)
        .iam_instance_profile(IamInstanceProfileSpecification::builder().arn(out("InstanceProfileArn")?).build())
        .tag_specifications(tags)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .aws(|| "launching a benchmark instance".into(), ctx)?;
    Ok(run.instances().first().and_then(|i| i.instance_id()).unwrap_or_default().to_string())
}

async fn wait_contained(ctx: &AwsContext, instance: &str, timeout: Duration) -> Result<String> {
    let deadline = Instant::now() + timeout;
    let filter = Filter::builder().name("resource-id").values(instance).build();
    loop {
        let tags = ctx
            .ec2()
            .describe_tags()
            .filters(filter.clone())
            .send()
            .await
            .aws(|| format!("reading the tags of {instance}"), ctx)?;
        if let Some(status) = tags.tags().iter().find(|t| t.key() == Some("irlab:ir-status")).and_then(|t| t.value())
            && status != "containing"
        {
            return Ok(status.to_string());
        }
        if Instant::now() > deadline {
            return Err(Error::problem(format!("{instance} was not contained within {}s", timeout.as_secs())));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Lifts the protections the playbook set and terminates the run's instance.
async fn release(ctx: &AwsContext, instance: &str) -> Result<()> {
    teardown::lift_protection(ctx, instance).await?;
    ctx.ec2()
        .terminate_instances()
        .instance_ids(instance)
        .send()
        .await
        .aws(|| format!("terminating {instance}"), ctx)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let r = row(Variant::Lambda, &[40.0, 10.0, 30.0, 20.0]);
        assert_eq!((r.median_ms, r.min_ms, r.max_ms, r.runs), (25.0, 10.0, 40.0, 4));
        let r = row(Variant::Ssm, &[5.0, 1.0, 3.0]);
        assert_eq!(r.median_ms, 3.0);
        assert!((r.stdev_ms - (8.0f64 / 3.0).sqrt()).abs() < 1e-9);
    }
}
