//! Class mode: an instructor's roster of attendees, each with a lab in the instructor's account
//! or in their own, driven together by `irlab class ...` (see `commands::class`).
//!
//! `roster` reads and validates the roster file; `runner` runs the single-lab commands for many
//! attendees at once as child processes with each attendee's credentials; `gradebook` turns the
//! labs' own answers into the class's table, dashboard and JUnit, purely; `org` deploys a class
//! over an AWS Organizations OU through one service-managed StackSet.

pub mod gradebook;
pub mod org;
pub mod roster;
pub mod runner;
