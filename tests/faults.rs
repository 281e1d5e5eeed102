//! Under throttling, 5xx errors, dropped connections, concurrency and interrupts: every command
//! retries, resumes and loses nothing. Faults come from the stand-in's fault mode, applied to
//! irlab's own calls; the results are checked in the stand-in directly, without faults.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{BIN, Run, Standin, instance_tags, leftovers, outputs, put_finding_with_id, shared_leftovers};

fn irlab(s: &Standin, lab: &str, args: &[&str]) -> Run {
    let mut full = vec!["--lab", lab];
    full.extend_from_slice(args);
    s.irlab(&full)
}

#[tokio::test]
async fn full_cycles_at_ten_percent_faults_pass_and_leave_nothing() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    for seed in [11, 23, 37] {
        let lab = format!("f{seed}");
        s.faults(0.10, seed);
        irlab(&s, &lab, &["up", "--playbook", "lambda", "--quiet"]).ok();
        irlab(&s, &lab, &["attack", "tor-client", "--quiet"]).ok();
        irlab(&s, &lab, &["verify", "--timeout", "2m", "--interval", "500ms", "--quiet"]).ok();
        irlab(&s, &lab, &["down", "--yes", "--quiet"]).ok();
        assert!(s.faults_injected() > 0, "seed {seed}: the cycle ran without a single fault");
        s.faults(0.0, 0);
        assert_eq!(leftovers(&sdk, &lab).await, Vec::<String>::new(), "seed {seed}");
        assert_eq!(shared_leftovers(&sdk).await, Vec::<String>::new(), "seed {seed}");
    }
}

#[tokio::test]
async fn at_thirty_percent_the_same_command_without_faults_finishes_the_job() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let lab = "rough";
    // Each step runs once under 30% faults; whatever it left, the same command without
    // faults finishes, and nothing is lost on the way.
    let mut steps: Vec<(&str, Vec<&str>)> = vec![
        ("up", vec!["up", "--playbook", "stepfunctions", "--quiet", "--evidence-budget", "600"]),
        ("attack", vec!["attack", "bitcoin-mining", "--quiet"]),
        ("verify", vec!["verify", "--timeout", "2m", "--interval", "500ms", "--quiet"]),
        ("reset", vec!["reset", "--quiet"]),
        ("down", vec!["down", "--yes", "--quiet"]),
    ];
    let mut attacks = 0;
    for (i, (name, args)) in steps.drain(..).enumerate() {
        s.faults(0.30, 100 + i as u64);
        let faulted = irlab(&s, lab, &args);
        s.faults(0.0, 0);
        assert!(
            faulted.code == 0 || faulted.code == 2,
            "{name} under faults must succeed or fail as an AWS failure, never a verdict: {}",
            faulted.stderr
        );
        if name == "attack" {
            attacks += 1;
        }
        if faulted.code != 0 {
            let mut again = args.clone();
            if name == "attack" {
                // The faulted run may have gone out and been contained already.
                again.push("--force");
                attacks += 1;
            }
            irlab(&s, lab, &again).ok();
        }
        if name == "attack" {
            // Every attack is recorded, the faulted one too: verify can still judge it.
            assert_eq!(state_runs(&sdk, lab).await, attacks, "a run record was lost");
        }
    }
    assert_eq!(leftovers(&sdk, lab).await, Vec::<String>::new());
}

