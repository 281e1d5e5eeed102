//! The incident's timeline as data, and its renderings: Markdown, JSON, and one self-contained
//! HTML file with an SVG chart. Pure: collection lives in `commands/report.rs`.

use std::fmt::Write as _;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    pub label: String,
    pub at: Timestamp,
    /// Key points (attack, finding, contained, verified) are drawn larger and listed in summaries.
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
    /// The volatile evidence the playbook collected before isolation, from its manifest.
    #[serde(default)]
    pub evidence: Vec<EvidenceItem>,
    /// The playbook's run was still going when the timeline was taken (waiting for an approval,
    /// eradicating): a kept timeline is then taken again.
    #[serde(default)]
    pub playbook_running: bool,
}

/// One item of the chain-of-custody manifest, as the report lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceItem {
    pub item: String,
    pub sha256: String,
    pub bytes: u64,
    pub collected_at: String,
}

pub const ATTACK: &str = "attack started";
pub const FINDING: &str = "finding created";
pub const CONTAINED: &str = "contained";
pub const ERADICATION_STARTED: &str = "eradication started";
pub const ERADICATED: &str = "eradicated";
pub const ERADICATION_INCOMPLETE: &str = "eradication ended, indicators left";
pub const ERADICATED_BY_PLAYBOOK: &str = "eradicated by the playbook";
pub const APPROVAL_TIMED_OUT: &str = "approval timed out";
pub const RECOVERED_BY_PLAYBOOK: &str = "recovered by the playbook";
pub const RECOVERY_STARTED: &str = "recovery started";
pub const RECOVERED: &str = "recovered";

/// The phases of the incident-response lifecycle the report draws as lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Detect,
    Analyse,
    Contain,
    Eradicate,
    Recover,
}

impl Phase {
    pub const ALL: [Phase; 5] = [Phase::Detect, Phase::Analyse, Phase::Contain, Phase::Eradicate, Phase::Recover];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Detect => "detect",
            Phase::Analyse => "analyse",
            Phase::Contain => "contain",
            Phase::Eradicate => "eradicate",
            Phase::Recover => "recover",
        }
    }

    /// Which phase a point of the timeline belongs to: the attack and its finding are detection,
    /// the playbook's triage and evidence collection analysis, the rest of its work containment.
    pub fn of(label: &str) -> Phase {
        let step = label.strip_prefix("containment: ").or_else(|| label.strip_prefix("step: "));
        match label {
            ATTACK | FINDING => Phase::Detect,
            l if l.starts_with("event delivered") => Phase::Detect,
            l if l.starts_with("playbook started") => Phase::Analyse,
            ERADICATION_STARTED | ERADICATED | ERADICATION_INCOMPLETE | ERADICATED_BY_PLAYBOOK | APPROVAL_TIMED_OUT => {
                Phase::Eradicate
            }
            l if l.starts_with("approved by ") || l.starts_with("rejected by ") => Phase::Eradicate,
            RECOVERY_STARTED | RECOVERED | RECOVERED_BY_PLAYBOOK => Phase::Recover,
            _ => match step.map(str::to_ascii_lowercase) {
                // After containment: the approval the playbook asks for and the eradication it
                // runs once approved (Step Functions states, SSM steps).
                Some(s)
                    if [
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
                    ]
                    .iter()
                    .any(|k| s.contains(k)) =>
                {
                    Phase::Recover
                }
                Some(s)
                    if ["approv", "eradicat", "agent", "decision", "left contained", "release", "check record"]
                        .iter()
                        .any(|k| s.contains(k)) =>
                {
                    Phase::Eradicate
                }
                Some(s)
                    if ["collect", "triage", "lookup", "decide", "evidence", "memory"]
                        .iter()
                        .any(|k| s.contains(k)) =>
                {
                    Phase::Analyse
                }
                _ => Phase::Contain,
            },
        }
    }
}

/// One lane: the first and last point of a phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Lane {
    pub phase: Phase,
    pub from: Timestamp,
    pub to: Timestamp,
}

