//! What a running lab costs: a built-in price table (dated, one region) and the estimate
//! `status` prints. Prices are public on-demand list prices; the table says when and where.

use serde::Serialize;

/// The region and month the table's prices were read for.
pub const PRICE_REGION: &str = "us-east-1";
pub const PRICE_DATE: &str = "2026-11";

/// On-demand Linux prices per hour, USD.
const INSTANCE_HOURLY: &[(&str, f64)] = &[
    ("t2.micro", 0.0116),
    ("t3.nano", 0.0052),
    ("t3.micro", 0.0104),
    ("t3.small", 0.0208),
    ("t3.medium", 0.0416),
    ("t3a.nano", 0.0047),
    ("t3a.micro", 0.0094),
    ("t3a.small", 0.0188),
    ("t4g.nano", 0.0042),
    ("t4g.micro", 0.0084),
    ("t4g.small", 0.0168),
    ("t4g.medium", 0.0336),
    ("m5.large", 0.096),
    ("c5.large", 0.085),
];
/// gp3 storage, per GB-month.
const EBS_GP3_GB_MONTH: f64 = 0.08;
/// Snapshot storage, per GB-month (standard tier).
const SNAPSHOT_GB_MONTH: f64 = 0.05;
/// A public IPv4 address, per hour, whether in use or not.
const PUBLIC_IPV4_HOUR: f64 = 0.005;
/// GuardDuty bills by analysed volume; one quiet instance's flow and DNS logs are tiny.
/// New detectors get a 30-day free trial.
const GUARDDUTY_LAB_HOUR: f64 = 0.002;
/// The first trail's management events are free; S3 PUTs of log files from every region remain.
const CLOUDTRAIL_S3_HOUR: f64 = 0.001;
const HOURS_PER_MONTH: f64 = 730.0;
/// An interface VPC endpoint, per hour in each Availability Zone it serves (data processed,
/// $0.01 per GB, is not counted: Systems Manager's traffic of one victim is tiny).
const INTERFACE_ENDPOINT_AZ_HOUR: f64 = 0.01;

