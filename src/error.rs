//! irlab's error type and its mapping to exit codes.
//!
//! Two kinds matter to a user: they asked for something invalid or a check found a problem
//! (exit 1), or AWS / the machine failed (exit 2). Each error carries the one line the user sees,
//! an optional hint with the known fix, and the cause chain shown under `-v`.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Exit codes, documented in the README.
pub mod exit {
    pub const OK: i32 = 0;
    /// A check or plan found a problem, or the user asked for something invalid.
    pub const PROBLEM: i32 = 1;
    /// An AWS or internal failure.
    pub const FAILURE: i32 = 2;
    /// Interrupted (SIGINT, Ctrl-C), as shells report 128 + 2.
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Invalid input or a failed check: exit 1.
    Problem,
    /// AWS or internal failure: exit 2.
    Failure,
    /// Stopped by the user (Ctrl-C): exit 130.
    Interrupted,
}

#[derive(Debug, thiserror::Error)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error {
    /// The user asked for something invalid, or a check found a problem.
    pub fn problem(message: impl Into<String>) -> Self {
        Error { kind: Kind::Problem, message: message.into(), hint: None, source: None }
    }

    /// AWS or the machine failed.
    pub fn failure(message: impl Into<String>) -> Self {
        Error { kind: Kind::Failure, message: message.into(), hint: None, source: None }
    }

    /// The user interrupted the command.
    pub fn interrupted(message: impl Into<String>) -> Self {
        Error { kind: Kind::Interrupted, message: message.into(), hint: None, source: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn exit_code(&self) -> i32 {
        match self.kind {
            Kind::Problem => exit::PROBLEM,
            Kind::Failure => exit::FAILURE,
            Kind::Interrupted => exit::INTERRUPTED,
        }
    }

    /// The causes below the message, outermost first, for `-v`.
    pub fn chain(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut next = std::error::Error::source(self);
        while let Some(cause) = next {
            let text = cause.to_string();
            if out.last() != Some(&text) {
                out.push(text);
            }
            next = cause.source();
        }
        out
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::failure(e.to_string()).with_source(e)
    }
}

/// Adds the "what were we doing" line to an I/O or other plain error.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| {
            let message = format!("{}: {e}", what());
            Error::failure(message).with_source(e)
        })
    }
}