impl Lane {
    /// The lane's row in both renderings: phase, from and to (seconds into the run), how long.
    fn row(&self, t: &Timeline) -> [String; 4] {
        [
            self.phase.name().to_string(),
            format!("{:.1}", t.offset(self.from)),
            format!("{:.1}", t.offset(self.to)),
            duration(Some(self.to.duration_since(self.from).as_secs_f64())),
        ]
    }
}

impl Timeline {
    /// Sorts the points and derives the two durations a responder is judged by.
    pub fn new(mut t: Timeline) -> Timeline {
        t.points.sort_by_key(|p| p.at);
        let at = |label: &str| t.points.iter().find(|p| p.label == label).map(|p| p.at);
        let secs = |a: Option<Timestamp>, b: Option<Timestamp>| Some(b?.duration_since(a?).as_secs_f64());
        t.time_to_detect = secs(at(ATTACK), at(FINDING));
        t.time_to_contain = secs(at(FINDING), at(CONTAINED));
        t
    }

    /// The lifecycle's lanes, in phase order, for the phases the run reached.
    pub fn lanes(&self) -> Vec<Lane> {
        Phase::ALL
            .into_iter()
            .filter_map(|phase| {
                let mut at = self.points.iter().filter(|p| Phase::of(&p.label) == phase).map(|p| p.at);
                let first = at.next()?;
                let (from, to) = at.fold((first, first), |(a, b), t| (a.min(t), b.max(t)));
                Some(Lane { phase, from, to })
            })
            .collect()
    }

