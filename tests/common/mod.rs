//! The integration-test harness: a private stand-in per test, the real `irlab` binary, and SDK
//! clients that look at the stand-in directly (never through irlab's own code).
//!
//! Tests whose victim's evidence collection must be sealed bring the lab up with
//! `--evidence-budget 600`: on the stand-in the engines' waits are scaled (a Step Functions Wait
//! of 135 s lasts 6.75 s) while the victim's collection takes real seconds on a busy machine.

#![allow(dead_code)]

pub mod accounts;

use std::net::TcpListener;
use std::process::{Command, Output};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::Credentials;

pub const BIN: &str = env!("CARGO_BIN_EXE_irlab");

/// A stand-in on a free port, stopped when dropped.
pub struct Standin {
    pub port: u16,
    pub endpoint: String,
}

impl Standin {
    pub fn start() -> Standin {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // AWS's own delays (instance launch, SSM agent, snapshots, GuardDuty to EventBridge) at a
        // fifth of the engines' wait scale: every wait still happens, and a suite of many labs
        // stays within minutes (as the stand-in's own suite does, emulator/tests/conftest.py).
        let out = Command::new(BIN)
            .args(["local", "start", "--port", &port.to_string()])
            .env("IRLAB_SERVICE_SCALE", "0.01")
            .output()
            .expect("irlab runs");
        assert!(out.status.success(), "irlab local start failed: {}", String::from_utf8_lossy(&out.stderr));
        Standin { port, endpoint: format!("http://127.0.0.1:{port}") }
    }

    /// Runs `irlab --local --endpoint-url <this stand-in> ARGS...`.
    pub fn irlab(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(BIN);
        cmd.args(["--local", "--endpoint-url", &self.endpoint]).args(args);
        Run::from(cmd.output().expect("irlab runs"))
    }

    /// SDK configuration for direct checks, as account 123456789012 in us-east-1.
    pub async fn sdk(&self) -> SdkConfig {
        self.sdk_in("us-east-1").await
    }

    pub async fn sdk_in(&self, region: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .region(Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .load()
            .await
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = Command::new(BIN).args(["local", "stop", "--port", &self.port.to_string()]).output();
    }
}

/// A finished irlab run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "expected exit {code}\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// What the stand-in still holds for a lab, read service by service with the SDK.
pub async fn leftovers(sdk: &SdkConfig, lab: &str) -> Vec<String> {
    let tag = |k: &str| aws_sdk_ec2::types::Filter::builder().name(format!("tag:{k}")).values(lab).build();
    let mut left = Vec::new();
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    for s in cfn.describe_stacks().send().await.unwrap().stacks() {
        let ours = s.tags().iter().any(|t| t.key() == Some("irlab:lab") && t.value() == Some(lab));
        if ours && s.stack_status().map(|x| x.as_str()) != Some("DELETE_COMPLETE") {
            left.push(format!("stack {}", s.stack_name().unwrap()));
        }
    }
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    for r in ec2.describe_instances().filters(tag("irlab:lab")).send().await.unwrap().reservations() {
        for i in r.instances() {
            if i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated") {
                left.push(format!("instance {}", i.instance_id().unwrap()));
            }
        }
    }
    for v in ec2.describe_vpcs().filters(tag("irlab:lab")).send().await.unwrap().vpcs() {
        left.push(format!("vpc {}", v.vpc_id().unwrap()));
    }
    for g in ec2.describe_security_groups().filters(tag("irlab:lab")).send().await.unwrap().security_groups() {
        left.push(format!("security group {}", g.group_id().unwrap()));
    }
    for s in ec2.describe_snapshots().owner_ids("self").filters(tag("irlab:lab")).send().await.unwrap().snapshots() {
        left.push(format!("snapshot {}", s.snapshot_id().unwrap()));
    }
    for t in ec2.describe_internet_gateways().filters(tag("irlab:lab")).send().await.unwrap().internet_gateways() {
        left.push(format!("internet gateway {}", t.internet_gateway_id().unwrap()));
    }
    // Names alone are ambiguous (`irlab-a-` prefixes lab `a-b` too): the lab tag decides.
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build());
    for b in s3.list_buckets().send().await.unwrap().buckets() {
        let name = b.name().unwrap();
        let tags = s3.get_bucket_tagging().bucket(name).send().await.map(|t| t.tag_set().to_vec()).unwrap_or_default();
        if tags.iter().any(|t| t.key() == "irlab:lab" && t.value() == lab) {
            left.push(format!("bucket {name}"));
        }
    }
    let sns = aws_sdk_sns::Client::new(sdk);
    for t in sns.list_topics().send().await.unwrap().topics() {
        let arn = t.topic_arn().unwrap();
        let tags = sns.list_tags_for_resource().resource_arn(arn).send().await.unwrap();
        if tags.tags().iter().any(|t| t.key() == "irlab:lab" && t.value() == lab) {
            left.push(format!("topic {arn}"));
        }
    }
    let sqs = aws_sdk_sqs::Client::new(sdk);
    for q in sqs.list_queues().send().await.unwrap().queue_urls() {
        let tags = sqs.list_queue_tags().queue_url(q).send().await.unwrap();
        if tags.tags().and_then(|t| t.get("irlab:lab")).map(String::as_str) == Some(lab) {
            left.push(format!("queue {q}"));
        }
    }
    for t in aws_sdk_cloudtrail::Client::new(sdk).describe_trails().send().await.unwrap().trail_list() {
        if t.name() == Some(format!("irlab-{lab}").as_str()) {
            left.push(format!("trail {}", t.name().unwrap()));
        }
    }
    let iam = aws_sdk_iam::Client::new(sdk);
    let path = format!("/irlab/{lab}/");
    for r in iam.list_roles().send().await.unwrap().roles() {
        if r.path().starts_with(&path) {
            left.push(format!("role {}", r.role_name()));
        }
    }
    for p in iam.list_instance_profiles().send().await.unwrap().instance_profiles() {
        if p.path().starts_with(&path) {
            left.push(format!("instance profile {}", p.instance_profile_name()));
        }
    }
    let ssm = aws_sdk_ssm::Client::new(sdk);
    for name in parameter_names(&ssm, &format!("/irlab/{lab}")).await {
        left.push(format!("parameter {name}"));
    }
    // A detector the lab created is the lab's leftover only once no other lab holds it: the
    // detector belongs to the account, and the last lab to leave removes it.
    let others = parameter_names(&ssm, "/irlab/").await.iter().any(|n| n.ends_with("/state"));
    let gd = aws_sdk_guardduty::Client::new(sdk);
    for id in gd.list_detectors().send().await.unwrap().detector_ids() {
        let d = gd.get_detector().detector_id(id).send().await.unwrap();
        if d.tags().and_then(|t| t.get("irlab:lab")).map(String::as_str) == Some(lab) && !others {
            left.push(format!("detector {id}"));
        }
    }
    left
}

