//! The review in Markdown: the same sections, in the same order, as the HTML page.

use std::fmt::Write as _;

use super::{Phase, RunReport, checked_when, compare_rows, duration, summary};

/// A table cell: no line breaks, and no `|` that would end it.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(runs: &[RunReport]) -> String {
    let mut out = String::from("# irlab post-incident review\n\n");
    for r in runs {
        let t = &r.timeline;
        let _ = writeln!(
            out,
            "## {} ({}, {} mode, playbook {})\n",
            t.run,
            t.scenarios.join(", "),
            t.mode,
            t.variant.as_deref().unwrap_or("none")
        );
        out.push_str("### Summary\n\n| | |\n|---|---|\n");
        for (k, v) in summary(t) {
            let _ = writeln!(out, "| {k} | {} |", cell(&v));
        }
        out.push('\n');
        if t.playbook_running {
            out.push_str("The playbook was still running when this was written: run `irlab report` again later.\n\n");
        }

        let _ = writeln!(out, "### Verify verdict, {}\n", checked_when(t));
        if t.checks.is_empty() {
            out.push_str("No check was judged for this run: `irlab verify` judges it.\n\n");
        } else {
            out.push_str("| check | verdict | observed |\n|---|---|---|\n");
            for c in &t.checks {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} |",
                    cell(&c.name),
                    if c.passed { "PASS" } else { "FAIL" },
                    cell(&c.observed)
                );
            }
            out.push('\n');
        }

        out.push_str(
            "### Timeline by phase\n\n| phase | from (+s) | to (+s) | lasted | points |\n|---|---|---|---|---|\n",
        );
        for l in &r.lanes {
            let _ = writeln!(out, "| {} | {} |", l.row().join(" | "), l.points.len());
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
                cell(&p.label)
            );
        }
        out.push('\n');

        out.push_str("### Evidence\n\n");
        if t.snapshots.is_empty() {
            out.push_str("No snapshot of the victim's volumes was taken for this run.\n\n");
        } else {
            out.push_str("| volume | snapshot | state |\n|---|---|---|\n");
            for s in &t.snapshots {
                let _ = writeln!(out, "| {} | {} | {} |", s.volume, s.snapshot, s.state);
            }
            out.push('\n');
        }
        if t.evidence.is_empty() {
            out.push_str("No volatile evidence was collected before isolation.\n\n");
        } else {
            out.push_str("Collected before isolation (`irlab evidence verify` rechecks each hash):\n\n");
            out.push_str("| item | SHA-256 | bytes | collected (UTC) |\n|---|---|---|---|\n");
            for e in &t.evidence {
                let _ = writeln!(out, "| {} | `{}` | {} | {} |", cell(&e.item), e.sha256, e.bytes, e.collected_at);
            }
            out.push('\n');
        }

        out.push_str("### What changed on the instance\n\n");
        if t.changes.is_empty() {
            out.push_str("Not recorded for this run.\n\n");
        } else {
            out.push_str("| what | before | after |\n|---|---|---|\n");
            for c in &t.changes {
                let _ = writeln!(out, "| {} | {} | {} |", cell(&c.what), cell(&c.before), cell(&c.after));
            }
            out.push('\n');
        }

        out.push_str("### Post-incident review\n\n");
        for (title, lines) in r.review.sections() {
            let _ = writeln!(out, "{title}:\n");
            for l in lines {
                let _ = writeln!(out, "- {l}");
            }
            out.push('\n');
        }
    }
    if runs.len() > 1 {
        out.push_str(
            "## Comparison\n\n| run | playbook | time to detect | time to isolate | time to contain | phases |\n|---|---|---|---|---|---|\n",
        );
        for row in compare_rows(runs) {
            let phases: Vec<String> =
                row.phases.iter().map(|(p, secs)| format!("{} {}", p.name(), duration(Some(*secs)))).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                row.run,
                row.variant,
                duration(row.detect),
                duration(row.isolate),
                duration(row.contain),
                phases.join(", ")
            );
        }
    }
    out
}
