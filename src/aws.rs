//! The one path to AWS: builds the SDK configuration once and hands out clients.
//!
//! Every command takes an [`AwsContext`]. Profile, region, endpoint override and retries are
//! decided here, so the local stand-in is reached through the same code as a real account.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::Credentials;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::env_vars;
use crate::error::{Error, Result};
use crate::regions;

/// Where the stand-in listens unless told otherwise.
pub const DEFAULT_LOCAL_ENDPOINT: &str = "http://127.0.0.1:4566";

/// How the user asked to reach AWS (the global options).
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub local: bool,
}

impl Connection {
    /// The endpoint `--local` talks to: `--endpoint-url`, else `IRLAB_LOCAL_ENDPOINT`, else the default.
    pub fn local_endpoint(&self) -> String {
        self.endpoint_url
            .clone()
            .or_else(|| std::env::var(env_vars::IRLAB_LOCAL_ENDPOINT).ok())
            .unwrap_or_else(|| DEFAULT_LOCAL_ENDPOINT.to_string())
    }
}

/// Attempts per AWS call, locally and on AWS alike (the SDK's standard retry mode).
pub const MAX_ATTEMPTS: u32 = 10;

/// The HTTP client every service client of this process shares: the SDK's default (hyper 1,
/// rustls with aws-lc, proxies from the environment), built once; against the stand-in, plain
/// HTTP on the loopback, with neither TLS nor proxies. Left to itself the SDK builds one client
/// per service client, and irlab makes a service client per call site: each read the system's
/// root certificates again (a tenth of a `down`'s CPU) and opened connections of its own.
fn shared_http_client(tls: bool) -> aws_sdk_sts::config::SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::{Builder, ConnectorBuilder, tls};
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default();
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        if !tls {
            return connector.build_http();
        }
        let mut connector = connector.tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc));
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// The SDK configuration plus the facts commands print (region, endpoint, whether local).
#[derive(Clone)]
pub struct AwsContext {
    config: SdkConfig,
    pub region: String,
    pub endpoint: Option<String>,
    pub local: bool,
    /// Who we are, asked once per process (the lease, the command and the detector's ARN all need it).
    identity: std::sync::Arc<std::sync::OnceLock<Identity>>,
}