/// The names of every parameter under `path`, read page by page (at most 10 per page).
async fn parameter_names(ssm: &aws_sdk_ssm::Client, path: &str) -> Vec<String> {
    let pages = ssm.get_parameters_by_path().path(path).recursive(true).into_paginator().send();
    let pages = pages.try_collect().await.unwrap();
    pages.iter().flat_map(|p| p.parameters().iter().filter_map(|p| p.name().map(String::from))).collect()
}

/// Stack outputs by key.
pub async fn outputs(sdk: &SdkConfig, stack: &str) -> std::collections::HashMap<String, String> {
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let out = cfn.describe_stacks().stack_name(stack).send().await.unwrap();
    out.stacks()[0]
        .outputs()
        .iter()
        .map(|o| (o.output_key().unwrap().to_string(), o.output_value().unwrap().to_string()))
        .collect()
}

/// A stack's parameters as CloudFormation holds them.
pub async fn parameters(sdk: &SdkConfig, stack: &str) -> std::collections::HashMap<String, String> {
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let out = cfn.describe_stacks().stack_name(stack).send().await.unwrap();
    out.stacks()[0]
        .parameters()
        .iter()
        .map(|p| (p.parameter_key().unwrap().to_string(), p.parameter_value().unwrap_or_default().to_string()))
        .collect()
}

/// Puts a GuardDuty-format finding for `instance` on the default bus, as `irlab attack --mode inject`
/// will: the lab's own source, since PutEvents refuses `aws.*` sources. Returns the finding id.
pub async fn put_finding(sdk: &SdkConfig, instance: &str, finding_type: &str, severity: f64) -> String {
    let id = format!(
        "irlab-test-{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    );
    put_finding_with_id(sdk, instance, finding_type, severity, &id, 1).await;
    id
}

/// Puts a GuardDuty-shaped finding `id` on the default bus, as GuardDuty sends it the
/// `count`th time (a re-sent finding keeps its id and counts up).
pub async fn put_finding_with_id(
    sdk: &SdkConfig,
    instance: &str,
    finding_type: &str,
    severity: f64,
    id: &str,
    count: u32,
) {
    let detail = serde_json::json!({
        "schemaVersion": "2.0",
        "accountId": "123456789012",
        "region": "us-east-1",
        "id": id,
        "type": finding_type,
        "severity": severity,
        "title": "test finding",
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": instance}},
        "service": {"additionalInfo": {"sample": false}, "count": count},
    });
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source("irlab.simulation")
        .detail_type("GuardDuty Finding")
        .detail(detail.to_string())
        .build();
    let out = aws_sdk_eventbridge::Client::new(sdk).put_events().entries(entry).send().await.unwrap();
    assert_eq!(out.failed_entry_count(), 0, "{out:?}");
}

/// The instance's tags.
pub async fn instance_tags(sdk: &SdkConfig, instance: &str) -> std::collections::HashMap<String, String> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let out = ec2.describe_instances().instance_ids(instance).send().await.unwrap();
    out.reservations()[0].instances()[0]
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
        .collect()
}

