//! Chain of custody for the volatile evidence a playbook collects before isolation: the manifest
//! the collecting engine writes next to the items in the lab's evidence bucket, and the check
//! that every item is still the bytes it was when collected.
//!
//! Layout in the evidence bucket (S3 Object Lock, governance mode, versioned):
//! `volatile/<finding id>/<execution>/<item>` and `.../manifest.json`. The manifest names each
//! item's key, the S3 object version, its SHA-256 as S3 stored it at upload (base64, as S3's
//! `ChecksumSHA256`), its size, when it was collected and the execution that collected it.
//! S3 verified the checksum on upload (the victim sends it with `--checksum-algorithm SHA256`);
//! `verify` reads each version back, recomputes the hash, and also flags any later version of
//! a key (a rewrite leaves the locked original, but the newer bytes are not the evidence).
//!
//! The manifest is held to the same rule: the one that counts is the first version written (the
//! engine writes it once), read even when a later version or a delete marker hides it, and any
//! later version or deletion fails the check. Otherwise whoever could rewrite an item could also
//! rewrite the manifest to match it. (The bucket policy also denies instance credentials any
//! write of a manifest: `stacks/detection.yaml`, `DenyInstancesWritingManifests`.)

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::aws::{AwsContext, AwsResultExt, error_code};
use crate::error::{Error, Result};

pub const PREFIX: &str = "volatile/";
pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub version: u32,
    pub lab: String,
    pub instance: String,
    pub finding: String,
    /// The engine execution that collected (Step Functions execution ARN, Automation execution
    /// id, Lambda request id).
    pub execution: String,
    pub started_at: String,
    pub ended_at: String,
    /// Every planned item collected within the budget.
    pub complete: bool,
    /// What could not be collected, and why (a timeout, an upload the role could not make).
    #[serde(default)]
    pub gaps: Vec<String>,
    pub items: Vec<Item>,
    /// Where the manifest was read: its key and the sealed (first) version.
    #[serde(skip)]
    pub sealed: Sealed,
}

/// The manifest object itself, as the bucket keeps it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sealed {
    pub key: String,
    pub version_id: String,
    /// Versions and delete markers written after the sealed version.
    pub later_versions: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Item {
    pub key: String,
    pub version_id: String,
    /// Base64 SHA-256, as S3 reports `ChecksumSHA256`.
    pub checksum_sha256: String,
    pub bytes: u64,
    pub collected_at: String,
}

impl Item {
    /// The SHA-256 in hex, as people compare it with `sha256sum`.
    pub fn sha256_hex(&self) -> String {
        aws_smithy_types::base64::decode(&self.checksum_sha256)
            .map(|b| b.iter().map(|x| format!("{x:02x}")).collect())
            .unwrap_or_else(|_| format!("(not base64: {})", self.checksum_sha256))
    }

    /// The file name under the run's folder.
    pub fn name(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or(&self.key)
    }
}

/// One item's verdict.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ItemCheck {
    pub key: String,
    pub ok: bool,
    pub detail: String,
}

/// Judges one item from what was read back (pure): the recomputed hash and size of the recorded
/// version, and the versions written after it.
pub fn judge(item: &Item, read: Option<(&str, u64)>, later_versions: usize) -> ItemCheck {
    let (ok, detail) = match read {
        None => (false, format!("version {} is gone", item.version_id)),
        Some((sum, _)) if sum != item.checksum_sha256 => {
            (false, format!("SHA-256 differs: manifest {}, now {}", item.checksum_sha256, sum))
        }
        Some((_, n)) if n != item.bytes => (false, format!("size differs: manifest {} bytes, now {n}", item.bytes)),
        Some(_) if later_versions > 0 => {
            (false, format!("intact, but {later_versions} later version(s) of the key were written after collection"))
        }
        Some(_) => (true, format!("SHA-256 {} matches", item.sha256_hex())),
    };
    ItemCheck { key: item.key.clone(), ok, detail }
}

/// The SHA-256 of `bytes`, base64 as S3 writes it.
pub fn checksum(bytes: &[u8]) -> String {
    aws_smithy_types::base64::encode(Sha256::digest(bytes))
}

