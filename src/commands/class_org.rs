//! `irlab class ... --org-unit OU`: the class over every account of an AWS Organizations OU.
//! The stacks go out through one service-managed StackSet (`class::org`); what only the account
//! itself can do (the GuardDuty detector, attacks, verdicts, the final proof) runs per account as
//! the single-lab command, with the member role, exactly as for a roster's accounts.

use std::time::Instant;

use serde_json::json;

use super::class::{Over, conclude, confirm};
use crate::aws::{AwsContext, Connection};
use crate::class::org::{self, InstanceResult, Pace};
use crate::class::roster::{Account, Attendee, Roster};
use crate::class::runner::{self, Display, Outcome};
use crate::cli::{ClassCommand, ClassSelect, Global};
use crate::error::{Error, Result};
use crate::lab::{LabName, Variant};
use crate::ui::printer::Printer;

pub async fn run(
    g: &Global,
    command: &ClassCommand,
    name: &str,
    roster: &Roster,
    ou: &str,
    select: &ClassSelect,
    p: &Printer,
) -> Result<()> {
    // The StackSet deploys to and deletes from the whole OU: removing only some accounts' labs is
    // not something one StackSet operation does, so it is refused rather than done for all.
    if name == "down" && (!select.only.is_empty() || select.failed) {
        return Err(Error::problem("class down over an organizational unit removes every account's lab: --only and --failed do not apply")
            .with_hint("move an account out of the OU to remove its lab alone (automatic deployment deletes it), or run `irlab class down --org-unit OU` for the whole class"));
    }
    let lab = LabName::parse(&g.lab)?;
    let region = g.region.clone().or_else(|| roster.region.clone());
    let conn = Connection { profile: g.profile.clone(), region, endpoint_url: g.endpoint_url.clone(), local: g.local };
    let ctx = AwsContext::connect(&conn).await?;
    let organization = org::organization(&ctx).await?;
    let unit = org::members(&ctx, &organization, ou).await?;
    // Accounts that left the OU but still hold an instance are the class's to show and remove.
    let set = org::stack_set_name(&roster.class);
    let mut accounts: Vec<String> = unit.members.iter().map(|m| m.account.clone()).collect();
    if matches!(name, "status" | "report" | "down") {
        for i in org::instances(&ctx, &set).await? {
            if !accounts.contains(&i.account) {
                accounts.push(i.account);
            }
        }
    }
    let everyone: Vec<Attendee> = accounts
        .iter()
        .map(|id| Attendee {
            lab: lab.clone(),
            email: None,
            account: Account::Role {
                role_arn: format!("arn:aws:iam::{id}:role/{}", select.member_role),
                external_id: None,
            },
            settings: roster.defaults.clone(),
            label: Some(id.clone()),
        })
        .collect();
    let class = Roster { attendees: everyone, ..roster.clone() };
    let dir = runner::class_dir(&select.roster, &class);
    let Some(chosen) = super::class::choose(&class, select, &dir, p)? else { return Ok(()) };
    if chosen.is_empty() {
        return Err(Error::problem(format!("organizational unit {ou} has no member accounts"))
            .with_hint("move the attendees' accounts into it (the management account never gets a lab)"));
    }
    if name == "down" && !g.yes {
        confirm(&class, chosen.len())?;
    }
    let started = Instant::now();
    let live = std::io::stderr().is_terminal() && !p.is_json();
    let display = Display::new(live, p.quiet);
    p.info(format!(
        "class {} over {ou} of organization {}: {name} for {} account(s), lab `{lab}` in each; logs in {}",
        class.class,
        organization.id,
        chosen.len(),
        dir.join("logs").display()
    ));
    let pace =
        Pace { max_concurrent_percent: select.max_concurrent, failure_tolerance_percent: select.failure_tolerance };
    let each =
        Each { g, ctx: &ctx, class: &class, chosen: &chosen, dir: &dir, display: &display, parallel: select.parallel };
    let s = |x: &str| x.to_string();

    let outcomes = match command {
        ClassCommand::Up(_) => {
            if class.defaults.playbook == Some(Variant::Manual) {
                return Err(Error::problem("an OU's StackSet deploys an automated playbook in every account, not `none`")
                    .with_hint("set `defaults.playbook` to lambda, stepfunctions or ssm; attendees respond by hand in `irlab workshop`'s module 3, which deploys none in their own lab"));
            }
            org::check_trusted_access(&ctx).await?;
            // Quotas in every account before anything is created; an account the member role
            // cannot reach fails alone.
            let unreachable = super::class::preflight(g, &ctx, &class, &chosen, select, &dir, &display, p).await?;
            // What only the account can do first: the detector, as `up` records it before stacks.
            let mut outcomes = each.run("up", vec![s("up"), s("--detector-only")]).await?;
            for u in unreachable {
                if let Some(o) = outcomes.iter_mut().find(|o| o.attendee == u.attendee) {
                    *o = u;
                }
            }
            let variant = class.defaults.playbook.unwrap_or(Variant::StepFunctions);
            let instance_type =
                class.defaults.instance_type.clone().unwrap_or_else(|| super::up::DEFAULT_INSTANCE_TYPE.into());
            let spec = org::LabSpec {
                lab: &lab,
                variant,
                instance_type: &instance_type,
                evidence_budget: class.defaults.evidence_budget,
                ami_parameter: super::up::ami_parameter(&instance_type),
                min_severity: crate::lab::playbook::DEFAULT_MIN_SEVERITY,
            };
            let results = org::deploy(&ctx, &class.class, &organization, &unit, &spec, pace, p).await?;
            merge(&mut outcomes, &results, "the StackSet did not deploy the lab here");
            outcomes
        }
        ClassCommand::Down(_) => {
            // 1. Each account releases what is not the StackSet's (detector, lab data) and
            //    prepares the StackSet's stacks (trail stopped, buckets emptied, protection lifted).
            let mut released = each.run("down", vec![s("down"), s("--for-stack-set")]).await?;
            // 2. The StackSet deletes the stacks, then itself and the template bucket.
            let results = org::remove(&ctx, &class.class, ou, pace, p).await?;
            merge(&mut released, &results, "the StackSet did not delete the lab here");
            // 3. Each account proves nothing of the lab is left; the management account too.
            let mut proven = each.run("down", vec![s("down")]).await?;
            for o in proven.iter_mut() {
                if let Some(r) = released.iter().find(|r| r.attendee == o.attendee && !r.ok) {
                    o.ok = false;
                    o.message = format!("{}; then {}", r.message, o.message);
                }
            }
            let left = org::leftovers(&ctx, &class.class).await?;
            if !left.is_empty() {
                p.out(format!("the management account still holds: {}", left.join(", ")));
                return Err(Error::problem(format!("class {}: the StackSet is not removed", class.class))
                    .with_hint("run `irlab class down` again"));
            }
            proven
        }
        _ => each.run(name, super::class::child_args(command, &chosen[0])).await?,
    };
    drop(display);
    let over = Over {
        noun: format!("account(s) of {ou}"),
        json: json!({ "org_unit": ou, "stack_set": set }),
        removed: Some(format!("StackSet {set} and the template bucket deleted")),
    };
    conclude(command, name, &class, select, &dir, &outcomes, started, &over, p)
}

