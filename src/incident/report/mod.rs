//! The incident's post-incident review as data: the run's timeline and the facts a reviewer
//! files with it (where, which finding, what changed on the instance, each check's verdict), its
//! lifecycle lanes, and the review itself. Pure: collection lives in `commands/report.rs` and
//! `incident/evidence.rs`; the renderings in `markdown.rs` and `html.rs` draw the same
//! [`RunReport`] that `--format json` prints.

mod facts;
mod html;
mod markdown;

pub use html::html;
pub use markdown::markdown;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    pub label: String,
    pub at: Timestamp,
    /// Key points (attack, finding, isolated, contained, verified) are labelled on the chart and
    /// listed in summaries; the others fold into their phase.
    pub key: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timeline {
    pub lab: String,
    pub run: String,
    pub scenarios: Vec<String>,
    pub mode: String,
    pub variant: Option<String>,
    pub instance: String,
    pub points: Vec<Point>,
    /// Seconds from the attack to the finding.
    pub time_to_detect: Option<f64>,
    /// Seconds from the finding to the victim contained.
    pub time_to_contain: Option<f64>,
    /// Seconds from the finding to the victim's interfaces cut off (the group swap).
    #[serde(default)]
    pub time_to_isolate: Option<f64>,
    /// The volatile evidence the playbook collected before isolation, from its manifest.
    #[serde(default)]
    pub evidence: Vec<EvidenceItem>,
    /// The playbook's run was still going when the timeline was taken (waiting for an approval,
    /// eradicating): a kept timeline is then taken again.
    #[serde(default)]
    pub playbook_running: bool,
    /// The AWS account and region of the lab (empty in timelines kept before they were recorded).
    #[serde(default)]
    pub account: String,
    #[serde(default)]
    pub region: String,
    /// The run's finding as GuardDuty described it.
    #[serde(default)]
    pub finding: Option<FindingFacts>,
    /// Each check of `irlab verify`, as judged at `checked_at`: when verify kept the timeline, or
    /// when the report was written for a run verify never passed.
    #[serde(default)]
    pub checks: Vec<CheckVerdict>,
    #[serde(default)]
    pub checked_at: Option<Timestamp>,
    /// The disk evidence: the run's snapshot of each attached volume.
    #[serde(default)]
    pub snapshots: Vec<SnapshotItem>,
    /// What the containment changed on the instance, before and after.
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// One item of the chain-of-custody manifest, as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceItem {
    pub item: String,
    pub sha256: String,
    pub bytes: u64,
    pub collected_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingFacts {
    pub id: String,
    #[serde(rename = "type")]
    pub finding_type: String,
    pub severity: Option<f64>,
    pub title: Option<String>,
}

impl FindingFacts {
    /// GuardDuty's severity level for a value: Critical 9.0 to 10.0, High 7.0 to 8.9, Medium
    /// 4.0 to 6.9, Low 1.0 to 3.9 (GuardDuty user guide, "Severity levels for GuardDuty findings").
    pub fn severity_text(&self) -> String {
        match self.severity {
            None => "not given".into(),
            Some(s) => {
                let level = match s {
                    s if s >= 9.0 => "Critical",
                    s if s >= 7.0 => "High",
                    s if s >= 4.0 => "Medium",
                    _ => "Low",
                };
                format!("{level} ({s:.1})")
            }
        }
    }
}

/// One check of `irlab verify` and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckVerdict {
    pub name: String,
    pub passed: bool,
    pub observed: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotItem {
    pub volume: String,
    pub snapshot: String,
    pub state: String,
}

/// One thing the containment changed on the instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub what: String,
    pub before: String,
    pub after: String,
}

