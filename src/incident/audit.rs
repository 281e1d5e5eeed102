//! The lab's audit trail: a CloudWatch Logs group (detection stack output `AuditLogGroupName`)
//! where the lab's audit recorder writes, as one JSON line each, every finding event the
//! playbook's rule matched and every notification the alert topic sent.
//!
//! Unlike a queue it is read completely (every page) and selectively (from a time on), for any
//! number of runs, and nothing is consumed by reading it.

use jiff::Timestamp;
use serde_json::Value;

use crate::aws::AwsContext;
use crate::error::Result;
use crate::incident::log_events;

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// When the recorder wrote it.
    pub at: Timestamp,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A GuardDuty finding event the lab's rule delivered.
    Finding {
        id: String,
        finding_type: String,
        instance: String,
        created_at: Option<Timestamp>,
        /// GuardDuty's severity, 1.0 to 10.0 (Low below 4, Medium below 7, High below 9).
        severity: Option<f64>,
        title: Option<String>,
    },
    /// A message of the alert topic.
    Notification { subject: String, message: String },
}

impl Record {
    /// Reads one recorder line; None for anything else (the recorder's own START/END lines).
    pub fn parse(message: &str, at: Timestamp) -> Option<Record> {
        let v: Value = serde_json::from_str(message.trim()).ok()?;
        let kind = if v["detail-type"] == "GuardDuty Finding" {
            let d = &v["detail"];
            Kind::Finding {
                id: d["id"].as_str()?.to_string(),
                finding_type: d["type"].as_str().unwrap_or_default().to_string(),
                instance: d["resource"]["instanceDetails"]["instanceId"].as_str().unwrap_or_default().to_string(),
                created_at: d["createdAt"].as_str().and_then(|t| t.parse().ok()),
                severity: d["severity"].as_f64(),
                title: d["title"].as_str().map(String::from),
            }
        } else if v["Type"] == "Notification" {
            Kind::Notification {
                subject: v["Subject"].as_str().unwrap_or_default().to_string(),
                message: v["Message"].as_str()?.to_string(),
            }
        } else {
            return None;
        };
        Some(Record { at, kind })
    }

    /// A notification naming one of `findings` (the playbooks write "Finding id: <id>").
    pub fn notifies_about(&self, findings: &[String]) -> bool {
        matches!(&self.kind, Kind::Notification { message, .. } if findings.iter().any(|f| message.contains(f.as_str())))
    }
}

/// Every record written since `since`, oldest first, across every page.
pub async fn read(ctx: &AwsContext, group: &str, since: Timestamp) -> Result<Vec<Record>> {
    let lines = log_events::read(ctx, group, since, None).await?;
    Ok(lines.iter().filter_map(|(ms, m)| Record::parse(m, Timestamp::from_millisecond(*ms).unwrap_or(since))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_finding_event_and_a_notification_are_read_back() {
        let event = r#"{"detail-type":"GuardDuty Finding","source":"aws.guardduty","detail":{"id":"f1","type":"UnauthorizedAccess:EC2/TorClient","createdAt":"2026-12-01T09:59:58Z","resource":{"instanceDetails":{"instanceId":"i-1"}}}}"#;
        let r = Record::parse(event, at()).unwrap();
        assert!(matches!(&r.kind, Kind::Finding { id, instance, .. } if id == "f1" && instance == "i-1"));
        let note =
            r#"{"Type":"Notification","Subject":"[irlab a] i-1 contained","Message":"Finding id: f1\nInstance: i-1"}"#;
        let n = Record::parse(note, at()).unwrap();
        assert!(n.notifies_about(&["f1".into()]));
        assert!(!n.notifies_about(&["f2".into()]), "a notice about another run's finding is not this run's");
    }

    #[test]
    fn runtime_lines_are_not_records() {
        assert_eq!(Record::parse("START RequestId: 1 Version: $LATEST", at()), None);
        assert_eq!(Record::parse(r#"{"something":"else"}"#, at()), None);
    }
}
