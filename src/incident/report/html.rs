//! The review as one self-contained HTML page: no script, no external request, a print
//! stylesheet. Each run has its summary block, the checks' verdicts, a timeline in lanes by
//! phase (engine steps folded into their phase, key points labelled where no label overlaps
//! another), the evidence, the changes and the review; several runs end with a comparison chart.

use std::fmt::Write as _;

use super::{CompareRow, Lane, Phase, RunReport, Timeline, checked_when, compare_rows, duration, summary};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An id made of the run's name, for anchors and tests.
fn id(prefix: &str, run: &str) -> String {
    format!("{prefix}-{}", esc(run))
}

pub fn html(runs: &[RunReport]) -> String {
    let mut body = String::new();
    if runs.len() > 1 {
        body.push_str(&comparison(runs));
    }
    for r in runs {
        body.push_str(&section(r));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>irlab post-incident review</title>\n<style>{CSS}</style></head><body><h1>irlab post-incident review</h1>\n{body}</body></html>\n"
    )
}

const CSS: &str = "\
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;background:#fff;max-width:70rem}\
h1{margin-top:0}h2 small{color:#555;font-weight:normal;font-size:.8em}\
.summary{display:grid;grid-template-columns:repeat(auto-fill,minmax(15rem,1fr));gap:.4rem 1.2rem;margin:1rem 0;padding:.8rem 1rem;border:1px solid #ccc;border-radius:6px}\
.summary div{display:flex;flex-direction:column}.summary dt{color:#555;font-size:.8rem}.summary dd{margin:0;font-weight:600;overflow-wrap:anywhere}\
.kpis{display:flex;gap:1rem;margin:1rem 0;flex-wrap:wrap}.kpi{border:1px solid #ccc;border-radius:6px;padding:.6rem 1rem}.kpi span{display:block;color:#555;font-size:.8rem}.kpi b{font-size:1.4rem}\
table{border-collapse:collapse;margin:.6rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}\
td.pass,td.fail{white-space:nowrap;font-weight:600}td.pass{color:#1e7b34}td.fail{color:#b00020}\
details.phase{margin:.3rem 0}details.phase summary{cursor:pointer}\
svg text{font-family:'DejaVu Sans Mono',ui-monospace,monospace}\
@media print{body{margin:0;max-width:none;font-size:10pt}section.run~section.run{break-before:page}\
table,svg,.summary,.kpis{break-inside:avoid}details.phase::details-content{content-visibility:visible;display:block}\
details.phase summary{list-style:none}.kpi,.summary{border-color:#888}}";