pub const ATTACK: &str = "attack started";
pub const FINDING: &str = "finding created";
/// The playbook's `cut` step: every interface passed through the untracking group to the
/// quarantine group, the same step in every variant.
pub const ISOLATED: &str = "isolated";
pub const CONTAINED: &str = "contained";
pub const VERIFIED: &str = "verified";
pub const NOTIFIED: &str = "responders notified";
pub const ERADICATION_STARTED: &str = "eradication started";
pub const ERADICATED: &str = "eradicated";
pub const ERADICATION_INCOMPLETE: &str = "eradication ended, indicators left";
pub const ERADICATED_BY_PLAYBOOK: &str = "eradicated by the playbook";
pub const APPROVAL_TIMED_OUT: &str = "approval timed out";
pub const RECOVERED_BY_PLAYBOOK: &str = "recovered by the playbook";
pub const RECOVERY_STARTED: &str = "recovery started";
pub const RECOVERED: &str = "recovered";

/// The phases of the incident-response lifecycle the report draws as lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Detect,
    Analyse,
    Evidence,
    Contain,
    Notify,
    Eradicate,
    Recover,
}

impl Phase {
    pub const ALL: [Phase; 7] = [
        Phase::Detect,
        Phase::Analyse,
        Phase::Evidence,
        Phase::Contain,
        Phase::Notify,
        Phase::Eradicate,
        Phase::Recover,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Detect => "detect",
            Phase::Analyse => "analyse",
            Phase::Evidence => "evidence",
            Phase::Contain => "contain",
            Phase::Notify => "notify",
            Phase::Eradicate => "eradicate",
            Phase::Recover => "recover",
        }
    }

    /// Which phase a point of the timeline belongs to: the attack and its finding are
    /// detection; the playbook's triage and its record of the victim analysis; volatile
    /// evidence, volumes kept and snapshots evidence; the notices notification; the approval and
    /// eradication after containment, and the recovery, their own; the rest containment.
    pub fn of(label: &str) -> Phase {
        let step = label.strip_prefix("containment: ").or_else(|| label.strip_prefix("step: "));
        let any = |s: &str, keys: &[&str]| keys.iter().any(|k| s.contains(k));
        match label {
            ATTACK | FINDING => Phase::Detect,
            l if l.starts_with("event delivered") => Phase::Detect,
            l if l.starts_with("playbook started") => Phase::Analyse,
            NOTIFIED => Phase::Notify,
            ERADICATION_STARTED | ERADICATED | ERADICATION_INCOMPLETE | ERADICATED_BY_PLAYBOOK | APPROVAL_TIMED_OUT => {
                Phase::Eradicate
            }
            l if l.starts_with("approved by ") || l.starts_with("rejected by ") => Phase::Eradicate,
            RECOVERY_STARTED | RECOVERED | RECOVERED_BY_PLAYBOOK => Phase::Recover,
            _ => match step.map(str::to_ascii_lowercase) {
                // Whether to ask for an approval at all ends the containment.
                Some(s) if any(&s, &["approval wanted", "ask approval?", "approval not asked", "approvalasked"]) => {
                    Phase::Contain
                }
                // After containment: the approval the playbook asks for, the eradication it runs
                // once approved, and the recovery after it (Step Functions states, SSM steps).
                Some(s)
                    if any(
                        &s,
                        &[
                            "recover",
                            "lift stop",
                            "stop compromised",
                            "wait for stop",
                            "read stop",
                            "stop check",
                            "stopped?",
                            "stop too slow",
                            "from stop again",
                            "victim",
                            "host",
                            "addresses in use",
                            "baseline",
                            "replaced",
                            "rule",
                            "new agent",
                        ],
                    ) =>
                {
                    Phase::Recover
                }
                Some(s)
                    if any(
                        &s,
                        &["approv", "eradicat", "agent", "decision", "left contained", "release", "check record"],
                    ) =>
                {
                    Phase::Eradicate
                }
                Some(s) if any(&s, &["notif", "buildsummary"]) => Phase::Notify,
                Some(s)
                    if any(
                        &s,
                        &[
                            "collect",
                            "memory",
                            "evidence",
                            "item",
                            "manifest",
                            "seal",
                            "snapshot",
                            "preserve",
                            "keep volume",
                            "keepvolume",
                            "delivery",
                            "send which",
                            "gap",
                        ],
                    ) =>
                {
                    Phase::Evidence
                }
                Some(s)
                    if any(
                        &s,
                        &[
                            "triage",
                            "lookup",
                            "look up",
                            "look for",
                            "decide",
                            "read finding",
                            "read instance",
                            "lab instance",
                            "islabinstance",
                            "already",
                            "answered",
                            "holder",
                            "record",
                            "saved?",
                            "format",
                            "first ",
                            "more ",
                            "append",
                            "tagcontaining",
                        ],
                    ) =>
                {
                    Phase::Analyse
                }
                _ => Phase::Contain,
            },
        }
    }
}

