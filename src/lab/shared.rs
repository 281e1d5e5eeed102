//! The region's shared parts: one stack per account and region (`irlab-shared`, from
//! `stacks/shared.yaml`) with the trail, its bucket and the VPC the victims run in, held jointly
//! by every lab there under the detector's rules: the first lab in creates it, the last lab out
//! removes it. Each lab adds its own /24 subnet of the VPC in its victim stack.
//!
//! Why: AWS's default quotas allow 5 VPCs and 5 trails per region, so labs that each brought
//! their own would stop a class at the fifth, and each extra trail is a paid copy of the
//! management events.

use std::hash::{Hash, Hasher};

use aws_sdk_ec2::types::Filter;

use crate::aws::{AwsContext, AwsResultExt};
use crate::error::{Error, Result};
use crate::lab::stacks::{self, Deployment, Outcome, StackInfo};
use crate::lab::state::LabState;
use crate::lab::{LabName, PART_TAG, SHARED_PART, SHARED_STACK, SHARED_TEMPLATE};
use crate::ui::progress::Reporter;

/// The shared stack, when it exists: `irlab-shared`, or the shared part a class's StackSet
/// deployed (in an attendee's own account of an organization, where the lab is alone).
pub async fn find(ctx: &AwsContext) -> Result<Option<StackInfo>> {
    if let Some(s) = stacks::describe(ctx, SHARED_STACK).await?.filter(|s| s.status != "DELETE_COMPLETE") {
        return Ok(Some(s));
    }
    stacks::tagged(ctx, None, SHARED_PART).await
}

/// Creates the shared stack, or finds it (waiting for another lab's create, or for the last lab
/// out's delete and then creating it again), and brings it up to date.
pub async fn ensure(ctx: &AwsContext, reporter: &dyn Reporter) -> Result<(Outcome, StackInfo)> {
    let d = Deployment {
        stack_name: SHARED_STACK.to_string(),
        template: SHARED_TEMPLATE,
        template_url: None,
        parameters: Vec::new(),
        tags: vec![(PART_TAG.to_string(), SHARED_PART.to_string())],
    };
    stacks::deploy(ctx, &d, SHARED_PART, reporter).await
}

/// The other labs of the region holding the shared parts: those whose `up` got as far as the
/// detector, which it records before it creates or finds the shared stack (so a lab coming up is
/// counted before it needs them). A state that holds only a workshop's progress (module 1, before
/// module 2's `up`) holds nothing: it would keep the trail and the endpoints billing for a lab
/// that never came up.
pub fn holders(others: &[LabState]) -> Vec<String> {
    others.iter().filter(|s| s.detector.is_some()).map(|s| s.lab.clone()).collect()
}

/// The lab's /24 in the shared VPC: the one it has (`kept`, from its victim stack), else the
/// first free one from a start derived from the lab's name, so labs coming up at the same time
/// rarely reach for the same block.
pub async fn subnet_cidr(ctx: &AwsContext, shared: &StackInfo, lab: &LabName, kept: Option<&str>) -> Result<String> {
    if let Some(c) = kept {
        return Ok(c.to_string());
    }
    let vpc =
        shared.output("VpcId").ok_or_else(|| Error::failure(format!("stack {SHARED_STACK} has no VpcId output")))?;
    let out = ctx
        .ec2()
        .describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .send()
        .await
        .aws(|| format!("listing the subnets of the shared VPC {vpc}"), ctx)?;
    let used: Vec<u8> = out.subnets().iter().filter_map(|s| third_octet(s.cidr_block()?)).collect();
    free_block(lab.as_str(), &used).map(|n| format!("10.42.{n}.0/24")).ok_or_else(|| {
        Error::problem(format!("the shared VPC {vpc} has no free /24 left: 254 labs already use it"))
            .with_hint("put more labs in another region (roster `region:`) or other accounts (roster `account:`)")
    })
}

/// CloudFormation's reason when the lab's subnet overlaps one created meanwhile.
pub fn is_subnet_conflict(message: &str) -> bool {
    message.contains("InvalidSubnet.Conflict") || message.contains("conflicts with another subnet")
}

fn third_octet(cidr: &str) -> Option<u8> {
    let rest = cidr.strip_prefix("10.42.")?;
    rest.split('.').next()?.parse().ok()
}

/// 1..=254: the first and last /24 stay free.
fn free_block(lab: &str, used: &[u8]) -> Option<u8> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    lab.hash(&mut h);
    let start = (h.finish() % 254) as u16;
    (0..254u16).map(|i| ((start + i) % 254 + 1) as u8).find(|n| !used.contains(n))
}

/// The lab's own objects in the shared bucket: its threat list and its history.
pub fn lab_prefixes(lab: &LabName) -> [String; 2] {
    [format!("irlab/{lab}/"), format!("{}{lab}/", crate::incident::history::PREFIX)]
}

/// Deletes every version of the lab's objects in the shared bucket; a gone bucket has none.
pub async fn delete_lab_objects(ctx: &AwsContext, bucket: &str, lab: &LabName) -> Result<usize> {
    let mut deleted = 0;
    for prefix in lab_prefixes(lab) {
        deleted += crate::lab::teardown::delete_versions(ctx, bucket, Some(&prefix)).await?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lab_takes_a_free_block_and_never_the_first_or_last() {
        let used: Vec<u8> = (1..=253).collect();
        assert_eq!(free_block("alice", &used), Some(254));
        let all: Vec<u8> = (1..=254).collect();
        assert_eq!(free_block("alice", &all), None);
        for lab in ["a", "alice", "bob", "class-3"] {
            let n = free_block(lab, &[]).unwrap();
            assert!((1..=254).contains(&n), "{lab}: {n}");
        }
    }

    #[test]
    fn different_labs_usually_start_at_different_blocks() {
        let starts: std::collections::HashSet<u8> =
            (0..20).map(|i| free_block(&format!("attendee-{i}"), &[]).unwrap()).collect();
        assert!(starts.len() >= 15, "{starts:?}");
    }

    #[test]
    fn a_lab_holds_the_shared_parts_once_its_up_recorded_the_detector() {
        use crate::lab::state::{DetectorRecord, Ownership};
        let name = |n: &str| LabName::parse(n).unwrap();
        let mut up = LabState::new(&name("alice"), "123456789012", "us-east-1");
        up.detector = Some(DetectorRecord { id: "d1".into(), ownership: Ownership::Owned, was_enabled: None });
        // bob's state holds only a workshop's progress: module 1 brings nothing up.
        let mut workshop_only = LabState::new(&name("bob"), "123456789012", "us-east-1");
        workshop_only.workshop = Some(Default::default());
        assert_eq!(holders(&[up, workshop_only]), ["alice"]);
    }

    #[test]
    fn only_blocks_of_the_lab_range_count_as_used() {
        assert_eq!(third_octet("10.42.17.0/24"), Some(17));
        assert_eq!(third_octet("10.43.17.0/24"), None);
    }
}
