//! Findings the lab puts on the bus itself: GuardDuty's event shape, with the lab's own source
//! (PutEvents refuses `aws.*` sources), for the real victim instance.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::json;

use crate::aws::{AwsContext, AwsResultExt};
use crate::error::{Error, Result};

/// The source the playbook rules accept besides `aws.guardduty`.
pub const SIMULATION_SOURCE: &str = "irlab.simulation";
pub const DETAIL_TYPE: &str = "GuardDuty Finding";

/// A finding to simulate.
#[derive(Debug, Clone)]
pub struct Simulated<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub instance_id: &'a str,
    pub finding_type: &'a str,
    pub severity: f64,
    pub title: &'a str,
}

impl Simulated<'_> {
    /// The event detail, shaped like GuardDuty's finding format (schema 2.0).
    pub fn detail(&self, id: &str) -> serde_json::Value {
        let now = jiff::Timestamp::now().to_string();
        json!({
            "schemaVersion": "2.0",
            "accountId": self.account,
            "region": self.region,
            "partition": "aws",
            "id": id,
            "arn": format!("arn:aws:guardduty:{}:{}:detector/irlab/finding/{id}", self.region, self.account),
            "type": self.finding_type,
            "resource": {
                "resourceType": "Instance",
                "instanceDetails": { "instanceId": self.instance_id }
            },
            "service": {
                "serviceName": "guardduty",
                "detectorId": "irlab-simulation",
                "eventFirstSeen": now,
                "eventLastSeen": now,
                "count": 1,
                "archived": false,
                "additionalInfo": { "sample": false, "irlabSimulated": true }
            },
            "severity": self.severity,
            "createdAt": now,
            "updatedAt": now,
            "title": self.title,
            "description": format!("Simulated by irlab: {} on {}", self.finding_type, self.instance_id)
        })
    }

    /// Puts the finding with id `id` (see [`new_id`]) on the default bus.
    pub async fn put(&self, ctx: &AwsContext, id: &str) -> Result<()> {
        let entry = PutEventsRequestEntry::builder()
            .source(SIMULATION_SOURCE)
            .detail_type(DETAIL_TYPE)
            .resources(format!("arn:aws:ec2:{}:{}:instance/{}", self.region, self.account, self.instance_id))
            .detail(self.detail(id).to_string())
            .build();
        let out = ctx
            .events()
            .put_events()
            .entries(entry)
            .send()
            .await
            .aws(|| "putting a simulated finding on the default bus".into(), ctx)?;
        if out.failed_entry_count() > 0 {
            let why = out.entries().first().and_then(|e| e.error_message()).unwrap_or("no reason given").to_string();
            return Err(Error::failure(format!("EventBridge refused the simulated finding: {why}")));
        }
        Ok(())
    }
}

/// GuardDuty finding ids are 32 lowercase hex characters; each call gives a new one.
pub fn new_id() -> String {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = jiff::Timestamp::now().as_nanosecond() as u128;
    let seq = u128::from(SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let mixed = nanos ^ (u128::from(std::process::id()) << 64) ^ (seq << 96);
    format!("{:032x}", mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detail_has_the_fields_the_playbook_rules_and_engines_read() {
        let f = Simulated {
            account: "1",
            region: "us-east-1",
            instance_id: "i-1",
            finding_type: "UnauthorizedAccess:EC2/TorClient",
            severity: 8.0,
            title: "t",
        };
        let d = f.detail("abc");
        assert_eq!(d["id"], "abc");
        assert_eq!(d["type"], "UnauthorizedAccess:EC2/TorClient");
        assert_eq!(d["severity"], 8.0);
        assert_eq!(d["resource"]["resourceType"], "Instance");
        assert_eq!(d["resource"]["instanceDetails"]["instanceId"], "i-1");
        assert_eq!(d["service"]["additionalInfo"]["sample"], false);
    }

    #[test]
    fn ids_look_like_guardduty_ids() {
        let id = new_id();
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
}
