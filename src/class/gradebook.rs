//! The class at a glance: one row per attendee from that lab's own `irlab status`, then class
//! totals and medians. Pure: built from the children's JSON, printed as text, JSON or one
//! self-contained HTML page.

use std::fmt::Write;

use serde::Serialize;
use serde_json::Value;

use crate::class::runner::Outcome;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    pub attendee: String,
    pub account: Option<String>,
    /// `up`, `contained`, `failed`, `not deployed`, or `unknown` when status could not be read.
    pub state: String,
    pub playbook: Option<String>,
    pub runs: usize,
    /// `passed`, `failed` or `not verified` for the latest run; None without runs.
    pub verdict: Option<String>,
    /// Seconds from the finding to the victim contained, from the latest passing verify.
    pub time_to_contain: Option<f64>,
    pub usd_per_hour: f64,
    /// Where the attendee is in `irlab workshop`: `m3` (the next module), `done`, or None when
    /// the workshop was never started.
    pub module: Option<String>,
    /// Why the row is incomplete (status failed for this attendee).
    pub problem: Option<String>,
    /// Seconds until the lab removes itself (`up --expires`); None when it never does.
    pub expires_in: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Gradebook {
    pub class: String,
    pub rows: Vec<Row>,
    pub labs_up: usize,
    pub accounts: usize,
    pub usd_per_hour: f64,
    pub usd_per_day: f64,
    pub passed: usize,
    pub median_time_to_contain: Option<f64>,
    pub median_runs: Option<f64>,
}

pub fn row(o: &Outcome) -> Row {
    let Some(s) = o.json.as_ref().filter(|j| j.get("deployed").is_some()) else {
        return Row {
            attendee: o.attendee.clone(),
            account: o.account.clone(),
            state: "unknown".into(),
            playbook: None,
            runs: 0,
            verdict: None,
            time_to_contain: None,
            usd_per_hour: 0.0,
            module: None,
            expires_in: None,
            problem: Some(if o.message.is_empty() { format!("exit {}", o.exit_code) } else { o.message.clone() }),
        };
    };
    let deployed = s["deployed"].as_bool().unwrap_or(false);
    let state = if !deployed {
        "not deployed".to_string()
    } else {
        match s["instance"]["ir_status"].as_str() {
            Some(st) => st.to_string(),
            None => "up".to_string(),
        }
    };
    let last = &s["last_run"];
    let verdict = if last.is_null() {
        None
    } else {
        Some(match last["verdict"]["passed"].as_bool() {
            Some(true) => "passed".to_string(),
            Some(false) => "failed".to_string(),
            None => "not verified".to_string(),
        })
    };
    Row {
        attendee: o.attendee.clone(),
        account: s["account"].as_str().map(String::from).or_else(|| o.account.clone()),
        state,
        playbook: s["playbooks"][0]["variant"].as_str().map(String::from),
        runs: s["runs"].as_u64().unwrap_or(0) as usize,
        verdict,
        time_to_contain: last["verdict"]["time_to_contain"].as_f64(),
        usd_per_hour: s["cost"]["usd_per_hour"].as_f64().unwrap_or(0.0),
        module: workshop_module(&s["workshop"]),
        expires_in: s["expiry"]["seconds_left"].as_i64(),
        problem: if o.ok { None } else { Some(o.message.clone()) },
    }
}

/// The next module of a lab's workshop record (status JSON), or `done`.
fn workshop_module(w: &Value) -> Option<String> {
    let done: Vec<u64> = w.get("done")?.as_array()?.iter().filter_map(|d| d["module"].as_u64()).collect();
    let count = crate::workshop::modules().map_or(5, |m| m.len() as u64);
    Some((1..=count).find(|m| !done.contains(m)).map_or("done".to_string(), |m| format!("m{m}")))
}

