//! Grading a containment done by hand (the workshop's module 3): the same pure checks `verify`
//! applies to a playbook's work, over the victim's state, plus CloudTrail's record of the
//! attendee's calls (what order the groups changed in, who did each step, and when), and an
//! explanation for the mistakes people make.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::incident::verify::{self, Check, Observation};
use crate::workshop::trail::Call;

/// The steps, in the order the module teaches them; each is a `<!-- step: ID -->` section of
/// `workshop/03-manual-response.md`.
pub const STEPS: [&str; 5] = ["isolate", "revoke", "protect", "snapshot", "tag"];

/// Which of verify's checks grade each step.
fn checks_of(step: &str) -> &'static [&'static str] {
    match step {
        "isolate" => &["isolated", "connections cut", "elastic IPs disassociated"],
        "revoke" => &["credentials revoked", "sessions revoked"],
        "protect" => &["protected", "volumes preserved"],
        "snapshot" => &["evidence preserved"],
        _ => &["tagged contained"],
    }
}

/// A snapshot of one of the victim's volumes, started since the attack.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    pub id: String,
    pub volume: String,
    pub tags: BTreeMap<String, String>,
}

/// What the grader looks at: the victim as verify collects it, the run's finding, the
/// snapshots of its volumes, and the containment calls CloudTrail recorded since the attack.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub o: Observation,
    pub lab: String,
    pub instance: String,
    pub finding: Option<String>,
    pub snapshots: Vec<Snapshot>,
    pub calls: Vec<Call>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Graded {
    pub step: &'static str,
    pub done: bool,
    pub checks: Vec<Check>,
    /// What was done wrongly, in the attendee's terms.
    pub mistakes: Vec<String>,
    /// CloudTrail's record of the step: `NAME by ARN at TIME`.
    pub record: Vec<String>,
}

/// The group changes of the victim, in time order, as one line the cut check reads the order
/// of groups from (the untrack group must come before the quarantine group). CloudTrail's
/// times are to the second: changes within the same second are taken in the order the module
/// teaches (untrack, then quarantine), as nothing recorded tells them apart.
pub fn group_changes(calls: &[Call], untrack: &str, quarantine: &str) -> Option<String> {
    let mut changes: Vec<(jiff::Timestamp, bool, String)> = calls
        .iter()
        .filter(|c| matches!(c.name.as_str(), "ModifyInstanceAttribute" | "ModifyNetworkInterfaceAttribute"))
        .filter_map(|c| {
            let to = if c.request.contains(untrack) {
                untrack
            } else if c.request.contains(quarantine) {
                quarantine
            } else {
                return None;
            };
            Some((c.at, to == quarantine, format!("{} to {to} at {}", c.name, c.at)))
        })
        .collect();
    changes.sort_by_key(|(at, to_quarantine, _)| (*at, *to_quarantine));
    (!changes.is_empty()).then(|| changes.into_iter().map(|c| c.2).collect::<Vec<_>>().join("; "))
}

