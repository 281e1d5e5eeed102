use super::html::place;
use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn sample() -> Timeline {
    Timeline::new(Timeline {
        lab: "irlab".into(),
        run: "run-1".into(),
        scenarios: vec!["tor-client".into()],
        mode: "inject".into(),
        variant: Some("stepfunctions".into()),
        instance: "i-1".into(),
        points: vec![
            Point { label: CONTAINED.into(), at: ts("2026-11-28T10:00:09Z"), key: true },
            Point { label: ATTACK.into(), at: ts("2026-11-28T10:00:00Z"), key: true },
            Point { label: FINDING.into(), at: ts("2026-11-28T10:00:01.5Z"), key: true },
            Point { label: "containment: collect".into(), at: ts("2026-11-28T10:00:03Z"), key: false },
            Point { label: ISOLATED.into(), at: ts("2026-11-28T10:00:05Z"), key: true },
            Point { label: "step: Protect from stop".into(), at: ts("2026-11-28T10:00:06Z"), key: false },
        ],
        time_to_detect: None,
        time_to_contain: None,
        time_to_isolate: None,
        evidence: vec![EvidenceItem {
            item: "processes.txt".into(),
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
            bytes: 1234,
            collected_at: "2026-11-28T10:00:03Z".into(),
        }],
        playbook_running: false,
        account: "123456789012".into(),
        region: "eu-west-1".into(),
        finding: Some(FindingFacts {
            id: "f-1".into(),
            finding_type: "UnauthorizedAccess:EC2/TorClient".into(),
            severity: Some(8.0),
            title: Some("EC2 instance i-1 is communicating with Tor Entry/Guard nodes.".into()),
        }),
        checks: vec![
            CheckVerdict { name: "isolated".into(), passed: true, observed: "eni-1: sg-q".into() },
            CheckVerdict { name: "protected".into(), passed: false, observed: "stop protection off".into() },
        ],
        checked_at: Some(ts("2026-11-28T10:00:12Z")),
        snapshots: vec![SnapshotItem { volume: "vol-1".into(), snapshot: "snap-1".into(), state: "completed".into() }],
        changes: vec![Change {
            what: "security groups of eni-1".into(),
            before: "sg-app".into(),
            after: "sg-q (quarantine)".into(),
        }],
    })
}

fn one(t: Timeline) -> Vec<RunReport> {
    let lab = [t.clone()];
    build(vec![t], &lab)
}

#[test]
fn points_are_ordered_and_the_durations_derived() {
    let t = sample();
    let labels: Vec<&str> = t.points.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels[..3], [ATTACK, FINDING, "containment: collect"]);
    assert_eq!(t.time_to_detect, Some(1.5));
    assert_eq!(t.time_to_isolate, Some(3.5));
    assert_eq!(t.time_to_contain, Some(7.5));
}

#[test]
fn a_missing_point_leaves_its_duration_unknown() {
    let mut t = sample();
    t.points.retain(|p| p.label != CONTAINED);
    let t = Timeline::new(t);
    assert_eq!(t.time_to_contain, None);
    assert_eq!(duration(t.time_to_contain), "n/a");
}

#[test]
fn the_summary_names_where_what_and_how_fast_in_every_format() {
    let t = sample();
    let fields = summary(&t);
    let get = |k: &str| fields.iter().find(|(f, _)| *f == k).map(|(_, v)| v.as_str()).unwrap();
    assert_eq!(get("Date (UTC)"), "2026-11-28 10:00:00");
    assert_eq!(get("Account"), "123456789012");
    assert_eq!(get("Severity"), "High (8.0)");
    assert_eq!(get("Time to isolate"), "3.5 s");
    let runs = one(t);
    let md = markdown(&runs);
    let page = html(&runs);
    for (k, v) in &fields {
        assert!(md.contains(&format!("| {k} | {v} |")), "{k} in {md}");
        let on_page = match k.strip_prefix("Time to ") {
            Some(what) => format!("<span>time to {what}</span><b>{v}</b>"),
            None => format!("<dt>{k}</dt><dd>{v}</dd>"),
        };
        assert!(page.contains(&on_page), "{on_page} in the page");
    }
    assert!(md.contains("| protected | FAIL | stop protection off |"), "{md}");
    assert!(page.contains("<td class=\"fail\">&#10007; FAIL</td>"), "the verdict is a word, not a colour alone");
    let json = serde_json::to_value(&runs).unwrap();
    assert_eq!(json[0]["finding"]["type"], "UnauthorizedAccess:EC2/TorClient");
    assert_eq!(json[0]["time_to_isolate"], 3.5);
    assert_eq!(json[0]["checks"][1]["passed"], false);
    assert!(json[0]["review"]["went_well"].as_array().is_some_and(|w| !w.is_empty()));
}

#[test]
fn severity_levels_follow_guardduty() {
    let f = |s: f64| FindingFacts { id: String::new(), finding_type: String::new(), severity: Some(s), title: None };
    assert_eq!(f(2.0).severity_text(), "Low (2.0)");
    assert_eq!(f(5.0).severity_text(), "Medium (5.0)");
    assert_eq!(f(8.9).severity_text(), "High (8.9)");
    assert_eq!(f(9.0).severity_text(), "Critical (9.0)");
}