/// Every manifest in the bucket, oldest first, each read at its sealed (first) version: listed by
/// version, so a manifest hidden by a delete marker is still found.
pub async fn manifests(ctx: &AwsContext, bucket: &str) -> Result<Vec<Manifest>> {
    let s3 = ctx.s3();
    // key -> (version id, last modified) of every version and delete marker.
    let mut seen: std::collections::BTreeMap<String, Vec<(String, i64, bool)>> = Default::default();
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .prefix(PREFIX)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await
            .aws(|| format!("listing the evidence in bucket {bucket}"), ctx)?;
        let is_manifest = |k: &str| k.ends_with(&format!("/{MANIFEST}"));
        for v in page.versions() {
            if let (Some(k), Some(id)) = (v.key().filter(|k| is_manifest(k)), v.version_id()) {
                let at = v.last_modified().map(|t| t.secs()).unwrap_or_default();
                seen.entry(k.to_string()).or_default().push((id.to_string(), at, true));
            }
        }
        for m in page.delete_markers() {
            if let (Some(k), Some(id)) = (m.key().filter(|k| is_manifest(k)), m.version_id()) {
                let at = m.last_modified().map(|t| t.secs()).unwrap_or_default();
                seen.entry(k.to_string()).or_default().push((id.to_string(), at, false));
            }
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        (key_marker, version_marker) = (page.next_key_marker, page.next_version_id_marker);
    }
    let mut out = Vec::new();
    for (key, versions) in seen {
        let Some(sealed) = sealed_version(&versions) else { continue };
        let body = read(ctx, bucket, &key, Some(sealed))
            .await?
            .ok_or_else(|| Error::failure(format!("{key} (version {sealed}) vanished")))?;
        let mut m: Manifest = serde_json::from_slice(&body).map_err(|e| {
            Error::failure(format!("evidence manifest s3://{bucket}/{key} is not readable: {e}")).with_source(e)
        })?;
        m.sealed = Sealed { key: key.clone(), version_id: sealed.to_string(), later_versions: versions.len() - 1 };
        out.push(m);
    }
    out.sort_by(|a, b| a.started_at.cmp(&b.started_at));
    Ok(out)
}

/// The sealed version among a key's versions and delete markers (id, last modified, is a
/// version): the first written. S3 lists a key's versions newest first, which breaks ties within
/// the second that `LastModified` resolves.
fn sealed_version(versions: &[(String, i64, bool)]) -> Option<&str> {
    let oldest = versions.iter().filter(|(_, _, real)| *real).map(|(_, at, _)| *at).min()?;
    versions.iter().rev().find(|(_, at, real)| *real && *at == oldest).map(|(id, _, _)| id.as_str())
}

/// The manifest's own verdict: sealed once and never rewritten or deleted since (pure).
pub fn judge_manifest(m: &Manifest) -> ItemCheck {
    let s = &m.sealed;
    let (ok, detail) = match s.later_versions {
        0 => (true, format!("written once (version {})", s.version_id)),
        n => (
            false,
            format!(
                "rewritten or deleted {n} time(s) after it was sealed; the sealed version {} is the one checked",
                s.version_id
            ),
        ),
    };
    ItemCheck { key: s.key.clone(), ok, detail }
}

/// The bytes of a key (a given version, or the current one); None when it is not there.
pub async fn read(ctx: &AwsContext, bucket: &str, key: &str, version: Option<&str>) -> Result<Option<Vec<u8>>> {
    let got = ctx.s3().get_object().bucket(bucket).key(key).set_version_id(version.map(String::from)).send().await;
    let out = match got {
        Ok(out) => out,
        Err(e) if matches!(error_code(&e), Some("NoSuchKey" | "NoSuchVersion" | "InvalidArgument")) => return Ok(None),
        Err(e) => return Err(e).aws(|| format!("reading s3://{bucket}/{key}"), ctx),
    };
    let body = out
        .body
        .collect()
        .await
        .map_err(|e| Error::failure(format!("reading s3://{bucket}/{key}: {e}")).with_source(e))?;
    Ok(Some(body.into_bytes().to_vec()))
}