    /// The post-incident review: what happened, what was done and by whom, and where automation
    /// could go further in this variant.
    pub fn review(&self) -> Review {
        let has = |label: &str| self.points.iter().any(|p| p.label == label);
        let variant = self.variant.as_deref().unwrap_or("none");
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
        done.push(if has(CONTAINED) {
            format!("contained automatically by the {variant} playbook in {}", duration(self.time_to_contain))
        } else {
            format!("not contained by the {variant} playbook")
        });
        let decided =
            self.points.iter().find(|p| p.label.starts_with("approved by ") || p.label.starts_with("rejected by "));
        if let Some(p) = decided {
            done.push(format!("{} after containment", p.label));
        } else if has(APPROVAL_TIMED_OUT) {
            done.push("nobody approved or rejected in time: the playbook left the victim contained".to_string());
        }
        done.push(if has(ERADICATED_BY_PLAYBOOK) {
            format!("eradicated by the {variant} playbook after the approval, in the same execution: no indicator left")
        } else if has(ERADICATED) {
            "eradicated by hand (`irlab eradicate`): no indicator left".to_string()
        } else if has(ERADICATION_INCOMPLETE) {
            "eradication run by hand (`irlab eradicate`), indicators left".to_string()
        } else {
            "not eradicated".to_string()
        });
        done.push(if has(RECOVERED_BY_PLAYBOOK) {
            format!("recovered by the {variant} playbook in the same execution: a new victim from the baseline")
        } else if has(RECOVERED) {
            "recovered by hand (`irlab recover`): a new victim from the baseline".to_string()
        } else {
            "not recovered".to_string()
        });
        let mut further = Vec::new();
        match variant {
            "lambda" => further.push(
                "eradication and recovery are manual with Lambda: a run ends at 15 minutes and cannot wait for a human's approval"
                    .to_string(),
            ),
            "stepfunctions" | "ssm" if has(RECOVERED_BY_PLAYBOOK) => further.push(format!(
                "only the decision was a person's: the {variant} playbook could also decide by itself for findings it trusts (a severity floor, a scenario)"
            )),
            "stepfunctions" | "ssm" if has(ERADICATED_BY_PLAYBOOK) => further.push(format!(
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
        Review { happened, done, further }
    }

    fn offset(&self, at: Timestamp) -> f64 {
        let start = self.points.first().map(|p| p.at).unwrap_or(at);
        at.duration_since(start).as_secs_f64()
    }
}

/// The post-incident section of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub happened: Vec<String>,
    pub done: Vec<String>,
    pub further: Vec<String>,
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

pub fn markdown(timelines: &[Timeline]) -> String {
    let mut out = String::from("# irlab incident report\n\n");
    for t in timelines {
        let _ = writeln!(
            out,
            "## {} ({}, {} mode, playbook {})\n",
            t.run,
            t.scenarios.join(", "),
            t.mode,
            t.variant.as_deref().unwrap_or("none")
        );
        let _ = writeln!(out, "Victim `{}` in lab `{}`.\n", t.instance, t.lab);
        let _ = writeln!(
            out,
            "- time to detect: **{}**\n- time to contain: **{}**\n",
            duration(t.time_to_detect),
            duration(t.time_to_contain)
        );
        out.push_str("| phase | from (+s) | to (+s) | lasted |\n|---|---|---|---|\n");
        for l in t.lanes() {
            let _ = writeln!(out, "| {} |", l.row(t).join(" | "));
        }
        out.push('\n');
        out.push_str("| time (UTC) | +s | phase | event |\n|---|---|---|---|\n");
        for p in &t.points {
            let _ = writeln!(
                out,
                "| {} | {:.1} | {} | {} |",
                p.at.strftime("%H:%M:%S%.3f"),
                t.offset(p.at),
                Phase::of(&p.label).name(),
                p.label
            );
        }
        out.push('\n');
        if !t.evidence.is_empty() {
            out.push_str("Evidence collected before isolation (`irlab evidence verify` rechecks each hash):\n\n");
            out.push_str("| item | SHA-256 | bytes | collected (UTC) |\n|---|---|---|---|\n");
            for e in &t.evidence {
                let _ = writeln!(out, "| {} | `{}` | {} | {} |", e.item, e.sha256, e.bytes, e.collected_at);
            }
            out.push('\n');
        }
        let r = t.review();
        out.push_str("### Post-incident review\n\n");
        for (title, lines) in [
            ("What happened", &r.happened),
            ("What was done", &r.done),
            ("Where automation could go further", &r.further),
        ] {
            let _ = writeln!(out, "{title}:\n");
            for l in lines {
                let _ = writeln!(out, "- {l}");
            }
            out.push('\n');
        }
    }
    if timelines.len() > 1 {
        out.push_str(&compare_markdown(timelines));
    }
    out
}

pub fn compare_markdown(timelines: &[Timeline]) -> String {
    let mut out =
        String::from("## Comparison\n\n| run | playbook | time to detect | time to contain |\n|---|---|---|---|\n");
    for t in timelines {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            t.run,
            t.variant.as_deref().unwrap_or("none"),
            duration(t.time_to_detect),
            duration(t.time_to_contain)
        );
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One SVG chart: a horizontal time axis, a dot and label per point, key points emphasised.
pub fn svg(t: &Timeline) -> String {
    let lanes = t.lanes();
    let lanes_h = 20.0 * lanes.len() as f64;
    let (w, h, left, right) = (900.0, 60.0 + lanes_h + 26.0 * t.points.len() as f64, 40.0, 220.0);
    let span = t.points.last().map(|p| t.offset(p.at)).unwrap_or(0.0).max(0.001);
    let x = |secs: f64| left + (w - left - right) * secs / span;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" data-run=\"{}\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"timeline of {}\">\n",
        esc(&t.run),
        esc(&t.run)
    );
    let axis_y = 30.0;
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\" stroke=\"#555\" stroke-width=\"2\"/>",
        w - right
    );
    let _ = writeln!(s, "<text x=\"{left}\" y=\"18\" font-size=\"12\" fill=\"#555\">0 s</text>");
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"18\" font-size=\"12\" fill=\"#555\" text-anchor=\"end\">{:.1} s</text>",
        w - right,
        span
    );
    // One lane per phase of the lifecycle the run reached, from its first point to its last.
    for (i, l) in lanes.iter().enumerate() {
        let (x1, x2) = (x(t.offset(l.from)), x(t.offset(l.to)));
        let y = axis_y + 12.0 + 20.0 * i as f64;
        let _ = writeln!(
            s,
            "<rect class=\"lane {}\" x=\"{x1:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"14\" rx=\"3\" fill=\"{}\" opacity=\"0.35\"/>",
            l.phase.name(),
            (x2 - x1).max(4.0),
            lane_color(l.phase)
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#333\">{}</text>",
            x2 + 6.0,
            y + 11.0,
            l.phase.name()
        );
    }
    for (i, p) in t.points.iter().enumerate() {
        let px = x(t.offset(p.at));
        let py = 56.0 + lanes_h + 26.0 * i as f64;
        let (r, color) = if p.key { (7.0, "#c0392b") } else { (4.0, "#2c7fb8") };
        let _ = writeln!(
            s,
            "<line x1=\"{px:.1}\" y1=\"{axis_y}\" x2=\"{px:.1}\" y2=\"{py:.1}\" stroke=\"#bbb\" stroke-dasharray=\"2,3\"/>"
        );
        let _ = writeln!(
            s,
            "<circle class=\"point{}\" cx=\"{px:.1}\" cy=\"{axis_y}\" r=\"{r}\" fill=\"{color}\"/>",
            if p.key { " key" } else { "" }
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" fill=\"#222\"{}>{} (+{:.1} s)</text>",
            px + 6.0,
            py + 4.0,
            if p.key { " font-weight=\"bold\"" } else { "" },
            esc(&p.label),
            t.offset(p.at)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn lane_color(p: Phase) -> &'static str {
    match p {
        Phase::Detect => "#8e44ad",
        Phase::Analyse => "#2980b9",
        Phase::Contain => "#c0392b",
        Phase::Eradicate => "#d35400",
        Phase::Recover => "#27ae60",
    }
}

pub fn html(timelines: &[Timeline]) -> String {
    let mut body = String::new();
    for t in timelines {
        let _ = write!(
            body,
            "<section><h2>{} <small>{} &middot; {} mode &middot; playbook {}</small></h2>\n<p>Victim <code>{}</code> in lab <code>{}</code>.</p>\n<div class=\"kpis\"><div class=\"kpi\" id=\"ttd-{}\"><span>time to detect</span><b>{}</b></div><div class=\"kpi\" id=\"ttc-{}\"><span>time to contain</span><b>{}</b></div></div>\n{}<table><tr><th>time (UTC)</th><th>+s</th><th>event</th></tr>\n",
            esc(&t.run),
            esc(&t.scenarios.join(", ")),
            esc(&t.mode),
            esc(t.variant.as_deref().unwrap_or("none")),
            esc(&t.instance),
            esc(&t.lab),
            esc(&t.run),
            duration(t.time_to_detect),
            esc(&t.run),
            duration(t.time_to_contain),
            svg(t)
        );
        for p in &t.points {
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td>{:.1}</td><td>{}</td></tr>",
                p.at.strftime("%H:%M:%S%.3f"),
                t.offset(p.at),
                esc(&p.label)
            );
        }
        body.push_str("</table>\n");
        let _ = writeln!(
            body,
            "<h3>Lifecycle</h3><table id=\"lanes-{}\"><tr><th>phase</th><th>from (+s)</th><th>to (+s)</th><th>lasted</th></tr>",
            esc(&t.run)
        );
        for l in t.lanes() {
            let _ = writeln!(body, "<tr><td>{}</td></tr>", l.row(t).join("</td><td>"));
        }
        body.push_str("</table>\n");
        if !t.evidence.is_empty() {
            let _ = writeln!(
                body,
                "<h3>Evidence collected before isolation</h3><table id=\"evidence-{}\"><tr><th>item</th><th>SHA-256</th><th>bytes</th><th>collected (UTC)</th></tr>",
                esc(&t.run)
            );
            for e in &t.evidence {
                let _ = writeln!(
                    body,
                    "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    esc(&e.item),
                    esc(&e.sha256),
                    e.bytes,
                    esc(&e.collected_at)
                );
            }
            body.push_str("</table>\n");
        }
        let r = t.review();
        let _ = writeln!(body, "<h3>Post-incident review</h3><div class=\"review\" id=\"review-{}\">", esc(&t.run));
        for (title, lines) in [
            ("What happened", &r.happened),
            ("What was done", &r.done),
            ("Where automation could go further", &r.further),
        ] {
            let _ = write!(body, "<h4>{title}</h4><ul>");
            for l in lines {
                let _ = write!(body, "<li>{}</li>", esc(l));
            }
            body.push_str("</ul>\n");
        }
        body.push_str("</div>\n</section>\n");
    }
    if timelines.len() > 1 {
        body.push_str("<section><h2>Comparison</h2><table id=\"compare\"><tr><th>run</th><th>playbook</th><th>time to detect</th><th>time to contain</th></tr>\n");
        for t in timelines {
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&t.run),
                esc(t.variant.as_deref().unwrap_or("none")),
                duration(t.time_to_detect),
                duration(t.time_to_contain)
            );
        }
        body.push_str("</table></section>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>irlab incident report</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:2rem;color:#222;background:#fff}}h1{{margin-top:0}}small{{color:#666;font-weight:normal}}\
.kpis{{display:flex;gap:1rem;margin:1rem 0}}.kpi{{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem}}.kpi span{{display:block;color:#666;font-size:.8rem}}.kpi b{{font-size:1.4rem}}\
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}}\
</style></head><body><h1>irlab incident report</h1>\n{body}</body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn sample() -> Timeline {
        Timeline::new(Timeline {
            lab: "irlab".into(),
            run: "run-1".into(),
            scenarios: vec!["tor-client".into()],
            mode: "inject".into(),
            variant: Some("stepfunctions".into()),
            instance: "i-1".into(),
            points: vec![
                Point { label: CONTAINED.into(), at: ts("2026-11-28T10:00:09Z"), key: true },
                Point { label: ATTACK.into(), at: ts("2026-11-28T10:00:00Z"), key: true },
                Point { label: FINDING.into(), at: ts("2026-11-28T10:00:01.5Z"), key: true },
                Point { label: "isolate".into(), at: ts("2026-11-28T10:00:05Z"), key: false },
            ],
            time_to_detect: None,
            time_to_contain: None,
            evidence: vec![EvidenceItem {
                item: "processes.txt".into(),
                sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
                bytes: 1234,
                collected_at: "2026-11-28T10:00:03Z".into(),
            }],
            playbook_running: false,
        })
    }

    #[test]
    fn the_evidence_table_lists_each_item_with_its_hash() {
        let t = sample();
        let md = markdown(std::slice::from_ref(&t));
        assert!(
            md.contains(
                "| processes.txt | `ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad` | 1234 |"
            ),
            "{md}"
        );
        let html = html(&[t]);
        assert!(html.contains("<table id=\"evidence-run-1\">") && html.contains("<td>processes.txt</td>"), "{html}");
    }

    #[test]
    fn points_are_ordered_and_the_durations_derived() {
        let t = sample();
        let labels: Vec<&str> = t.points.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, vec![ATTACK, FINDING, "isolate", CONTAINED]);
        assert_eq!(t.time_to_detect, Some(1.5));
        assert_eq!(t.time_to_contain, Some(7.5));
    }

