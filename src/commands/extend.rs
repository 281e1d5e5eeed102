//! `irlab extend DURATION`: keep the lab longer. The janitor's stack takes the new `ExpiresAt`
//! and CloudFormation moves the schedules (the warning too); nothing else of the lab changes.

use jiff::Timestamp;
use serde_json::json;

use crate::cli::Global;
use crate::error::{Error, Result};
use crate::lab::janitor::{self, Times};
use crate::lab::{Part, stacks};
use crate::ui::printer::Printer;

pub async fn run(g: &Global, duration: &str, p: &Printer) -> Result<()> {
    let d = janitor::parse_duration("extend", duration)?;
    let (lab, ctx) = super::open_for_change(g, "extend").await?;
    let stack = janitor::find(&ctx, &lab).await?;
    let current = stack.as_ref().and_then(janitor::expires_at);
    let (Some(stack), Some(current)) = (stack, current) else {
        return Err(Error::problem(format!("lab {lab} in {} does not expire", ctx.region)).with_hint(
            "it stays until `irlab down`; `irlab up --expires 8h` makes it remove itself (`irlab status` shows the lab)",
        ));
    };
    if stack.status.starts_with("DELETE") {
        return Err(Error::problem(format!("lab {lab} has expired: its janitor is removing it ({})", stack.status))
            .with_hint("`irlab status` shows what is left; `irlab down` finishes a janitor that stopped"));
    }
    let now = Timestamp::now();
    let times = Times::after(d, current.max(now));
    let topic = stacks::find(&ctx, &lab, Part::Detection)
        .await?
        .and_then(|s| s.output("AlertTopicArn").map(String::from))
        .ok_or_else(|| {
            Error::problem(format!("lab {lab} has no detection stack to warn"))
                .with_hint("run `irlab up` to bring the lab back up to date")
        })?;
    janitor::deploy(&ctx, &lab, Some(times), None, &topic, p).await?;
    p.settle();
    p.json(&json!({
        "lab": lab.as_str(),
        "expires_at": times.expires_at.to_string(),
        "was": current.to_string(),
        "warn_at": times.warn_at.map(|t| t.to_string()),
    }));
    p.out(format!(
        "lab {lab} now removes itself at {} ({}; it was {})",
        times.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        janitor::left(times.expires_at, now),
        current.strftime("%Y-%m-%d %H:%M UTC")
    ));
    Ok(())
}