/// Grades every step. The observation's `cut_step` should come from [`group_changes`].
pub fn grade(s: &Seen) -> Vec<Graded> {
    let o = &s.o;
    // Every step but the tag is judged on the state alone: the tag says which finding, and
    // grading the others before it is tagged is the point of going one step at a time.
    let checks = verify::containment(o, true, false);
    let mut out = Vec::new();
    for step in STEPS {
        let mut mine: Vec<Check> = checks.iter().filter(|c| checks_of(step).contains(&c.name)).cloned().collect();
        let mut mistakes = Vec::new();
        for c in mine.iter_mut().filter(|c| c.name == "connections cut" && o.cut_step.is_none()) {
            c.observed = "CloudTrail has recorded no group change of the victim since the attack".into();
        }
        match step {
            "isolate" => isolate_mistakes(s, &mut mistakes),
            "revoke" => {
                if let (Some(t), Some(since)) = (o.sessions_revoked_before, o.since)
                    && t < since
                {
                    mistakes.push(format!(
                        "irlab-revoke-sessions denies sessions issued before {t}, which is before the attack: credentials taken since then still work; use the time you revoke at"
                    ));
                }
            }
            "snapshot" => snapshot_mistakes(s, &mut mistakes, &mut mine),
            "tag" => {
                let ok = o.ir_status.as_deref() == Some("contained")
                    && s.finding.is_some()
                    && o.contained_for.as_ref() == s.finding.as_ref();
                if let Some(c) = mine.first_mut() {
                    c.passed = ok;
                    c.observed = format!(
                        "irlab:ir-status={}, irlab:finding-id={}",
                        o.ir_status.as_deref().unwrap_or("(none)"),
                        o.contained_for.as_deref().unwrap_or("(none)")
                    );
                }
                if let (Some(tagged), Some(f)) = (&o.contained_for, &s.finding)
                    && tagged != f
                {
                    mistakes.push(format!("the instance names finding {tagged}, not this attack's {f}"));
                }
            }
            _ => {}
        }
        let record = s
            .calls
            .iter()
            .filter(|c| call_step(&c.name, &c.request) == Some(step))
            .map(|c| format!("{} by {} at {}", c.name, c.by, c.at))
            .collect();
        let done = mine.iter().all(|c| c.passed) && mistakes.is_empty();
        out.push(Graded { step, done, checks: mine, mistakes, record });
    }
    out
}

fn isolate_mistakes(s: &Seen, mistakes: &mut Vec<String>) {
    let o = &s.o;
    for (eni, groups) in &o.interface_groups {
        let others: Vec<&String> = groups.iter().filter(|g| **g != o.quarantine_group).collect();
        if groups.contains(&o.quarantine_group) && !others.is_empty() {
            mistakes.push(format!(
                "{eni}: the quarantine group was added beside {}, not swapped in: an interface allows whatever any of its groups allows, so their rules still let traffic through; give the instance the quarantine group alone",
                others.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", ")
            ));
        } else if groups.as_slice() == [o.untrack_group.clone()] {
            mistakes.push(format!(
                "{eni} is in the untrack group {}: every flow is untracked now; finish with the quarantine group {}",
                o.untrack_group, o.quarantine_group
            ));
        }
    }
    let isolated =
        !o.interface_groups.is_empty() && o.interface_groups.values().all(|g| *g == [o.quarantine_group.clone()]);
    if isolated && o.cut_step.is_none() {
        mistakes.push(
            "CloudTrail has no record of the group change yet (on AWS it takes up to about 5 minutes): check again shortly"
                .into(),
        );
    } else if isolated && o.cut_step.as_deref().is_some_and(|l| !l.contains(o.untrack_group.as_str())) {
        mistakes.push(format!(
            "CloudTrail shows the move to the quarantine group without the untrack group {} first: connections open before the change stay open (security groups do not cut tracked flows); move it to {} and back to {}",
            o.untrack_group, o.untrack_group, o.quarantine_group
        ));
    }
}

