//! The lab's janitor: a stack (`stacks/janitor.yaml`) that removes a forgotten lab at its expiry
//! with nobody's machine on. An EventBridge Scheduler one-time schedule starts an SSM Automation
//! runbook that tears the lab down as `down` does, in the same order and with the same rules for
//! the shared parts and the detector, and deletes its own stack last; a second schedule warns the
//! alert topic 30 minutes before, and with `--max-spend` an AWS Budgets budget alerts at 80% and
//! 100% of the lab's tagged cost.
//!
//! `up` deploys it last (it needs the alert topic); `extend` moves the expiry by updating the
//! stack's `ExpiresAt` (CloudFormation reschedules); `down` deletes it with the lab's other
//! stacks, found by the lab's stack-name prefix.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::aws::AwsContext;
use crate::error::{Error, Result};
use crate::lab::stacks::{self, Deployment, Outcome, StackInfo};
use crate::lab::{LAB_TAG, LabName, PART_TAG};
use crate::ui::progress::Reporter;

pub const TEMPLATE: &str = include_str!("../../stacks/janitor.yaml");
/// The stack's `irlab:part` and the end of its name.
pub const PART: &str = "janitor";
/// How long before the expiry the alert topic is warned.
pub const WARNING: Duration = Duration::from_secs(30 * 60);
/// Against AWS, a lab that was given no `--expires` removes itself after this long.
pub const DEFAULT_AWS: Duration = Duration::from_secs(8 * 3600);
/// Shortest and longest expiry: the janitor needs the lab up first, and a month is already a bill.
const SHORTEST: Duration = Duration::from_secs(10 * 60);
const LONGEST: Duration = Duration::from_secs(30 * 24 * 3600);

pub fn stack_name(lab: &LabName) -> String {
    format!("irlab-{lab}-{PART}")
}

/// The budget `--max-spend` adds (the template's `BudgetName`): budgets are global to the
/// account, so the name carries the region.
pub fn budget_name(lab: &LabName, region: &str) -> String {
    format!("irlab-{lab}-{region}")
}

/// What `up --expires` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Never,
    After(Duration),
}

/// Parses `--expires`: `never`, or a duration from 10m to 30d (`90m`, `8h`, `2d`).
pub fn parse_expires(text: &str) -> Result<Expiry> {
    if text.trim().eq_ignore_ascii_case("never") {
        return Ok(Expiry::Never);
    }
    parse_duration("--expires", text).map(Expiry::After)
}

/// A duration for `--expires` or `extend`: 10m to 30d.
pub fn parse_duration(what: &str, text: &str) -> Result<Duration> {
    let d = humantime::parse_duration(text).map_err(|e| {
        Error::problem(format!("{what} `{text}`: {e}"))
            .with_hint("e.g. 90m, 8h or 2d; `--expires never` keeps the lab until `irlab down`")
    })?;
    if d < SHORTEST || d > LONGEST {
        return Err(Error::problem(format!("{what} `{text}` is outside 10m-30d")).with_hint(
            "the janitor needs the lab up first, and a lab kept longer than a month should be brought up again",
        ));
    }
    Ok(d)
}

/// Parses `--max-spend`: a positive amount of USD with at most two decimals, or `none` (empty:
/// the budget goes).
pub fn parse_max_spend(text: &str) -> Result<String> {
    let t = text.trim().trim_start_matches('$');
    if t.eq_ignore_ascii_case("none") {
        return Ok(String::new());
    }
    let ok = t.split_once('.').map_or(t, |(whole, cents)| {
        if cents.len() <= 2 && cents.chars().all(|c| c.is_ascii_digit()) { whole } else { "x" }
    });
    let valid = !ok.is_empty()
        && ok.len() <= 6
        && ok.chars().all(|c| c.is_ascii_digit())
        && t.parse::<f64>().is_ok_and(|v| v > 0.0);
    if valid {
        Ok(t.to_string())
    } else {
        Err(Error::problem(format!("--max-spend `{text}` is not an amount in USD"))
            .with_hint("e.g. --max-spend 5 or --max-spend 12.50"))
    }
}

/// The expiry and its warning, to the second; no warning when the expiry is closer than that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    pub expires_at: Timestamp,
    pub warn_at: Option<Timestamp>,
}

impl Times {
    pub fn at(expires_at: Timestamp, now: Timestamp) -> Times {
        let expires_at = expires_at.round(jiff::Unit::Second).unwrap_or(expires_at);
        let warning = SignedDuration::try_from(WARNING).expect("30 minutes fit");
        let warn_at = expires_at.checked_sub(warning).ok().filter(|w| *w > now + SignedDuration::from_secs(60));
        Times { expires_at, warn_at }
    }

    pub fn after(d: Duration, now: Timestamp) -> Times {
        Times::at(now + SignedDuration::try_from(d).expect("at most 30 days"), now)
    }
}

