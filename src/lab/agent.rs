//! The SSM Agent of a lab instance, as Systems Manager sees it: Run Command reaches an instance
//! only while its agent is Online.

use aws_sdk_ssm::types::{InstanceInformationFilter, InstanceInformationFilterKey};

use crate::aws::{AwsContext, AwsResultExt};
use crate::error::Result;

/// The agent's ping status (`Online`, `ConnectionLost`, ...); None when the instance is not a
/// managed node (not registered yet, or stopped).
pub async fn ping(ctx: &AwsContext, instance: &str) -> Result<Option<String>> {
    let out = ctx
        .ssm()
        .describe_instance_information()
        .instance_information_filter_list(
            InstanceInformationFilter::builder()
                .key(InstanceInformationFilterKey::InstanceIds)
                .value_set(instance)
                .build()
                .expect("key and values set"),
        )
        .send()
        .await
        .aws(|| format!("checking the SSM agent of {instance}"), ctx)?;
    Ok(out.instance_information_list().first().and_then(|i| i.ping_status()).map(|p| p.as_str().to_string()))
}
