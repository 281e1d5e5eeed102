//! CloudTrail's record of the attendee's own containment calls: who changed the victim, what,
//! and when, read from the event history (LookupEvents), not from the attendee's word.
//!
//! LookupEvents answers at most two requests a second per account and Region
//! (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html): the
//! lookups are spaced half a second apart, so a class checking at once is slowed, not refused.
//!
//! On AWS an event reaches the history within about 5 minutes of the call
//! (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/how-cloudtrail-works.html), so a
//! step the account already shows may not be in CloudTrail yet: the grader says so.

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use jiff::Timestamp;
use serde_json::Value;

use crate::aws::{AwsContext, AwsResultExt};
use crate::error::Result;

/// The calls a containment by hand is made of.
pub const CONTAINMENT_CALLS: [&str; 8] = [
    "ModifyInstanceAttribute",
    "ModifyNetworkInterfaceAttribute",
    "DisassociateIamInstanceProfile",
    "PutRolePolicy",
    "CreateSnapshot",
    "CreateSnapshots",
    "CreateTags",
    "DisassociateAddress",
];

/// One successful call, as CloudTrail recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub at: Timestamp,
    /// The caller's ARN (`userIdentity.arn`).
    pub by: String,
    /// `requestParameters`, as JSON text.
    pub request: String,
}

/// The successful `CONTAINMENT_CALLS` since `since` whose request names one of `mentioning`
/// (the instance, its interfaces and volumes, its role), oldest first.
pub async fn calls(ctx: &AwsContext, since: Timestamp, mentioning: &[String]) -> Result<Vec<Call>> {
    let ct = ctx.cloudtrail();
    let start = aws_smithy_types::DateTime::from_secs(since.as_second());
    let mut out = Vec::new();
    let mut first = true;
    for name in CONTAINMENT_CALLS {
        let attr = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventName)
            .attribute_value(name)
            .build()
            .expect("key and value set");
        let mut token = None;
        // 50 events a page; a lab's containment is a handful of calls, 10 pages is generous.
        for _ in 0..10 {
            if !first {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            first = false;
            let page = ct
                .lookup_events()
                .lookup_attributes(attr.clone())
                .start_time(start)
                .set_next_token(token)
                .send()
                .await
                .aws(|| format!("reading CloudTrail's {name} events"), ctx)?;
            // Newest first: reversed, so that calls of one second keep their order.
            for e in page.events().iter().rev() {
                if let Some(call) = e.cloud_trail_event().and_then(|text| parse(text, mentioning)) {
                    out.push(call);
                }
            }
            token = page.next_token().map(String::from);
            if token.is_none() {
                break;
            }
        }
    }
    out.sort_by_key(|c| c.at);
    Ok(out)
}

/// A recorded event, if it succeeded and its request or response names one of `mentioning`.
pub fn parse(text: &str, mentioning: &[String]) -> Option<Call> {
    let v: Value = serde_json::from_str(text).ok()?;
    if !v["errorCode"].is_null() {
        return None;
    }
    let request = v["requestParameters"].to_string();
    // A disassociation names the association; its response names the instance.
    let about = format!("{request} {}", v["responseElements"]);
    if !mentioning.iter().any(|m| !m.is_empty() && about.contains(m.as_str())) {
        return None;
    }
    Some(Call {
        name: v["eventName"].as_str()?.to_string(),
        at: v["eventTime"].as_str()?.parse().ok()?,
        by: v["userIdentity"]["arn"].as_str().unwrap_or("unknown caller").to_string(),
        request,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CloudTrail's own record shape ("CloudTrail record contents", AWS CloudTrail User Guide).
    #[test]
    fn only_successful_calls_about_the_victim_count() {
        let ev = |error: &str, id: &str| {
            format!(
                r#"{{"eventVersion":"1.11","eventTime":"2026-12-02T10:00:05Z","eventName":"ModifyInstanceAttribute",
                "userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice"}},
                "requestParameters":{{"instanceId":"{id}","groupSet":{{"items":[{{"groupId":"sg-q"}}]}}}},
                "errorCode":{error}}}"#
            )
        };
        let me = ["i-0abc".to_string()];
        let call = parse(&ev("null", "i-0abc"), &me).unwrap();
        assert_eq!(call.by, "arn:aws:iam::123456789012:user/alice");
        assert!(call.request.contains("sg-q"));
        assert_eq!(parse(&ev("\"Client.UnauthorizedOperation\"", "i-0abc"), &me), None);
        assert_eq!(parse(&ev("null", "i-0other"), &me), None);
    }
}
