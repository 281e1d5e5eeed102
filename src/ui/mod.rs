//! What the user sees: the printer (text or JSON, quiet, verbose), progress, and hints that
//! carry the connection flags of the command the user typed.

pub mod hint;
pub mod printer;
pub mod progress;
pub mod prompt;
pub mod text;