fn section(r: &RunReport) -> String {
    let t = &r.timeline;
    let mut s = format!(
        "<section class=\"run\" id=\"{}\"><h2>{} <small>{} &middot; {} mode &middot; playbook {}</small></h2>\n",
        id("run", &t.run),
        esc(&t.run),
        esc(&t.scenarios.join(", ")),
        esc(&t.mode),
        esc(t.variant.as_deref().unwrap_or("none"))
    );
    if t.playbook_running {
        s.push_str("<p><strong>The playbook was still running when this was written:</strong> run <code>irlab report</code> again later.</p>\n");
    }
    let _ = write!(s, "<dl class=\"summary\" id=\"{}\">", id("summary", &t.run));
    // The times follow as the page's three figures.
    for (k, v) in summary(t).into_iter().filter(|(k, _)| !k.starts_with("Time to")) {
        let _ = write!(s, "<div><dt>{k}</dt><dd>{}</dd></div>", esc(&v));
    }
    s.push_str("</dl>\n<div class=\"kpis\">");
    for (key, name, value) in [
        ("ttd", "time to detect", t.time_to_detect),
        ("tti", "time to isolate", t.time_to_isolate),
        ("ttc", "time to contain", t.time_to_contain),
    ] {
        let _ = write!(
            s,
            "<div class=\"kpi\" id=\"{}\"><span>{name}</span><b>{}</b></div>",
            id(key, &t.run),
            duration(value)
        );
    }
    s.push_str("</div>\n");

    let _ = writeln!(s, "<h3>Verify verdict <small>{}</small></h3>", esc(&checked_when(t)));
    if t.checks.is_empty() {
        s.push_str("<p>No check was judged for this run: <code>irlab verify</code> judges it.</p>\n");
    } else {
        let _ = writeln!(
            s,
            "<table id=\"{}\"><tr><th>check</th><th>verdict</th><th>observed</th></tr>",
            id("checks", &t.run)
        );
        for c in &t.checks {
            // The word carries the verdict; colour and symbol only repeat it.
            let (class, word) = if c.passed { ("pass", "&#10003; PASS") } else { ("fail", "&#10007; FAIL") };
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td></tr>",
                esc(&c.name),
                esc(&c.observed)
            );
        }
        s.push_str("</table>\n");
    }

    s.push_str("<h3>Timeline by phase</h3>\n");
    s.push_str(&svg(t, &r.lanes));
    let _ = writeln!(s, "<div class=\"phases\" id=\"{}\">", id("lanes", &t.run));
    for l in &r.lanes {
        let _ = write!(
            s,
            "<details class=\"phase\" data-phase=\"{}\"><summary><b>{}</b>: +{:.1} s to +{:.1} s, {}, {} point(s)</summary><table><tr><th>+s</th><th>event</th></tr>",
            l.phase.name(),
            l.phase.name(),
            l.from,
            l.to,
            duration(Some(l.lasted())),
            l.points.len()
        );
        for (label, secs) in &l.points {
            let _ = write!(s, "<tr><td>{secs:.1}</td><td>{}</td></tr>", esc(label));
        }
        s.push_str("</table></details>\n");
    }
    s.push_str("</div>\n");

    s.push_str("<h3>Evidence</h3>\n");
    if t.snapshots.is_empty() {
        s.push_str("<p>No snapshot of the victim's volumes was taken for this run.</p>\n");
    } else {
        let _ = writeln!(
            s,
            "<table id=\"{}\"><tr><th>volume</th><th>snapshot</th><th>state</th></tr>",
            id("snapshots", &t.run)
        );
        for sn in &t.snapshots {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&sn.volume),
                esc(&sn.snapshot),
                esc(&sn.state)
            );
        }
        s.push_str("</table>\n");
    }
    if t.evidence.is_empty() {
        s.push_str("<p>No volatile evidence was collected before isolation.</p>\n");
    } else {
        let _ = writeln!(
            s,
            "<p>Collected before isolation (<code>irlab evidence verify</code> rechecks each hash):</p><table id=\"{}\"><tr><th>item</th><th>SHA-256</th><th>bytes</th><th>collected (UTC)</th></tr>",
            id("evidence", &t.run)
        );
        for e in &t.evidence {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&e.item),
                esc(&e.sha256),
                e.bytes,
                esc(&e.collected_at)
            );
        }
        s.push_str("</table>\n");
    }

    s.push_str("<h3>What changed on the instance</h3>\n");
    if t.changes.is_empty() {
        s.push_str("<p>Not recorded for this run.</p>\n");
    } else {
        let _ =
            writeln!(s, "<table id=\"{}\"><tr><th>what</th><th>before</th><th>after</th></tr>", id("changes", &t.run));
        for c in &t.changes {
            let _ =
                writeln!(s, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&c.what), esc(&c.before), esc(&c.after));
        }
        s.push_str("</table>\n");
    }

    let _ = writeln!(s, "<h3>Post-incident review</h3><div class=\"review\" id=\"{}\">", id("review", &t.run));
    for (title, lines) in r.review.sections() {
        let _ = write!(s, "<h4>{title}</h4><ul>");
        for l in lines {
            let _ = write!(s, "<li>{}</li>", esc(l));
        }
        s.push_str("</ul>\n");
    }
    s.push_str("</div>\n</section>\n");
    s
}

/// The chart's geometry. Labels use a monospace font, so a label's width is known here.
const WIDTH: f64 = 960.0;
const GUTTER: f64 = 100.0;
const RIGHT: f64 = 24.0;
const LANE_H: f64 = 22.0;
const ROW_H: f64 = 18.0;
const FONT: f64 = 12.0;
/// DejaVu Sans Mono's advance is 0.602 em; a little more covers other monospace fonts.
const CHAR_W: f64 = FONT * 0.62;
const GAP: f64 = 10.0;

/// A key point's label, placed: its left edge, its width and its row under the lanes.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Placed {
    pub x: f64,
    pub width: f64,
    pub row: usize,
    pub anchor_end: bool,
}