/// Waits until the instance's `irlab:ir-status` tag is one of `done`; returns it.
pub async fn wait_for_ir_status(sdk: &SdkConfig, instance: &str, done: &[&str]) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let tags = instance_tags(sdk, instance).await;
        if let Some(status) = tags.get("irlab:ir-status").filter(|s| done.contains(&s.as_str())) {
            return status.clone();
        }
        assert!(std::time::Instant::now() < deadline, "instance {instance} never reached {done:?}; tags {tags:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The region's shared parts (stack `irlab-shared`: trail, bucket, VPC) still there, found
/// directly: after the last lab's `down`, none.
pub async fn shared_leftovers(sdk: &aws_config::SdkConfig) -> Vec<String> {
    let mut left = Vec::new();
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    for s in cfn.describe_stacks().send().await.unwrap().stacks() {
        if s.stack_name() == Some("irlab-shared") && s.stack_status().map(|x| x.as_str()) != Some("DELETE_COMPLETE") {
            left.push("stack irlab-shared".to_string());
        }
    }
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let shared = aws_sdk_ec2::types::Filter::builder().name("tag:irlab:part").values("shared").build();
    for v in ec2.describe_vpcs().filters(shared).send().await.unwrap().vpcs() {
        left.push(format!("vpc {}", v.vpc_id().unwrap()));
    }
    for t in aws_sdk_cloudtrail::Client::new(sdk).describe_trails().send().await.unwrap().trail_list() {
        if t.name().is_some_and(|n| n.starts_with("irlab-shared")) {
            left.push(format!("trail {}", t.name().unwrap()));
        }
    }
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build());
    for b in s3.list_buckets().send().await.unwrap().buckets() {
        if b.name().is_some_and(|n| n.starts_with("irlab-shared-")) {
            left.push(format!("bucket {}", b.name().unwrap()));
        }
    }
    left
}

/// Records of a lab's audit trail (the log group `AuditLogGroupName`, one JSON line per finding
/// event and per notification), read until `want` says it has seen enough (or 60 s pass).
pub async fn audit_messages(
    sdk: &SdkConfig,
    group: &str,
    want: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let seen = audit_now(sdk, group).await;
        if want(&seen) || std::time::Instant::now() >= deadline {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Every record of the audit trail now, oldest first.
pub async fn audit_now(sdk: &SdkConfig, group: &str) -> Vec<serde_json::Value> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = logs.filter_log_events().log_group_name(group).set_next_token(token).send().await.unwrap();
        for e in page.events() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(e.message().unwrap_or_default())
                && (v.get("detail-type").is_some() || v["Type"] == "Notification")
            {
                out.push(v);
            }
        }
        token = page.next_token().map(String::from);
        if token.is_none() {
            return out;
        }
    }
}

