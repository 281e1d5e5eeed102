//! Recovery: a clean victim from the baseline `up` recorded, through the victim stack, with the
//! compromised one kept stopped, isolated and protected as evidence (`irlab recover`).
//!
//! The victim stack's instance has `UpdateReplacePolicy: Retain` and takes its private address
//! from `PrivateIpHost`: an update with a new host number replaces the instance, and
//! CloudFormation keeps the old one outside the stack instead of deleting it. `ImageId` pins the
//! recorded image, not whatever image is latest by then.

use std::time::{Duration, Instant};

use aws_sdk_ec2::types::InstanceAttributeName;
use sha2::{Digest, Sha256};

use crate::aws::{AwsContext, AwsResultExt};
use crate::error::{Error, Result};
use crate::lab::stacks::{self, Deployment, StackInfo};
use crate::lab::state::Baseline;
use crate::lab::{LAB_TAG, LabName, PART_TAG, Part};
use crate::ui::progress::{Progress, Reporter};

/// The lowest host number of the lab's /24 free for a recovered victim: not one of AWS's
/// reserved first four, and from .11 up so it reads apart from the automatic address of `up`'s.
pub async fn free_host(ctx: &AwsContext, subnet: &str) -> Result<u32> {
    let out = ctx
        .ec2()
        .describe_network_interfaces()
        .filters(aws_sdk_ec2::types::Filter::builder().name("subnet-id").values(subnet).build())
        .send()
        .await
        .aws(|| format!("listing the addresses in use in {subnet}"), ctx)?;
    let used: Vec<u32> = out
        .network_interfaces()
        .iter()
        .flat_map(|n| n.private_ip_addresses())
        .filter_map(|a| a.private_ip_address()?.rsplit('.').next()?.parse().ok())
        .collect();
    (11..=254).find(|h| !used.contains(h)).ok_or_else(|| {
        Error::problem(format!("the lab's subnet {subnet} has no free address left for a recovered victim"))
            .with_hint("run `irlab down` and `irlab up` for a fresh lab")
    })
}

/// Reads the victim's known-good definition from the instance.
pub async fn baseline(ctx: &AwsContext, instance: &str) -> Result<Baseline> {
    let ec2 = ctx.ec2();
    let desc =
        ec2.describe_instances().instance_ids(instance).send().await.aws(|| format!("describing {instance}"), ctx)?;
    let i = desc
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .next()
        .ok_or_else(|| Error::problem(format!("the victim {instance} does not exist")))?;
    let user_data = ec2
        .describe_instance_attribute()
        .instance_id(instance)
        .attribute(InstanceAttributeName::UserData)
        .send()
        .await
        .aws(|| format!("reading the user data of {instance}"), ctx)?;
    let raw = user_data
        .user_data()
        .and_then(|u| u.value())
        .map(|b64| aws_smithy_types::base64::decode(b64).unwrap_or_else(|_| b64.as_bytes().to_vec()))
        .unwrap_or_default();
    Ok(Baseline {
        instance: instance.into(),
        image_id: i.image_id().unwrap_or_default().into(),
        instance_type: i.instance_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
        user_data_sha256: Sha256::digest(&raw).iter().map(|b| format!("{b:02x}")).collect(),
        groups: i.security_groups().iter().filter_map(|g| g.group_id()).map(String::from).collect(),
        profile_arn: i.iam_instance_profile().and_then(|p| p.arn()).map(String::from),
        recorded_at: jiff::Timestamp::now().to_string(),
    })
}

/// Stops the compromised instance and leaves it protected: the stop protection the containment
/// set is lifted for the stop only. Its groups (quarantine) and termination protection stay.
pub async fn keep_stopped(ctx: &AwsContext, instance: &str, reporter: &dyn Reporter) -> Result<()> {
    let ec2 = ctx.ec2();
    reporter.report(Progress::Note(format!("stopping the compromised {instance}; it stays isolated and protected")));
    set_stop_protection(ctx, instance, false).await?;
    ec2.stop_instances().instance_ids(instance).send().await.aws(|| format!("stopping {instance}"), ctx)?;
    let started = Instant::now();
    loop {
        let d = ec2
            .describe_instances()
            .instance_ids(instance)
            .send()
            .await
            .aws(|| format!("waiting for {instance} to stop"), ctx)?;
        let state = d
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .next()
            .and_then(|i| i.state()?.name().map(|n| n.as_str().to_string()));
        if state.as_deref() == Some("stopped") {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(Error::failure(format!("{instance} did not stop within 10 minutes (it is {state:?})")));
        }
        tokio::time::sleep(if ctx.local { Duration::from_millis(300) } else { Duration::from_secs(5) }).await;
    }
    set_stop_protection(ctx, instance, true).await
}

async fn set_stop_protection(ctx: &AwsContext, instance: &str, on: bool) -> Result<()> {
    ctx.ec2()
        .modify_instance_attribute()
        .instance_id(instance)
        .disable_api_stop(aws_sdk_ec2::types::AttributeBooleanValue::builder().value(on).build())
        .send()
        .await
        .aws(|| format!("turning stop protection {} on {instance}", if on { "on" } else { "off" }), ctx)?;
    Ok(())
}

/// Updates the victim stack so that it replaces its instance with one from the baseline image,
/// at host `host` of the lab's /24. Returns the stack with its new InstanceId output.
pub async fn replace(
    ctx: &AwsContext,
    lab: &LabName,
    victim: &StackInfo,
    baseline: &Baseline,
    host: u32,
    reporter: &dyn Reporter,
) -> Result<StackInfo> {
    let mut parameters: Vec<(String, String)> = victim
        .parameters
        .iter()
        .filter(|(k, _)| k.as_str() != "ImageId" && k.as_str() != "PrivateIpHost")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    parameters.push(("ImageId".into(), baseline.image_id.clone()));
    parameters.push(("PrivateIpHost".into(), host.to_string()));
    let d = Deployment {
        stack_name: victim.name.clone(),
        template: Part::Victim.template(),
        template_url: None,
        parameters,
        tags: vec![(LAB_TAG.into(), lab.to_string()), (PART_TAG.into(), Part::Victim.to_string())],
    };
    let (_, stack) = stacks::deploy(ctx, &d, Part::Victim.as_str(), reporter).await?;
    Ok(stack)
}