/// One lane: the first and last point of a phase, and the points folded into it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lane {
    pub phase: Phase,
    /// Seconds into the run.
    pub from: f64,
    pub to: f64,
    /// The points of the phase, in time order, with their seconds into the run.
    pub points: Vec<(String, f64)>,
}

impl Lane {
    pub fn lasted(&self) -> f64 {
        self.to - self.from
    }

    /// The lane's row in every rendering: phase, from and to (seconds into the run), how long.
    fn row(&self) -> [String; 4] {
        [
            self.phase.name().to_string(),
            format!("{:.1}", self.from),
            format!("{:.1}", self.to),
            duration(Some(self.lasted())),
        ]
    }
}

impl Timeline {
    /// Sorts the points and derives the durations a responder is judged by.
    pub fn new(mut t: Timeline) -> Timeline {
        t.points.sort_by_key(|p| p.at);
        let at = |label: &str| t.points.iter().find(|p| p.label == label).map(|p| p.at);
        let secs = |a: Option<Timestamp>, b: Option<Timestamp>| Some(b?.duration_since(a?).as_secs_f64());
        t.time_to_detect = secs(at(ATTACK), at(FINDING));
        t.time_to_contain = secs(at(FINDING), at(CONTAINED));
        t.time_to_isolate = secs(at(FINDING), at(ISOLATED));
        t
    }

    /// The lifecycle's lanes, in phase order, for the phases the run reached.
    pub fn lanes(&self) -> Vec<Lane> {
        Phase::ALL
            .into_iter()
            .filter_map(|phase| {
                let points: Vec<(String, f64)> = self
                    .points
                    .iter()
                    .filter(|p| Phase::of(&p.label) == phase)
                    .map(|p| (p.label.clone(), self.offset(p.at)))
                    .collect();
                let from = points.iter().map(|p| p.1).reduce(f64::min)?;
                let to = points.iter().map(|p| p.1).fold(from, f64::max);
                Some(Lane { phase, from, to, points })
            })
            .collect()
    }

    /// When the run started (its first point).
    pub fn started(&self) -> Option<Timestamp> {
        self.points.first().map(|p| p.at)
    }

    fn offset(&self, at: Timestamp) -> f64 {
        let start = self.started().unwrap_or(at);
        at.duration_since(start).as_secs_f64()
    }

    fn has(&self, label: &str) -> bool {
        self.points.iter().any(|p| p.label == label)
    }

    fn variant_name(&self) -> &str {
        self.variant.as_deref().unwrap_or("none")
    }

    /// The post-incident review: what happened, what was done and by whom, what went well
    /// (measured), where the time went, what each other variant did in this lab or would do,
    /// and where automation could go further. `lab` is every timeline the lab has, for the
    /// comparison with the other variants.
    pub fn review(&self, lab: &[Timeline]) -> Review {
        let variant = self.variant_name();
        let mut happened = vec![format!(
            "{} ({} mode) against {}; detected in {}",
            self.scenarios.join(", "),
            self.mode,
            self.instance,
            duration(self.time_to_detect)
        )];
        if !self.evidence.is_empty() {
            happened.push(format!("{} evidence item(s) sealed before isolation", self.evidence.len()));
        }
        let mut done = Vec::new();
        done.push(if self.has(CONTAINED) {
            format!("contained automatically by the {variant} playbook in {}", duration(self.time_to_contain))
        } else {
            format!("not contained by the {variant} playbook")
        });
        let decided =
            self.points.iter().find(|p| p.label.starts_with("approved by ") || p.label.starts_with("rejected by "));
        if let Some(p) = decided {
            done.push(format!("{} after containment", p.label));
        } else if self.has(APPROVAL_TIMED_OUT) {
            done.push("nobody approved or rejected in time: the playbook left the victim contained".to_string());
        }
        done.push(if self.has(ERADICATED_BY_PLAYBOOK) {
            format!("eradicated by the {variant} playbook after the approval, in the same execution: no indicator left")
        } else if self.has(ERADICATED) {
            "eradicated by hand (`irlab eradicate`): no indicator left".to_string()
        } else if self.has(ERADICATION_INCOMPLETE) {
            "eradication run by hand (`irlab eradicate`), indicators left".to_string()
        } else {
            "not eradicated".to_string()
        });
        done.push(if self.has(RECOVERED_BY_PLAYBOOK) {
            format!("recovered by the {variant} playbook in the same execution: a new victim from the baseline")
        } else if self.has(RECOVERED) {
            "recovered by hand (`irlab recover`): a new victim from the baseline".to_string()
        } else {
            "not recovered".to_string()
        });
        Review {
            happened,
            done,
            went_well: self.went_well(),
            time_went: self.time_went(),
            other_variants: self.other_variants(lab),
            further: self.further(),
        }
    }

