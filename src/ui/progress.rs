//! Progress is reported, not printed: core code sends [`Progress`] events to a [`Reporter`],
//! and only the CLI layer (`printer`) decides whether they become bars, lines or nothing.

/// Something that happened during long work.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A step began (`deleting stack irlab-x-victim`).
    Started { task: String, what: String },
    /// A CloudFormation resource changed state.
    Resource { task: String, logical_id: String, resource_type: String, status: String, reason: Option<String> },
    /// A step ended well.
    Finished { task: String, what: String },
    /// A step failed; the error itself travels as a `Result`.
    Failed { task: String, what: String },
    /// A best-effort step was skipped, and why.
    Skipped { what: String, why: String },
    /// A passing state worth showing live (a countdown), but not worth a line in a log.
    Tick { task: String, what: String },
    /// A plain note for the user.
    Note(String),
}

pub trait Reporter: Send + Sync {
    fn report(&self, event: Progress);
}