/// `yyyy-mm-ddThh:mm:ss` in UTC, as Scheduler's `at()` takes it.
fn at_expression(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Reads the `ExpiresAt` of a janitor stack (UTC, no zone), in any state: a janitor at work
/// still says when the lab expired. None when it never expires.
pub fn expires_at(info: &StackInfo) -> Option<Timestamp> {
    parse_at(info.parameters.get("ExpiresAt")?)
}

/// The expiry and warning a janitor stack keeps.
pub fn times_of(info: &StackInfo) -> Option<Times> {
    Some(Times { expires_at: expires_at(info)?, warn_at: info.parameters.get("WarnAt").and_then(|w| parse_at(w)) })
}

fn parse_at(text: &str) -> Option<Timestamp> {
    format!("{text}Z").parse().ok()
}

/// The lab's janitor stack, if it has one.
pub async fn find(ctx: &AwsContext, lab: &LabName) -> Result<Option<StackInfo>> {
    Ok(stacks::describe(ctx, &stack_name(lab)).await?.filter(|s| s.status != "DELETE_COMPLETE"))
}

/// Creates or updates the janitor stack; without `times` it only keeps the budget. `max_spend`
/// None keeps what the stack has.
pub async fn deploy(
    ctx: &AwsContext,
    lab: &LabName,
    times: Option<Times>,
    max_spend: Option<&str>,
    alert_topic: &str,
    reporter: &dyn Reporter,
) -> Result<(Outcome, StackInfo)> {
    let kept_spend = match max_spend {
        Some(s) => s.to_string(),
        None => {
            find(ctx, lab).await?.and_then(|s| s.kept_parameter("MaxSpendUsd").map(String::from)).unwrap_or_default()
        }
    };
    let d = Deployment {
        stack_name: stack_name(lab),
        template: TEMPLATE,
        template_url: None,
        parameters: vec![
            ("LabName".into(), lab.to_string()),
            ("ExpiresAt".into(), times.map(|t| at_expression(t.expires_at)).unwrap_or_default()),
            ("WarnAt".into(), times.and_then(|t| t.warn_at).map(at_expression).unwrap_or_default()),
            ("AlertTopicArn".into(), alert_topic.to_string()),
            ("MaxSpendUsd".into(), kept_spend),
        ],
        tags: vec![(LAB_TAG.into(), lab.to_string()), (PART_TAG.into(), PART.into())],
    };
    stacks::deploy(ctx, &d, PART, reporter).await
}

/// "in 7h 12m" or "2m ago", to the minute.
pub fn left(expires_at: Timestamp, now: Timestamp) -> String {
    let secs = expires_at.as_second() - now.as_second();
    let minutes = secs.unsigned_abs().div_ceil(60);
    let text = match minutes {
        m if m >= 24 * 60 => format!("{}d {}h", m / (24 * 60), m % (24 * 60) / 60),
        m if m >= 60 => format!("{}h {}m", m / 60, m % 60),
        m => format!("{m}m"),
    };
    if secs >= 0 { format!("in {text}") } else { format!("{text} ago") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn expiry_is_never_or_a_duration_between_ten_minutes_and_thirty_days() {
        assert_eq!(parse_expires("never").unwrap(), Expiry::Never);
        assert_eq!(parse_expires("8h").unwrap(), Expiry::After(Duration::from_secs(8 * 3600)));
        assert_eq!(parse_expires("90m").unwrap(), Expiry::After(Duration::from_secs(90 * 60)));
        assert!(parse_expires("5m").is_err());
        assert!(parse_expires("31d").is_err());
        assert!(parse_expires("soon").is_err());
    }

    #[test]
    fn the_warning_comes_thirty_minutes_before_and_only_when_there_is_time_for_it() {
        let now = ts("2026-12-02T10:00:00Z");
        let t = Times::after(Duration::from_secs(8 * 3600), now);
        assert_eq!(t.expires_at, ts("2026-12-02T18:00:00Z"));
        assert_eq!(t.warn_at, Some(ts("2026-12-02T17:30:00Z")));
        assert_eq!(at_expression(t.expires_at), "2026-12-02T18:00:00");
        // 20 minutes away: a warning would come before the lab is even up.
        assert_eq!(Times::after(Duration::from_secs(20 * 60), now).warn_at, None);
    }

    #[test]
    fn max_spend_is_a_positive_amount_in_usd() {
        assert_eq!(parse_max_spend("5").unwrap(), "5");
        assert_eq!(parse_max_spend("$12.50").unwrap(), "12.50");
        assert_eq!(parse_max_spend("none").unwrap(), "");
        for bad in ["0", "-3", "1.234", "ten", "", "1e3", "1234567"] {
            assert!(parse_max_spend(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_left_reads_as_people_say_it() {
        let now = ts("2026-12-02T10:00:00Z");
        assert_eq!(left(ts("2026-12-02T17:12:00Z"), now), "in 7h 12m");
        assert_eq!(left(ts("2026-12-02T10:00:30Z"), now), "in 1m");
        assert_eq!(left(ts("2026-12-04T11:00:00Z"), now), "in 2d 1h");
        assert_eq!(left(ts("2026-12-02T09:58:00Z"), now), "2m ago");
    }
}