    #[test]
    fn a_missing_point_leaves_its_duration_unknown() {
        let mut t = sample();
        t.points.retain(|p| p.label != CONTAINED);
        let t = Timeline::new(t);
        assert_eq!(t.time_to_contain, None);
        assert_eq!(duration(t.time_to_contain), "n/a");
    }

    #[test]
    fn the_html_is_self_contained_with_one_chart_per_run() {
        let page = html(&[sample()]);
        assert_eq!(page.matches("<svg").count(), 1);
        assert_eq!(page.matches("class=\"point key\"").count(), 3);
        assert!(!page.contains("<script") && !page.contains("src=\"http"), "no external resources");
        assert!(page.contains("<b>1.5 s</b>") && page.contains("<b>7.5 s</b>"));
    }

    #[test]
    fn markdown_lists_every_point_and_compares_runs() {
        let mut other = sample();
        other.run = "run-2".into();
        other.variant = Some("lambda".into());
        let md = markdown(&[sample(), other]);
        assert!(md.contains("| 10:00:05.000 | 5.0 | contain | isolate |"), "{md}");
        assert!(md.contains("| run-2 | lambda | 1.5 s | 7.5 s |"), "{md}");
    }

    #[test]
    fn the_lifecycle_lanes_and_the_review_follow_what_the_run_reached() {
        let mut t = sample();
        assert_eq!(t.lanes().iter().map(|l| l.phase.name()).collect::<Vec<_>>(), vec!["detect", "contain"]);
        let r = t.review();
        assert_eq!(r.done[1..], ["not eradicated".to_string(), "not recovered".to_string()]);
        assert!(
            r.further.iter().any(|f| f.contains("it eradicates in the same execution after a human's approval")),
            "{r:?}"
        );
        t.points.push(Point { label: ERADICATION_STARTED.into(), at: ts("2026-11-28T10:01:00Z"), key: false });
        t.points.push(Point { label: ERADICATED.into(), at: ts("2026-11-28T10:01:20Z"), key: true });
        t.points.push(Point { label: RECOVERY_STARTED.into(), at: ts("2026-11-28T10:02:00Z"), key: false });
        t.points.push(Point { label: RECOVERED.into(), at: ts("2026-11-28T10:02:30Z"), key: true });
        let t = Timeline::new(t);
        let lanes = t.lanes();
        assert_eq!(
            lanes.iter().map(|l| l.phase.name()).collect::<Vec<_>>(),
            vec!["detect", "contain", "eradicate", "recover"]
        );
        assert_eq!(lanes[2].to.duration_since(lanes[2].from).as_secs_f64(), 20.0);
        let md = markdown(std::slice::from_ref(&t));
        assert!(md.contains("| eradicate | 60.0 | 80.0 | 20.0 s |"), "{md}");
        assert!(md.contains("- recovered by hand (`irlab recover`)"), "{md}");
        let page = html(&[t]);
        assert_eq!(page.matches("<rect class=\"lane ").count(), 4, "{page}");
        let mut lambda = sample();
        lambda.variant = Some("lambda".into());
        assert!(lambda.review().further.iter().any(|f| f.contains("cannot wait for a human's approval")));
        assert_eq!(Phase::of("containment: collect"), Phase::Analyse);
        assert_eq!(Phase::of("containment: cut"), Phase::Contain);
        // After containment: the approval and the playbook's own eradication.
        for label in ["step: Ask approval", "step: Send eradication", "step: waitForApproval", "approved by alice"] {
            assert_eq!(Phase::of(label), Phase::Eradicate, "{label}");
        }
        for label in ["step: Stop compromised", "step: Update victim stack", "step: Point rule at new victim"] {
            assert_eq!(Phase::of(label), Phase::Recover, "{label}");
        }
        // The containment protects the instance from a stop; the recovery stops it.
        assert_eq!(Phase::of("step: Protect from stop"), Phase::Contain);
    }