impl AwsContext {
    pub async fn connect(conn: &Connection) -> Result<Self> {
        if let Some(region) = &conn.region {
            regions::validate(region)?;
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(shared_http_client(!conn.local))
            // The same policy against the stand-in as against AWS, so tests exercise what users
            // get. Throttling is common when labs deploy several stacks at once; 10 attempts with
            // standard backoff (up to 20 s) ride out bursts that fail 1 call in 3.
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        let endpoint = if conn.local {
            let endpoint = conn.local_endpoint();
            check_local_endpoint(&endpoint)?;
            loader = loader
                .credentials_provider(local_credentials())
                .region(Region::new(conn.region.clone().unwrap_or_else(|| "us-east-1".into())))
                .endpoint_url(&endpoint);
            Some(endpoint)
        } else {
            if let Some(profile) = &conn.profile {
                loader = loader.profile_name(profile);
            }
            if let Some(region) = &conn.region {
                loader = loader.region(Region::new(region.clone()));
            }
            if let Some(url) = &conn.endpoint_url {
                loader = loader.endpoint_url(url);
            }
            conn.endpoint_url.clone()
        };
        let config = loader.load().await;
        let region = match config.region() {
            Some(r) => r.to_string(),
            None => {
                return Err(Error::problem("no AWS region is set")
                    .with_hint("pass --region, set AWS_REGION, or give your profile a region (`aws configure`)"));
            }
        };
        regions::validate(&region)?;
        let endpoint = endpoint.or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        Ok(AwsContext { config, region, endpoint, local: conn.local, identity: Default::default() })
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.config)
    }
    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.config)
    }
    pub fn guardduty(&self) -> aws_sdk_guardduty::Client {
        aws_sdk_guardduty::Client::new(&self.config)
    }
    pub fn cloudtrail(&self) -> aws_sdk_cloudtrail::Client {
        aws_sdk_cloudtrail::Client::new(&self.config)
    }
    pub fn ssm(&self) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(&self.config)
    }
    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config)
    }
    pub fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.config)
    }
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.config)
    }
    pub fn events(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.config)
    }
    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.config)
    }
    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.config)
    }
    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.config)
    }
    pub fn scheduler(&self) -> aws_sdk_scheduler::Client {
        aws_sdk_scheduler::Client::new(&self.config)
    }
    pub fn budgets(&self) -> aws_sdk_budgets::Client {
        aws_sdk_budgets::Client::new(&self.config)
    }
    pub fn servicequotas(&self) -> aws_sdk_servicequotas::Client {
        aws_sdk_servicequotas::Client::new(&self.config)
    }
    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        aws_sdk_organizations::Client::new(&self.config)
    }
    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.config)
    }
    pub fn s3(&self) -> aws_sdk_s3::Client {
        // A host-name endpoint such as `localhost` cannot take virtual-hosted bucket names.
        let conf = aws_sdk_s3::config::Builder::from(&self.config).force_path_style(self.endpoint.is_some()).build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Who we are: the first AWS call of every command, so credential problems surface early.
    pub async fn identity(&self) -> Result<Identity> {
        if let Some(me) = self.identity.get() {
            return Ok(me.clone());
        }
        let out =
            self.sts().get_caller_identity().send().await.aws(|| "checking your AWS identity (STS)".into(), self)?;
        let me = Identity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
        };
        Ok(self.identity.get_or_init(|| me).clone())
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

/// Fails fast, with the fix, when nothing listens where the stand-in should be.
/// The stand-in's dummy credentials, or an assumed role's session handed over by `irlab class`.
fn local_credentials() -> Credentials {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if var(env_vars::IRLAB_LOCAL_ENV_CREDENTIALS).is_some()
        && let (Some(key), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
    {
        return Credentials::new(key, secret, var("AWS_SESSION_TOKEN"), None, "irlab-class");
    }
    Credentials::new("testing", "testing", None, None, "irlab-local")
}

fn check_local_endpoint(endpoint: &str) -> Result<()> {
    let Some(addr) = crate::emulator::socket_addr_of(endpoint) else {
        return Err(Error::problem(format!("`{endpoint}` is not an http://host:port endpoint")));
    };
    match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(_) => Ok(()),
        Err(e) => Err(Error::failure(format!("the local AWS stand-in is not running at {endpoint}"))
            .with_hint(format!("start it with `irlab local start --port {}`", addr.port()))
            .with_source(e)),
    }
}

/// Turns an SDK error into one clear line, with a hint where the fix is known.
pub trait AwsResultExt<T> {
    fn aws(self, what: impl FnOnce() -> String, ctx: &AwsContext) -> Result<T>;
}

impl<T, E, R> AwsResultExt<T> for std::result::Result<T, aws_sdk_sts::error::SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn aws(self, what: impl FnOnce() -> String, ctx: &AwsContext) -> Result<T> {
        self.map_err(|err| describe_sdk_error(what(), err, ctx))
    }
}

/// The error code AWS returned, if the call reached AWS.
pub fn error_code<E: ProvideErrorMetadata, R>(err: &aws_sdk_sts::error::SdkError<E, R>) -> Option<&str> {
    err.as_service_error().and_then(|e| e.code())
}

/// AWS's many ways of saying "that is not there": for a delete, done already.
pub fn is_not_found<E: ProvideErrorMetadata, R>(err: &aws_sdk_sts::error::SdkError<E, R>) -> bool {
    error_code(err).is_some_and(|c| {
        c.ends_with("NotFound")
            || c.ends_with("NotFoundException")
            || c.ends_with(".NotFound")
            || matches!(c, "NoSuchBucket" | "NoSuchKey" | "NoSuchEntity")
    })
}

