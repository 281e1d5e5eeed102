//! Reading a CloudWatch Logs group: every event since a time, optionally only those matching
//! one term, across every page. Shared by the audit trail and the Lambda playbook's own log.

use jiff::Timestamp;

use crate::aws::{AwsContext, AwsResultExt};
use crate::error::Result;

/// `(timestamp in ms, message)` of every event of `group` since `since` (containing `term`,
/// when given), oldest first.
pub async fn read(ctx: &AwsContext, group: &str, since: Timestamp, term: Option<&str>) -> Result<Vec<(i64, String)>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = ctx
            .logs()
            .filter_log_events()
            .log_group_name(group)
            .start_time(since.as_millisecond())
            .set_filter_pattern(term.map(|t| format!("\"{t}\"")))
            .set_next_token(token)
            .send()
            .await
            .aws(|| format!("reading log group {group}"), ctx)?;
        out.extend(page.events().iter().filter_map(|e| Some((e.timestamp()?, e.message()?.to_string()))));
        token = page.next_token().map(String::from);
        if token.is_none() {
            out.sort_by_key(|(t, _)| *t);
            return Ok(out);
        }
    }
}
