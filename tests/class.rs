//! Class mode against a private stand-in: rosters of labs in the instructor's account and in
//! attendees' own accounts (reached through assumed roles), checked through the SDK in every
//! account, never through irlab.

mod common;

use common::accounts::{INSTRUCTOR, admin_role, class, detectors, post, sdk_as, stacks};
use common::{Standin, leftovers, shared_leftovers};

#[tokio::test]
async fn a_class_of_twelve_across_seven_accounts_runs_two_exercises_and_leaves_every_account_as_it_was() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let dir = tempfile::tempdir().unwrap();
    let accounts: Vec<String> = (1..=6).map(|i| format!("1111000000{i:02}")).collect();
    let mut roles = Vec::new();
    for a in &accounts {
        roles.push(admin_role(&sdk, a).await);
    }
    let mut roster = String::from(
        "class: test-class\nregion: us-east-1\ndefaults: {playbook: lambda, evidence_budget: 600}\nattendees:\n  - name: ann\n    playbook: stepfunctions\n  - name: ben\n    playbook: ssm\n",
    );
    for name in ["cat", "dan", "eve", "fay"] {
        roster.push_str(&format!("  - name: {name}\n"));
    }
    for (i, role) in roles.iter().enumerate() {
        roster.push_str(&format!("  - name: remote-{i}\n    account: {{role_arn: \"{role}\"}}\n"));
    }
    std::fs::write(dir.path().join("roster.yaml"), roster).unwrap();
    let r = ["--roster", "roster.yaml", "--parallel", "6"];
    fn with<'a>(cmd: &[&'a str], r: &[&'a str]) -> Vec<&'a str> {
        [cmd, r].concat()
    }

    class(&s, dir.path(), &with(&["up"], &r)).ok();
    for round in 1..=2 {
        class(&s, dir.path(), &[&with(&["attack"], &r)[..], &["--", "--mode", "inject", "tor-client"]].concat()).ok();
        let junit = format!("round{round}.xml");
        class(&s, dir.path(), &[&with(&["verify"], &r)[..], &["--junit", &junit]].concat()).ok();
        let xml = std::fs::read_to_string(dir.path().join(&junit)).unwrap();
        assert_eq!(xml.matches("<testsuite ").count(), 12, "{xml}");
        assert_eq!(xml.matches("<failure ").count(), 0, "{xml}");
        if round == 1 {
            class(&s, dir.path(), &with(&["reset"], &r)).ok();
        }
    }

    // The gradebook: every lab up, two runs each, both verified, in seven accounts.
    let book = class(&s, dir.path(), &[&with(&["status"], &r)[..], &["--output", "json"]].concat()).ok();
    let book: serde_json::Value = serde_json::from_str(&book.stdout).unwrap();
    assert_eq!(book["labs_up"], 12, "{book:#}");
    assert_eq!(book["accounts"], 7, "{book:#}");
    assert_eq!(book["passed"], 12, "{book:#}");
    for row in book["rows"].as_array().unwrap() {
        assert_eq!(row["runs"], 2, "{row}");
        assert_eq!(row["state"], "contained", "{row}");
        assert!(row["time_to_contain"].as_f64().is_some(), "{row}");
    }
    let ann = &book["rows"][0];
    assert_eq!((ann["attendee"].as_str(), ann["playbook"].as_str()), (Some("ann"), Some("stepfunctions")));
    // Each remote lab lives in its own account, not the instructor's.
    for (i, a) in accounts.iter().enumerate() {
        assert_eq!(book["rows"][6 + i]["account"], a.as_str());
    }
    let mine = stacks(&sdk).await;
    assert!(
        mine.iter().any(|s| s == "irlab-ann-victim") && !mine.iter().any(|s| s.starts_with("irlab-remote-")),
        "{mine:?}"
    );

    let down = class(&s, dir.path(), &with(&["down"], &r)).ok();
    assert!(down.stdout.contains("0 resources left in 12 labs across 7 account(s)"), "{}", down.stdout);
    // Every account is as it was before the class: no stack, no lab resource, no shared part,
    // no detector (none of these accounts had one).
    let mut views = vec![(INSTRUCTOR.to_string(), sdk.clone())];
    for (a, role) in accounts.iter().zip(&roles) {
        views.push((a.clone(), sdk_as(&s, &sdk, role).await));
    }
    for (account, view) in &views {
        assert_eq!(stacks(view).await, Vec::<String>::new(), "{account}");
        assert_eq!(shared_leftovers(view).await, Vec::<String>::new(), "{account}");
        assert_eq!(detectors(view).await, Vec::<String>::new(), "{account}");
    }
    for name in ["ann", "ben", "cat", "dan", "eve", "fay"] {
        assert_eq!(leftovers(&sdk, name).await, Vec::<String>::new(), "{name}");
    }
    for (i, (_, view)) in views[1..].iter().enumerate() {
        assert_eq!(leftovers(view, &format!("remote-{i}")).await, Vec::<String>::new());
    }
}

