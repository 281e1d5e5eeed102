//! A workshop's shape: many exercises in one lab, many labs in one account and region. Every
//! verdict belongs to its own run, labs never answer each other's findings, and the account's one
//! GuardDuty detector is shared until the last lab leaves. Checked in the stand-in directly.

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};

use aws_config::SdkConfig;
use common::{BIN, Run, Standin, audit_now, finding_events, leftovers, notifications, outputs, shared_leftovers};

/// Runs `irlab` for lab `lab` against the stand-in.
fn irlab(s: &Standin, lab: &str, args: &[&str]) -> Run {
    let mut full = vec!["--lab", lab];
    full.extend_from_slice(args);
    s.irlab(&full)
}

fn spawn(s: &Standin, lab: &str, args: &[&str]) -> Child {
    Command::new(BIN)
        .args(["--local", "--endpoint-url", &s.endpoint, "--lab", lab])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("irlab runs")
}

fn verify_json(s: &Standin, lab: &str) -> serde_json::Value {
    irlab(s, lab, &["verify", "--timeout", "90s", "--interval", "300ms", "--output", "json"]).ok().json()
}

#[tokio::test]
async fn twenty_five_exercises_in_one_lab_each_pass_on_their_own_evidence() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let lab = "drill";
    let scenarios = ["tor-client", "bitcoin-mining", "malicious-ip", "c2-dns"];
    // 25 attack -> verify -> reset cycles; the playbook is swapped twice on the way.
    let plan: Vec<&str> = (0..25).map(|i| ["lambda", "stepfunctions", "ssm"][i * 3 / 25]).collect();
    let mut deployed = "";
    for (i, variant) in plan.iter().enumerate() {
        if deployed.is_empty() {
            irlab(&s, lab, &["up", "--playbook", variant, "--quiet", "--evidence-budget", "600"]).ok();
        } else if deployed != *variant {
            irlab(&s, lab, &["playbook", "set", variant, "--quiet"]).ok();
        }
        deployed = variant;
        let scenario = scenarios[i % scenarios.len()];
        let run = irlab(&s, lab, &["attack", scenario, "--output", "json"]).ok().json();
        let id = run["run"]["id"].as_str().unwrap().to_string();
        let verdict = verify_json(&s, lab);
        assert_eq!(verdict["run"], id.as_str());
        assert_eq!(verdict["passed"], true, "exercise {} ({variant}, {scenario}): {verdict}", i + 1);
        irlab(&s, lab, &["reset", "--quiet"]).ok();
    }
    // Every exercise left exactly its own finding in the audit trail, and one notice naming it.
    let audit = outputs(&sdk, &format!("irlab-{lab}-detection")).await["AuditLogGroupName"].clone();
    let records = audit_now(&sdk, &audit).await;
    let findings = finding_events(&records);
    assert_eq!(findings.len(), 25, "{findings:?}");
    let notes = notifications(&records);
    for f in &findings {
        assert_eq!(notes.iter().filter(|n| n.contains(f.as_str())).count(), 1, "one notice per finding: {f}");
    }

    // Run history outlives the swaps: the comparison has a time to contain for every variant.
    let compare = irlab(&s, lab, &["report", "--compare", "--format", "json"]).ok().json();
    let rows = compare.as_array().unwrap();
    let variants: Vec<&str> = rows.iter().map(|t| t["variant"].as_str().unwrap()).collect();
    assert_eq!(variants, vec!["lambda", "stepfunctions", "ssm"]);
    for t in rows {
        assert!(t["time_to_contain"].as_f64().is_some(), "no time to contain for {}: {t}", t["variant"]);
        assert!(
            t["points"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["label"].as_str().unwrap().starts_with("playbook started")),
            "the engine's own start is kept for {}",
            t["variant"]
        );
    }
    let all = irlab(&s, lab, &["report", "--all", "--format", "json"]).ok().json();
    assert_eq!(all.as_array().unwrap().len(), 25, "every verified run is in the history");

    let plan = irlab(&s, lab, &["down", "--dry-run"]).ok();
    assert!(plan.stdout.contains("history of 25 verified run(s)"), "{}", plan.stdout);
    assert!(plan.stdout.contains("report --all -o"), "down names the command that keeps a copy: {}", plan.stdout);
    irlab(&s, lab, &["down", "--yes", "--quiet"]).ok();
    assert_eq!(leftovers(&sdk, lab).await, Vec::<String>::new());
}

