//! The lab's run history: the timeline of every verified run, engine steps included, kept as
//! `irlab-history/<lab>/<run>.json` in the region's shared trail bucket. A replaced playbook's
//! executions and logs go with its stack; the history stays, so `report --compare` covers every
//! variant ever run in the lab. The lab's `down` deletes it and says so first.

use crate::aws::{AwsContext, AwsResultExt};
use crate::error::{Error, Result};
use crate::incident::report::Timeline;
use crate::lab::{LabName, shared};

pub const PREFIX: &str = "irlab-history/";

fn lab_prefix(lab: &str) -> String {
    format!("{PREFIX}{lab}/")
}

pub async fn save(ctx: &AwsContext, bucket: &str, t: &Timeline) -> Result<()> {
    let key = format!("{}{}.json", lab_prefix(&t.lab), t.run);
    let body = serde_json::to_vec_pretty(t).expect("timelines serialize");
    ctx.s3()
        .put_object()
        .bucket(bucket)
        .key(&key)
        .content_type("application/json")
        .body(body.into())
        .send()
        .await
        .aws(|| format!("keeping the timeline of {} in s3://{bucket}/{key}", t.run), ctx)?;
    Ok(())
}

/// Every kept timeline, oldest run first.
pub async fn load(ctx: &AwsContext, bucket: &str, lab: &LabName) -> Result<Vec<Timeline>> {
    let mut out = Vec::new();
    for key in keys(ctx, bucket, lab).await? {
        let got = ctx
            .s3()
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .aws(|| format!("reading s3://{bucket}/{key}"), ctx)?;
        let bytes = got.body.collect().await.map_err(|e| {
            Error::failure(format!("reading s3://{bucket}/{key}")).with_source(std::io::Error::other(e.to_string()))
        })?;
        match serde_json::from_slice::<Timeline>(&bytes.into_bytes()) {
            Ok(t) => out.push(t),
            Err(e) => {
                return Err(Error::failure(format!("s3://{bucket}/{key} is not an irlab timeline"))
                    .with_hint("another tool or a newer irlab wrote it; move it out of irlab-history/")
                    .with_source(e));
            }
        }
    }
    out.sort_by_key(|t| t.points.first().map(|p| p.at));
    Ok(out)
}

/// How many runs the lab's history holds (0 when the lab has no trail bucket).
pub async fn count(ctx: &AwsContext, lab: &LabName) -> Result<usize> {
    let Some(shared) = shared::find(ctx).await? else { return Ok(0) };
    let Some(bucket) = shared.output("TrailBucketName") else { return Ok(0) };
    match keys(ctx, bucket, lab).await {
        Ok(k) => Ok(k.len()),
        // A bucket already emptied and removed by an earlier, interrupted `down`.
        Err(_) if !bucket_exists(ctx, bucket).await => Ok(0),
        Err(e) => Err(e),
    }
}

async fn bucket_exists(ctx: &AwsContext, bucket: &str) -> bool {
    ctx.s3().head_bucket().bucket(bucket).send().await.is_ok()
}

async fn keys(ctx: &AwsContext, bucket: &str, lab: &LabName) -> Result<Vec<String>> {
    let prefix = lab_prefix(lab.as_str());
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = ctx
            .s3()
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&prefix)
            .set_continuation_token(token)
            .send()
            .await
            .aws(|| format!("listing the run history in s3://{bucket}/{prefix}"), ctx)?;
        out.extend(page.contents().iter().filter_map(|o| o.key()).map(String::from));
        token = page.next_continuation_token().map(String::from);
        if token.is_none() {
            return Ok(out);
        }
    }
}
