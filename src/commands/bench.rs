//! `irlab bench --local`: event-to-contained time of each playbook variant on the stand-in.
//!
//! For each variant it deploys the lab, then per run puts a simulated finding for the victim,
//! times until the victim is tagged `irlab:ir-status=contained`, and resets it (untimed) for the
//! next run. The lab's rule answers findings about its own victim only, so the bench uses that
//! victim. It measures the engines' orchestration, not AWS's latency.

use std::time::{Duration, Instant};

use aws_sdk_ec2::types::Filter;
use serde::Serialize;
use serde_json::json;

use crate::aws::{AwsContext, AwsResultExt};
use crate::cli::{BenchArgs, Global};
use crate::error::{Error, Result};
use crate::finding::{self, Simulated};
use crate::lab::{Part, Variant};
use crate::printer::Printer;
use crate::stacks;

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
        super::myself_silently(g, &["up", "--playbook", variant.as_str(), "--quiet"])?;
        let instance = stacks::describe(&ctx, &lab.stack_name(Part::Victim))
            .await?
            .and_then(|v| v.output("InstanceId").map(String::from))
            .ok_or_else(|| Error::failure("the victim stack has no instance after `irlab up`"))?;
        let mut times = Vec::new();
        for i in 0..args.runs {
            let started = Instant::now();
            Simulated {
                account: &me.account,
                region: &ctx.region,
                instance_id: &instance,
                finding_type: "UnauthorizedAccess:EC2/TorClient",
                severity: 8.0,
                title: "irlab bench",
            }
            .put(&ctx, &finding::new_id())
            .await?;
            let status = wait_contained(&ctx, &instance, Duration::from_secs(120)).await?;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            if status != "contained" {
                return Err(Error::problem(format!("{variant}: run {} ended `{status}` instead of contained", i + 1)));
            }
            p.info(format!("{variant}: run {}/{}: {ms:.0} ms", i + 1, args.runs));
            times.push(ms);
            super::myself_silently(g, &["reset", "--quiet"])?;
        }
        rows.push(row(variant, &times));
    }
    super::myself_silently(g, &["down", "--yes", "--quiet"])?;
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
