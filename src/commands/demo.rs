//! `irlab demo`: the lab end to end in one command: (stand-in,) up, attack, verify, down, for one
//! playbook or each in turn, with a comparison at the end. Exit 0 only when every check passed
//! and nothing is left.

use std::time::Instant;

use serde_json::json;

use crate::cli::{DemoArgs, Global};
use crate::emulator;
use crate::error::{Error, Result};
use crate::lab::Variant;
use crate::lab::cost;
use crate::ui::printer::Printer;

pub async fn run(g: &Global, args: &DemoArgs, p: &Printer) -> Result<()> {
    let variants: Vec<Variant> =
        if args.all_variants { Variant::ALL.to_vec() } else { vec![args.playbook.unwrap_or(Variant::StepFunctions)] };
    if variants.contains(&Variant::Manual) {
        return Err(Error::problem("the demo shows a playbook at work; with `none`, nothing contains the victim")
            .with_hint("respond by hand in `irlab workshop` (module 3), or pick lambda, stepfunctions or ssm"));
    }
    let scenario = args.scenario.clone().unwrap_or_else(|| "tor-client".into());
    crate::incident::scenario::find(&scenario)?;
    crate::lab::LabName::parse(&g.lab)?;

    let mut started_standin = None;
    if g.local {
        started_standin = super::ensure_standin(g, p)?;
    } else {
        let hourly = cost::instance_hourly("t3.micro").unwrap_or(0.0104) + 0.01;
        p.out(format!(
            "this runs the lab in your AWS account: about ${hourly:.2}/hour while it runs, a few cents for the demo (GuardDuty's 30-day trial applies to new detectors), and removes everything at the end"
        ));
        if !g.yes {
            super::confirm_billable().await?;
        }
    }

    let result = steps(g, &variants, &scenario, args.evidence_budget, p);
    if let Some(port) = started_standin {
        emulator::stop(port, p)?;
    }
    let rows = result?;
    p.json(&json!({ "scenario": scenario, "results": rows.iter().map(|r| json!({"variant": r.0, "verified": r.1, "seconds_to_verified": r.2})).collect::<Vec<_>>() }));
    p.out(format!("\n{scenario}, injected finding to verified containment:"));
    p.out("| variant | verified | attack to all checks passed |");
    p.out("|---|---|---|");
    for (v, ok, secs) in &rows {
        p.out(format!("| {v} | {} | {secs:.1} s |", if *ok { "yes" } else { "NO" }));
    }
    if rows.iter().all(|r| r.1) {
        p.out("demo passed: every check passed and 0 resources are left");
        Ok(())
    } else {
        Err(Error::problem("the demo's verification failed for some variant").with_hint("see the FAIL lines above"))
    }
}

/// The steps, each the real command in a child process, with the caller's connection flags.
fn steps(
    g: &Global,
    variants: &[Variant],
    scenario: &str,
    budget: Option<u32>,
    p: &Printer,
) -> Result<Vec<(Variant, bool, f64)>> {
    let mut rows = Vec::new();
    let mut first = true;
    let outcome = (|| -> Result<()> {
        for v in variants {
            p.info(format!("== {v}"));
            if first {
                let budget = budget.map(|b| b.to_string());
                let mut up = vec!["up", "--playbook", v.as_str()];
                if let Some(b) = &budget {
                    up.extend(["--evidence-budget", b.as_str()]);
                }
                super::myself(g, &up)?;
                first = false;
            } else {
                super::myself(g, &["reset"])?;
                super::myself(g, &["playbook", "set", v.as_str()])?;
            }
            let t = Instant::now();
            super::myself(g, &["attack", scenario, "--mode", "inject"])?;
            let ok = super::myself(g, &["verify", "--timeout", if g.local { "2m" } else { "10m" }]).is_ok();
            rows.push((*v, ok, t.elapsed().as_secs_f64()));
            super::myself(g, &["report"])?;
        }
        // The timelines side by side, as one page, before the lab (and its records) goes away.
        let page = std::env::temp_dir().join(format!("irlab-{}-demo-report.html", g.lab));
        super::myself(g, &["report", "--compare", "-o", &page.to_string_lossy()])?;
        p.out(format!("the incident report with its timelines is {}", page.display()));
        Ok(())
    })();
    // Whatever happened, the lab goes away.
    let down = super::myself(g, &["down", "--yes"]);
    outcome?;
    down?;
    Ok(rows)
}
