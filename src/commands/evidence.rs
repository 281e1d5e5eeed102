//! `irlab evidence list|get|verify`: the volatile evidence the playbooks collected before
//! isolation, from the lab's evidence bucket, with its chain-of-custody manifest.

use std::path::PathBuf;

use serde_json::json;

use crate::cli::{EvidenceCommand, Global};
use crate::error::{Error, Result};
use crate::incident::custody::{self, Manifest};
use crate::lab::Part;
use crate::lab::stacks;
use crate::lab::state::LabState;
use crate::ui::printer::Printer;

pub async fn run(g: &Global, cmd: &EvidenceCommand, p: &Printer) -> Result<()> {
    let select = match cmd {
        EvidenceCommand::List(a) | EvidenceCommand::Verify(a) => a,
        EvidenceCommand::Get { select, .. } => select,
    };
    let (lab, ctx) = super::open(g).await?;
    let detection = stacks::find(&ctx, &lab, Part::Detection).await?;
    let bucket =
        detection.as_ref().and_then(|d| d.output("EvidenceBucketName")).map(String::from).ok_or_else(|| {
            Error::problem(format!("lab {lab} has no evidence bucket in {}", ctx.region))
                .with_hint("run `irlab up`: the detection stack holds it")
        })?;
    let mut all = custody::manifests(&ctx, &bucket).await?;
    if let Some(id) = &select.run {
        let state = LabState::load(&ctx, &lab).await?;
        let run = state.as_ref().and_then(|s| s.runs.iter().find(|r| &r.id == id)).ok_or_else(|| {
            Error::problem(format!("no run {id} in lab {lab}")).with_hint("`irlab status` lists the runs")
        })?;
        all.retain(|m| {
            run.finding_ids.contains(&m.finding)
                || (run.finding_ids.is_empty() && m.instance == run.instance && m.started_at >= run.started_at)
        });
    }
    if all.is_empty() {
        p.json(&json!({ "lab": lab.as_str(), "bucket": bucket, "collections": [] }));
        p.out(format!(
            "no evidence collected{} in s3://{bucket}",
            select.run.as_ref().map(|r| format!(" for run {r}")).unwrap_or_default()
        ));
        return Ok(());
    }
    match cmd {
        EvidenceCommand::List(_) => {
            p.json(&json!({ "lab": lab.as_str(), "bucket": bucket, "collections": all }));
            for m in &all {
                lines(m).iter().for_each(|l| p.out(l));
            }
            Ok(())
        }
        EvidenceCommand::Get { out, .. } => {
            let mut written = Vec::new();
            for m in &all {
                let dir = out.clone().unwrap_or_else(|| PathBuf::from(format!("irlab-evidence-{}", m.finding)));
                let dir = if all.len() > 1 { dir.join(execution_name(&m.execution)) } else { dir };
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::failure(format!("creating {}: {e}", dir.display())).with_source(e))?;
                for item in &m.items {
                    let bytes =
                        custody::read(&ctx, &bucket, &item.key, Some(&item.version_id)).await?.ok_or_else(|| {
                            Error::failure(format!(
                                "{} (version {}) is gone from s3://{bucket}",
                                item.key, item.version_id
                            ))
                        })?;
                    let path = dir.join(item.name());
                    std::fs::write(&path, &bytes)
                        .map_err(|e| Error::failure(format!("writing {}: {e}", path.display())).with_source(e))?;
                }
                let manifest = dir.join(custody::MANIFEST);
                std::fs::write(&manifest, serde_json::to_vec_pretty(m).expect("manifest serializes"))
                    .map_err(|e| Error::failure(format!("writing {}: {e}", manifest.display())).with_source(e))?;
                p.out(format!("{} item(s) of finding {} written to {}", m.items.len(), m.finding, dir.display()));
                written.push(dir.display().to_string());
            }
            p.json(&json!({ "lab": lab.as_str(), "written": written }));
            Ok(())
        }
        EvidenceCommand::Verify(_) => {
            let mut bad = 0;
            let mut results = Vec::new();
            for m in &all {
                let checks = custody::verify(&ctx, &bucket, m).await?;
                p.out(format!("finding {} ({}):", m.finding, m.execution));
                for c in &checks {
                    p.out(format!("  {} {}: {}", Printer::verdict(c.ok, "ok  ", "FAIL"), c.key, c.detail));
                }
                bad += checks.iter().filter(|c| !c.ok).count();
                results.push(json!({ "finding": m.finding, "execution": m.execution, "items": checks }));
            }
            p.json(&json!({ "lab": lab.as_str(), "bucket": bucket, "collections": results, "intact": bad == 0 }));
            if bad > 0 {
                return Err(Error::problem(format!("{bad} evidence item(s) or manifest(s) do not match what was sealed"))
                    .with_hint("the locked original versions stay in the bucket; `irlab evidence get` fetches the recorded versions"));
            }
            p.out("every manifest is as sealed, and every item matches the SHA-256 recorded when it was collected");
            Ok(())
        }
    }
}

/// A collection for people: what, when, by which execution, each item's hash.
fn lines(m: &Manifest) -> Vec<String> {
    let mut out = vec![format!(
        "finding {} on {}: collected {} to {} by {}{}",
        m.finding,
        m.instance,
        m.started_at,
        m.ended_at,
        m.execution,
        if m.complete { String::new() } else { format!(" (incomplete: {})", m.gaps.join("; ")) }
    )];
    for i in &m.items {
        out.push(format!("  {:<18} {:>9} B  {}  {}", i.name(), i.bytes, i.collected_at, i.sha256_hex()));
    }
    out
}

/// The last segment of an execution ARN or id, for a folder name.
fn execution_name(execution: &str) -> String {
    execution.rsplit([':', '/']).next().unwrap_or(execution).to_string()
}
