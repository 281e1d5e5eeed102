//! Proving the remediation: the state of one attack run collected in one pass (an
//! [`Observation`]), then judged by pure checks that never call AWS.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::incident::audit::{Kind, Record};
use crate::lab::state::AttackRun;

/// What one poll saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Observation {
    /// Finding ids of the run that reached the lab (the audit trail, and GuardDuty itself for
    /// traffic and sample runs).
    pub findings: Vec<String>,
    /// The playbook's own verdict on the run: `SUCCEEDED`, `Success`, `RUNNING`, `FAILED`, ...
    pub playbook_status: Option<String>,
    /// Why the playbook's run failed, in the engine's words.
    pub playbook_failure: Option<String>,
    /// When the playbook's run tagged the victim contained (its own step), even if the run goes
    /// on (waiting for an approval, eradicating) or failed later (its eradication).
    pub playbook_contained: Option<jiff::Timestamp>,
    /// What the playbook's own recovery after an approved eradication got to (`irlab:recovery`):
    /// `replaced`, `recovered`, `failed`; None when it did not recover.
    pub playbook_recovery: Option<String>,
    /// The human decision the playbook asked for after containment (`irlab:approval`):
    /// `waiting`, `approved`, `rejected`, `timed-out`, `not-asked`; None when it asked nobody.
    pub approval: Option<String>,
    /// Security groups per network interface of the victim.
    pub interface_groups: BTreeMap<String, Vec<String>>,
    pub quarantine_group: String,
    pub profile_associated: bool,
    pub termination_protected: bool,
    pub stop_protected: bool,
    pub ir_status: Option<String>,
    /// The finding the victim's containment tags name (`irlab:finding-id`).
    pub contained_for: Option<String>,
    /// Volumes attached to the victim, and the state of the run's snapshot of each.
    pub volumes: Vec<String>,
    pub snapshots: BTreeMap<String, String>,
    /// Notifications of the alert topic that name one of the run's findings.
    pub notifications: usize,
    /// When the run started (this machine's clock, less the allowed skew).
    pub since: Option<jiff::Timestamp>,
    /// The instance role denies sessions issued before this time (`irlab-revoke-sessions`).
    pub sessions_revoked_before: Option<jiff::Timestamp>,
    /// The group that makes every flow untracked for a moment (victim stack).
    pub untrack_group: String,
    /// The playbook's own account of its `cut` step (from its notification of the run).
    pub cut_step: Option<String>,
    /// Each attached volume's DeleteOnTermination.
    pub delete_on_termination: BTreeMap<String, bool>,
    /// Elastic IPs still associated with the victim.
    pub elastic_ips: Vec<String>,
    /// What the playbook recorded before it changed the victim for this run's finding: each
    /// interface's groups, each volume's DeleteOnTermination, the Elastic IPs it took off.
    pub before: Before,
    /// The run's snapshot of each attached volume: volume id to snapshot id.
    pub snapshot_ids: BTreeMap<String, String>,
    /// The volatile evidence the playbook collected before isolation, read back against its
    /// manifest; None when no manifest names the run's finding.
    pub volatile: Option<Volatile>,
    /// The run's eradication (by `irlab eradicate`, or by the playbook after an approval), read
    /// again from Run Command; None when the run was never eradicated.
    pub eradication: Option<Eradication>,
    /// The victim `irlab recover` brought back for the run, as it is now; None when the run was
    /// never recovered.
    pub recovery: Option<Recovery>,
}

/// The victim as the playbook found it, from the tags it recorded before changing it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Before {
    pub groups: BTreeMap<String, Vec<String>>,
    pub delete_on_termination: BTreeMap<String, bool>,
    pub elastic_ips: Vec<String>,
}

/// The recovered victim, observed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Recovery {
    pub instance: String,
    /// EC2's state name, or None when the instance is gone.
    pub state: Option<String>,
    /// Its SSM agent's ping status.
    pub agent: Option<String>,
    pub groups: Vec<String>,
    pub baseline_groups: Vec<String>,
    pub profile_arn: Option<String>,
    pub baseline_profile_arn: Option<String>,
    /// The indicator check `recover` ran on it, from Systems Manager's record.
    pub check_status: String,
    pub clean: Option<bool>,
    pub present: Vec<String>,
    /// Findings (GuardDuty's, not archived, and the lab's simulated ones) that name it.
    pub findings: Vec<String>,
}

/// The eradication's Run Command as Systems Manager reports it now.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Eradication {
    pub command_id: String,
    /// The status of its `eradicate` step (the scenario's commands).
    pub eradicate_status: String,
    /// The status of its `checkIndicators` step.
    pub check_status: String,
    /// The check step's own record: was none present, and what was.
    pub eradicated: Option<bool>,
    pub present: Vec<String>,
}