    #[test]
    fn an_approved_playbook_eradication_is_told_apart_from_one_by_hand() {
        let mut t = sample();
        t.points.push(Point { label: "approved by alice".into(), at: ts("2026-11-28T10:01:00Z"), key: true });
        t.points.push(Point { label: ERADICATED_BY_PLAYBOOK.into(), at: ts("2026-11-28T10:01:30Z"), key: true });
        let r = Timeline::new(t).review();
        assert!(r.done.contains(&"approved by alice after containment".to_string()), "{r:?}");
        assert!(
            r.done.iter().any(|d| d.starts_with("eradicated by the stepfunctions playbook after the approval")),
            "{r:?}"
        );
        assert!(r.further.iter().any(|f| f.contains("recovery was left to `irlab recover`")), "{r:?}");
        let mut silent = sample();
        silent.points.push(Point { label: APPROVAL_TIMED_OUT.into(), at: ts("2026-11-28T10:01:00Z"), key: true });
        let r = Timeline::new(silent).review();
        assert!(r.done.iter().any(|d| d.starts_with("nobody approved or rejected in time")), "{r:?}");
        assert!(r.done.contains(&"not eradicated".to_string()), "{r:?}");
    }

    #[test]
    fn labels_are_escaped() {
        let mut t = sample();
        t.points[0].label = "<script>".into();
        assert!(!html(&[t]).contains("<script>"));
    }
}