fn snapshot_mistakes(s: &Seen, mistakes: &mut Vec<String>, mine: &mut [Check]) {
    let want = |sn: &Snapshot| -> Vec<String> {
        let mut missing = Vec::new();
        for (k, v) in [
            ("irlab:lab", Some(s.lab.as_str())),
            ("irlab:instance", Some(s.instance.as_str())),
            ("irlab:finding-id", s.finding.as_deref()),
        ] {
            if let Some(v) = v
                && sn.tags.get(k).map(String::as_str) != Some(v)
            {
                missing.push(format!("{k}={v}"));
            }
        }
        missing
    };
    for sn in &s.snapshots {
        let missing = want(sn);
        if !missing.is_empty() {
            mistakes.push(format!(
                "{} of {} lacks the tags {}: without them it is not tied to the incident, and without irlab:lab `irlab down` cannot find it and it keeps costing; add them with `aws ec2 create-tags --resources {}`",
                sn.id,
                sn.volume,
                missing.join(", "),
                sn.id
            ));
        }
    }
    // Every volume needs one fully tagged snapshot.
    let covered = |v: &String| s.snapshots.iter().any(|sn| sn.volume == *v && want(sn).is_empty());
    let bare: Vec<&String> = s.o.volumes.iter().filter(|v| !covered(v)).collect();
    if let Some(c) = mine.first_mut() {
        c.passed = !s.o.volumes.is_empty() && bare.is_empty();
        if !bare.is_empty() {
            c.observed =
                format!("no tagged snapshot of {}", bare.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "));
        }
    }
}

/// Which step a recorded call belongs to.
fn call_step(name: &str, request: &str) -> Option<&'static str> {
    Some(match name {
        "ModifyNetworkInterfaceAttribute" | "DisassociateAddress" => "isolate",
        "ModifyInstanceAttribute" if request.contains("roup") => "isolate",
        "ModifyInstanceAttribute" => "protect",
        "DisassociateIamInstanceProfile" | "PutRolePolicy" => "revoke",
        "CreateSnapshot" | "CreateSnapshots" => "snapshot",
        "CreateTags" if request.contains("ir-status") => "tag",
        "CreateTags" if request.contains("snap-") => "snapshot",
        _ => return None,
    })
}