#[tokio::test]
async fn an_earlier_runs_containment_never_passes_a_new_run() {
    let s = Standin::start();
    let lab = "again";
    irlab(&s, lab, &["up", "--playbook", "lambda", "--quiet"]).ok();
    irlab(&s, lab, &["attack", "tor-client"]).ok();
    assert_eq!(verify_json(&s, lab)["passed"], true);

    // Still contained: a second attack is refused, and says to reset first.
    let refused = irlab(&s, lab, &["attack", "bitcoin-mining"]).code(1);
    assert!(refused.stderr.contains("still contained"), "{}", refused.stderr);
    assert!(refused.stderr.contains(&format!("--lab {lab} reset")), "{}", refused.stderr);

    // With --force, and the playbook held back: every earlier proof is there (isolated, tagged,
    // protected, notified), but none of it is this run's, so verify must not pass.
    s.delay_deliveries(8.0);
    let forced = irlab(&s, lab, &["attack", "bitcoin-mining", "--force"]).ok();
    assert!(forced.stderr.contains("--force"), "the user is told what --force means: {}", forced.stderr);
    let early =
        irlab(&s, lab, &["verify", "--timeout", "3s", "--interval", "500ms", "--output", "json"]).code(1).json();
    let failed: Vec<&str> = early["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for check in
        ["finding arrived", "playbook contained", "isolated", "tagged contained", "protected", "responders notified"]
    {
        assert!(failed.contains(&check), "{check} passed on an earlier run's evidence: {early}");
    }
    s.delay_deliveries(0.0);
    // Once this run's own playbook has answered, every check passes on this run's own evidence,
    // except the volatile evidence: the first containment took the victim's instance profile, so
    // the already isolated victim can no longer upload what it collects, and verify says so.
    let late =
        irlab(&s, lab, &["verify", "--timeout", "90s", "--interval", "500ms", "--output", "json"]).code(1).json();
    let failed: Vec<&serde_json::Value> =
        late["checks"].as_array().unwrap().iter().filter(|c| c["passed"] == false).collect();
    assert_eq!(failed.len(), 1, "{late}");
    assert_eq!(failed[0]["name"], "volatile evidence sealed", "{late}");
    assert!(failed[0]["observed"].as_str().unwrap().contains("Unable to locate credentials"), "{late}");
    irlab(&s, lab, &["down", "--yes", "--quiet"]).ok();
}

#[tokio::test]
async fn three_labs_in_one_account_answer_only_their_own_findings() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let labs = [("red", "lambda"), ("green", "stepfunctions"), ("blue", "ssm")];
    for (lab, variant) in labs {
        irlab(&s, lab, &["up", "--playbook", variant, "--quiet", "--evidence-budget", "600"]).ok();
    }
    let mut victims = HashMap::new();
    for (lab, _) in labs {
        victims.insert(lab, outputs(&sdk, &format!("irlab-{lab}-victim")).await["InstanceId"].clone());
    }
    // Attacked in turn, each verified and reset before the next.
    for (lab, _) in labs {
        irlab(&s, lab, &["attack", "tor-client"]).ok();
        assert_eq!(verify_json(&s, lab)["passed"], true, "{lab}");
        let report = irlab(&s, lab, &["report", "--format", "json"]).ok().json();
        assert_eq!(report[0]["instance"], victims[lab].as_str());
        assert!(report[0]["time_to_contain"].as_f64().is_some(), "{lab}: {report}");
    }
    s.idle();
    for (lab, _) in labs {
        let audit = outputs(&sdk, &format!("irlab-{lab}-detection")).await["AuditLogGroupName"].clone();
        let records = audit_now(&sdk, &audit).await;
        assert_eq!(finding_events(&records).len(), 1, "{lab} saw another lab's finding: {records:?}");
        for r in &records {
            let text = r.to_string();
            assert!(text.contains(&victims[lab]), "{lab}'s audit trail holds a record about another victim: {text}");
        }
        let notes = notifications(&records);
        assert_eq!(notes.len(), 1, "{lab}: {notes:?}");
        assert_eq!(snapshot_instances(&sdk, lab).await, vec![victims[lab].clone()], "{lab}'s snapshots");
    }
    // The one Step Functions lab ran once, for its own victim.
    let machine = outputs(&sdk, "irlab-green-playbook-stepfunctions").await["PlaybookArn"].clone();
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let runs = sfn.list_executions().state_machine_arn(&machine).send().await.unwrap();
    assert_eq!(runs.executions().len(), 1);
    let input = sfn.describe_execution().execution_arn(runs.executions()[0].execution_arn()).send().await.unwrap();
    assert!(input.input().unwrap().contains(&victims["green"]));
    for (i, (lab, _)) in labs.iter().enumerate() {
        irlab(&s, lab, &["down", "--yes", "--quiet"]).ok();
        assert_eq!(leftovers(&sdk, lab).await, Vec::<String>::new(), "{lab}");
        // The region's shared trail, bucket and VPC stay until the last lab leaves.
        assert_eq!(shared_leftovers(&sdk).await.is_empty(), i == labs.len() - 1, "after {lab}");
    }
}

