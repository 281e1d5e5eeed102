//! AVML, the memory imager the playbooks run on the victim before isolation (`up --memory`).
//!
//! The victim runs only the AVML whose SHA-256 the lab pinned: the detection stack's
//! MemoryDocument fetches the tool, hashes it and refuses any other. AVML comes either from a
//! copy the user downloaded (irlab uploads it to `tools/avml` of the lab's evidence bucket, where
//! only the lab's instances may read it, and pins the copy's SHA-256) or from an `https://`
//! release URL with the SHA-256 the user read from the release. irlab ships no hash of its own:
//! a pin it cannot check against the release would be a pin in name only.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::aws::{AwsContext, AwsResultExt};
use crate::error::{Error, Result};

/// Where the evidence bucket keeps the user's copy of AVML (the bucket policy lets the lab's
/// instances read this prefix and nothing else of the bucket).
pub const TOOL_KEY: &str = "tools/avml";

/// Where AVML comes from, as the user gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Url(String),
}

impl Source {
    pub fn parse(s: &str) -> Source {
        if s.starts_with("https://") || s.starts_with("http://") {
            Source::Url(s.into())
        } else {
            Source::File(s.into())
        }
    }
}

/// The tool the playbook passes to the MemoryDocument: its location and its pinned SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// `s3://<evidence bucket>/tools/avml` or an `https://` URL.
    pub location: String,
    /// 64 lowercase hexadecimal digits.
    pub sha256: String,
}

/// AVML read and pinned, not yet placed: a file's bytes are uploaded once the evidence bucket
/// exists.
#[derive(Debug, Clone)]
pub enum Prepared {
    Copy { path: PathBuf, bytes: Vec<u8>, sha256: String },
    Release(Tool),
}

impl Prepared {
    pub fn sha256(&self) -> &str {
        match self {
            Prepared::Copy { sha256, .. } => sha256,
            Prepared::Release(t) => &t.sha256,
        }
    }
}

/// Reads and pins the tool before anything is deployed, so a wrong path or pin costs nothing.
pub fn prepare(source: &Source, pinned: Option<&str>) -> Result<Prepared> {
    let pinned = pinned.map(check_sha256).transpose()?;
    match source {
        Source::Url(url) => {
            if !url.starts_with("https://") {
                return Err(Error::problem(format!("--avml {url} is not an https:// URL"))
                    .with_hint("the victim fetches AVML over TLS only: use the release's https:// URL"));
            }
            if url.len() > 2000 || !url.chars().all(|c| c.is_ascii_alphanumeric() || "._~:/?=&%+-".contains(c)) {
                return Err(Error::problem(format!("--avml {url} has characters the MemoryDocument refuses"))
                    .with_hint("use the release asset's plain URL, such as https://github.com/microsoft/avml/releases/download/<version>/avml"));
            }
            let Some(sha256) = pinned else {
                return Err(Error::problem(format!("--avml {url} needs --avml-sha256"))
                    .with_hint("the victim runs only the AVML whose SHA-256 you pin: download the release once, check it, and pass `sha256sum avml`'s hash (or pass the downloaded file itself as --avml PATH)"));
            };
            Ok(Prepared::Release(Tool { location: url.clone(), sha256 }))
        }
        Source::File(path) => {
            let bytes = std::fs::read(path).map_err(|e| {
                Error::problem(format!("cannot read AVML at {}", path.display()))
                    .with_hint(
                        "download the static binary from https://github.com/microsoft/avml/releases and pass its path",
                    )
                    .with_source(e)
            })?;
            if bytes.is_empty() {
                return Err(Error::problem(format!("{} is empty: it is not AVML", path.display())));
            }
            let sha256 = hex_sha256(&bytes);
            if let Some(p) = pinned
                && p != sha256
            {
                return Err(Error::problem(format!(
                    "{} has SHA-256 {sha256}, not the pinned {p}: it is not the AVML you meant",
                    path.display()
                ))
                .with_hint("download the release again, or pin the hash of the copy you checked"));
            }
            Ok(Prepared::Copy { path: path.clone(), bytes, sha256 })
        }
    }
}

/// Uploads a copy to the evidence bucket (with the SHA-256 S3 checks on arrival; the bucket's
/// Object Lock needs a checksum on every write) and returns what the playbook passes on.
pub async fn place(ctx: &AwsContext, prepared: &Prepared, bucket: &str) -> Result<Tool> {
    match prepared {
        Prepared::Release(tool) => Ok(tool.clone()),
        Prepared::Copy { path, bytes, sha256 } => {
            let digest = Sha256::digest(bytes);
            ctx.s3()
                .put_object()
                .bucket(bucket)
                .key(TOOL_KEY)
                .content_type("application/octet-stream")
                .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
                .checksum_sha256(aws_smithy_types::base64::encode(digest.as_slice()))
                .body(bytes.clone().into())
                .send()
                .await
                .aws(|| format!("uploading AVML ({}) to s3://{bucket}/{TOOL_KEY}", path.display()), ctx)?;
            Ok(Tool { location: format!("s3://{bucket}/{TOOL_KEY}"), sha256: sha256.clone() })
        }
    }
}

pub fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn check_sha256(s: &str) -> Result<String> {
    let lower = s.trim().to_ascii_lowercase();
    if lower.len() == 64 && lower.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(lower)
    } else {
        Err(Error::problem(format!("--avml-sha256 {s} is not a SHA-256"))
            .with_hint("give the 64 hexadecimal digits that `sha256sum avml` prints"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_pinned_by_its_own_hash_and_a_wrong_pin_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("avml");
        std::fs::write(&path, b"abc").unwrap();
        let p = prepare(&Source::File(path.clone()), None).unwrap();
        // FIPS 180-2's first example: SHA-256("abc").
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(p.sha256(), abc);
        assert!(prepare(&Source::File(path.clone()), Some(&abc.to_uppercase())).is_ok(), "a pin is case-blind");
        let err = prepare(&Source::File(path), Some(&"0".repeat(64))).unwrap_err();
        assert!(err.message.contains("not the pinned"), "{}", err.message);
    }

    #[test]
    fn a_release_url_needs_https_and_a_pin() {
        let url = "https://github.com/microsoft/avml/releases/download/v0.14.0/avml";
        let err = prepare(&Source::parse(url), None).unwrap_err();
        assert!(err.message.contains("needs --avml-sha256"), "{}", err.message);
        let err = prepare(&Source::parse("http://example.com/avml"), Some(&"a".repeat(64))).unwrap_err();
        assert!(err.message.contains("not an https:// URL"), "{}", err.message);
        let err = prepare(&Source::parse(url), Some("abc")).unwrap_err();
        assert!(err.message.contains("is not a SHA-256"), "{}", err.message);
        let p = prepare(&Source::parse(url), Some(&"a".repeat(64))).unwrap();
        assert!(matches!(p, Prepared::Release(Tool { ref location, .. }) if location == url));
    }

    #[test]
    fn a_missing_or_empty_file_is_refused_before_anything_is_deployed() {
        let dir = tempfile::tempdir().unwrap();
        let err = prepare(&Source::File(dir.path().join("nope")), None).unwrap_err();
        assert!(err.message.contains("cannot read AVML"), "{}", err.message);
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert!(prepare(&Source::File(empty), None).unwrap_err().message.contains("is empty"));
    }
}