/// Judges the manifest itself, then reads every item of it back and judges it.
pub async fn verify(ctx: &AwsContext, bucket: &str, m: &Manifest) -> Result<Vec<ItemCheck>> {
    let mut out = vec![judge_manifest(m)];
    for item in &m.items {
        let bytes = read(ctx, bucket, &item.key, Some(&item.version_id)).await?;
        let later = later_versions(ctx, bucket, item).await?;
        let read = bytes.as_ref().map(|b| (checksum(b), b.len() as u64));
        out.push(judge(item, read.as_ref().map(|(s, n)| (s.as_str(), *n)), later));
    }
    Ok(out)
}

/// Versions of the item's key newer than the recorded one.
async fn later_versions(ctx: &AwsContext, bucket: &str, item: &Item) -> Result<usize> {
    let out = ctx
        .s3()
        .list_object_versions()
        .bucket(bucket)
        .prefix(&item.key)
        .send()
        .await
        .aws(|| format!("listing the versions of s3://{bucket}/{}", item.key), ctx)?;
    // S3 lists a key's versions newest first.
    let versions: Vec<&str> = out
        .versions()
        .iter()
        .filter(|v| v.key() == Some(item.key.as_str()))
        .filter_map(|v| v.version_id())
        .chain(
            out.delete_markers().iter().filter(|m| m.key() == Some(item.key.as_str())).filter_map(|m| m.version_id()),
        )
        .collect();
    Ok(versions.iter().position(|v| *v == item.version_id).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(bytes: &[u8]) -> Item {
        Item {
            key: "volatile/f1/exec-1/processes.txt".into(),
            version_id: "v1".into(),
            checksum_sha256: checksum(bytes),
            bytes: bytes.len() as u64,
            collected_at: "2026-12-01T10:00:00Z".into(),
        }
    }

    #[test]
    fn the_checksum_is_the_base64_sha256_s3_stores() {
        // sha256("abc"), as S3's ChecksumSHA256 header carries it.
        assert_eq!(checksum(b"abc"), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
        assert_eq!(item(b"abc").sha256_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn an_intact_item_passes_and_each_kind_of_tampering_fails() {
        let it = item(b"ps output");
        let good = checksum(b"ps output");
        assert!(judge(&it, Some((&good, 9)), 0).ok);
        let bad = checksum(b"ps 0utput");
        let changed = judge(&it, Some((&bad, 9)), 0);
        assert!(!changed.ok && changed.detail.starts_with("SHA-256 differs"), "{}", changed.detail);
        assert!(!judge(&it, None, 0).ok);
        let rewritten = judge(&it, Some((&good, 9)), 1);
        assert!(!rewritten.ok && rewritten.detail.contains("1 later version"), "{}", rewritten.detail);
    }

    #[test]
    fn the_first_written_manifest_is_the_sealed_one_and_a_rewrite_or_deletion_fails() {
        // S3 lists a key's versions newest first; a delete marker is never the sealed version.
        let listed = vec![("v3".to_string(), 20, false), ("v2".to_string(), 10, true), ("v1".to_string(), 10, true)];
        assert_eq!(sealed_version(&listed), Some("v1"));
        assert_eq!(sealed_version(&[("m".to_string(), 5, false)]), None);

        let mut m = Manifest {
            version: 1,
            lab: "irlab".into(),
            instance: "i-1".into(),
            finding: "f1".into(),
            execution: "exec-1".into(),
            started_at: "2026-12-01T10:00:00Z".into(),
            ended_at: "2026-12-01T10:00:09Z".into(),
            complete: true,
            gaps: vec![],
            items: vec![item(b"ps output")],
            sealed: Sealed {
                key: "volatile/f1/exec-1/manifest.json".into(),
                version_id: "v1".into(),
                later_versions: 0,
            },
        };
        assert!(judge_manifest(&m).ok);
        m.sealed.later_versions = 2;
        let rewritten = judge_manifest(&m);
        assert!(!rewritten.ok && rewritten.detail.contains("rewritten or deleted 2 time(s)"), "{}", rewritten.detail);
        assert_eq!(rewritten.key, "volatile/f1/exec-1/manifest.json");
    }
}
