//! Quota preflight: before anything is created, what the labs about to come up need against
//! what the account and region allow (Service Quotas) and already use.
//!
//! Four quotas decide whether labs fit, per account and region:
//! - VPCs per Region (Amazon VPC, L-F678F1CE, default 5): the account's shared lab VPC;
//! - trails per Region (CloudTrail, 5, not adjustable; a multi-Region trail counts in every
//!   Region): the account's shared trail;
//! - running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances (Amazon EC2, L-1216C47A),
//!   counted in vCPUs: one victim per lab;
//! - EC2-VPC Elastic IPs (Amazon EC2, L-0263D0A3, default 5): none needed, because victims get
//!   an auto-assigned public IPv4 address, which no quota limits (it is billed, see `cost`).
//!
//! <https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html>,
//! <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/WhatIsCloudTrail-Limits.html>,
//! <https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html>.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aws::{AwsContext, AwsResultExt, error_code};
use crate::error::Result;

/// CloudTrail's trails per Region: fixed, and not in Service Quotas as adjustable.
pub const TRAILS_PER_REGION: f64 = 5.0;

/// What is about to be created in one account and region.
#[derive(Debug, Clone, Default)]
pub struct Need {
    /// The account's shared VPC and trail do not exist yet.
    pub shared_parts: bool,
    /// One entry per victim instance to launch.
    pub instance_types: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QuotaCheck {
    pub name: &'static str,
    /// Service code and quota code in Service Quotas, where it has one.
    pub service_code: &'static str,
    pub quota_code: Option<&'static str>,
    /// None when the quota could not be read (then it is not judged).
    pub quota: Option<f64>,
    pub used: f64,
    pub need: f64,
    pub unit: &'static str,
    pub adjustable: bool,
    /// Where the quota came from, or why it could not be read.
    pub source: String,
}

impl QuotaCheck {
    pub fn short(&self) -> bool {
        self.need > 0.0 && self.quota.is_some_and(|q| self.used + self.need > q)
    }

    pub fn line(&self) -> String {
        let quota = self.quota.map_or("unknown".to_string(), |q| format!("{q}"));
        let verdict = if self.short() {
            "SHORT"
        } else if self.quota.is_none() && self.need > 0.0 {
            "unchecked"
        } else {
            "ok"
        };
        format!(
            "{:<9} {:<44} quota {:>6}, used {:>4}, needed {:>3} {}",
            verdict, self.name, quota, self.used, self.need, self.unit
        )
    }

