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

    fn offset(&self, at: Timestamp) -> f64 {
        let start = self.points.first().map(|p| p.at).unwrap_or(at);
        at.duration_since(start).as_secs_f64()
    }
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
        out.push_str("| time (UTC) | +s | event |\n|---|---|---|\n");
        for p in &t.points {
            let _ = writeln!(out, "| {} | {:.1} | {} |", p.at.strftime("%H:%M:%S%.3f"), t.offset(p.at), p.label);
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
    let (w, h, left, right) = (900.0, 60.0 + 26.0 * t.points.len() as f64, 40.0, 220.0);
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
    for (i, p) in t.points.iter().enumerate() {
        let px = x(t.offset(p.at));
        let py = 56.0 + 26.0 * i as f64;
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
        body.push_str("</section>\n");
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
        assert!(md.contains("| 10:00:05.000 | 5.0 | isolate |"), "{md}");
        assert!(md.contains("| run-2 | lambda | 1.5 s | 7.5 s |"), "{md}");
    }

    #[test]
    fn labels_are_escaped() {
        let mut t = sample();
        t.points[0].label = "<script>".into();
        assert!(!html(&[t]).contains("<script>"));
    }
}