    fn went_well(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(t) = self.time_to_isolate {
            out.push(format!("the victim's interfaces were cut off {} after the finding", duration(Some(t))));
        }
        if let Some(t) = self.time_to_contain {
            out.push(format!("contained {} after the finding, without a person", duration(Some(t))));
        }
        let passed = self.checks.iter().filter(|c| c.passed).count();
        if passed > 0 {
            out.push(format!("{passed} of {} verify checks passed", self.checks.len()));
        }
        if !self.evidence.is_empty() {
            let bytes: u64 = self.evidence.iter().map(|e| e.bytes).sum();
            out.push(format!(
                "{} volatile evidence item(s), {bytes} bytes, sealed with their SHA-256 before isolation",
                self.evidence.len()
            ));
        }
        let completed = self.snapshots.iter().filter(|s| s.state == "completed").count();
        if !self.snapshots.is_empty() {
            out.push(format!("{} of {} volume snapshot(s) completed", completed, self.snapshots.len()));
        }
        if out.is_empty() {
            out.push("nothing measured went well: the run was neither isolated nor contained".into());
        }
        out
    }

    /// The phases by how long they lasted, and the longest waits between two points.
    fn time_went(&self) -> Vec<String> {
        let Some(total) = self.points.last().map(|p| self.offset(p.at)).filter(|t| *t > 0.0) else {
            return vec!["the run has one moment only: no time to account for".into()];
        };
        let mut lanes = self.lanes();
        lanes.sort_by(|a, b| b.lasted().total_cmp(&a.lasted()));
        let mut out: Vec<String> = lanes
            .iter()
            .filter(|l| l.lasted() > 0.0)
            .map(|l| {
                format!(
                    "{}: {} ({:.0}% of the run), {} point(s)",
                    l.phase.name(),
                    duration(Some(l.lasted())),
                    100.0 * l.lasted() / total,
                    l.points.len()
                )
            })
            .collect();
        let mut gaps: Vec<(f64, &Point, &Point)> =
            self.points.windows(2).map(|w| (w[1].at.duration_since(w[0].at).as_secs_f64(), &w[0], &w[1])).collect();
        gaps.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (secs, a, b) in gaps.into_iter().take(3).filter(|g| g.0 > 0.0) {
            out.push(format!("waited {} between `{}` and `{}`", duration(Some(secs)), a.label, b.label));
        }
        out
    }

