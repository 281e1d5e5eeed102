//! The AWS regions irlab knows, so a typo fails before anything is created.

use crate::error::{Error, Result};

/// Commercial, GovCloud and China regions as of 2026-11 (docs: "Regions and Availability Zones").
pub const KNOWN: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
];

pub fn validate(region: &str) -> Result<()> {
    if KNOWN.contains(&region) {
        return Ok(());
    }
    let near: Vec<&str> = KNOWN.iter().copied().filter(|k| close(k, region)).collect();
    let hint = if near.is_empty() {
        "use a region code such as us-east-1 or eu-west-1".to_string()
    } else {
        format!("did you mean {}?", near.join(" or "))
    };
    Err(Error::problem(format!("unknown AWS region `{region}`")).with_hint(hint))
}

/// Edit distance of at most 2: enough to catch `us-eats-1` and `eu-west1`.
fn close(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()] <= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_regions_pass() {
        assert!(validate("us-east-1").is_ok());
        assert!(validate("eu-west-1").is_ok());
    }

    #[test]
    fn a_typo_is_refused_with_a_suggestion() {
        let err = validate("us-eats-1").unwrap_err();
        assert_eq!(err.exit_code(), crate::error::exit::PROBLEM);
        assert!(err.hint.unwrap().contains("us-east-1"));
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(validate("mars-north-1").is_err());
    }
}