async fn state_runs(sdk: &aws_config::SdkConfig, lab: &str) -> usize {
    let ssm = aws_sdk_ssm::Client::new(sdk);
    let Ok(p) = ssm.get_parameter().name(format!("/irlab/{lab}/state")).send().await else { return 0 };
    let v: serde_json::Value = serde_json::from_str(p.parameter().unwrap().value().unwrap()).unwrap();
    v["runs"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn down_deletes_what_it_can_see_and_says_what_it_could_not_check() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let lab = "blind";
    irlab(&s, lab, &["up", "--playbook", "lambda", "--quiet"]).ok();
    // A restricted identity: every SQS call of irlab's is denied (not retried, as AWS's SDKs do).
    s.faults_with(r#"{"rate": 1, "kinds": ["denied"], "services": ["sqs"], "user_agent": "aws-sdk-rust"}"#);
    let r = irlab(&s, lab, &["down", "--yes"]).code(1);
    s.faults(0.0, 0);
    assert!(r.stdout.contains("could not check SQS queues"), "{}", r.stdout);
    assert!(r.stderr.contains("listing(s) failed"), "{}", r.stderr);
    // Everything it could see is gone; its state stays until a down that sees everything.
    let left = leftovers(&sdk, lab).await;
    assert_eq!(left, vec![format!("parameter /irlab/{lab}/state")], "only the state is kept");
    let r = irlab(&s, lab, &["down", "--yes"]).ok();
    assert!(r.stdout.contains("0 resources left"), "{}", r.stdout);
    assert_eq!(leftovers(&sdk, lab).await, Vec::<String>::new());
}

#[test]
fn the_same_labs_up_twice_at_once_gives_one_success_and_one_busy() {
    let s = Standin::start();
    let spawn = || {
        Command::new(BIN)
            .args(["--local", "--endpoint-url", &s.endpoint, "--lab", "twice", "up", "--playbook", "lambda", "--quiet"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let mut runs = [Run::from(a.wait_with_output().unwrap()), Run::from(b.wait_with_output().unwrap())];
    runs.sort_by_key(|r| r.code);
    assert_eq!(runs[0].code, 0, "{}", runs[0].stderr);
    assert_eq!(runs[1].code, 1, "{}", runs[1].stderr);
    assert!(runs[1].stderr.contains("lab twice is busy: irlab up by"), "{}", runs[1].stderr);
    assert!(runs[1].stderr.contains("since"), "{}", runs[1].stderr);
    // The lease went with the command: the next command takes the lab at once.
    irlab(&s, "twice", &["down", "--yes", "--quiet"]).ok();
}

#[tokio::test]
async fn a_stale_lease_expires_and_a_live_one_is_broken_only_on_purpose() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let lease = |expires: &str| {
        serde_json::json!({"command": "up", "owner": "arn:aws:iam::123456789012:user/alice", "host": "laptop",
            "pid": 4242, "since": "2026-12-01T09:00:00Z", "expires": expires})
        .to_string()
    };
    let put = |value: String| {
        ssm.put_parameter()
            .name("/irlab/held/lease")
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
    };
    put(lease("2099-01-01T00:00:00Z")).await.unwrap();
    let busy = irlab(&s, "held", &["up", "--playbook", "lambda"]).code(1);
    assert!(busy.stderr.contains("user/alice on laptop (pid 4242)"), "{}", busy.stderr);
    assert!(busy.stderr.contains("--break-lease"), "{}", busy.stderr);
    irlab(&s, "held", &["--break-lease", "up", "--playbook", "lambda", "--quiet"]).ok();
    // A crashed command's lease, past its expiry, is taken over without asking.
    put(lease("2020-01-01T00:00:00Z")).await.unwrap();
    irlab(&s, "held", &["down", "--yes", "--quiet"]).ok();
    assert_eq!(leftovers(&sdk, "held").await, Vec::<String>::new());
}

#[tokio::test]
async fn an_interrupted_up_exits_130_and_the_next_up_finishes() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    // Slow the stand-in's answers down with faults so `up` is surely still working at the signal.
    s.faults(0.5, 5);
    let child = Command::new(BIN)
        .args(["--local", "--endpoint-url", &s.endpoint, "--lab", "cut", "up", "--playbook", "lambda"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let r = Run::from(child.wait_with_output().unwrap());
    s.faults(0.0, 0);
    assert_eq!(r.code, 130, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--lab cut up` stopped part-way"), "{}", r.stderr);
    assert!(r.stderr.contains("--lab cut up"), "the hint names the command that finishes it: {}", r.stderr);
    // The lease went with it, and the same command finishes the job.
    irlab(&s, "cut", &["up", "--playbook", "lambda", "--quiet"]).ok();
    irlab(&s, "cut", &["status", "--quiet"]).ok();
    irlab(&s, "cut", &["down", "--yes", "--quiet"]).ok();
    assert_eq!(leftovers(&sdk, "cut").await, Vec::<String>::new());
}

async fn a_duplicate_delivery_keeps_verify_passing(variant: &str) {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let lab = "dup";
    irlab(&s, lab, &["up", "--playbook", variant, "--quiet", "--evidence-budget", "600"]).ok();
    let out = irlab(&s, lab, &["attack", "tor-client", "--output", "json"]).ok().json();
    let finding = out["run"]["finding_ids"][0].as_str().unwrap().to_string();
    let victim = outputs(&sdk, &format!("irlab-{lab}-victim")).await["InstanceId"].clone();
    // EventBridge delivers at least once, and GuardDuty re-sends a finding with count+1.
    put_finding_with_id(&sdk, &victim, "UnauthorizedAccess:EC2/TorClient", 8.0, &finding, 1).await;
    put_finding_with_id(&sdk, &victim, "UnauthorizedAccess:EC2/TorClient", 8.0, &finding, 2).await;
    s.idle();
    let verdict =
        irlab(&s, lab, &["verify", "--timeout", "90s", "--interval", "300ms", "--output", "json"]).ok().json();
    assert_eq!(verdict["passed"], true, "{verdict}");
    let tags = instance_tags(&sdk, &victim).await;
    let app = outputs(&sdk, &format!("irlab-{lab}-victim")).await["AppSecurityGroupId"].clone();
    assert!(tags["irlab:original-groups"].contains(&app), "the original groups survive a duplicate: {tags:?}");
    irlab(&s, lab, &["down", "--yes", "--quiet"]).ok();
}

#[tokio::test]
async fn a_duplicate_delivery_keeps_verify_passing_lambda() {
    a_duplicate_delivery_keeps_verify_passing("lambda").await;
}

#[tokio::test]
async fn a_duplicate_delivery_keeps_verify_passing_stepfunctions() {
    a_duplicate_delivery_keeps_verify_passing("stepfunctions").await;
}

#[tokio::test]
async fn a_duplicate_delivery_keeps_verify_passing_ssm() {
    a_duplicate_delivery_keeps_verify_passing("ssm").await;
}