/// The instances the lab's snapshots were taken of (the `irlab:instance` tag), deduplicated.
async fn snapshot_instances(sdk: &SdkConfig, lab: &str) -> Vec<String> {
    let filter = aws_sdk_ec2::types::Filter::builder().name("tag:irlab:lab").values(lab).build();
    let snaps =
        aws_sdk_ec2::Client::new(sdk).describe_snapshots().owner_ids("self").filters(filter).send().await.unwrap();
    let mut out: Vec<String> = snaps
        .snapshots()
        .iter()
        .flat_map(|s| s.tags())
        .filter(|t| t.key() == Some("irlab:instance"))
        .filter_map(|t| t.value().map(String::from))
        .collect();
    out.dedup();
    out
}

/// The account's detectors: (id, enabled, tags).
async fn detectors(sdk: &SdkConfig) -> Vec<(String, bool, HashMap<String, String>)> {
    let gd = aws_sdk_guardduty::Client::new(sdk);
    let mut out = Vec::new();
    for id in gd.list_detectors().send().await.unwrap().detector_ids() {
        let d = gd.get_detector().detector_id(id).send().await.unwrap();
        let enabled = d.status().map(|s| s.as_str()) == Some("ENABLED");
        out.push((id.clone(), enabled, d.tags().cloned().unwrap_or_default()));
    }
    out
}

