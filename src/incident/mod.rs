//! One incident, from attack to review: the scenarios and the findings an attack sends, the evidence
//! a run leaves, the pure verdict on it, the report and the runs' history.

pub mod approval;
pub mod audit;
pub mod custody;
pub mod engine_run;
pub mod eradication;
pub mod evidence;
pub mod finding;
pub mod history;
pub mod log_events;
pub mod report;
pub mod run_tags;
pub mod scenario;
pub mod verify;