    /// For each other automated variant: its latest run in this lab measured against this one,
    /// else what it would have done differently.
    fn other_variants(&self, lab: &[Timeline]) -> Vec<String> {
        let mut out = Vec::new();
        for other in ["lambda", "stepfunctions", "ssm"] {
            if other == self.variant_name() {
                continue;
            }
            let latest = lab.iter().rev().find(|t| t.variant.as_deref() == Some(other) && t.time_to_contain.is_some());
            let measured = match (latest, self.time_to_contain) {
                (Some(t), Some(mine)) => {
                    let theirs = t.time_to_contain.unwrap_or_default();
                    let diff = theirs - mine;
                    format!(
                        "{other} contained {} in {} after its finding, {} {}",
                        t.run,
                        duration(Some(theirs)),
                        duration(Some(diff.abs())),
                        if diff < 0.0 { "faster" } else { "slower" }
                    )
                }
                (Some(t), None) => {
                    format!("{other} contained {} in {} after its finding", t.run, duration(t.time_to_contain))
                }
                (None, _) => format!("{other}: no contained run in this lab to compare with"),
            };
            out.push(format!("{measured}; {}", capability(other)));
        }
        out
    }

    fn further(&self) -> Vec<String> {
        let variant = self.variant_name();
        let mut further: Vec<String> = self
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("check `{}` failed: {}", c.name, c.observed))
            .collect();
        match variant {
            "lambda" => further.push(
                "eradication and recovery are manual with Lambda: a run ends at 15 minutes and cannot wait for a human's approval"
                    .to_string(),
            ),
            "stepfunctions" | "ssm" if self.has(RECOVERED_BY_PLAYBOOK) => further.push(format!(
                "only the decision was a person's: the {variant} playbook could also decide by itself for findings it trusts (a severity floor, a scenario)"
            )),
            "stepfunctions" | "ssm" if self.has(ERADICATED_BY_PLAYBOOK) => further.push(format!(
                "recovery was left to `irlab recover`: the {variant} execution that eradicated could bring back the victim too"
            )),
            "stepfunctions" | "ssm" => further.push(format!(
                "the {variant} engine can wait: with `irlab up --approval-timeout` it eradicates in the same execution after a human's approval"
            )),
            _ => {}
        }
        if !self.evidence.iter().any(|e| e.item == "memory.lime") {
            further.push(if variant == "lambda" {
                "no memory image: the Lambda playbook never takes one (`irlab playbook set stepfunctions`, `up --memory`)".to_string()
            } else {
                "no memory image was taken (`irlab up --memory --avml PATH`)".to_string()
            });
        }
        further
    }
}

/// What a variant's engine can do that matters to a reviewer.
fn capability(variant: &str) -> &'static str {
    match variant {
        "lambda" => {
            "Lambda contains in one function run capped at 15 minutes: it starts the snapshots without waiting for them, takes no memory image and cannot wait for an approval"
        }
        "stepfunctions" => {
            "Step Functions runs the same steps as a state machine that can wait: for the snapshots, for a memory image, and for an approval before it eradicates and recovers in the same execution"
        }
        _ => {
            "SSM Automation runs the same steps as a runbook that can wait: for the snapshots, for a memory image, and for an approval before it eradicates and recovers"
        }
    }
}

/// The post-incident section of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    pub happened: Vec<String>,
    pub done: Vec<String>,
    pub went_well: Vec<String>,
    pub time_went: Vec<String>,
    pub other_variants: Vec<String>,
    pub further: Vec<String>,
}

impl Review {
    /// The review's parts with their headings, in reading order.
    pub fn sections(&self) -> [(&'static str, &Vec<String>); 6] {
        [
            ("What happened", &self.happened),
            ("What was done", &self.done),
            ("What went well", &self.went_well),
            ("Where the time went", &self.time_went),
            ("What the other variants did, or would do", &self.other_variants),
            ("Where automation could go further", &self.further),
        ]
    }
}

/// One run as every format renders it: the timeline with its facts, its lanes, its review.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    #[serde(flatten)]
    pub timeline: Timeline,
    pub lanes: Vec<Lane>,
    pub review: Review,
}

/// The chosen runs' reports; `lab` is every timeline of the lab, for the comparisons.
pub fn build(chosen: Vec<Timeline>, lab: &[Timeline]) -> Vec<RunReport> {
    chosen.into_iter().map(|t| RunReport { lanes: t.lanes(), review: t.review(lab), timeline: t }).collect()
}

/// One run in the comparison: its times to detect, isolate and contain, and how long each phase
/// it reached lasted (detection aside: its time is the time to detect).
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    pub run: String,
    pub variant: String,
    pub detect: Option<f64>,
    pub isolate: Option<f64>,
    pub contain: Option<f64>,
    pub phases: Vec<(Phase, f64)>,
}