pub fn build(class: &str, outcomes: &[Outcome]) -> Gradebook {
    let rows: Vec<Row> = outcomes.iter().map(row).collect();
    let usd_per_hour: f64 = rows.iter().map(|r| r.usd_per_hour).sum();
    let mut accounts: Vec<&str> = rows.iter().filter_map(|r| r.account.as_deref()).collect();
    accounts.sort();
    accounts.dedup();
    let ttc: Vec<f64> = rows.iter().filter_map(|r| r.time_to_contain).collect();
    let runs: Vec<f64> = rows.iter().filter(|r| r.state != "unknown").map(|r| r.runs as f64).collect();
    Gradebook {
        class: class.to_string(),
        labs_up: rows.iter().filter(|r| r.state != "not deployed" && r.state != "unknown").count(),
        accounts: accounts.len(),
        usd_per_hour,
        usd_per_day: usd_per_hour * 24.0,
        passed: rows.iter().filter(|r| r.verdict.as_deref() == Some("passed")).count(),
        median_time_to_contain: median(&ttc),
        median_runs: median(&runs),
        rows,
    }
}

pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// "in 7h 12m", "2m ago", or "never".
fn expires_text(secs: Option<i64>) -> String {
    match secs {
        Some(s) => {
            let now = jiff::Timestamp::UNIX_EPOCH;
            crate::lab::janitor::left(now + jiff::SignedDuration::from_secs(s), now)
        }
        None => "never".into(),
    }
}

fn secs(s: Option<f64>) -> String {
    s.map_or("-".into(), |s| format!("{s:.1} s"))
}

impl Gradebook {
    /// The table for a terminal: fixed columns that fit 80 characters.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "{:<13} {:<12} {:<13} {:>4} {:<12} {:>8} {:>7} {:<4}",
            "attendee", "state", "playbook", "runs", "last verify", "contain", "$/hour", "wksp"
        )];
        for r in &self.rows {
            out.push(format!(
                "{:<13} {:<12} {:<13} {:>4} {:<12} {:>8} {:>7.4} {:<4}",
                r.attendee,
                r.state,
                r.playbook.as_deref().unwrap_or("-"),
                r.runs,
                r.verdict.as_deref().unwrap_or("-"),
                secs(r.time_to_contain),
                r.usd_per_hour,
                r.module.as_deref().unwrap_or("-")
            ));
            if let Some(p) = &r.problem {
                out.push(format!("  {}: {p}", r.attendee));
            }
        }
        // The expiry per attendee on a line of its own: the table already fills 80 columns.
        if self.rows.iter().any(|r| r.expires_in.is_some()) {
            let each: Vec<String> =
                self.rows.iter().map(|r| format!("{} {}", r.attendee, expires_text(r.expires_in))).collect();
            out.push(format!("expires: {}", each.join(", ")));
        }
        out.push(format!(
            "class {}: {} of {} labs up in {} account(s); {} passed verify; ${:.2}/hour, ${:.2}/day",
            self.class,
            self.labs_up,
            self.rows.len(),
            self.accounts,
            self.passed,
            self.usd_per_hour,
            self.usd_per_day
        ));
        out.push(format!(
            "medians: time to contain {}, runs {}",
            secs(self.median_time_to_contain),
            self.median_runs.map_or("-".into(), |r| format!("{r:.1}"))
        ));
        out
    }

    /// One self-contained page: totals, a bar per attendee's time to contain, the table.
    pub fn html(&self) -> String {
        let esc = crate::incident::verify::xml_escape;
        let mut body = format!(
            "<div class=\"kpis\"><div class=\"kpi\" id=\"labs-up\"><span>labs up</span><b>{} / {}</b></div>\
<div class=\"kpi\" id=\"passed\"><span>passed verify</span><b>{}</b></div>\
<div class=\"kpi\" id=\"median-ttc\"><span>median time to contain</span><b>{}</b></div>\
<div class=\"kpi\" id=\"cost\"><span>cost</span><b>${:.2}/hour &middot; ${:.2}/day</b></div></div>\n",
            self.labs_up,
            self.rows.len(),
            self.passed,
            secs(self.median_time_to_contain),
            self.usd_per_hour,
            self.usd_per_day
        );
        body.push_str(&self.svg());
        body.push_str("<table id=\"gradebook\"><tr><th>attendee</th><th>account</th><th>state</th><th>playbook</th><th>runs</th><th>last verify</th><th>time to contain</th><th>$/hour</th><th>workshop</th><th>expires</th></tr>\n");
        for r in &self.rows {
            let _ = writeln!(
                body,
                "<tr data-attendee=\"{}\" class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.attendee),
                esc(r.verdict.as_deref().unwrap_or("none").replace(' ', "-").as_str()),
                esc(&r.attendee),
                esc(r.account.as_deref().unwrap_or("-")),
                esc(&r.state),
                esc(r.playbook.as_deref().unwrap_or("-")),
                r.runs,
                esc(r.verdict.as_deref().unwrap_or("-")),
                secs(r.time_to_contain),
                r.usd_per_hour,
                esc(r.module.as_deref().unwrap_or("-")),
                esc(&expires_text(r.expires_in))
            );
        }
        body.push_str("</table>\n");
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>irlab class {}</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:2rem;color:#222;background:#fff}}\
.kpis{{display:flex;gap:1rem;margin:1rem 0;flex-wrap:wrap}}.kpi{{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem}}.kpi span{{display:block;color:#666;font-size:.8rem}}.kpi b{{font-size:1.4rem}}\
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}}tr.failed td{{background:#fdecea}}\
</style></head><body><h1>irlab class {}</h1>\n{body}</body></html>\n",
            esc(&self.class),
            esc(&self.class)
        )
    }

    /// Time to contain per attendee as bars; attendees without one get an empty slot.
    fn svg(&self) -> String {
        let max = self.rows.iter().filter_map(|r| r.time_to_contain).fold(0.0f64, f64::max).max(0.001);
        let (w, bar, left) = (720.0, 22.0, 150.0);
        let h = 20.0 + bar * self.rows.len() as f64;
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"ttc-chart\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"time to contain per attendee\">\n"
        );
        for (i, r) in self.rows.iter().enumerate() {
            let y = 10.0 + bar * i as f64;
            let _ = writeln!(
                s,
                "<text x=\"{:.0}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\">{}</text>",
                left - 8.0,
                y + 15.0,
                crate::incident::verify::xml_escape(&r.attendee)
            );
            if let Some(t) = r.time_to_contain {
                let len = (w - left - 80.0) * t / max;
                let _ = writeln!(
                    s,
                    "<rect class=\"bar\" x=\"{left}\" y=\"{:.1}\" width=\"{len:.1}\" height=\"{:.1}\" fill=\"#2c7fb8\"/>\
<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{t:.1} s</text>",
                    y + 3.0,
                    bar - 6.0,
                    left + len + 6.0,
                    y + 15.0
                );
            }
        }
        s.push_str("</svg>\n");
        s
    }
}