/// Which phases of the incident's lifecycle verify checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The playbook's containment and its evidence.
    Contain,
    /// `irlab eradicate` or the playbook after an approval: nothing of the attack is left, and the
    /// victim is still isolated.
    Eradicate,
    /// `irlab recover`: a clean victim from the baseline, in service.
    Recover,
    /// Every phase.
    All,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Volatile {
    pub items: usize,
    pub complete: bool,
    pub gaps: Vec<String>,
    /// Items whose bytes no longer match the manifest, and why.
    pub mismatches: Vec<String>,
}

/// The inline policy a playbook puts on the instance role to revoke its active sessions.
pub const REVOKE_POLICY: &str = "irlab-revoke-sessions";

/// The time before which a revocation policy denies sessions: its
/// `DateLessThan` `aws:TokenIssueTime` (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html).
pub fn revoked_before(policy: &serde_json::Value) -> Option<jiff::Timestamp> {
    let statements = match &policy["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        one => vec![one.clone()],
    };
    statements.iter().find_map(|st| {
        let deny_all = st["Effect"] == "Deny" && (st["Action"] == "*" || st["Action"] == serde_json::json!(["*"]));
        let t = st["Condition"]["DateLessThan"]["aws:TokenIssueTime"].as_str()?;
        deny_all.then(|| t.parse().ok()).flatten()
    })
}

/// The run's findings among the audit records: an injected run's own ids; for traffic, the
/// expected finding types on the run's instance (GuardDuty chooses the ids).
pub fn run_findings(run: &AttackRun, records: &[Record]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in records {
        let Kind::Finding { id, finding_type, instance, .. } = &r.kind else { continue };
        let ours = if run.finding_ids.is_empty() {
            run.mode == "traffic" && *instance == run.instance && run.expected_findings.contains(finding_type)
        } else {
            run.finding_ids.contains(id)
        };
        if ours && !out.contains(id) {
            out.push(id.clone());
        }
    }
    out
}

/// What the run should lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The playbook contains the victim (inject and traffic modes).
    Contained { snapshots_completed: bool },
    /// Sample findings: they arrive, and the playbook leaves the victim alone.
    SamplesOnly,
}