/// Places each label (point's x, text length in characters) in the first row where it does not
/// overlap a label already there; a label that would run past the right edge ends at its point.
pub(super) fn place(labels: &[(f64, usize)], right_edge: f64) -> Vec<Placed> {
    let mut rows: Vec<Vec<(f64, f64)>> = Vec::new();
    labels
        .iter()
        .map(|&(px, chars)| {
            let width = chars as f64 * CHAR_W;
            let anchor_end = px + width > right_edge;
            let x = if anchor_end { (px - width).max(GUTTER) } else { px };
            let free = |row: &Vec<(f64, f64)>| row.iter().all(|&(a, b)| x + width + GAP <= a || b + GAP <= x);
            let row = match rows.iter().position(free) {
                Some(i) => i,
                None => {
                    rows.push(Vec::new());
                    rows.len() - 1
                }
            };
            rows[row].push((x, x + width));
            Placed { x, width, row, anchor_end }
        })
        .collect()
}

fn lane_color(p: Phase) -> &'static str {
    match p {
        Phase::Detect => "#8e44ad",
        Phase::Analyse => "#2980b9",
        Phase::Evidence => "#16a085",
        Phase::Contain => "#c0392b",
        Phase::Notify => "#7f8c8d",
        Phase::Eradicate => "#d35400",
        Phase::Recover => "#27ae60",
    }
}