/// One `<testsuites>` document for a class's `verify`: a suite per attendee, a case per check; an
/// attendee whose verify could not judge anything gets one failing case saying why.
pub fn junit(outcomes: &[Outcome]) -> String {
    let mut suites = String::new();
    for o in outcomes {
        let checks: Vec<(String, String, String, bool)> = o
            .json
            .as_ref()
            .and_then(|j| j.get("checks"))
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        let f = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                        (f("name"), f("expected"), f("observed"), c["passed"].as_bool().unwrap_or(false))
                    })
                    .collect()
            })
            .unwrap_or_else(|| vec![("verify ran".into(), "a verdict".into(), o.message.clone(), false)]);
        let cases: Vec<crate::incident::verify::Case> =
            checks.iter().map(|(n, e, ob, p)| (n.as_str(), e.as_str(), ob.as_str(), *p)).collect();
        let run = o.json.as_ref().and_then(|j| j["run"].as_str()).unwrap_or("no run");
        suites.push_str(&crate::incident::verify::junit_suite(&o.attendee, run, &cases));
    }
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"irlab class\">\n{suites}</testsuites>\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outcome(name: &str, ok: bool, json: Option<Value>) -> Outcome {
        Outcome {
            attendee: name.into(),
            account: None,
            ok,
            exit_code: if ok { 0 } else { 2 },
            seconds: 1.0,
            message: if ok { String::new() } else { "AccessDenied assuming the role".into() },
            json,
            log: "x.log".into(),
        }
    }

    fn status(account: &str, ttc: Option<f64>, passed: Option<bool>, hourly: f64) -> Value {
        let verdict = passed.map(|p| json!({"passed": p, "at": "t", "failed": [], "time_to_contain": ttc}));
        json!({
            "deployed": true, "account": account, "runs": 2,
            "instance": {"ir_status": "contained"},
            "playbooks": [{"variant": "ssm"}],
            "last_run": {"id": "r", "verdict": verdict},
            "cost": {"usd_per_hour": hourly}
        })
    }

    #[test]
    fn totals_and_medians_come_from_the_rows() {
        let g = build(
            "c",
            &[
                outcome("a", true, Some(status("111", Some(10.0), Some(true), 0.02))),
                outcome("b", true, Some(status("222", Some(30.0), Some(true), 0.03))),
                outcome("c", true, Some(status("111", None, Some(false), 0.01))),
                outcome("d", false, None),
            ],
        );
        assert_eq!(g.labs_up, 3);
        assert_eq!(g.accounts, 2);
        assert_eq!(g.passed, 2);
        assert_eq!(g.median_time_to_contain, Some(20.0));
        assert!((g.usd_per_hour - 0.06).abs() < 1e-9);
        assert!((g.usd_per_day - 1.44).abs() < 1e-9);
        assert_eq!(g.rows[3].state, "unknown");
        assert_eq!(g.rows[3].problem.as_deref(), Some("AccessDenied assuming the role"));
        assert_eq!(g.rows[2].verdict.as_deref(), Some("failed"));
        assert!(g.lines().iter().all(|l| l.chars().count() <= 80 || l.starts_with("  ")), "{:#?}", g.lines());
    }

    #[test]
    fn each_attendee_shows_when_the_lab_removes_itself() {
        let mut soon = status("111", None, None, 0.01);
        soon["expiry"] = json!({"expires_at": "2026-12-02T18:00:00Z", "seconds_left": 2 * 3600 + 600, "janitor_stack": "irlab-a-janitor", "janitor_status": "CREATE_COMPLETE", "max_spend_usd": null});
        let g =
            build("c", &[outcome("a", true, Some(soon)), outcome("b", true, Some(status("111", None, None, 0.01)))]);
        assert_eq!(g.rows.iter().map(|r| r.expires_in).collect::<Vec<_>>(), [Some(7800), None]);
        assert!(g.lines().iter().any(|l| l == "expires: a in 2h 10m, b never"), "{:?}", g.lines());
        assert!(g.html().contains("<td>in 2h 10m</td></tr>") && g.html().contains("<th>expires</th>"));
        // A class whose labs never expire shows no expiry line at all.
        let never = build("c", &[outcome("b", true, Some(status("111", None, None, 0.01)))]);
        assert!(!never.lines().iter().any(|l| l.starts_with("expires:")));
    }

    #[test]
    fn each_attendee_shows_the_next_workshop_module() {
        let with = |done: &[u64]| {
            let mut s = status("111", None, None, 0.01);
            s["workshop"] = json!({"started_at": "t", "done": done.iter().map(|m| json!({"module": m, "at": "t"})).collect::<Vec<_>>()});
            s
        };
        let g = build(
            "c",
            &[
                outcome("a", true, Some(with(&[1, 2]))),
                outcome("b", true, Some(with(&[1, 2, 3, 4, 5]))),
                outcome("c", true, Some(status("111", None, None, 0.01))),
            ],
        );
        let modules: Vec<Option<&str>> = g.rows.iter().map(|r| r.module.as_deref()).collect();
        assert_eq!(modules, [Some("m3"), Some("done"), None]);
        assert!(g.lines()[1].ends_with("m3  ") || g.lines()[1].ends_with("m3"), "{:?}", g.lines());
        assert!(g.html().contains("<td>m3</td>"));
    }

    #[test]
    fn the_class_junit_has_a_suite_per_attendee_and_a_failure_for_one_that_could_not_verify() {
        let checks = json!({"run": "r1", "passed": true, "checks": [
            {"name": "isolated", "expected": "q", "observed": "q", "passed": true},
            {"name": "protected", "expected": "on", "observed": "off", "passed": false}]});
        let xml = junit(&[outcome("alice", true, Some(checks)), outcome("bob", false, None)]);
        assert_eq!(xml.matches("<testsuite ").count(), 2);
        assert_eq!(xml.matches("<testcase ").count(), 3);
        assert!(xml.contains("classname=\"irlab.bob\" name=\"verify ran\""));
        assert!(xml.contains("observed AccessDenied assuming the role"));
        assert_eq!(xml.matches("<failure ").count(), 2);
    }
}