impl Expect {
    /// What a run should lead to: samples leave the victim alone; Step Functions and SSM wait
    /// for their snapshots, Lambda only starts them. `deployed` is the variant deployed now, for
    /// a run that did not record its own.
    pub fn for_run(run: &crate::lab::state::AttackRun, deployed: Option<crate::lab::Variant>) -> Expect {
        use crate::lab::Variant;
        let variant = run.variant.as_deref().and_then(|v| Variant::ALL.into_iter().find(|x| x.as_str() == v));
        match (run.mode.as_str(), variant.or(deployed)) {
            ("sample", _) => Expect::SamplesOnly,
            (_, Some(Variant::StepFunctions | Variant::Ssm)) => Expect::Contained { snapshots_completed: true },
            _ => Expect::Contained { snapshots_completed: false },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub expected: String,
    pub observed: String,
    pub passed: bool,
}

fn check(name: &'static str, expected: impl Into<String>, observed: impl Into<String>, passed: bool) -> Check {
    Check { name, expected: expected.into(), observed: observed.into(), passed }
}

/// The checks for one observation, in the order a responder thinks of them.
pub fn judge(o: &Observation, expect: Expect) -> Vec<Check> {
    let mut out = vec![check(
        "finding arrived",
        "at least one finding for the run",
        if o.findings.is_empty() { "none yet".to_string() } else { o.findings.join(", ") },
        !o.findings.is_empty(),
    )];
    let Expect::Contained { snapshots_completed } = expect else {
        out.push(check(
            "victim untouched",
            "no irlab:ir-status tag (sample findings name a placeholder instance)",
            o.ir_status.clone().unwrap_or_else(|| "none".into()),
            o.ir_status.is_none(),
        ));
        return out;
    };
    // A run that waits for an approval, eradicates, or failed to eradicate has contained: its
    // own step says when.
    let ok_status =
        matches!(o.playbook_status.as_deref(), Some("SUCCEEDED" | "Success")) || o.playbook_contained.is_some();
    // The victim's state counts only once its containment tags name this run's finding: an
    // earlier run's containment that was never reset satisfies nothing.
    let this_run = o.contained_for.as_ref().is_some_and(|f| o.findings.contains(f));
    out.push(check(
        "playbook contained",
        "the playbook's run reached containment (SUCCEEDED, or contained and going on)",
        match (&o.playbook_status, o.playbook_contained) {
            (None, _) => "no run found yet".to_string(),
            (Some(s), Some(at)) if matches!(s.as_str(), "RUNNING" | "InProgress" | "Waiting" | "Pending") => {
                format!("{s}, contained at {at}{}", approval_note(o.approval.as_deref()))
            }
            (Some(s), Some(at)) if !matches!(s.as_str(), "SUCCEEDED" | "Success") => format!(
                "{s} after containing at {at}: {}",
                o.playbook_failure.as_deref().unwrap_or("the engine gives no reason")
            ),
            (Some(s), _) => s.clone(),
        },
        ok_status,
    ));
    out.extend(containment(o, this_run, snapshots_completed));
    let (sealed, observed) = match &o.volatile {
        None => (false, "no manifest for this run's finding in the evidence bucket".to_string()),
        Some(v) if !v.mismatches.is_empty() => {
            (false, format!("altered since collection: {}", v.mismatches.join("; ")))
        }
        Some(v) if !v.complete => (false, format!("{} item(s), incomplete: {}", v.items, v.gaps.join("; "))),
        Some(v) => (v.items > 0, format!("{} item(s), every SHA-256 verified", v.items)),
    };
    out.push(check(
        "volatile evidence sealed",
        "a complete manifest of the evidence collected before isolation, every item's SHA-256 verified",
        observed,
        sealed,
    ));
    out.push(check(
        "responders notified",
        "a notification naming this run's finding",
        format!("{} notification(s)", o.notifications),
        o.notifications > 0,
    ));
    out
}

/// What the victim's state shows of a containment, whoever did it (a playbook, or a responder
/// by hand in the workshop): isolation, tags, credentials and sessions, cut connections,
/// volumes, Elastic IPs, protection and snapshots. `this_run`: the containment's tags name the
/// run's finding; a state that is right but from another finding passes nothing.
pub fn containment(o: &Observation, this_run: bool, snapshots_completed: bool) -> Vec<Check> {
    let mut out = Vec::new();
    let whose = |observed: String, ok: bool| {
        if !ok || this_run {
            return observed;
        }
        match &o.contained_for {
            Some(f) => format!("{observed}, but from finding {f}, not this run's"),
            None => format!("{observed}, but no containment of this run's finding is recorded"),
        }
    };
    let stray: Vec<String> = o
        .interface_groups
        .iter()
        .filter(|(_, g)| g.as_slice() != [o.quarantine_group.clone()])
        .map(|(eni, g)| format!("{eni}: {}", g.join(",")))
        .collect();
    let isolated = stray.is_empty() && !o.interface_groups.is_empty();
    out.push(check(
        "isolated",
        format!("every interface carries only {}", o.quarantine_group),
        whose(
            if stray.is_empty() {
                format!("{} interface(s) isolated", o.interface_groups.len())
            } else {
                stray.join("; ")
            },
            isolated,
        ),
        isolated && this_run,
    ));
    let tagged = o.ir_status.as_deref() == Some("contained");
    out.push(check(
        "tagged contained",
        "irlab:ir-status=contained for this run's finding",
        whose(o.ir_status.clone().unwrap_or_else(|| "no tag".into()), tagged),
        tagged && this_run,
    ));
    out.push(check(
        "credentials revoked",
        "no instance profile association",
        whose((if o.profile_associated { "associated" } else { "none" }).to_string(), !o.profile_associated),
        !o.profile_associated && this_run,
    ));
    let protected = o.termination_protected && o.stop_protected;
    let revoked = match (o.sessions_revoked_before, o.since) {
        (Some(t), Some(since)) => t >= since,
        (Some(_), None) => true,
        _ => false,
    };
    out.push(check(
        "sessions revoked",
        "the instance role denies every session issued before the containment (aws:TokenIssueTime)",
        whose(
            match o.sessions_revoked_before {
                Some(t) => format!("{REVOKE_POLICY} denies sessions issued before {t}"),
                None => format!("no {REVOKE_POLICY} policy on the instance role"),
            },
            revoked,
        ),
        revoked && this_run,
    ));
    // Security groups do not stop tracked flows: every interface must pass through the group
    // that makes them untracked before the quarantine group, which then cuts them.
    let cut = o.cut_step.as_deref().is_some_and(|line| {
        match (line.find(o.untrack_group.as_str()), line.rfind(o.quarantine_group.as_str())) {
            (Some(u), Some(q)) => !o.untrack_group.is_empty() && u < q,
            _ => false,
        }
    });
    out.push(check(
        "connections cut",
        format!("every interface through {} (all flows untracked), then {}", o.untrack_group, o.quarantine_group),
        whose(o.cut_step.clone().unwrap_or_else(|| "no cut step reported for this run".into()), cut),
        cut && this_run,
    ));
    let kept: Vec<&String> = o.delete_on_termination.iter().filter(|(_, d)| **d).map(|(v, _)| v).collect();
    let preserved = kept.is_empty() && !o.delete_on_termination.is_empty();
    out.push(check(
        "volumes preserved",
        "DeleteOnTermination off on every attached volume",
        whose(
            if kept.is_empty() {
                format!("{} volume(s) kept on termination", o.delete_on_termination.len())
            } else {
                format!(
                    "would be deleted with the instance: {}",
                    kept.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                )
            },
            preserved,
        ),
        preserved && this_run,
    ));
    out.push(check(
        "elastic IPs disassociated",
        "no Elastic IP on the victim",
        whose(
            if o.elastic_ips.is_empty() { "none".to_string() } else { o.elastic_ips.join(", ") },
            o.elastic_ips.is_empty(),
        ),
        o.elastic_ips.is_empty() && this_run,
    ));
    out.push(check(
        "protected",
        "termination and stop protection on",
        whose(format!("termination {}, stop {}", on_off(o.termination_protected), on_off(o.stop_protected)), protected),
        protected && this_run,
    ));
    let missing: Vec<&String> = o.volumes.iter().filter(|v| !o.snapshots.contains_key(*v)).collect();
    let unfinished: Vec<String> =
        o.snapshots.iter().filter(|(_, s)| s.as_str() != "completed").map(|(v, s)| format!("{v}: {s}")).collect();
    let snap_ok = !o.volumes.is_empty() && missing.is_empty() && (!snapshots_completed || unfinished.is_empty());
    out.push(check(
        "evidence preserved",
        if snapshots_completed {
            "a completed, tagged snapshot of every volume"
        } else {
            "a tagged snapshot of every volume"
        },
        if missing.is_empty() && unfinished.is_empty() {
            format!("{} snapshot(s)", o.snapshots.len())
        } else {
            let mut gaps = Vec::new();
            if !missing.is_empty() {
                gaps.push(format!(
                    "no snapshot of {}",
                    missing.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            if !unfinished.is_empty() {
                gaps.push(format!("unfinished: {}", unfinished.join(", ")));
            }
            gaps.join("; ")
        },
        snap_ok,
    ));
    out
}

/// The checks of the phase: containment's, the eradication's or the recovery's (each with the
/// isolation of the compromised instance, which they must keep), or all of them.
pub fn judge_phase(o: &Observation, expect: Expect, phase: Phase) -> Vec<Check> {
    let contain = judge(o, expect);
    let isolated = || contain.iter().filter(|c| c.name == "isolated").cloned();
    match phase {
        Phase::Contain => contain.clone(),
        Phase::Eradicate => isolated().chain(judge_eradication(o)).collect(),
        Phase::Recover => isolated().chain(judge_recovery(o)).collect(),
        Phase::All => contain.iter().cloned().chain(judge_eradication(o)).chain(judge_recovery(o)).collect(),
    }
}

/// The recovered victim: running with its agent online, the baseline's groups and profile, no
/// indicator of the run, no finding naming it.
pub fn judge_recovery(o: &Observation) -> Vec<Check> {
    let Some(r) = &o.recovery else {
        let observed = match o.playbook_recovery.as_deref() {
            Some("failed") => format!(
                "the playbook's recovery failed ({}); `irlab recover` finishes it",
                o.playbook_failure.as_deref().unwrap_or("its notification says why")
            ),
            Some(_) => "the playbook is recovering".to_string(),
            None => "not recovered yet".to_string(),
        };
        return vec![check(
            "recovered",
            "the recovery of this run (`irlab recover`, or the playbook after its eradication)",
            observed,
            false,
        )];
    };
    let running = r.state.as_deref() == Some("running") && r.agent.as_deref() == Some("Online");
    let mut groups = r.groups.clone();
    let mut want = r.baseline_groups.clone();
    groups.sort();
    want.sort();
    let attached = groups == want && r.profile_arn.is_some() && r.profile_arn == r.baseline_profile_arn;
    vec![
        check(
            "recovered",
            "a new victim running, its SSM agent Online",
            format!(
                "{} {}, agent {}",
                r.instance,
                r.state.as_deref().unwrap_or("gone"),
                r.agent.as_deref().unwrap_or("not registered")
            ),
            running,
        ),
        check(
            "baseline restored",
            format!(
                "groups {} and profile {}",
                want.join(","),
                r.baseline_profile_arn.as_deref().unwrap_or("(none recorded)")
            ),
            format!("groups {}, profile {}", groups.join(","), r.profile_arn.as_deref().unwrap_or("none")),
            attached,
        ),
        check(
            "recovered clean",
            "no indicator of the run on the new victim",
            match (r.clean, r.present.is_empty()) {
                (None, _) => format!("no record from the check (step {})", r.check_status),
                (Some(_), true) => "none present".to_string(),
                (Some(_), false) => format!("present: {}", r.present.join(", ")),
            },
            r.clean == Some(true) && r.present.is_empty(),
        ),
        check(
            "no finding on it",
            "no active finding names the new victim",
            if r.findings.is_empty() { "none".to_string() } else { r.findings.join(", ") },
            r.findings.is_empty(),
        ),
    ]
}

/// What the approval the playbook asked for says about the run, for an observed value.
fn approval_note(approval: Option<&str>) -> String {
    match approval {
        Some("waiting") => ", waiting for `irlab approve` or `irlab reject`".into(),
        Some("approved") => ", approved: eradicating".into(),
        Some(a @ ("rejected" | "timed-out" | "not-asked")) => format!(", approval {a}: left contained"),
        Some(a) => format!(", approval {a}"),
        None => String::new(),
    }
}

/// The eradication, judged on Systems Manager's own record of the command, not on irlab's.
pub fn judge_eradication(o: &Observation) -> Vec<Check> {
    let Some(e) = &o.eradication else {
        let observed = match o.approval.as_deref() {
            Some("waiting") => "not eradicated yet: the playbook waits for `irlab approve`".to_string(),
            Some("approved") => "approved: the playbook has not sent its eradication yet".to_string(),
            Some(a @ ("rejected" | "timed-out" | "not-asked")) => {
                format!("not eradicated: the playbook's approval was {a}, the victim left contained")
            }
            _ => "not eradicated yet".to_string(),
        };
        return vec![check("eradication ran", ERADICATION_EXPECTED, observed, false)];
    };
    let ran = e.eradicate_status == "Success";
    let gone = e.eradicated == Some(true) && e.present.is_empty();
    vec![
        check(
            "eradication ran",
            ERADICATION_EXPECTED,
            format!("Run Command {}: commands {}", e.command_id, e.eradicate_status),
            ran,
        ),
        check(
            "indicators gone",
            "none of the run's indicators present after eradication",
            match (e.eradicated, e.present.is_empty()) {
                (None, _) => format!("no record from the check (step {})", e.check_status),
                (Some(_), true) => "none present".to_string(),
                (Some(_), false) => format!("still present: {}", e.present.join(", ")),
            },
            gone,
        ),
    ]
}

const ERADICATION_EXPECTED: &str =
    "the eradication of this run (`irlab eradicate`, or the playbook after `irlab approve`), its commands succeeded";

/// Whether an eradication of the run is under way: approved and not sent yet, or its commands
/// still run. (One that waits for a decision waits for a person: verify does not.)
pub fn eradication_pending(o: &Observation) -> bool {
    match &o.eradication {
        Some(e) => matches!(e.check_status.as_str(), "Pending" | "InProgress" | "Delayed" | ""),
        None => o.approval.as_deref() == Some("approved"),
    }
}

/// Whether the playbook's recovery of the run is under way: approved and eradicated (or still
/// eradicating) and not yet recovered or failed, or its check of the new victim still runs.
pub fn recovery_pending(o: &Observation) -> bool {
    if o.approval.as_deref() != Some("approved") || o.playbook_recovery.as_deref() == Some("failed") {
        return false;
    }
    match &o.recovery {
        Some(r) => matches!(r.check_status.as_str(), "Pending" | "InProgress" | "Delayed" | ""),
        None => {
            eradication_pending(o)
                || o.eradication.as_ref().is_some_and(|e| e.eradicated == Some(true))
                    && o.playbook_recovery.as_deref() != Some("recovered")
        }
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// JUnit XML, one test case per check, so instructors can grade a class with their CI tools.
pub fn junit(lab: &str, run: &str, checks: &[Check]) -> String {
    let cases: Vec<Case> =
        checks.iter().map(|c| (c.name, c.expected.as_str(), c.observed.as_str(), c.passed)).collect();
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", junit_suite(lab, run, &cases))
}

/// One JUnit test case: check name, expected, observed, passed.
pub type Case<'a> = (&'a str, &'a str, &'a str, bool);

/// One `<testsuite>` of a lab's run: a test case per check (a class puts one per attendee in
/// `<testsuites>`).
pub fn junit_suite(lab: &str, run: &str, cases: &[Case]) -> String {
    let failures = cases.iter().filter(|c| !c.3).count();
    let mut xml = format!(
        "<testsuite name=\"irlab {}\" tests=\"{}\" failures=\"{failures}\">\n",
        xml_escape(&format!("{lab} {run}")),
        cases.len()
    );
    for (name, expected, observed, passed) in cases {
        xml.push_str(&format!("  <testcase classname=\"irlab.{}\" name=\"{}\"", xml_escape(lab), xml_escape(name)));
        if *passed {
            xml.push_str("/>\n");
        } else {
            xml.push_str(&format!(
                ">\n    <failure message=\"expected {}, observed {}\"/>\n  </testcase>\n",
                xml_escape(expected),
                xml_escape(observed)
            ));
        }
    }
    xml.push_str("</testsuite>\n");
    xml
}

pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contained() -> Observation {
        Observation {
            findings: vec!["f1".into()],
            playbook_status: Some("SUCCEEDED".into()),
            interface_groups: BTreeMap::from([
                ("eni-1".into(), vec!["sg-q".into()]),
                ("eni-2".into(), vec!["sg-q".into()]),
            ]),
            quarantine_group: "sg-q".into(),
            profile_associated: false,
            termination_protected: true,
            stop_protected: true,
            ir_status: Some("contained".into()),
            contained_for: Some("f1".into()),
            volumes: vec!["vol-1".into()],
            snapshots: BTreeMap::from([("vol-1".into(), "completed".into())]),
            notifications: 1,
            since: Some("2026-12-01T10:00:00Z".parse().unwrap()),
            sessions_revoked_before: Some("2026-12-01T10:00:05Z".parse().unwrap()),
            untrack_group: "sg-u".into(),
            cut_step: Some("eni-1, eni-2: sg-u, then sg-q".into()),
            delete_on_termination: BTreeMap::from([("vol-1".into(), false)]),
            elastic_ips: Vec::new(),
            volatile: Some(Volatile { items: 6, complete: true, gaps: Vec::new(), mismatches: Vec::new() }),
            eradication: None,
            recovery: None,
            ..Observation::default()
        }
    }

    fn failed(checks: &[Check]) -> Vec<&'static str> {
        checks.iter().filter(|c| !c.passed).map(|c| c.name).collect()
    }

    #[test]
    fn a_contained_victim_passes_every_check() {
        let checks = judge(&contained(), Expect::Contained { snapshots_completed: true });
        assert_eq!(failed(&checks), Vec::<&str>::new());
        assert_eq!(checks.len(), 13);
    }

    #[test]
    fn each_containment_effect_is_its_own_check() {
        let mut o = contained();
        o.sessions_revoked_before = Some("2026-12-01T09:00:00Z".parse().unwrap());
        assert_eq!(failed(&judge(&o, Expect::Contained { snapshots_completed: true })), vec!["sessions revoked"]);
        let mut o = contained();
        o.cut_step = Some("eni-1, eni-2: sg-q".into());
        assert_eq!(failed(&judge(&o, Expect::Contained { snapshots_completed: true })), vec!["connections cut"]);
        o.cut_step = Some("sg-q first, then sg-u".into());
        assert_eq!(failed(&judge(&o, Expect::Contained { snapshots_completed: true })), vec!["connections cut"]);
        let mut o = contained();
        o.delete_on_termination.insert("vol-2".into(), true);
        let checks = judge(&o, Expect::Contained { snapshots_completed: true });
        assert_eq!(failed(&checks), vec!["volumes preserved"]);
        assert!(checks.iter().any(|c| c.observed.contains("would be deleted with the instance: vol-2")));
        let mut o = contained();
        o.volatile = Some(Volatile {
            items: 6,
            complete: true,
            gaps: vec![],
            mismatches: vec!["volatile/f1/e/processes.txt: SHA-256 differs".into()],
        });
        let checks = judge(&o, Expect::Contained { snapshots_completed: true });
        assert_eq!(failed(&checks), vec!["volatile evidence sealed"]);
        o.volatile = Some(Volatile {
            items: 2,
            complete: false,
            gaps: vec!["timed out after 120 s".into()],
            mismatches: vec![],
        });
        let checks = judge(&o, Expect::Contained { snapshots_completed: true });
        assert!(checks.iter().any(|c| c.observed.contains("incomplete: timed out after 120 s")));
        let mut o = contained();
        o.elastic_ips = vec!["198.51.100.20".into()];
        assert_eq!(
            failed(&judge(&o, Expect::Contained { snapshots_completed: true })),
            vec!["elastic IPs disassociated"]
        );
    }

    #[test]
    fn eradication_passes_only_on_the_commands_success_and_the_checks_own_record() {
        let expect = Expect::Contained { snapshots_completed: true };
        let mut o = contained();
        let names = |c: &[Check]| c.iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(failed(&judge_phase(&o, expect, Phase::Eradicate)), vec!["eradication ran"]);
        assert_eq!(names(&judge_phase(&o, expect, Phase::Eradicate)), vec!["isolated", "eradication ran"]);
        let done = Eradication {
            command_id: "c-1".into(),
            eradicate_status: "Success".into(),
            check_status: "Success".into(),
            eradicated: Some(true),
            present: vec![],
        };
        o.eradication = Some(done.clone());
        assert!(judge_phase(&o, expect, Phase::Eradicate).iter().all(|c| c.passed));
        // All adds the recovery, which this run has not had.
        assert_eq!(failed(&judge_phase(&o, expect, Phase::All)), vec!["recovered"]);
        assert_eq!(judge_phase(&o, expect, Phase::All).len(), judge(&o, expect).len() + 3);
        // A command that failed, or an indicator the check still found, fails its own check.
        o.eradication = Some(Eradication { eradicate_status: "Failed".into(), ..done.clone() });
        assert_eq!(failed(&judge_phase(&o, expect, Phase::Eradicate)), vec!["eradication ran"]);
        o.eradication = Some(Eradication {
            check_status: "Failed".into(),
            eradicated: Some(false),
            present: vec!["processes:tor".into()],
            ..done.clone()
        });
        let checks = judge_phase(&o, expect, Phase::Eradicate);
        assert_eq!(failed(&checks), vec!["indicators gone"]);
        assert!(checks.iter().any(|c| c.observed == "still present: processes:tor"));
        // Eradication that let the victim out of quarantine fails isolation.
        o.eradication = Some(done);
        o.interface_groups.insert("eni-2".into(), vec!["sg-app".into()]);
        assert_eq!(failed(&judge_phase(&o, expect, Phase::Eradicate)), vec!["isolated"]);
    }

    #[test]
    fn a_recovery_passes_only_running_online_as_the_baseline_clean_and_unnamed() {
        let expect = Expect::Contained { snapshots_completed: true };
        let mut o = contained();
        assert_eq!(failed(&judge_phase(&o, expect, Phase::Recover)), vec!["recovered"]);
        let good = Recovery {
            instance: "i-new".into(),
            state: Some("running".into()),
            agent: Some("Online".into()),
            groups: vec!["sg-app".into()],
            baseline_groups: vec!["sg-app".into()],
            profile_arn: Some("arn:p".into()),
            baseline_profile_arn: Some("arn:p".into()),
            check_status: "Success".into(),
            clean: Some(true),
            present: vec![],
            findings: vec![],
        };
        o.recovery = Some(good.clone());
        let checks = judge_phase(&o, expect, Phase::Recover);
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
        for (bad, name) in [
            (Recovery { agent: Some("ConnectionLost".into()), ..good.clone() }, "recovered"),
            (Recovery { state: Some("stopped".into()), ..good.clone() }, "recovered"),
            (Recovery { groups: vec!["sg-q".into()], ..good.clone() }, "baseline restored"),
            (Recovery { profile_arn: None, ..good.clone() }, "baseline restored"),
            (
                Recovery { clean: Some(false), present: vec!["files:/usr/bin/dig".into()], ..good.clone() },
                "recovered clean",
            ),
            (Recovery { clean: None, ..good.clone() }, "recovered clean"),
            (Recovery { findings: vec!["f-2".into()], ..good.clone() }, "no finding on it"),
        ] {
            o.recovery = Some(bad);
            assert_eq!(failed(&judge_phase(&o, expect, Phase::Recover)), vec![name]);
        }
    }

    #[test]
    fn the_revocation_time_is_read_from_the_policy_as_iam_writes_it() {
        let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "RevokeOlderSessions", "Effect": "Deny",
            "Action": "*", "Resource": "*", "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-12-01T10:00:05Z"}}}]});
        assert_eq!(revoked_before(&doc), Some("2026-12-01T10:00:05Z".parse().unwrap()));
        let allow = serde_json::json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-12-01T10:00:05Z"}}}});
        assert_eq!(revoked_before(&allow), None);
    }

    #[test]
    fn one_interface_left_in_the_app_group_fails_isolation() {
        let mut o = contained();
        o.interface_groups.insert("eni-2".into(), vec!["sg-app".into()]);
        let checks = judge(&o, Expect::Contained { snapshots_completed: true });
        assert_eq!(failed(&checks), vec!["isolated"]);
        assert!(checks[2].observed.contains("eni-2: sg-app"));
    }

    #[test]
    fn a_reattached_profile_or_a_missing_snapshot_is_named() {
        let mut o = contained();
        o.profile_associated = true;
        o.snapshots.clear();
        assert_eq!(
            failed(&judge(&o, Expect::Contained { snapshots_completed: false })),
            vec!["credentials revoked", "evidence preserved"]
        );
    }

    #[test]
    fn a_pending_snapshot_passes_only_when_completion_is_not_expected() {
        let mut o = contained();
        o.snapshots.insert("vol-1".into(), "pending".into());
        assert!(failed(&judge(&o, Expect::Contained { snapshots_completed: false })).is_empty());
        assert_eq!(failed(&judge(&o, Expect::Contained { snapshots_completed: true })), vec!["evidence preserved"]);
    }

    #[test]
    fn nothing_observed_yet_fails_every_check() {
        let checks = judge(&Observation::default(), Expect::Contained { snapshots_completed: true });
        // Even "no profile association" needs this run's containment to count.
        assert_eq!(failed(&checks).len(), checks.len());
    }

    #[test]
    fn an_earlier_runs_containment_satisfies_none_of_this_runs_checks() {
        // Attacked again (--force) while still contained from finding f0: the playbook of the new
        // finding f1 has not finished, so its engine run and notification are not there yet.
        let mut o = contained();
        o.contained_for = Some("f0".into());
        o.playbook_status = None;
        o.notifications = 0;
        o.snapshots.clear();
        let checks = judge(&o, Expect::Contained { snapshots_completed: false });
        assert_eq!(
            failed(&checks),
            vec![
                "playbook contained",
                "isolated",
                "tagged contained",
                "credentials revoked",
                "sessions revoked",
                "connections cut",
                "volumes preserved",
                "elastic IPs disassociated",
                "protected",
                "evidence preserved",
                "responders notified"
            ]
        );
        assert!(checks[2].observed.contains("from finding f0, not this run's"), "{}", checks[2].observed);
    }

    fn run(mode: &str, finding_ids: &[&str]) -> AttackRun {
        AttackRun {
            id: "run-1".into(),
            scenarios: vec!["tor-client".into()],
            mode: mode.into(),
            instance: "i-1".into(),
            started_at: "2026-12-01T10:00:00Z".into(),
            command_ids: vec![],
            finding_ids: finding_ids.iter().map(|s| s.to_string()).collect(),
            expected_findings: vec!["UnauthorizedAccess:EC2/TorClient".into()],
            variant: None,
            verified_at: None,
            unconfirmed: false,
            verdict: None,
            eradication: None,
            recovery: None,
            approval: None,
        }
    }

    fn finding(id: &str, instance: &str) -> Record {
        Record {
            at: "2026-12-01T10:00:05Z".parse().unwrap(),
            kind: Kind::Finding {
                id: id.into(),
                finding_type: "UnauthorizedAccess:EC2/TorClient".into(),
                instance: instance.into(),
                created_at: None,
                severity: Some(8.0),
                title: None,
            },
        }
    }

    #[test]
    fn an_injected_run_owns_only_its_own_finding_ids() {
        let records = [finding("old", "i-1"), finding("mine", "i-1"), finding("mine", "i-1")];
        assert_eq!(run_findings(&run("inject", &["mine"]), &records), vec!["mine".to_string()]);
    }

    #[test]
    fn a_traffic_run_owns_the_expected_findings_on_its_own_instance() {
        let records = [finding("a", "i-1"), finding("b", "i-2")];
        assert_eq!(run_findings(&run("traffic", &[]), &records), vec!["a".to_string()]);
        assert!(run_findings(&run("sample", &[]), &records).is_empty());
    }

    #[test]
    fn samples_pass_when_they_arrive_and_the_victim_is_untouched() {
        let o = Observation { findings: vec!["s1".into()], ..Observation::default() };
        assert!(failed(&judge(&o, Expect::SamplesOnly)).is_empty());
        let touched = Observation { ir_status: Some("contained".into()), ..o };
        assert_eq!(failed(&judge(&touched, Expect::SamplesOnly)), vec!["victim untouched"]);
    }

    #[test]
    fn junit_names_each_failing_check() {
        let mut o = contained();
        o.profile_associated = true;
        let xml = junit("class-1", "run-1", &judge(&o, Expect::Contained { snapshots_completed: true }));
        assert!(xml.contains("tests=\"13\" failures=\"1\""));
        assert!(xml.contains("name=\"credentials revoked\">\n    <failure"));
    }
}
