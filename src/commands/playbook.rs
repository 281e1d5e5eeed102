//! `irlab playbook set VARIANT`: swap the automated response without touching detection or
//! the victim.

use serde_json::json;

use crate::cli::{Global, PlaybookCommand};
use crate::error::{Error, Result};
use crate::lab::playbook;
use crate::lab::stacks;
use crate::lab::{Part, Variant};
use crate::ui::printer::Printer;

pub async fn run(g: &Global, cmd: &PlaybookCommand, p: &Printer) -> Result<()> {
    let PlaybookCommand::Set { variant, min_severity } = cmd;
    if let Some(x) = min_severity {
        playbook::check_min_severity(*x)?;
    }
    let (lab, ctx) = super::open_for_change(g, "playbook set").await?;
    let detection = stacks::find(&ctx, &lab, Part::Detection).await?;
    let victim = stacks::find(&ctx, &lab, Part::Victim).await?;
    if let Some(set) = victim.as_ref().and_then(|v| v.stack_set()) {
        return Err(Error::problem(format!("lab {lab}'s playbook is set by the class StackSet {set}")).with_hint(
            "the instructor changes `defaults.playbook` in the roster and runs `irlab class up --org-unit ...` again",
        ));
    }
    let (Some(detection), Some(victim)) = (detection, victim) else {
        return Err(Error::problem(format!("lab {lab} is not deployed in {}", ctx.region))
            .with_hint(format!("run `irlab up --playbook {variant}` first")));
    };
    let before: Vec<Variant> = playbook::deployed(&ctx, &lab).await?.into_iter().map(|(v, _)| v).collect();
    let (outcome, stack) = playbook::switch(
        &ctx,
        &lab,
        *variant,
        &detection,
        &victim,
        playbook::Tuning { min_severity: *min_severity, ..Default::default() },
        p,
    )
    .await?;
    let replaced: Vec<&str> = before.iter().filter(|v| *v != variant).map(|v| v.as_str()).collect();
    p.json(&json!({ "lab": lab.as_str(), "playbook": variant, "replaced": replaced, "outcome": outcome, "stack": stack.name, "outputs": stack.outputs }));
    if replaced.is_empty() {
        p.out(format!("playbook {variant} is deployed ({})", stack.status));
    } else {
        p.out(format!("playbook {variant} replaced {} ({})", replaced.join(", "), stack.status));
    }
    Ok(())
}