/// A plain HTTP request to the stand-in's own control API (`/moto-api/...`).
fn control(endpoint: &str, method: &str, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

impl Standin {
    /// Waits until the stand-in has no background work left (deliveries, invocations): after
    /// this, whatever an event was going to cause has happened.
    pub fn idle(&self) {
        let answer = control(&self.endpoint, "GET", "/moto-api/irlab/idle?timeout=60", "");
        assert!(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"), "stand-in busy: {answer}");
    }

    /// Fails a seeded fraction of irlab's own AWS calls (throttling, 5xx, dropped connections,
    /// answers lost after the call took effect), as the stand-in's fault mode does; the engines
    /// inside the stand-in are left alone.
    pub fn faults(&self, rate: f64, seed: u64) {
        let body = format!(
            "{{\"rate\": {rate}, \"kinds\": [\"throttle\", \"5xx\", \"reset\", \"lost\"], \"seed\": {seed}, \"user_agent\": \"aws-sdk-rust\"}}"
        );
        let answer = control(&self.endpoint, "POST", "/moto-api/irlab/faults", &body);
        assert!(answer.contains(" 200 "), "{answer}");
    }

    /// Fault mode with explicit settings (the stand-in's JSON body).
    pub fn faults_with(&self, body: &str) {
        let answer = control(&self.endpoint, "POST", "/moto-api/irlab/faults", body);
        assert!(answer.contains(" 200 "), "{answer}");
    }

    /// How many faults the stand-in injected since the last `faults` call.
    pub fn faults_injected(&self) -> u64 {
        let answer = control(&self.endpoint, "GET", "/moto-api/irlab/faults", "");
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(body.trim()).unwrap_or_default();
        v["injected"].as_object().map(|m| m.values().filter_map(|n| n.as_u64()).sum()).unwrap_or(0)
    }

    /// Holds every EventBridge delivery back by `seconds` (0 delivers at once again).
    pub fn delay_deliveries(&self, seconds: f64) {
        let answer =
            control(&self.endpoint, "POST", "/moto-api/irlab/events/delay", &format!("{{\"seconds\": {seconds}}}"));
        assert!(answer.contains(" 200 "), "{answer}");
    }
}

/// SNS notifications (the `Sns` object the audit recorder keeps) among audit records.
pub fn notifications(messages: &[serde_json::Value]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["Type"] == "Notification")
        .map(|m| {
            format!("{}\n{}", m["Subject"].as_str().unwrap_or_default(), m["Message"].as_str().unwrap_or_default())
        })
        .collect()
}

/// GuardDuty finding events (as EventBridge delivered them) among audit records.
pub fn finding_events(messages: &[serde_json::Value]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["detail-type"] == "GuardDuty Finding")
        .map(|m| m["detail"]["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Every function, state machine, rule, own SSM document and log group in the stand-in: in a
/// test's private stand-in only the lab makes them, so after `down` this must be empty.
pub async fn engines_left(sdk: &SdkConfig) -> Vec<String> {
    let mut left = Vec::new();
    for f in aws_sdk_lambda::Client::new(sdk).list_functions().send().await.unwrap().functions() {
        left.push(format!("function {}", f.function_name().unwrap()));
    }
    for m in aws_sdk_sfn::Client::new(sdk).list_state_machines().send().await.unwrap().state_machines() {
        left.push(format!("state machine {}", m.name()));
    }
    for r in aws_sdk_eventbridge::Client::new(sdk).list_rules().send().await.unwrap().rules() {
        left.push(format!("rule {}", r.name().unwrap()));
    }
    let own = aws_sdk_ssm::types::DocumentKeyValuesFilter::builder().key("Owner").values("Self").build();
    for d in aws_sdk_ssm::Client::new(sdk).list_documents().filters(own).send().await.unwrap().document_identifiers() {
        left.push(format!("document {}", d.name().unwrap()));
    }
    for g in aws_sdk_cloudwatchlogs::Client::new(sdk).describe_log_groups().send().await.unwrap().log_groups() {
        left.push(format!("log group {}", g.log_group_name().unwrap()));
    }
    left
}

/// The report's duration format (`report::duration`), for matching rendered pages.
pub fn report_duration(secs: Option<f64>) -> String {
    match secs {
        None => "n/a".into(),
        Some(s) if s < 60.0 => format!("{s:.1} s"),
        Some(s) => format!("{}m {:02}s", (s / 60.0) as u64, (s % 60.0) as u64),
    }
}

/// The instance profiles associated with the instance now.
pub async fn associated_profiles(sdk: &aws_config::SdkConfig, instance: &str) -> Vec<String> {
    let out = aws_sdk_ec2::Client::new(sdk)
        .describe_iam_instance_profile_associations()
        .filters(aws_sdk_ec2::types::Filter::builder().name("instance-id").values(instance).build())
        .send()
        .await
        .unwrap();
    out.iam_instance_profile_associations()
        .iter()
        .filter(|a| a.state().is_some_and(|s| s.as_str() == "associated"))
        .filter_map(|a| a.iam_instance_profile()?.arn().map(String::from))
        .collect()
}

/// Runs irlab in a pseudo-terminal of `cols` columns (tests/support/pty_drive.py), answering
/// `script`'s prompts: a list of `[text to wait for, keys to send]`.
pub fn in_terminal(cols: u16, script: serde_json::Value, args: &[&str]) -> Run {
    let driver = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/pty_drive.py");
    let out = Command::new("python3")
        .arg(driver)
        .arg(script.to_string())
        .arg("--")
        .arg(BIN)
        .args(args)
        .env("PTY_COLS", cols.to_string())
        .output()
        .expect("python3 runs");
    Run::from(out)
}