/// The same single-lab command in every chosen account.
struct Each<'a> {
    g: &'a Global,
    ctx: &'a AwsContext,
    class: &'a Roster,
    chosen: &'a [Attendee],
    dir: &'a std::path::Path,
    display: &'a Display,
    parallel: usize,
}

impl Each<'_> {
    async fn run(&self, what: &str, args: Vec<String>) -> Result<Vec<Outcome>> {
        let args = move |_: &Attendee| args.clone();
        runner::run_all(self.g, self.ctx, self.class, self.chosen, what, &args, self.parallel, self.dir, self.display)
            .await
    }
}

/// Folds the StackSet's per-account results into the accounts' own outcomes: an account is
/// done only when both its own step and its stack instance succeeded.
fn merge(outcomes: &mut [Outcome], results: &[InstanceResult], what: &str) {
    for o in outcomes.iter_mut() {
        if let Some(r) = results.iter().find(|r| r.account == o.attendee)
            && !r.ok()
        {
            o.ok = false;
            o.exit_code = 1;
            let why = r.reason.as_deref().unwrap_or("no reason given");
            o.message = format!("{what} ({}): {why}", r.status);
        }
    }
}

use std::io::IsTerminal;

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(account: &str) -> Outcome {
        Outcome {
            attendee: account.into(),
            account: Some(account.into()),
            ok: true,
            exit_code: 0,
            seconds: 1.0,
            message: "detector adopted".into(),
            json: None,
            log: "x".into(),
        }
    }

    #[test]
    fn an_account_whose_instance_failed_fails_though_its_detector_step_passed() {
        let mut o = vec![outcome("111111111111"), outcome("222222222222")];
        let results = vec![
            InstanceResult { account: "111111111111".into(), status: "SUCCEEDED".into(), reason: None },
            InstanceResult {
                account: "222222222222".into(),
                status: "FAILED".into(),
                reason: Some("Embedded stack Victim was not successfully created".into()),
            },
        ];
        merge(&mut o, &results, "the StackSet did not deploy the lab here");
        assert!(o[0].ok);
        assert!(!o[1].ok);
        assert!(o[1].message.contains("(FAILED): Embedded stack Victim"), "{}", o[1].message);
    }
}
