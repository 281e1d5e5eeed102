//! Other accounts of the stand-in, as an organization's instructor reaches them: roles the
//! instructor may assume, SDK views from inside each account, and `irlab class` runs.

use std::path::Path;
use std::process::Command;

use aws_config::SdkConfig;
use aws_sdk_sts::config::Credentials;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use super::{BIN, Run, Standin};

pub const INSTRUCTOR: &str = "123456789012";

/// Acts in another account of the stand-in (moto's account header): how the test prepares an
/// attendee's account, as an organisation does with OrganizationAccountAccessRole.
#[derive(Debug)]
pub struct InAccount(pub String);

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
pub async fn admin_role(sdk: &SdkConfig, account: &str) -> String {
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
pub async fn sdk_as(s: &Standin, instructor: &SdkConfig, role_arn: &str) -> SdkConfig {
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
pub fn post(s: &Standin, path: &str, body: &str) {
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

pub fn class<S: AsRef<std::ffi::OsStr>>(s: &Standin, dir: &Path, args: &[S]) -> Run {
    let out = Command::new(BIN)
        .args(["--local", "--endpoint-url", &s.endpoint, "--yes", "class"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("irlab runs");
    Run::from(out)
}

pub async fn detectors(sdk: &SdkConfig) -> Vec<String> {
    aws_sdk_guardduty::Client::new(sdk).list_detectors().send().await.unwrap().detector_ids().to_vec()
}

pub async fn stacks(sdk: &SdkConfig) -> Vec<String> {
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