pub fn compare_rows(runs: &[RunReport]) -> Vec<CompareRow> {
    runs.iter()
        .map(|r| CompareRow {
            run: r.timeline.run.clone(),
            variant: r.timeline.variant_name().to_string(),
            detect: r.timeline.time_to_detect,
            isolate: r.timeline.time_to_isolate,
            contain: r.timeline.time_to_contain,
            phases: r.lanes.iter().filter(|l| l.phase != Phase::Detect).map(|l| (l.phase, l.lasted())).collect(),
        })
        .collect()
}

/// The points `irlab eradicate` and `irlab recover` recorded in the run, for its timeline (a
/// timeline kept at verify time has none: they come after).
pub fn lifecycle_points(run: &crate::lab::state::AttackRun) -> Vec<Point> {
    let mut out = Vec::new();
    let at = |s: &str| s.parse::<Timestamp>().ok();
    if let Some(e) = &run.eradication {
        if let Some(t) = at(&e.started_at) {
            out.push(Point { label: ERADICATION_STARTED.into(), at: t, key: false });
        }
        if let Some(t) = at(&e.ended_at) {
            let label = if e.eradicated { ERADICATED } else { ERADICATION_INCOMPLETE };
            out.push(Point { label: label.into(), at: t, key: true });
        }
    }
    if let (Some(a), Some(t)) = (&run.approval, run.approval.as_ref().and_then(|a| at(&a.at))) {
        let who = a.by.rsplit(['/', ':']).next().unwrap_or(&a.by);
        out.push(Point { label: format!("{} by {who}", a.decision), at: t, key: true });
    }
    if let Some(r) = &run.recovery {
        if let Some(t) = at(&r.started_at) {
            out.push(Point { label: RECOVERY_STARTED.into(), at: t, key: false });
        }
        if let Some(t) = at(&r.ended_at) {
            out.push(Point { label: RECOVERED.into(), at: t, key: true });
        }
    }
    out
}

pub fn duration(secs: Option<f64>) -> String {
    match secs {
        None => "n/a".into(),
        Some(s) if s < 60.0 => format!("{s:.1} s"),
        Some(s) => format!("{}m {:02}s", (s / 60.0) as u64, (s % 60.0) as u64),
    }
}

/// The summary block's fields, in the order a reviewer reads them, the same in every format.
pub fn summary(t: &Timeline) -> Vec<(&'static str, String)> {
    let or_unknown = |s: &str| if s.is_empty() { "not recorded".to_string() } else { s.to_string() };
    let f = t.finding.as_ref();
    vec![
        ("Date (UTC)", t.started().map(|at| at.strftime("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default()),
        ("Account", or_unknown(&t.account)),
        ("Region", or_unknown(&t.region)),
        ("Lab", t.lab.clone()),
        ("Run", format!("{} ({}, {} mode)", t.run, t.scenarios.join(", "), t.mode)),
        ("Finding type", f.map(|f| f.finding_type.clone()).unwrap_or_else(|| "no finding reached the lab".into())),
        ("Severity", f.map(FindingFacts::severity_text).unwrap_or_else(|| "n/a".into())),
        ("Finding id", f.map(|f| f.id.clone()).unwrap_or_else(|| "n/a".into())),
        ("Title", f.and_then(|f| f.title.clone()).unwrap_or_else(|| "n/a".into())),
        ("Victim", t.instance.clone()),
        ("Playbook", t.variant_name().to_string()),
        ("Time to detect", duration(t.time_to_detect)),
        ("Time to isolate", duration(t.time_to_isolate)),
        ("Time to contain", duration(t.time_to_contain)),
    ]
}

/// When the checks were judged, for the verdict's heading.
pub fn checked_when(t: &Timeline) -> String {
    match t.checked_at {
        Some(at) => format!("as judged at {} UTC", at.strftime("%Y-%m-%d %H:%M:%S")),
        None => "never judged".into(),
    }
}

#[cfg(test)]
mod tests;
