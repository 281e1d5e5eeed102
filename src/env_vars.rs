//! Every environment variable irlab reads, in one place.
//!
//! The standard AWS variables (`AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL`, ...) are read by
//! aws-config itself, exactly as the AWS CLI reads them; only irlab's own are listed here.

/// Overrides the directory where irlab keeps the stand-in's virtualenv, sources, logs and pid files.
pub const IRLAB_CACHE_DIR: &str = "IRLAB_CACHE_DIR";
/// The Python interpreter used to create the stand-in's virtualenv (default `python3`).
pub const IRLAB_PYTHON: &str = "IRLAB_PYTHON";
/// The stand-in's endpoint used by `--local` when `--endpoint-url` is not given
/// (default `http://127.0.0.1:4566`).
pub const IRLAB_LOCAL_ENDPOINT: &str = "IRLAB_LOCAL_ENDPOINT";
/// Read by clap for `--local` (`1` or `true` uses the local stand-in).
pub const IRLAB_LOCAL: &str = "IRLAB_LOCAL";
/// Read by clap for `--lab`.
pub const IRLAB_LAB: &str = "IRLAB_LAB";
/// The lab `--lab` names when neither it nor IRLAB_LAB is given.
pub const DEFAULT_LAB: &str = "irlab";
/// Read by the stand-in (set by `irlab local start --wait-scale`): compresses engine waits.
pub const IRLAB_WAIT_SCALE: &str = "IRLAB_WAIT_SCALE";
/// With `--local`, use AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN instead of
/// the dummy credentials: set by `irlab class` for attendees whose labs live in another account
/// (the stand-in, like AWS, keys an assumed role's session to the role's account).
pub const IRLAB_LOCAL_ENV_CREDENTIALS: &str = "IRLAB_LOCAL_ENV_CREDENTIALS";
