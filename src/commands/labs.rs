//! `irlab labs`: every lab in this account and region, from the state each keeps, so a
//! mistyped `--lab` is easy to see.

use serde_json::json;

use crate::cli::Global;
use crate::error::Result;
use crate::lab::state::LabState;
use crate::ui::printer::Printer;

pub async fn run(g: &Global, p: &Printer) -> Result<()> {
    let (_, ctx) = super::open(g).await?;
    let me = ctx.identity().await?;
    let labs = LabState::all(&ctx).await?;
    p.json(&json!({
        "account": me.account,
        "region": ctx.region,
        "labs": labs.iter().map(|s| json!({
            "lab": s.lab, "created_at": s.created_at, "runs": s.runs.len(),
            "workshop_done": s.workshop.as_ref().map(|w| w.done.iter().map(|d| d.module).collect::<Vec<_>>()),
        })).collect::<Vec<_>>(),
    }));
    if labs.is_empty() {
        p.out(format!("no lab in {} / {}; `irlab up` brings one up", me.account, ctx.region));
        return Ok(());
    }
    p.out(format!("{:<24} {:<22} {:>4}", "LAB", "CREATED", "RUNS"));
    for s in &labs {
        let created = s.created_at.get(..19).unwrap_or(&s.created_at);
        p.out(format!("{:<24} {:<22} {:>4}", s.lab, created, s.runs.len()));
    }
    p.out(format!("{} lab(s) in {} / {}; `irlab --lab NAME status` shows one", labs.len(), me.account, ctx.region));
    Ok(())
}