fn describe_sdk_error<E, R>(what: String, err: aws_sdk_sts::error::SdkError<E, R>, ctx: &AwsContext) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let chain = {
        let mut parts = vec![err.to_string()];
        let mut next = std::error::Error::source(&err);
        while let Some(e) = next {
            parts.push(e.to_string());
            next = e.source();
        }
        parts.join(": ").to_lowercase()
    };
    if let Some(service) = err.as_service_error() {
        let code = service.code().unwrap_or("Unknown");
        let message = service.message().unwrap_or("");
        let hint = match code {
            "ExpiredToken"
            | "ExpiredTokenException"
            | "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "InvalidToken" => {
                Some("your AWS credentials are expired or invalid: refresh them (for SSO, `aws sso login`)")
            }
            "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "AuthorizationError" => {
                Some("your identity lacks a permission irlab needs; the README lists them")
            }
            "Throttling" | "ThrottlingException" | "RequestLimitExceeded" => {
                Some("AWS is throttling; wait a minute and retry")
            }
            _ => None,
        };
        let line = if message.is_empty() { format!("{what}: {code}") } else { format!("{what}: {code}: {message}") };
        let mut e = Error::failure(line).with_source(err);
        if let Some(h) = hint {
            e = e.with_hint(h);
        }
        return e;
    }
    let (line, hint) = if chain.contains("credential") {
        (
            format!("{what}: no AWS credentials were found"),
            "configure credentials (`aws configure`, `aws sso login --profile NAME`, or AWS_PROFILE), or use --local"
                .to_string(),
        )
    } else if let Some(kind) = network_failure(&chain) {
        let target = ctx.endpoint.clone().unwrap_or_else(|| format!("AWS in {}", ctx.region));
        let again = format!("{MAX_ATTEMPTS} attempts failed; run the same command again: it picks up where it stopped");
        let hint = match kind {
            Network::Refused if ctx.local => "start the stand-in with `irlab local start`".to_string(),
            Network::Refused => format!("nothing answered at {target}: check --endpoint-url and your proxy settings"),
            Network::Dns => {
                format!("the name of {target} did not resolve: check your network, DNS and the region name")
            }
            Network::TimedOut => format!("{target} did not answer in time: check your network or VPN; {again}"),
            Network::Reset => {
                format!("the connection to {target} was cut mid-request (a proxy, VPN or flaky network); {again}")
            }
        };
        (format!("{what}: could not reach {target} ({})", kind.describe()), hint)
    } else {
        (format!("{what}: {err}"), String::new())
    };
    let mut e = Error::failure(line).with_source(err);
    if !hint.is_empty() {
        e = e.with_hint(hint);
    }
    e
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Network {
    Refused,
    Dns,
    TimedOut,
    Reset,
}

impl Network {
    fn describe(self) -> &'static str {
        match self {
            Network::Refused => "connection refused",
            Network::Dns => "name not resolved",
            Network::TimedOut => "timed out",
            Network::Reset => "connection reset",
        }
    }
}

/// Which network failure a lowercased error chain names, if any.
fn network_failure(chain: &str) -> Option<Network> {
    if chain.contains("connection refused") {
        Some(Network::Refused)
    } else if chain.contains("dns error") || chain.contains("failed to lookup address") {
        Some(Network::Dns)
    } else if chain.contains("timed out") || chain.contains("timeout") {
        Some(Network::TimedOut)
    } else if chain.contains("connection reset")
        || chain.contains("broken pipe")
        || chain.contains("connection closed")
        || chain.contains("incomplete message")
        || chain.contains("dispatch failure")
        || chain.contains("io error")
    {
        Some(Network::Reset)
    } else {
        None
    }
}

#[cfg(test)]
mod network_tests {
    use super::*;

    #[test]
    fn each_network_failure_is_named() {
        assert_eq!(
            network_failure("dispatch failure: io error: connection refused (os error 111)"),
            Some(Network::Refused)
        );
        assert_eq!(
            network_failure("dispatch failure: dns error: failed to lookup address information"),
            Some(Network::Dns)
        );
        assert_eq!(network_failure("timeout: operation timed out"), Some(Network::TimedOut));
        assert_eq!(
            network_failure("dispatch failure: io error: connection reset by peer (os error 104)"),
            Some(Network::Reset)
        );
        assert_eq!(
            network_failure("dispatch failure: other: connection closed before message completed"),
            Some(Network::Reset)
        );
        assert_eq!(network_failure("service error: validationerror"), None);
    }
}