/// What is running, as `status` measured it.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Instance type of the victim while it is running (a stopped instance bills no compute).
    pub running_instance_type: Option<String>,
    pub ebs_gb: u64,
    pub snapshot_gb: u64,
    pub public_ipv4: u32,
    pub guardduty_enabled_by_lab: bool,
    pub trail_logging: bool,
    /// Labs sharing the region's trail (this one included): each carries its share of its cost.
    pub trail_labs: u32,
    /// Interface endpoints (one AZ each) of the shared VPC, shared by the same labs as the trail.
    pub interface_endpoints: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CostLine {
    pub item: String,
    /// None when the table has no price for it.
    pub usd_per_hour: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Estimate {
    pub lines: Vec<CostLine>,
    pub usd_per_hour: f64,
    pub usd_per_day: f64,
    /// False when a line had no price: the totals are then a lower bound.
    pub complete: bool,
    pub price_region: &'static str,
    pub price_date: &'static str,
}

/// What a lab just brought up costs: its running victim with an 8 GB gp3 volume and a public
/// IPv4 address, GuardDuty's usage, and its share (one of `labs`) of the region's trail and three
/// Systems Manager endpoints.
pub fn new_lab(instance_type: &str, labs: u32) -> Estimate {
    estimate(&Usage {
        running_instance_type: Some(instance_type.to_string()),
        ebs_gb: 8,
        snapshot_gb: 0,
        public_ipv4: 1,
        guardduty_enabled_by_lab: true,
        trail_logging: true,
        trail_labs: labs.max(1),
        interface_endpoints: 3,
    })
}

pub fn instance_hourly(instance_type: &str) -> Option<f64> {
    INSTANCE_HOURLY.iter().find(|(t, _)| *t == instance_type).map(|(_, p)| *p)
}

pub fn estimate(usage: &Usage) -> Estimate {
    let mut lines = Vec::new();
    if let Some(t) = &usage.running_instance_type {
        lines.push(CostLine { item: format!("EC2 instance {t} (running)"), usd_per_hour: instance_hourly(t) });
    }
    if usage.ebs_gb > 0 {
        lines.push(CostLine {
            item: format!("EBS gp3 {} GB", usage.ebs_gb),
            usd_per_hour: Some(usage.ebs_gb as f64 * EBS_GP3_GB_MONTH / HOURS_PER_MONTH),
        });
    }
    if usage.snapshot_gb > 0 {
        lines.push(CostLine {
            item: format!("EBS snapshots up to {} GB", usage.snapshot_gb),
            usd_per_hour: Some(usage.snapshot_gb as f64 * SNAPSHOT_GB_MONTH / HOURS_PER_MONTH),
        });
    }
    if usage.public_ipv4 > 0 {
        lines.push(CostLine {
            item: format!("public IPv4 address x{}", usage.public_ipv4),
            usd_per_hour: Some(f64::from(usage.public_ipv4) * PUBLIC_IPV4_HOUR),
        });
    }
    if usage.guardduty_enabled_by_lab {
        lines
            .push(CostLine { item: "GuardDuty (usage-based estimate)".into(), usd_per_hour: Some(GUARDDUTY_LAB_HOUR) });
    }
    if usage.trail_logging {
        let labs = usage.trail_labs.max(1);
        let item = if labs == 1 {
            "CloudTrail log delivery to S3".to_string()
        } else {
            format!("CloudTrail logs to S3 (1/{labs}: {labs} labs share it)")
        };
        lines.push(CostLine { item, usd_per_hour: Some(CLOUDTRAIL_S3_HOUR / f64::from(labs)) });
    }
    if usage.interface_endpoints > 0 {
        let labs = usage.trail_labs.max(1);
        let n = usage.interface_endpoints;
        let item = if labs == 1 {
            format!("VPC endpoints x{n} (Systems Manager)")
        } else {
            format!("VPC endpoints x{n} (Systems Manager; 1/{labs} share)")
        };
        lines.push(CostLine { item, usd_per_hour: Some(f64::from(n) * INTERFACE_ENDPOINT_AZ_HOUR / f64::from(labs)) });
    }
    let complete = lines.iter().all(|l| l.usd_per_hour.is_some());
    let per_hour: f64 = lines.iter().filter_map(|l| l.usd_per_hour).sum();
    Estimate {
        lines,
        usd_per_hour: per_hour,
        usd_per_day: per_hour * 24.0,
        complete,
        price_region: PRICE_REGION,
        price_date: PRICE_DATE,
    }
}

#[cfg(test)]
mod tests {
    /// The README's figures come from this table: a change to either shows here.
    #[test]
    fn the_readme_states_what_the_table_says() {
        let readme = include_str!("../../README.md");
        let e = super::new_lab("t3.micro", 1);
        let total = format!("**${:.2} per hour, ${:.2} per day**", e.usd_per_hour, e.usd_per_day);
        assert!(readme.contains(&total), "README's Cost section should say {total}");
        let own: f64 = e.lines.iter().filter(|l| !l.item.contains("endpoints")).filter_map(|l| l.usd_per_hour).sum();
        assert!(readme.contains(&format!("${own:.2} per hour for its own parts")), "own parts: ${own:.4}");
    }

    use super::*;

    #[test]
    fn the_shared_endpoints_cost_three_cents_an_hour_divided_among_the_labs() {
        let alone = estimate(&Usage { interface_endpoints: 3, trail_labs: 1, ..Usage::default() });
        assert!((alone.usd_per_hour - 0.03).abs() < 1e-9);
        let class = estimate(&Usage { interface_endpoints: 3, trail_labs: 20, ..Usage::default() });
        assert!((class.usd_per_hour - 0.0015).abs() < 1e-9);
        assert!(class.lines[0].item.contains("1/20 share"), "{}", class.lines[0].item);
    }

    #[test]
    fn a_running_default_lab_costs_about_two_cents_an_hour() {
        let e = estimate(&Usage {
            running_instance_type: Some("t3.micro".into()),
            ebs_gb: 8,
            public_ipv4: 1,
            guardduty_enabled_by_lab: true,
            trail_logging: true,
            trail_labs: 1,
            ..Usage::default()
        });
        assert!(e.complete);
        let expected = 0.0104 + 8.0 * 0.08 / 730.0 + 0.005 + 0.002 + 0.001;
        assert!((e.usd_per_hour - expected).abs() < 1e-9);
        assert!((e.usd_per_day - expected * 24.0).abs() < 1e-9);
    }

    #[test]
    fn a_stopped_instance_bills_only_its_storage() {
        let e = estimate(&Usage { ebs_gb: 8, ..Usage::default() });
        assert_eq!(e.lines.len(), 1);
        assert!(e.usd_per_hour < 0.001);
    }

    #[test]
    fn an_unknown_type_makes_the_estimate_a_lower_bound() {
        let e = estimate(&Usage { running_instance_type: Some("x9.huge".into()), ..Usage::default() });
        assert!(!e.complete);
        assert_eq!(e.lines[0].usd_per_hour, None);
    }

    #[test]
    fn nothing_running_costs_nothing() {
        let e = estimate(&Usage::default());
        assert!(e.lines.is_empty());
        assert_eq!(e.usd_per_hour, 0.0);
    }
}