/// From the attack to the last call of a step that is done, as CloudTrail recorded it.
pub fn time_to_contain(graded: &[Graded], calls: &[Call], started: Timestamp) -> Option<f64> {
    let last = calls
        .iter()
        .filter(|c| call_step(&c.name, &c.request).is_some_and(|st| graded.iter().any(|g| g.step == st && g.done)))
        .map(|c| c.at)
        .max()?;
    Some((last - started).as_secs_f64().max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str = "sg-quarantine";
    const U: &str = "sg-untrack";
    const APP: &str = "sg-app";

    fn call(name: &str, request: &str, secs: i64) -> Call {
        Call {
            name: name.into(),
            at: Timestamp::from_second(1_800_000_000 + secs).unwrap(),
            by: "arn:aws:iam::123456789012:user/alice".into(),
            request: request.into(),
        }
    }

    /// A victim contained by hand, every step right.
    fn contained() -> Seen {
        let calls = vec![
            call("ModifyInstanceAttribute", &format!(r#"{{"instanceId":"i-1","groupId":["{U}"]}}"#), 10),
            call("ModifyInstanceAttribute", &format!(r#"{{"instanceId":"i-1","groupId":["{Q}"]}}"#), 20),
            call("DisassociateIamInstanceProfile", r#"{"associationId":"iip-assoc-1"}"#, 30),
            call("CreateTags", r#"{"resourceId":["i-1"],"tag":[{"key":"irlab:ir-status"}]}"#, 90),
        ];
        let since = Timestamp::from_second(1_800_000_000).unwrap();
        let o = Observation {
            findings: vec!["f1".into()],
            interface_groups: [("eni-1".to_string(), vec![Q.to_string()])].into(),
            quarantine_group: Q.into(),
            untrack_group: U.into(),
            ir_status: Some("contained".into()),
            contained_for: Some("f1".into()),
            termination_protected: true,
            stop_protected: true,
            volumes: vec!["vol-1".into()],
            snapshots: [("vol-1".to_string(), "pending".to_string())].into(),
            delete_on_termination: [("vol-1".to_string(), false)].into(),
            since: Some(since),
            sessions_revoked_before: Some(since + jiff::SignedDuration::from_secs(40)),
            cut_step: group_changes(&calls, U, Q),
            ..Default::default()
        };
        let tags = [("irlab:lab", "lab"), ("irlab:instance", "i-1"), ("irlab:finding-id", "f1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Seen {
            o,
            lab: "lab".into(),
            instance: "i-1".into(),
            finding: Some("f1".into()),
            snapshots: vec![Snapshot { id: "snap-1".into(), volume: "vol-1".into(), tags }],
            calls,
        }
    }

    fn step<'a>(g: &'a [Graded], id: &str) -> &'a Graded {
        g.iter().find(|x| x.step == id).unwrap()
    }

    #[test]
    fn a_complete_containment_passes_every_step_with_its_record() {
        let s = contained();
        let g = grade(&s);
        assert!(g.iter().all(|x| x.done), "{g:#?}");
        assert_eq!(step(&g, "isolate").record.len(), 2);
        assert!(step(&g, "revoke").record[0].contains("user/alice"));
        assert_eq!(time_to_contain(&g, &s.calls, s.o.since.unwrap()), Some(90.0));
    }

    #[test]
    fn the_quarantine_group_added_beside_the_others_is_explained() {
        let mut s = contained();
        s.o.interface_groups = [("eni-1".to_string(), vec![APP.to_string(), Q.to_string()])].into();
        let g = grade(&s);
        let iso = step(&g, "isolate");
        assert!(!iso.done);
        assert!(iso.mistakes[0].contains("added beside sg-app, not swapped in"), "{:?}", iso.mistakes);
        assert!(step(&g, "revoke").done, "one step's mistake fails only that step");
    }

    #[test]
    fn quarantine_without_the_untrack_group_first_does_not_cut_connections() {
        let mut s = contained();
        s.calls.remove(0);
        s.o.cut_step = group_changes(&s.calls, U, Q);
        let iso = grade(&s).into_iter().find(|x| x.step == "isolate").unwrap();
        assert!(!iso.done);
        assert!(iso.mistakes.iter().any(|m| m.contains("without the untrack group")), "{:?}", iso.mistakes);
        s.calls.clear();
        s.o.cut_step = None;
        let iso = grade(&s).into_iter().find(|x| x.step == "isolate").unwrap();
        assert!(iso.mistakes.iter().any(|m| m.contains("no record of the group change yet")), "{:?}", iso.mistakes);
    }

    #[test]
    fn changes_within_one_second_count_in_the_taught_order() {
        let mut s = contained();
        // CloudTrail lists the newest first, and both changes carry the same second.
        s.calls[0].at = s.calls[1].at;
        s.calls.swap(0, 1);
        s.o.cut_step = group_changes(&s.calls, U, Q);
        assert!(grade(&s)[0].done, "{:?}", s.o.cut_step);
    }

    #[test]
    fn an_untagged_snapshot_or_a_stale_revocation_or_tag_is_caught() {
        let mut s = contained();
        s.snapshots[0].tags.remove("irlab:lab");
        s.o.sessions_revoked_before = Some(s.o.since.unwrap() - jiff::SignedDuration::from_secs(60));
        s.o.contained_for = Some("f0".into());
        let g = grade(&s);
        let snap = step(&g, "snapshot");
        assert!(!snap.done && snap.mistakes[0].contains("irlab:lab=lab"), "{snap:?}");
        let rev = step(&g, "revoke");
        assert!(!rev.done && rev.mistakes[0].contains("before the attack"), "{rev:?}");
        let tag = step(&g, "tag");
        assert!(!tag.done && tag.mistakes[0].contains("names finding f0"), "{tag:?}");
        assert!(step(&g, "protect").done);
    }

    #[test]
    fn nothing_done_passes_nothing() {
        let since = Timestamp::from_second(1_800_000_000).unwrap();
        let s = Seen {
            o: Observation {
                findings: vec!["f1".into()],
                interface_groups: [("eni-1".to_string(), vec![APP.to_string()])].into(),
                quarantine_group: Q.into(),
                untrack_group: U.into(),
                profile_associated: true,
                volumes: vec!["vol-1".into()],
                delete_on_termination: [("vol-1".to_string(), true)].into(),
                since: Some(since),
                ..Default::default()
            },
            lab: "lab".into(),
            instance: "i-1".into(),
            finding: Some("f1".into()),
            ..Default::default()
        };
        let g = grade(&s);
        assert!(g.iter().all(|x| !x.done), "{g:#?}");
        assert_eq!(time_to_contain(&g, &s.calls, since), None);
    }
}
