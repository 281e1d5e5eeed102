//! Bad input gets one clear line, a hint, the documented exit code, and changes nothing.

mod common;

use std::net::TcpListener;
use std::process::{Command, Stdio};

use common::{BIN, Run, Standin, leftovers};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn an_invalid_lab_name_is_refused_before_anything_is_created() {
    let s = Standin::start();
    let r = s.irlab(&["--lab", "Bad_Name", "up"]).code(1);
    assert!(r.stderr.contains("invalid lab name `Bad_Name`"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    let sdk = s.sdk().await;
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    assert!(cfn.describe_stacks().send().await.unwrap().stacks().is_empty());
    let gd = aws_sdk_guardduty::Client::new(&sdk);
    assert!(gd.list_detectors().send().await.unwrap().detector_ids().is_empty());
    assert_eq!(leftovers(&sdk, "Bad_Name").await, Vec::<String>::new());
}

#[test]
fn a_stand_in_that_is_not_running_is_named_with_the_command_that_starts_it() {
    let port = free_port();
    let out = Command::new(BIN)
        .args(["--local", "--endpoint-url", &format!("http://127.0.0.1:{port}"), "status"])
        .output()
        .unwrap();
    let r = Run::from(out).code(2);
    assert!(r.stderr.contains("not running"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("irlab local start --port {port}")), "{}", r.stderr);
}

#[test]
fn an_unknown_region_is_refused_with_a_suggestion() {
    let out = Command::new(BIN).args(["--region", "us-eats-1", "status"]).output().unwrap();
    let r = Run::from(out).code(1);
    assert!(r.stderr.contains("unknown AWS region `us-eats-1`"), "{}", r.stderr);
    assert!(r.stderr.contains("us-east-1"), "{}", r.stderr);
}

#[tokio::test]
async fn missing_credentials_say_how_to_get_some() {
    let s = Standin::start();
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["--endpoint-url", &s.endpoint, "--region", "us-east-1", "up"])
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var("PATH").unwrap())
        .env("AWS_CONFIG_FILE", home.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let r = Run::from(out).code(2);
    assert!(r.stderr.contains("no AWS credentials"), "{}", r.stderr);
    assert!(r.stderr.contains("aws sso login"), "{}", r.stderr);
    let cfn = aws_sdk_cloudformation::Client::new(&s.sdk().await);
    assert!(cfn.describe_stacks().send().await.unwrap().stacks().is_empty());
}

#[test]
fn a_usage_error_exits_1_and_help_exits_0() {
    let bad = Run::from(Command::new(BIN).args(["up", "--no-such-flag"]).output().unwrap());
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    let help = Run::from(Command::new(BIN).arg("--help").output().unwrap()).ok();
    assert!(help.stdout.contains("Exit codes"), "{}", help.stdout);
}

#[tokio::test]
async fn down_without_a_terminal_or_yes_deletes_nothing() {
    let s = Standin::start();
    s.irlab(&["up", "--quiet"]).ok();
    let out = Command::new(BIN)
        .args(["--local", "--endpoint-url", &s.endpoint, "down"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let r = Run::from(out).code(1);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    let left = leftovers(&s.sdk().await, "irlab").await;
    assert!(left.contains(&"stack irlab-irlab-victim".to_string()), "{left:?}");
    s.irlab(&["down", "--yes"]).ok();
}

#[test]
fn local_stop_ends_only_what_irlab_started() {
    let port = free_port();
    let r = Run::from(Command::new(BIN).args(["local", "stop", "--port", &port.to_string()]).output().unwrap()).ok();
    assert!(r.stdout.contains("no stand-in started by irlab"), "{}", r.stdout);
    // Something else listening on the port is reported, not killed or reused.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = listener.local_addr().unwrap().port();
    let stop = Run::from(Command::new(BIN).args(["local", "stop", "--port", &busy.to_string()]).output().unwrap()).ok();
    assert!(stop.stdout.contains("no stand-in started by irlab"), "{}", stop.stdout);
    assert!(listener.local_addr().is_ok());
}

#[test]
fn bench_refuses_to_run_against_a_real_account() {
    let r = Run::from(Command::new(BIN).args(["--region", "us-east-1", "bench"]).output().unwrap()).code(1);
    assert!(r.stderr.contains("only on the local stand-in"), "{}", r.stderr);
}