#[test]
fn the_evidence_and_the_changes_are_listed_with_their_ids() {
    let runs = one(sample());
    let md = markdown(&runs);
    assert!(
        md.contains("| processes.txt | `ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad` | 1234 |"),
        "{md}"
    );
    assert!(md.contains("| vol-1 | snap-1 | completed |"), "{md}");
    assert!(md.contains("| security groups of eni-1 | sg-app | sg-q (quarantine) |"), "{md}");
    let page = html(&runs);
    assert!(page.contains("<table id=\"evidence-run-1\">") && page.contains("<td>processes.txt</td>"));
    assert!(page.contains("<table id=\"snapshots-run-1\">") && page.contains("<code>snap-1</code>"));
    assert!(page.contains("<td>sg-app</td><td>sg-q (quarantine)</td>"));
}

#[test]
fn the_page_is_self_contained_prints_and_folds_steps_into_phases() {
    let page = html(&one(sample()));
    assert_eq!(page.matches("<svg").count(), 1);
    assert_eq!(page.matches("class=\"point key\"").count(), 4);
    assert!(!page.contains("<script") && !page.contains("src=\"http") && !page.contains("href=\"http"));
    assert!(page.contains("@media print"));
    assert!(page.contains("<b>1.5 s</b>") && page.contains("<b>7.5 s</b>") && page.contains("<b>3.5 s</b>"));
    // Each phase reached is one expandable block holding its points.
    assert_eq!(page.matches("<details class=\"phase\"").count(), 3, "detect, evidence, contain");
    assert!(page.contains("<details class=\"phase\" data-phase=\"evidence\"><summary><b>evidence</b>"));
}

#[test]
fn markdown_lists_every_point_and_compares_runs() {
    let mut other = sample();
    other.run = "run-2".into();
    other.variant = Some("lambda".into());
    let lab = [sample(), other.clone()];
    let runs = build(vec![sample(), other], &lab);
    let md = markdown(&runs);
    assert!(md.contains("| 10:00:05.000 | 5.0 | contain | isolated |"), "{md}");
    assert!(md.contains("| run-2 | lambda | 1.5 s | 3.5 s | 7.5 s | evidence 0.0 s, contain 4.0 s |"), "{md}");
    let page = html(&runs);
    assert!(page.contains("class=\"compare-chart\""), "the comparison has its chart");
    assert!(page.find("class=\"compare-chart\"") < page.find("<table id=\"compare\">"), "the chart is above the table");
}

#[test]
fn the_review_measures_and_compares_with_the_labs_other_variants() {
    let t = sample();
    let mut lambda = sample();
    lambda.run = "run-0".into();
    lambda.variant = Some("lambda".into());
    lambda.points.retain(|p| p.label != CONTAINED);
    lambda.points.push(Point { label: CONTAINED.into(), at: ts("2026-11-28T10:00:04.5Z"), key: true });
    let lambda = Timeline::new(lambda);
    let r = t.review(&[lambda, t.clone()]);
    assert!(r.went_well.iter().any(|w| w == "contained 7.5 s after the finding, without a person"), "{r:?}");
    assert!(r.went_well.iter().any(|w| w == "1 of 2 verify checks passed"), "{r:?}");
    assert!(r.went_well.iter().any(|w| w == "1 of 1 volume snapshot(s) completed"), "{r:?}");
    assert!(r.time_went.iter().any(|w| w.starts_with("contain: 4.0 s (44% of the run)")), "{r:?}");
    assert!(r.time_went.iter().any(|w| w.starts_with("waited 3.0 s between")), "{r:?}");
    assert!(
        r.other_variants[0].starts_with("lambda contained run-0 in 3.0 s after its finding, 4.5 s faster"),
        "{r:?}"
    );
    assert!(r.other_variants[1].starts_with("ssm: no contained run in this lab"), "{r:?}");
    assert!(r.further[0] == "check `protected` failed: stop protection off", "{r:?}");
}

