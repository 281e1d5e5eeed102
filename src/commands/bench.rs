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
use crate::incident::finding::{self, Simulated};
use crate::lab::stacks;
use crate::lab::{Part, Variant};
use crate::ui::printer::Printer;

/// Medians and spread of one variant's runs, each measured from the moment the finding is put.
#[derive(Debug, Serialize)]
pub struct Row {
    pub variant: Variant,
    pub runs: usize,
    /// Every interface of the victim carries only the quarantine group.
    pub isolated: Stats,
    /// Every attached volume has a completed snapshot tagged with the run's finding.
    pub evidence: Stats,
    /// The playbook tagged the victim `irlab:ir-status=contained`: its run is over.
    pub contained: Stats,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Stats {
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub stdev_ms: f64,
}

/// When each milestone of one run was first seen, in ms after the finding was put.
#[derive(Debug, Default)]
struct Milestones {
    isolated: Option<f64>,
    evidence: Option<f64>,
    contained: Option<f64>,
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
    let endpoint = ctx.endpoint.clone().unwrap_or_default();
    let scale = crate::emulator::wait_scale(&endpoint);
    // Engines wait in document seconds times the scale; at scale 1 a snapshot takes minutes.
    let timeout = Duration::from_secs(120) + Duration::from_secs_f64(3600.0 * scale.unwrap_or(1.0));
    match scale {
        Some(s) => p.info(format!("the stand-in at {endpoint} runs at wait scale {s}")),
        None => p.info(format!("the stand-in at {endpoint} did not report its wait scale")),
    }
    let variants = if args.variants.is_empty() { Variant::ALL.to_vec() } else { args.variants.clone() };
    if variants.contains(&Variant::Manual) {
        return Err(Error::problem("`none` has no playbook to time").with_hint("bench lambda, stepfunctions or ssm"));
    }
    let mut rows = Vec::new();
    for variant in variants {
        p.info(format!("{variant}: deploying"));
        super::myself_silently(g, &["up", "--playbook", variant.as_str(), "--quiet"])?;
        let victim = stacks::describe(&ctx, &lab.stack_name(Part::Victim)).await?;
        let (Some(instance), Some(quarantine)) = (
            victim.as_ref().and_then(|v| v.output("InstanceId")).map(String::from),
            victim.as_ref().and_then(|v| v.output("QuarantineSecurityGroupId")).map(String::from),
        ) else {
            return Err(Error::failure("the victim stack has no instance or quarantine group after `irlab up`"));
        };
        let mut runs = Vec::new();
        for i in 0..args.runs {
            let id = finding::new_id();
            let started = Instant::now();
            Simulated {
                account: &me.account,
                region: &ctx.region,
                instance_id: &instance,
                finding_type: "UnauthorizedAccess:EC2/TorClient",
                severity: 8.0,
                title: "irlab bench",
            }
            .put(&ctx, &id)
            .await?;
            let m = watch(&ctx, &instance, &quarantine, &id, started, timeout).await.map_err(|e| {
                Error::problem(format!("{variant}: run {}: {}", i + 1, e.message)).with_hint(
                    "`irlab --local status` shows the lab; the playbook's own record (`irlab --local report`) says why",
                )
            })?;
            let (isolated, evidence, contained) =
                (m.isolated.unwrap_or(f64::NAN), m.evidence.unwrap_or(f64::NAN), m.contained.unwrap_or(f64::NAN));
            p.info(format!(
                "{variant}: run {}/{}: isolated {isolated:.0} ms, evidence {evidence:.0} ms, contained {contained:.0} ms",
                i + 1,
                args.runs
            ));
            runs.push((isolated, evidence, contained));
            super::myself_silently(g, &["reset", "--quiet"])?;
        }
        rows.push(row(variant, &runs));
    }
    super::myself_silently(g, &["down", "--yes", "--quiet"])?;
    if p.is_json() {
        p.json(&json!({ "runs": args.runs, "wait_scale": scale, "results": rows }));
        return Ok(());
    }
    let scale_text = scale.map_or("an unknown wait scale".to_string(), |s| format!("wait scale {s}"));
    p.out(format!(
        "from the finding put to each milestone, on the local stand-in at {scale_text}, {} runs per variant",
        args.runs
    ));
    p.out("| variant | isolated | evidence complete | contained | contained min-max |");
    p.out("|---|---|---|---|---|");
    for r in &rows {
        p.out(format!(
            "| {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0}-{:.0} ms |",
            r.variant,
            r.isolated.median_ms,
            r.evidence.median_ms,
            r.contained.median_ms,
            r.contained.min_ms,
            r.contained.max_ms
        ));
    }
    Ok(())
}

fn row(variant: Variant, runs: &[(f64, f64, f64)]) -> Row {
    let pick = |f: fn(&(f64, f64, f64)) -> f64| stats(&runs.iter().map(f).collect::<Vec<_>>());
    Row { variant, runs: runs.len(), isolated: pick(|r| r.0), evidence: pick(|r| r.1), contained: pick(|r| r.2) }
}

fn stats(times: &[f64]) -> Stats {
    let mut sorted = times.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let n = sorted.len();
    let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let var = sorted.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n as f64;
    Stats { median_ms: median, min_ms: sorted[0], max_ms: sorted[n - 1], stdev_ms: var.sqrt() }
}

/// Polls the victim until the run is contained and its evidence complete, noting when each
/// milestone is first seen. A playbook that ends in any other status is an error.
async fn watch(
    ctx: &AwsContext,
    instance: &str,
    quarantine: &str,
    finding_id: &str,
    started: Instant,
    timeout: Duration,
) -> Result<Milestones> {
    let mut m = Milestones::default();
    let ec2 = ctx.ec2();
    loop {
        let now = || started.elapsed().as_secs_f64() * 1000.0;
        let desc = ec2
            .describe_instances()
            .instance_ids(instance)
            .send()
            .await
            .aws(|| format!("describing {instance}"), ctx)?;
        let Some(i) = desc.reservations().iter().flat_map(|r| r.instances()).next() else {
            return Err(Error::problem(format!("{instance} is gone")));
        };
        let isolated = !i.network_interfaces().is_empty()
            && i.network_interfaces()
                .iter()
                .all(|eni| matches!(eni.groups(), [only] if only.group_id() == Some(quarantine)));
        if isolated && m.isolated.is_none() {
            m.isolated = Some(now());
        }
        let tag = |k: &str| i.tags().iter().find(|t| t.key() == Some(k)).and_then(|t| t.value());
        let ours = tag("irlab:finding-id") == Some(finding_id);
        match tag("irlab:ir-status") {
            Some("contained") if ours && m.contained.is_none() => m.contained = Some(now()),
            Some(other) if ours && other != "containing" && other != "contained" => {
                return Err(Error::problem(format!("the playbook ended `{other}` instead of contained")));
            }
            _ => {}
        }
        if m.evidence.is_none() {
            let volumes: Vec<&str> = i.block_device_mappings().iter().filter_map(|b| b.ebs()?.volume_id()).collect();
            let snaps = ec2
                .describe_snapshots()
                .owner_ids("self")
                .filters(Filter::builder().name("tag:irlab:finding-id").values(finding_id).build())
                .send()
                .await
                .aws(|| format!("listing the snapshots of {instance}"), ctx)?;
            let done = |v: &str| {
                snaps
                    .snapshots()
                    .iter()
                    .any(|s| s.volume_id() == Some(v) && s.state().is_some_and(|st| st.as_str() == "completed"))
            };
            if !volumes.is_empty() && volumes.iter().all(|v| done(v)) {
                m.evidence = Some(now());
            }
        }
        if m.contained.is_some() && m.evidence.is_some() {
            return Ok(m);
        }
        if started.elapsed() > timeout {
            return Err(Error::problem(format!(
                "{instance} was not contained with complete evidence within {}s (isolated: {}, evidence: {}, contained: {})",
                timeout.as_secs(),
                seen(m.isolated),
                seen(m.evidence),
                seen(m.contained)
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn seen(ms: Option<f64>) -> String {
    ms.map_or("not yet".into(), |ms| format!("after {ms:.0} ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let r = stats(&[40.0, 10.0, 30.0, 20.0]);
        assert_eq!((r.median_ms, r.min_ms, r.max_ms), (25.0, 10.0, 40.0));
        let r = stats(&[5.0, 1.0, 3.0]);
        assert_eq!(r.median_ms, 3.0);
        assert!((r.stdev_ms - (8.0f64 / 3.0).sqrt()).abs() < 1e-9);
    }

    #[test]
    fn each_milestone_is_summarised_on_its_own() {
        let r = row(Variant::Ssm, &[(1.0, 30.0, 20.0), (3.0, 10.0, 40.0), (2.0, 20.0, 30.0)]);
        assert_eq!(r.runs, 3);
        assert_eq!((r.isolated.median_ms, r.evidence.median_ms, r.contained.median_ms), (2.0, 20.0, 30.0));
        assert_eq!((r.contained.min_ms, r.contained.max_ms), (20.0, 40.0));
    }
}
