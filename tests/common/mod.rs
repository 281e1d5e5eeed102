//! The integration-test harness: a private stand-in per test, the real `irlab` binary, and SDK
//! clients that look at the stand-in directly (never through irlab's own code).

#![allow(dead_code)]

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
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = Command::new(BIN)
            .args(["local", "start", "--port", &port.to_string()])
            .output()
            .expect("irlab runs");
        assert!(
            out.status.success(),
            "irlab local start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Standin {
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Runs `irlab --local --endpoint-url <this stand-in> ARGS...`.
    pub fn irlab(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(BIN);
        cmd.args(["--local", "--endpoint-url", &self.endpoint])
            .args(args);
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
        let _ = Command::new(BIN)
            .args(["local", "stop", "--port", &self.port.to_string()])
            .output();
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
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// What the stand-in still holds for a lab, read service by service with the SDK.
pub async fn leftovers(sdk: &SdkConfig, lab: &str) -> Vec<String> {
    let tag = |k: &str| {
        aws_sdk_ec2::types::Filter::builder()
            .name(format!("tag:{k}"))
            .values(lab)
            .build()
    };
    let mut left = Vec::new();
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    for s in cfn.describe_stacks().send().await.unwrap().stacks() {
        let ours = s
            .tags()
            .iter()
            .any(|t| t.key() == Some("irlab:lab") && t.value() == Some(lab));
        if ours && s.stack_status().map(|x| x.as_str()) != Some("DELETE_COMPLETE") {
            left.push(format!("stack {}", s.stack_name().unwrap()));
        }
    }
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    for r in ec2
        .describe_instances()
        .filters(tag("irlab:lab"))
        .send()
        .await
        .unwrap()
        .reservations()
    {
        for i in r.instances() {
            if i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated") {
                left.push(format!("instance {}", i.instance_id().unwrap()));
            }
        }
    }
    for v in ec2
        .describe_vpcs()
        .filters(tag("irlab:lab"))
        .send()
        .await
        .unwrap()
        .vpcs()
    {
        left.push(format!("vpc {}", v.vpc_id().unwrap()));
    }
    for g in ec2
        .describe_security_groups()
        .filters(tag("irlab:lab"))
        .send()
        .await
        .unwrap()
        .security_groups()
    {
        left.push(format!("security group {}", g.group_id().unwrap()));
    }
    for s in ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(tag("irlab:lab"))
        .send()
        .await
        .unwrap()
        .snapshots()
    {
        left.push(format!("snapshot {}", s.snapshot_id().unwrap()));
    }
    for t in ec2
        .describe_internet_gateways()
        .filters(tag("irlab:lab"))
        .send()
        .await
        .unwrap()
        .internet_gateways()
    {
        left.push(format!(
            "internet gateway {}",
            t.internet_gateway_id().unwrap()
        ));
    }
    // Names alone are ambiguous (`irlab-a-` prefixes lab `a-b` too): the lab tag decides.
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    );
    for b in s3.list_buckets().send().await.unwrap().buckets() {
        let name = b.name().unwrap();
        let tags = s3
            .get_bucket_tagging()
            .bucket(name)
            .send()
            .await
            .map(|t| t.tag_set().to_vec())
            .unwrap_or_default();
        if tags
            .iter()
            .any(|t| t.key() == "irlab:lab" && t.value() == lab)
        {
            left.push(format!("bucket {name}"));
        }
    }
    let sns = aws_sdk_sns::Client::new(sdk);
    for t in sns.list_topics().send().await.unwrap().topics() {
        let arn = t.topic_arn().unwrap();
        let tags = sns
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap();
        if tags
            .tags()
            .iter()
            .any(|t| t.key() == "irlab:lab" && t.value() == lab)
        {
            left.push(format!("topic {arn}"));
        }
    }
    let sqs = aws_sdk_sqs::Client::new(sdk);
    for q in sqs.list_queues().send().await.unwrap().queue_urls() {
        let tags = sqs.list_queue_tags().queue_url(q).send().await.unwrap();
        if tags
            .tags()
            .and_then(|t| t.get("irlab:lab"))
            .map(String::as_str)
            == Some(lab)
        {
            left.push(format!("queue {q}"));
        }
    }
    for t in aws_sdk_cloudtrail::Client::new(sdk)
        .describe_trails()
        .send()
        .await
        .unwrap()
        .trail_list()
    {
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
    for p in iam
        .list_instance_profiles()
        .send()
        .await
        .unwrap()
        .instance_profiles()
    {
        if p.path().starts_with(&path) {
            left.push(format!("instance profile {}", p.instance_profile_name()));
        }
    }
    let ssm = aws_sdk_ssm::Client::new(sdk);
    for p in ssm
        .get_parameters_by_path()
        .path(format!("/irlab/{lab}"))
        .recursive(true)
        .send()
        .await
        .unwrap()
        .parameters()
    {
        left.push(format!("parameter {}", p.name().unwrap()));
    }
    let gd = aws_sdk_guardduty::Client::new(sdk);
    for id in gd.list_detectors().send().await.unwrap().detector_ids() {
        let d = gd.get_detector().detector_id(id).send().await.unwrap();
        if d.tags()
            .and_then(|t| t.get("irlab:lab"))
            .map(String::as_str)
            == Some(lab)
        {
            left.push(format!("detector {id}"));
        }
    }
    left
}
