//! Proving the remediation: the state of one attack run collected in one pass (an
//! [`Observation`]), then judged by pure checks that never call AWS.

use std::collections::BTreeMap;

use serde::Serialize;

/// What one poll saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Observation {
    /// Finding ids seen for the run (GuardDuty, or the audit queue for injected findings).
    pub findings: Vec<String>,
    /// The playbook's own verdict on the run: `SUCCEEDED`, `Success`, `RUNNING`, `FAILED`, ...
    pub playbook_status: Option<String>,
    /// Security groups per network interface of the victim.
    pub interface_groups: BTreeMap<String, Vec<String>>,
    pub quarantine_group: String,
    pub profile_associated: bool,
    pub termination_protected: bool,
    pub stop_protected: bool,
    pub ir_status: Option<String>,
    /// Volumes attached to the victim, and the state of the run's snapshot of each.
    pub volumes: Vec<String>,
    pub snapshots: BTreeMap<String, String>,
    /// Notifications of the alert topic that name the victim.
    pub notifications: usize,
}

/// What the run should lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The playbook contains the victim (inject and traffic modes).
    Contained { snapshots_completed: bool },
    /// Sample findings: they arrive, and the playbook leaves the victim alone.
    SamplesOnly,
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
    let ok_status = matches!(o.playbook_status.as_deref(), Some("SUCCEEDED" | "Success"));
    out.push(check(
        "playbook succeeded",
        "SUCCEEDED",
        o.playbook_status.clone().unwrap_or_else(|| "no run found yet".into()),
        ok_status,
    ));
    let stray: Vec<String> = o
        .interface_groups
        .iter()
        .filter(|(_, g)| g.as_slice() != [o.quarantine_group.clone()])
        .map(|(eni, g)| format!("{eni}: {}", g.join(",")))
        .collect();
    out.push(check(
        "isolated",
        format!("every interface carries only {}", o.quarantine_group),
        if stray.is_empty() { format!("{} interface(s) isolated", o.interface_groups.len()) } else { stray.join("; ") },
        stray.is_empty() && !o.interface_groups.is_empty(),
    ));
    out.push(check(
        "tagged contained",
        "irlab:ir-status=contained",
        o.ir_status.clone().unwrap_or_else(|| "no tag".into()),
        o.ir_status.as_deref() == Some("contained"),
    ));
    out.push(check(
        "credentials revoked",
        "no instance profile association",
        if o.profile_associated { "associated" } else { "none" },
        !o.profile_associated,
    ));
    out.push(check(
        "protected",
        "termination and stop protection on",
        format!("termination {}, stop {}", on_off(o.termination_protected), on_off(o.stop_protected)),
        o.termination_protected && o.stop_protected,
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
            format!("missing {missing:?}; unfinished {unfinished:?}")
        },
        snap_ok,
    ));
    out.push(check(
        "responders notified",
        "a notification naming the victim",
        format!("{} notification(s)", o.notifications),
        o.notifications > 0,
    ));
    out
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// JUnit XML, one test case per check, so instructors can grade a class with their CI tools.
pub fn junit(lab: &str, run: &str, checks: &[Check]) -> String {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let failures = checks.iter().filter(|c| !c.passed).count();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"irlab {}\" tests=\"{}\" failures=\"{failures}\">\n",
        esc(&format!("{lab} {run}")),
        checks.len()
    );
    for c in checks {
        xml.push_str(&format!("  <testcase classname=\"irlab.{}\" name=\"{}\"", esc(lab), esc(c.name)));
        if c.passed {
            xml.push_str("/>\n");
        } else {
            xml.push_str(&format!(
                ">\n    <failure message=\"expected {}, observed {}\"/>\n  </testcase>\n",
                esc(&c.expected),
                esc(&c.observed)
            ));
        }
    }
    xml.push_str("</testsuite>\n");
    xml
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
            volumes: vec!["vol-1".into()],
            snapshots: BTreeMap::from([("vol-1".into(), "completed".into())]),
            notifications: 1,
        }
    }

    fn failed(checks: &[Check]) -> Vec<&'static str> {
        checks.iter().filter(|c| !c.passed).map(|c| c.name).collect()
    }

    #[test]
    fn a_contained_victim_passes_every_check() {
        let checks = judge(&contained(), Expect::Contained { snapshots_completed: true });
        assert_eq!(failed(&checks), Vec::<&str>::new());
        assert_eq!(checks.len(), 8);
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
    fn nothing_observed_yet_fails_every_check_that_needs_evidence() {
        let checks = judge(&Observation::default(), Expect::Contained { snapshots_completed: true });
        // No association is the one state "nothing observed" genuinely satisfies.
        assert_eq!(
            failed(&checks),
            vec![
                "finding arrived",
                "playbook succeeded",
                "isolated",
                "tagged contained",
                "protected",
                "evidence preserved",
                "responders notified"
            ]
        );
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
        assert!(xml.contains("tests=\"8\" failures=\"1\""));
        assert!(xml.contains("name=\"credentials revoked\">\n    <failure"));
    }
}
