//! The review's facts about the instance, from one observation of it: what the containment
//! changed (before from the tags the playbook recorded first, after as it is now), the run's
//! snapshots, and each check's verdict.

use jiff::Timestamp;

use super::{Change, CheckVerdict, SnapshotItem};
use crate::incident::verify::{Check, Observation};

impl super::Timeline {
    /// The timeline with what one observation of the run saw: each check's verdict, the
    /// snapshots, and what the containment changed.
    pub fn observed(mut self, o: &Observation, checks: &[Check], at: Timestamp) -> super::Timeline {
        self.checks = check_verdicts(checks);
        self.checked_at = Some(at);
        self.snapshots = snapshot_items(o);
        self.changes = changes(o);
        self
    }
}

fn check_verdicts(checks: &[Check]) -> Vec<CheckVerdict> {
    checks
        .iter()
        .map(|c| CheckVerdict { name: c.name.to_string(), passed: c.passed, observed: c.observed.clone() })
        .collect()
}

fn snapshot_items(o: &Observation) -> Vec<SnapshotItem> {
    o.snapshot_ids
        .iter()
        .map(|(volume, snapshot)| SnapshotItem {
            volume: volume.clone(),
            snapshot: snapshot.clone(),
            state: o.snapshots.get(volume).cloned().unwrap_or_default(),
        })
        .collect()
}

/// What the containment changed on the victim. The victim stack launches it with its
/// application group, its instance profile, no protection and every volume deleted on
/// termination; the playbook records the groups, volumes and Elastic IPs it found before it
/// changes them.
fn changes(o: &Observation) -> Vec<Change> {
    let name_group = |g: &String| {
        if *g == o.quarantine_group {
            format!("{g} (quarantine)")
        } else if *g == o.untrack_group {
            format!("{g} (untracking)")
        } else {
            g.clone()
        }
    };
    let list = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
    let on_off = |b: bool| if b { "on" } else { "off" }.to_string();
    let mut out = Vec::new();
    for (eni, now) in &o.interface_groups {
        out.push(Change {
            what: format!("security groups of {eni}"),
            before: o.before.groups.get(eni).map(|g| list(g)).unwrap_or_else(|| "not recorded".into()),
            after: list(&now.iter().map(name_group).collect::<Vec<_>>()),
        });
    }
    out.push(Change {
        what: "instance profile".into(),
        before: "associated (at launch)".into(),
        after: if o.profile_associated { "associated" } else { "disassociated" }.into(),
    });
    out.push(Change {
        what: "instance role's sessions".into(),
        before: "valid".into(),
        after: match o.sessions_revoked_before {
            Some(t) => format!("denied if issued before {}", short(t)),
            None => "valid".into(),
        },
    });
    out.push(Change {
        what: "termination protection".into(),
        before: "off (at launch)".into(),
        after: on_off(o.termination_protected),
    });
    out.push(Change {
        what: "stop protection".into(),
        before: "off (at launch)".into(),
        after: on_off(o.stop_protected),
    });
    for (volume, now) in &o.delete_on_termination {
        out.push(Change {
            what: format!("DeleteOnTermination of {volume}"),
            before: o
                .before
                .delete_on_termination
                .get(volume)
                .map(|b| b.to_string())
                .unwrap_or_else(|| "not recorded".into()),
            after: now.to_string(),
        });
    }
    out.push(Change { what: "Elastic IPs".into(), before: list(&o.before.elastic_ips), after: list(&o.elastic_ips) });
    out.push(Change {
        what: "irlab:ir-status tag".into(),
        before: "none".into(),
        after: o.ir_status.clone().unwrap_or_else(|| "none".into()),
    });
    out
}

fn short(t: Timestamp) -> String {
    format!("{} UTC", t.strftime("%H:%M:%S"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::incident::verify::Before;

    #[test]
    fn the_changes_name_groups_and_show_before_and_after() {
        let o = Observation {
            quarantine_group: "sg-q".into(),
            untrack_group: "sg-u".into(),
            interface_groups: BTreeMap::from([("eni-1".to_string(), vec!["sg-q".to_string()])]),
            before: Before {
                groups: BTreeMap::from([("eni-1".to_string(), vec!["sg-app".to_string()])]),
                delete_on_termination: BTreeMap::from([("vol-1".to_string(), true)]),
                elastic_ips: vec!["198.51.100.7".into()],
            },
            delete_on_termination: BTreeMap::from([("vol-1".to_string(), false)]),
            termination_protected: true,
            stop_protected: true,
            ir_status: Some("contained".into()),
            sessions_revoked_before: Some("2026-12-01T10:00:05Z".parse().unwrap()),
            ..Observation::default()
        };
        let c = changes(&o);
        let row = |what: &str| c.iter().find(|c| c.what == what).unwrap_or_else(|| panic!("{what} in {c:?}")).clone();
        assert_eq!(
            (row("security groups of eni-1").before, row("security groups of eni-1").after),
            ("sg-app".into(), "sg-q (quarantine)".into())
        );
        assert_eq!(row("instance profile").after, "disassociated");
        assert_eq!(row("instance role's sessions").after, "denied if issued before 10:00:05 UTC");
        assert_eq!(
            (row("DeleteOnTermination of vol-1").before, row("DeleteOnTermination of vol-1").after),
            ("true".into(), "false".into())
        );
        assert_eq!((row("Elastic IPs").before, row("Elastic IPs").after), ("198.51.100.7".into(), "none".into()));
        assert_eq!(row("termination protection").after, "on");
    }
}
