//! Class mode against a private stand-in: rosters of labs in the instructor's account and in
//! attendees' own accounts (reached through assumed roles), checked through the SDK in every
//! account, never through irlab.

mod common;

use std::path::Path;
use std::process::Command;

use aws_config::SdkConfig;
use aws_sdk_sts::config::Credentials;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use common::{BIN, Run, Standin, leftovers, shared_leftovers};

const INSTRUCTOR: &str = "123456789012";

/// Acts in another account of the stand-in (moto's account header): how the test prepares an
/// attendee's account, as an organisation does with OrganizationAccountAccessRole.
#[derive(Debug)]
struct InAccount(String);

impl Intercept for InAccount {
    fn name(&self) -> &'static str {
        "moto-account"
    }

    fn modify_before_signing(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        ctx.request_mut().headers_mut().insert("x-moto-account-id", self.0.clone());
        Ok(())
    }
}

/// An administrator role in `account` that the instructor's account may assume.
async fn admin_role(sdk: &SdkConfig, account: &str) -> String {
    let conf = aws_sdk_iam::config::Builder::from(sdk).interceptor(InAccount(account.to_string())).build();
    let iam = aws_sdk_iam::Client::from_conf(conf);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{INSTRUCTOR}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    iam.create_role()
        .role_name("OrganizationAccountAccessRole")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name("OrganizationAccountAccessRole")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole")
}

/// The SDK acting in an attendee's account through its role, for the checks.
async fn sdk_as(s: &Standin, instructor: &SdkConfig, role_arn: &str) -> SdkConfig {
    let out = aws_sdk_sts::Client::new(instructor)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name("irlab-test")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "test",
        ))
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&s.endpoint)
        .load()
        .await
}

/// A stand-in control request (`/moto-api/irlab/...`), answered 200.
fn post(s: &Standin, path: &str, body: &str) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.0 200") || reply.starts_with("HTTP/1.1 200"), "{reply}");
}

fn class(s: &Standin, dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(BIN)
        .args(["--local", "--endpoint-url", &s.endpoint, "--yes", "class"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("irlab runs");
    Run::from(out)
}

async fn detectors(sdk: &SdkConfig) -> Vec<String> {
    aws_sdk_guardduty::Client::new(sdk).list_detectors().send().await.unwrap().detector_ids().to_vec()
}

async fn stacks(sdk: &SdkConfig) -> Vec<String> {
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    cfn.describe_stacks()
        .send()
        .await
        .unwrap()
        .stacks()
        .iter()
        .filter(|s| s.stack_status().map(|x| x.as_str()) != Some("DELETE_COMPLETE"))
        .filter_map(|s| s.stack_name().map(String::from))
        .collect()
}

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
        "class: test-class\nregion: us-east-1\ndefaults: {playbook: lambda}\nattendees:\n  - name: ann\n    playbook: stepfunctions\n  - name: ben\n    playbook: ssm\n",
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