#[test]
fn the_lifecycle_lanes_and_the_review_follow_what_the_run_reached() {
    let mut t = sample();
    let names = |t: &Timeline| t.lanes().iter().map(|l| l.phase.name()).collect::<Vec<_>>();
    assert_eq!(names(&t), vec!["detect", "evidence", "contain"]);
    let r = t.review(&[]);
    assert_eq!(r.done[1..], ["not eradicated".to_string(), "not recovered".to_string()]);
    assert!(
        r.further.iter().any(|f| f.contains("it eradicates in the same execution after a human's approval")),
        "{r:?}"
    );
    t.points.push(Point { label: ERADICATION_STARTED.into(), at: ts("2026-11-28T10:01:00Z"), key: false });
    t.points.push(Point { label: ERADICATED.into(), at: ts("2026-11-28T10:01:20Z"), key: true });
    t.points.push(Point { label: RECOVERY_STARTED.into(), at: ts("2026-11-28T10:02:00Z"), key: false });
    t.points.push(Point { label: RECOVERED.into(), at: ts("2026-11-28T10:02:30Z"), key: true });
    t.points.push(Point { label: NOTIFIED.into(), at: ts("2026-11-28T10:00:09.5Z"), key: false });
    let t = Timeline::new(t);
    let lanes = t.lanes();
    assert_eq!(names(&t), vec!["detect", "evidence", "contain", "notify", "eradicate", "recover"]);
    assert_eq!(lanes[4].lasted(), 20.0);
    let md = markdown(&one(t.clone()));
    assert!(md.contains("| eradicate | 60.0 | 80.0 | 20.0 s | 2 |"), "{md}");
    assert!(md.contains("- recovered by hand (`irlab recover`)"), "{md}");
    let page = html(&one(t));
    assert_eq!(page.matches("<rect class=\"lane ").count(), 6, "{page}");
    let mut lambda = sample();
    lambda.variant = Some("lambda".into());
    assert!(lambda.review(&[]).further.iter().any(|f| f.contains("cannot wait for a human's approval")));
    assert_eq!(Phase::of("containment: collect"), Phase::Evidence);
    assert_eq!(Phase::of("containment: record"), Phase::Analyse);
    assert_eq!(Phase::of("containment: cut"), Phase::Contain);
    assert_eq!(Phase::of("step: Snapshot volumes"), Phase::Evidence);
    assert_eq!(Phase::of("step: Notify contained"), Phase::Notify);
    assert_eq!(Phase::of("step: Triage"), Phase::Analyse);
    // After containment: the approval and the playbook's own eradication.
    for label in ["step: Ask approval", "step: Send eradication", "step: waitForApproval", "approved by alice"] {
        assert_eq!(Phase::of(label), Phase::Eradicate, "{label}");
    }
    for label in ["step: Stop compromised", "step: Update victim stack", "step: Point rule at new victim"] {
        assert_eq!(Phase::of(label), Phase::Recover, "{label}");
    }
    // The containment protects the instance from a stop; the recovery stops it.
    assert_eq!(Phase::of("step: Protect from stop"), Phase::Contain);
}

#[test]
fn an_approved_playbook_eradication_is_told_apart_from_one_by_hand() {
    let mut t = sample();
    t.points.push(Point { label: "approved by alice".into(), at: ts("2026-11-28T10:01:00Z"), key: true });
    t.points.push(Point { label: ERADICATED_BY_PLAYBOOK.into(), at: ts("2026-11-28T10:01:30Z"), key: true });
    let r = Timeline::new(t).review(&[]);
    assert!(r.done.contains(&"approved by alice after containment".to_string()), "{r:?}");
    assert!(
        r.done.iter().any(|d| d.starts_with("eradicated by the stepfunctions playbook after the approval")),
        "{r:?}"
    );
    assert!(r.further.iter().any(|f| f.contains("recovery was left to `irlab recover`")), "{r:?}");
    let mut silent = sample();
    silent.points.push(Point { label: APPROVAL_TIMED_OUT.into(), at: ts("2026-11-28T10:01:00Z"), key: true });
    let r = Timeline::new(silent).review(&[]);
    assert!(r.done.iter().any(|d| d.starts_with("nobody approved or rejected in time")), "{r:?}");
    assert!(r.done.contains(&"not eradicated".to_string()), "{r:?}");
}

#[test]
fn labels_placed_close_together_go_to_separate_rows_and_none_overlap() {
    // Five labels within a few pixels, one at the right edge.
    let labels = [(100.0, 20), (104.0, 20), (108.0, 10), (400.0, 12), (930.0, 16)];
    let placed = place(&labels, 936.0);
    for (i, a) in placed.iter().enumerate() {
        for b in &placed[i + 1..] {
            let apart = a.row != b.row || a.x + a.width <= b.x || b.x + b.width <= a.x;
            assert!(apart, "{a:?} overlaps {b:?}");
        }
    }
    assert_eq!(placed.iter().map(|p| p.row).collect::<Vec<_>>(), vec![0, 1, 2, 0, 0]);
    assert!(placed[4].anchor_end && placed[4].x + placed[4].width <= 936.0, "{:?}", placed[4]);
}

#[test]
fn old_kept_timelines_without_the_new_facts_still_read() {
    let old = r#"{"lab":"a","run":"r","scenarios":["tor-client"],"mode":"inject","variant":"lambda","instance":"i-1",
        "points":[{"label":"attack started","at":"2026-11-28T10:00:00Z","key":true}],
        "time_to_detect":null,"time_to_contain":null}"#;
    let t: Timeline = serde_json::from_str(old).unwrap();
    let md = markdown(&one(Timeline::new(t)));
    assert!(md.contains("| Account | not recorded |"), "{md}");
    assert!(md.contains("No check was judged for this run"), "{md}");
}

#[test]
fn labels_are_escaped() {
    let mut t = sample();
    t.points[0].label = "<script>".into();
    assert!(!html(&one(t)).contains("<script>"));
}