/// Brings `labs` up at the same time; every one must succeed.
fn up_together(s: &Standin, labs: &[&str]) {
    let children: Vec<(&str, Child)> =
        labs.iter().map(|lab| (*lab, spawn(s, lab, &["up", "--playbook", "lambda", "--quiet"]))).collect();
    for (lab, child) in children {
        let r = Run::from(child.wait_with_output().unwrap());
        assert_eq!(r.code, 0, "up of {lab} failed\nstdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    }
}

#[tokio::test]
async fn five_labs_come_up_at_once_and_the_detector_outlives_its_creator() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let labs = ["l1", "l2", "l3", "l4", "l5"];
    up_together(&s, &labs);
    let found = detectors(&sdk).await;
    assert_eq!(found.len(), 1, "one detector for the account: {found:?}");
    let (id, enabled, tags) = found[0].clone();
    assert!(enabled);
    let creator = tags["irlab:lab"].clone();
    // The creator leaves first; the others keep the detector, and their status says it is fine.
    let mut order: Vec<&str> = vec![creator.as_str()];
    order.extend(labs.iter().filter(|l| **l != creator));
    for (i, lab) in order.iter().enumerate() {
        let last = i == order.len() - 1;
        let plan = irlab(&s, lab, &["down", "--dry-run"]).ok();
        if !last {
            assert!(plan.stdout.contains(&format!("keep GuardDuty detector {id}")), "{}", plan.stdout);
        }
        irlab(&s, lab, &["down", "--yes", "--quiet"]).ok();
        assert_eq!(leftovers(&sdk, lab).await, Vec::<String>::new(), "{lab}");
        if !last {
            assert_eq!(detectors(&sdk).await.len(), 1, "the detector left with {lab}, before the last lab");
            let next = order[i + 1];
            irlab(&s, next, &["status", "--quiet"]).ok();
        }
    }
    assert!(detectors(&sdk).await.is_empty(), "the last lab to leave deletes the detector a lab created");
}

async fn an_adopted_detector_is_put_back_by_the_last_lab(enabled_before: bool) {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let gd = aws_sdk_guardduty::Client::new(&sdk);
    let id = gd.create_detector().enable(enabled_before).send().await.unwrap().detector_id().unwrap().to_string();
    let labs = ["a1", "a2", "a3"];
    up_together(&s, &labs);
    let now = detectors(&sdk).await;
    assert_eq!(now.len(), 1);
    assert!(now[0].1, "the labs enabled it");
    for (i, lab) in labs.iter().enumerate() {
        irlab(&s, lab, &["down", "--yes", "--quiet"]).ok();
        let now = detectors(&sdk).await;
        assert_eq!(now.len(), 1, "an adopted detector is never deleted");
        if i < labs.len() - 1 {
            assert!(now[0].1, "{lab} left, but other labs still need the detector enabled");
        }
    }
    let (after_id, after_enabled, tags) = detectors(&sdk).await.remove(0);
    assert_eq!(after_id, id);
    assert_eq!(after_enabled, enabled_before, "put back as the first lab found it");
    assert!(!tags.keys().any(|k| k.starts_with("irlab:")), "no lab tag is left on the account's detector: {tags:?}");
}

#[tokio::test]
async fn an_adopted_disabled_detector_is_disabled_again_by_the_last_lab() {
    an_adopted_detector_is_put_back_by_the_last_lab(false).await;
}

#[tokio::test]
async fn an_adopted_enabled_detector_stays_enabled() {
    an_adopted_detector_is_put_back_by_the_last_lab(true).await;
}

#[tokio::test]
async fn a_lab_without_its_detector_says_so() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    irlab(&s, "lone", &["up", "--playbook", "lambda", "--quiet"]).ok();
    let gd = aws_sdk_guardduty::Client::new(&sdk);
    let id = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    gd.update_detector().detector_id(&id).enable(false).send().await.unwrap();
    let r = irlab(&s, "lone", &["status"]).code(1);
    assert!(r.stderr.contains("disabled"), "{}", r.stderr);
    let r = irlab(&s, "lone", &["attack", "tor-client"]).code(1);
    assert!(r.stderr.contains("nothing would detect"), "{}", r.stderr);
    gd.delete_detector().detector_id(&id).send().await.unwrap();
    let r = irlab(&s, "lone", &["status"]).code(1);
    assert!(r.stderr.contains("no detector"), "{}", r.stderr);
    assert!(r.stderr.contains("--lab lone up"), "the hint keeps the lab: {}", r.stderr);
    irlab(&s, "lone", &["down", "--yes", "--quiet"]).ok();
}