/// The timeline: one lane per phase the run reached, a dot per point in its lane (key points
/// larger and red, the others small with their label as a tooltip), and the key points' labels
/// under the lanes, each joined to its point.
pub fn svg(t: &Timeline, lanes: &[Lane]) -> String {
    let span = t.points.last().map(|p| t.offset(p.at)).unwrap_or(0.0).max(0.001);
    let x = |secs: f64| GUTTER + (WIDTH - GUTTER - RIGHT) * secs / span;
    let top = 28.0;
    let lane_y = |i: usize| top + LANE_H * i as f64;
    let lanes_end = lane_y(lanes.len());
    let keys: Vec<(&str, f64, usize)> = t
        .points
        .iter()
        .filter(|p| p.key)
        .map(|p| {
            let lane = lanes.iter().position(|l| l.phase == Phase::of(&p.label)).unwrap_or(0);
            (p.label.as_str(), t.offset(p.at), lane)
        })
        .collect();
    let texts: Vec<String> = keys.iter().map(|(label, secs, _)| format!("{label} +{secs:.1} s")).collect();
    let placed = place(
        &keys.iter().zip(&texts).map(|((_, secs, _), text)| (x(*secs), text.chars().count())).collect::<Vec<_>>(),
        WIDTH - RIGHT,
    );
    let rows = placed.iter().map(|p| p.row + 1).max().unwrap_or(0);
    let labels_top = lanes_end + 20.0;
    let h = labels_top + ROW_H * rows as f64 + 8.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" data-run=\"{}\" width=\"{WIDTH}\" height=\"{h:.0}\" viewBox=\"0 0 {WIDTH} {h:.0}\" role=\"img\" aria-label=\"timeline of {} by phase\">\n",
        esc(&t.run),
        esc(&t.run)
    );
    let _ = writeln!(
        s,
        "<text class=\"axis\" x=\"{GUTTER}\" y=\"16\" font-size=\"{FONT}\" fill=\"#555\">0 s</text><text class=\"axis\" x=\"{}\" y=\"16\" font-size=\"{FONT}\" fill=\"#555\" text-anchor=\"end\">{:.1} s</text>",
        WIDTH - RIGHT,
        span
    );
    for (i, l) in lanes.iter().enumerate() {
        let y = lane_y(i);
        let (x1, x2) = (x(l.from), x(l.to));
        let _ = writeln!(
            s,
            "<text class=\"lane-name\" x=\"8\" y=\"{:.1}\" font-size=\"{FONT}\" fill=\"#333\">{}</text>",
            y + 14.0,
            l.phase.name()
        );
        let _ = writeln!(
            s,
            "<line x1=\"{GUTTER}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>",
            y + 10.0,
            WIDTH - RIGHT,
            y + 10.0
        );
        let _ = writeln!(
            s,
            "<rect class=\"lane {}\" x=\"{x1:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"14\" rx=\"3\" fill=\"{}\" opacity=\"0.3\"/>",
            l.phase.name(),
            y + 3.0,
            (x2 - x1).max(4.0),
            lane_color(l.phase)
        );
    }
    for p in t.points.iter().filter(|p| !p.key) {
        let lane = lanes.iter().position(|l| l.phase == Phase::of(&p.label)).unwrap_or(0);
        let _ = writeln!(
            s,
            "<circle class=\"point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#2c7fb8\"><title>{} (+{:.1} s)</title></circle>",
            x(t.offset(p.at)),
            lane_y(lane) + 10.0,
            esc(&p.label),
            t.offset(p.at)
        );
    }
    for (((label, secs, lane), text), at) in keys.iter().zip(&texts).zip(&placed) {
        let (px, py) = (x(*secs), lane_y(*lane) + 10.0);
        let ty = labels_top + ROW_H * at.row as f64;
        let _ = writeln!(
            s,
            "<line x1=\"{px:.1}\" y1=\"{py:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"#bbb\" stroke-dasharray=\"2,3\"/>",
            ty - FONT
        );
        let _ = writeln!(
            s,
            "<circle class=\"point key\" cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"6\" fill=\"#c0392b\"><title>{}</title></circle>",
            esc(label)
        );
        let _ = writeln!(
            s,
            "<text class=\"label\" x=\"{:.1}\" y=\"{ty:.1}\" font-size=\"{FONT}\" fill=\"#222\"{}>{}</text>",
            if at.anchor_end { at.x + at.width } else { at.x },
            if at.anchor_end { " text-anchor=\"end\"" } else { "" },
            esc(text)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The comparison: for each run, a bar per measure (the times to detect, isolate and contain,
/// then how long each phase it reached lasted), then the table of the same numbers.
fn comparison(runs: &[RunReport]) -> String {
    let rows = compare_rows(runs);
    let bars = |r: &CompareRow| -> Vec<(String, &'static str, Option<f64>)> {
        let mut out = vec![
            ("time to detect".to_string(), "#8e44ad", r.detect),
            ("time to isolate".to_string(), "#2980b9", r.isolate),
            ("time to contain".to_string(), "#c0392b", r.contain),
        ];
        out.extend(r.phases.iter().map(|(p, secs)| (format!("{} lasted", p.name()), lane_color(*p), Some(*secs))));
        out
    };
    let max = rows.iter().flat_map(|r| bars(r).into_iter().filter_map(|b| b.2)).fold(0.001_f64, f64::max);
    let (gutter, value_room, bar_h, step) = (300.0, 90.0, 11.0, 14.0);
    let bar_w = |v: f64| (WIDTH - gutter - value_room) * v / max;
    let mut s = String::from("<section class=\"compare\"><h2>Comparison of the playbook variants</h2>\n");
    let heights: Vec<f64> = rows.iter().map(|r| step * bars(r).len() as f64 + 16.0).collect();
    let h = 10.0 + heights.iter().sum::<f64>();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"compare-chart\" width=\"{WIDTH}\" height=\"{h:.0}\" viewBox=\"0 0 {WIDTH} {h:.0}\" role=\"img\" aria-label=\"times to detect, isolate and contain, and each phase, per run\">"
    );
    let mut y0 = 10.0;
    for (r, height) in rows.iter().zip(&heights) {
        let _ = writeln!(
            s,
            "<text class=\"run-name\" x=\"8\" y=\"{:.1}\" font-size=\"{FONT}\" font-weight=\"bold\" fill=\"#222\">{}</text><text class=\"run-name\" x=\"8\" y=\"{:.1}\" font-size=\"{FONT}\" fill=\"#555\">{}</text>",
            y0 + 10.0,
            esc(&r.variant),
            y0 + 26.0,
            esc(&r.run)
        );
        for (i, (name, color, v)) in bars(r).iter().enumerate() {
            let y = y0 + step * i as f64;
            let w = v.map(bar_w).unwrap_or(0.0);
            let _ = writeln!(
                s,
                "<text class=\"measure\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#555\" text-anchor=\"end\">{name}</text><rect class=\"bar\" x=\"{gutter}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{bar_h}\" fill=\"{color}\"/><text class=\"value\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#333\">{}</text>",
                gutter - 6.0,
                y + 9.0,
                gutter + w + 6.0,
                y + 9.0,
                duration(*v)
            );
        }
        y0 += height;
    }
    s.push_str("</svg>\n<table id=\"compare\"><tr><th>run</th><th>playbook</th><th>time to detect</th><th>time to isolate</th><th>time to contain</th><th>phases</th></tr>\n");
    for r in &rows {
        let phases: Vec<String> =
            r.phases.iter().map(|(p, secs)| format!("{} {}", p.name(), duration(Some(*secs)))).collect();
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.run),
            esc(&r.variant),
            duration(r.detect),
            duration(r.isolate),
            duration(r.contain),
            esc(&phases.join(", "))
        );
    }
    s.push_str("</table></section>\n");
    s
}