#[tokio::test]
async fn a_roster_with_a_bad_entry_is_refused_with_line_and_column_before_anything_is_created() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let dir = tempfile::tempdir().unwrap();
    let roster =
        "class: c1\nattendees:\n  - name: ok-one\n  - name: Not_Valid\n  - name: two\n    acount: {profile: x}\n";
    std::fs::write(dir.path().join("roster.yaml"), roster).unwrap();
    let r = class(&s, dir.path(), &["up", "--roster", "roster.yaml"]).code(1);
    assert!(r.stderr.contains("roster.yaml:6:5"), "the misspelt key, by line and column: {}", r.stderr);
    let fixed = roster.replace("acount", "account");
    std::fs::write(dir.path().join("roster.yaml"), fixed).unwrap();
    let r = class(&s, dir.path(), &["up", "--roster", "roster.yaml"]).code(1);
    assert!(r.stderr.contains("roster.yaml:4:11: invalid lab name `Not_Valid`"), "{}", r.stderr);
    assert_eq!(stacks(&sdk).await, Vec::<String>::new());
    assert!(!dir.path().join("irlab-c1").exists(), "nothing written either");
}

#[tokio::test]
async fn an_account_that_refuses_the_instructor_fails_alone_and_failed_retries_only_it() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let dir = tempfile::tempdir().unwrap();
    let role = "arn:aws:iam::222200000001:role/OrganizationAccountAccessRole";
    let roster = format!(
        "class: c2\ndefaults: {{playbook: lambda}}\nattendees:\n  - name: here-1\n  - name: away\n    account: {{role_arn: \"{role}\"}}\n  - name: here-2\n"
    );
    std::fs::write(dir.path().join("roster.yaml"), roster).unwrap();

    let first = class(&s, dir.path(), &["up", "--roster", "roster.yaml"]).code(1);
    assert!(first.stderr.contains("up failed for 1 of 3 attendee(s): away"), "{}", first.stderr);
    assert!(
        first.stderr.contains("irlab --local --endpoint-url"),
        "the retry command keeps the connection: {}",
        first.stderr
    );
    assert!(first.stderr.contains("class up --roster roster.yaml --failed"), "{}", first.stderr);
    let log = std::fs::read_to_string(dir.path().join("irlab-c2/logs/away.log")).unwrap();
    assert!(log.contains("AccessDenied") || log.contains("not authorized"), "{log}");
    let mine = stacks(&sdk).await;
    assert!(mine.contains(&"irlab-here-1-victim".to_string()) && mine.contains(&"irlab-here-2-victim".to_string()));

    // The account's administrator adds the role; only the failed attendee is run again.
    admin_role(&sdk, "222200000001").await;
    let retry = class(&s, dir.path(), &["up", "--roster", "roster.yaml", "--failed", "--output", "json"]).ok();
    let retry: serde_json::Value = serde_json::from_str(&retry.stdout).unwrap();
    let ran: Vec<&str> =
        retry["outcomes"].as_array().unwrap().iter().map(|o| o["attendee"].as_str().unwrap()).collect();
    assert_eq!(ran, ["away"]);
    let away = sdk_as(&s, &sdk, role).await;
    assert!(stacks(&away).await.contains(&"irlab-away-victim".to_string()));
    let nothing = class(&s, dir.path(), &["up", "--roster", "roster.yaml", "--failed"]).ok();
    assert!(nothing.stdout.contains("nothing failed"), "{}", nothing.stdout);

    class(&s, dir.path(), &["down", "--roster", "roster.yaml"]).ok();
    assert_eq!(stacks(&sdk).await, Vec::<String>::new());
    assert_eq!(stacks(&away).await, Vec::<String>::new());
}

#[tokio::test]
async fn the_quota_preflight_refuses_a_class_that_does_not_fit_and_creates_nothing() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    // Four vCPUs: two t3.micro victims fit, three do not.
    let body = format!(
        r#"{{"account":"{INSTRUCTOR}","region":"us-east-1","service_code":"ec2","quota_code":"L-1216C47A","value":4}}"#
    );
    post(&s, "/moto-api/irlab/service-quotas", &body);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("roster.yaml"), "class: c3\nattendees: [{name: a1}, {name: a2}, {name: a3}]\n")
        .unwrap();
    let r = class(&s, dir.path(), &["up", "--roster", "roster.yaml"]).code(1);
    assert!(r.stdout.contains("Running On-Demand Standard instances: quota 4, used 0, needed 6"), "{}", r.stdout);
    assert!(r.stdout.contains("--quota-code L-1216C47A --desired-value 6"), "{}", r.stdout);
    assert!(r.stderr.contains("quota preflight failed in 1 of 1 account(s); nothing was created"), "{}", r.stderr);
    assert_eq!(stacks(&sdk).await, Vec::<String>::new());
    assert_eq!(detectors(&sdk).await, Vec::<String>::new());
}