    /// What the user can do when this quota is short.
    pub fn remedy(&self) -> String {
        let more = self.used + self.need;
        let raise = match (self.adjustable, self.quota_code) {
            (true, Some(code)) => format!(
                "request an increase to {more} (`aws service-quotas request-service-quota-increase --service-code {} --quota-code {code} --desired-value {more}`), ",
                self.service_code
            ),
            _ => "it cannot be raised: free some (an unused one), ".to_string(),
        };
        format!(
            "{}: {raise}or spread the class over another region (roster `region:`) or attendees' own accounts (roster `account:`)",
            self.name
        )
    }
}

/// Reads the quotas and usage that `need` touches.
pub async fn check(ctx: &AwsContext, need: &Need) -> Result<Vec<QuotaCheck>> {
    let shared = if need.shared_parts { 1.0 } else { 0.0 };
    let (vpc_quota, vpcs) = futures::try_join!(quota(ctx, "vpc", "L-F678F1CE", Some(5.0)), count_vpcs(ctx))?;
    let trails = count_trails(ctx).await?;
    let (cpu_quota, cpu_used, cpu_need) = futures::try_join!(
        quota(ctx, "ec2", "L-1216C47A", None),
        standard_vcpus_running(ctx),
        vcpus_of(ctx, &need.instance_types)
    )?;
    let eip_quota = quota(ctx, "ec2", "L-0263D0A3", Some(5.0)).await?;
    let eips = ctx
        .ec2()
        .describe_addresses()
        .send()
        .await
        .aws(|| "counting the Elastic IP addresses".to_string(), ctx)?
        .addresses()
        .len() as f64;
    Ok(vec![
        QuotaCheck {
            name: "VPCs per Region",
            service_code: "vpc",
            quota_code: Some("L-F678F1CE"),
            quota: vpc_quota.0,
            used: vpcs,
            need: shared,
            unit: "VPC",
            adjustable: true,
            source: vpc_quota.1,
        },
        QuotaCheck {
            name: "Trails per Region",
            service_code: "cloudtrail",
            quota_code: None,
            quota: Some(TRAILS_PER_REGION),
            used: trails,
            need: shared,
            unit: "trail",
            adjustable: false,
            source: "CloudTrail's fixed quota (not adjustable)".into(),
        },
        QuotaCheck {
            name: "Running On-Demand Standard instances",
            service_code: "ec2",
            quota_code: Some("L-1216C47A"),
            quota: cpu_quota.0,
            used: cpu_used,
            need: cpu_need,
            unit: "vCPU",
            adjustable: true,
            source: cpu_quota.1,
        },
        QuotaCheck {
            name: "EC2-VPC Elastic IPs",
            service_code: "ec2",
            quota_code: Some("L-0263D0A3"),
            quota: eip_quota.0,
            used: eips,
            need: 0.0,
            unit: "address",
            adjustable: true,
            source: format!("{} (victims use auto-assigned public IPv4 addresses instead)", eip_quota.1),
        },
    ])
}

/// The applied quota, else AWS's default; `fallback` (a documented default) when Service
/// Quotas has neither, and None when it cannot be read at all.
async fn quota(ctx: &AwsContext, service: &str, code: &str, fallback: Option<f64>) -> Result<(Option<f64>, String)> {
    let sq = ctx.servicequotas();
    match sq.get_service_quota().service_code(service).quota_code(code).send().await {
        Ok(out) => {
            if let Some(v) = out.quota().and_then(|q| q.value()) {
                return Ok((Some(v), "Service Quotas (applied)".into()));
            }
        }
        Err(e) if error_code(&e) == Some("NoSuchResourceException") => {}
        Err(e) if error_code(&e).is_some_and(|c| c.contains("AccessDenied")) => {
            return Ok((
                fallback,
                format!("not readable ({}); assumed the documented default", error_code(&e).unwrap_or("denied")),
            ));
        }
        Err(e) => return Err(e).aws(|| format!("reading the {service} quota {code}"), ctx),
    }
    match sq.get_aws_default_service_quota().service_code(service).quota_code(code).send().await {
        Ok(out) => Ok((out.quota().and_then(|q| q.value()).or(fallback), "Service Quotas (AWS default)".into())),
        Err(e) if error_code(&e) == Some("NoSuchResourceException") => {
            Ok((fallback, "not in Service Quotas; the documented default".into()))
        }
        Err(e) => Err(e).aws(|| format!("reading the default {service} quota {code}"), ctx),
    }
}

async fn count_vpcs(ctx: &AwsContext) -> Result<f64> {
    let mut n = 0;
    let mut token = None;
    loop {
        let page = ctx
            .ec2()
            .describe_vpcs()
            .set_next_token(token)
            .send()
            .await
            .aws(|| "counting the VPCs".to_string(), ctx)?;
        n += page.vpcs().len();
        token = page.next_token().map(String::from);
        if token.is_none() {
            return Ok(n as f64);
        }
    }
}

/// Trails in this region, a multi-Region trail of another home region included.
async fn count_trails(ctx: &AwsContext) -> Result<f64> {
    let out = ctx
        .cloudtrail()
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .aws(|| "counting the trails".to_string(), ctx)?;
    Ok(out.trail_list().len() as f64)
}

/// A standard family: the quota's A, C, D, H, I, M, R, T and Z. Families that start with one of
/// those letters but have their own quota (Inf, DL, HPC, Trn, Mac) are not.
fn is_standard(instance_type: &str) -> bool {
    let prefix: String = instance_type.chars().take_while(|c| c.is_ascii_lowercase()).collect();
    instance_type.starts_with(['a', 'c', 'd', 'h', 'i', 'm', 'r', 't', 'z'])
        && !["inf", "dl", "hpc", "trn", "mac"].contains(&prefix.as_str())
}

async fn standard_vcpus_running(ctx: &AwsContext) -> Result<f64> {
    use aws_sdk_ec2::types::Filter;
    let mut types = Vec::new();
    let mut token = None;
    loop {
        let page = ctx
            .ec2()
            .describe_instances()
            .filters(Filter::builder().name("instance-state-name").values("pending").values("running").build())
            .set_next_token(token)
            .send()
            .await
            .aws(|| "counting the running instances".to_string(), ctx)?;
        for i in page.reservations().iter().flat_map(|r| r.instances()) {
            if let Some(t) = i.instance_type() {
                types.push(t.as_str().to_string());
            }
        }
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    vcpus_of(ctx, &types).await
}

/// Total vCPUs of these instance types (standard families only), from DescribeInstanceTypes.
async fn vcpus_of(ctx: &AwsContext, types: &[String]) -> Result<f64> {
    let counted: Vec<&String> = types.iter().filter(|t| is_standard(t)).collect();
    if counted.is_empty() {
        return Ok(0.0);
    }
    let mut distinct: Vec<&String> = counted.clone();
    distinct.sort();
    distinct.dedup();
    let mut per_type: BTreeMap<String, i32> = BTreeMap::new();
    for chunk in distinct.chunks(100) {
        let out = match ctx
            .ec2()
            .describe_instance_types()
            .set_instance_types(Some(chunk.iter().map(|t| t.as_str().into()).collect()))
            .send()
            .await
        {
            Ok(out) => out,
            // A type EC2 does not know fails the launch itself, with its own message.
            Err(e) if error_code(&e).is_some_and(|c| c.starts_with("InvalidInstanceType")) => continue,
            Err(e) => return Err(e).aws(|| "reading the instance types' vCPUs".to_string(), ctx),
        };
        for it in out.instance_types() {
            if let (Some(t), Some(v)) = (it.instance_type(), it.v_cpu_info().and_then(|c| c.default_v_cpus())) {
                per_type.insert(t.as_str().to_string(), v);
            }
        }
    }
    // A type EC2 does not describe counts as 2 vCPUs, the smallest standard size.
    Ok(counted.iter().map(|t| f64::from(*per_type.get(t.as_str()).unwrap_or(&2))).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(quota: Option<f64>, used: f64, need: f64, adjustable: bool) -> QuotaCheck {
        QuotaCheck {
            name: "VPCs per Region",
            service_code: "vpc",
            quota_code: adjustable.then_some("L-F678F1CE"),
            quota,
            used,
            need,
            unit: "VPC",
            adjustable,
            source: String::new(),
        }
    }

    #[test]
    fn a_quota_is_short_only_when_what_is_needed_does_not_fit() {
        assert!(!q(Some(5.0), 4.0, 1.0, true).short());
        assert!(q(Some(5.0), 5.0, 1.0, true).short());
        // Nothing needed: an account already over its quota does not block.
        assert!(!q(Some(5.0), 7.0, 0.0, true).short());
        assert!(!q(None, 50.0, 1.0, true).short());
    }

    #[test]
    fn the_remedy_asks_for_exactly_what_is_needed_or_says_it_cannot_be_raised() {
        let r = q(Some(5.0), 5.0, 1.0, true).remedy();
        assert!(r.contains("--quota-code L-F678F1CE --desired-value 6"), "{r}");
        assert!(q(Some(5.0), 5.0, 1.0, false).remedy().contains("cannot be raised"));
    }

    #[test]
    fn only_standard_families_count_against_the_standard_quota() {
        for t in ["t3.micro", "m7g.large", "c6gn.xlarge", "r5.large", "z1d.large", "a1.medium"] {
            assert!(is_standard(t), "{t}");
        }
        for t in ["g4dn.xlarge", "p3.2xlarge", "x2gd.medium", "f1.2xlarge", "inf1.xlarge", "trn1.2xlarge", "mac1.metal"]
        {
            assert!(!is_standard(t), "{t}");
        }
        assert!(is_standard("i3.large") && is_standard("im4gn.large"));
    }
}
