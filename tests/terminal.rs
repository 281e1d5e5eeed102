//! What a person sees in a real terminal (a pseudo-terminal of 80 columns, driven by
//! tests/support/pty_drive.py): lines that fit, no maintainer notes for attendees, a prompt that
//! Ctrl-C cancels at once with what was (not) done, and errors as data under `--output json`.

mod common;

use std::process::Command;

use common::{BIN, Run, Standin, in_terminal};

/// The text as it stands on a terminal of `cols` columns at the end, as logical lines: a small
/// terminal that moves the cursor and erases as live progress lines do (carriage return, cursor
/// up and down, erase in line and below), wraps at the last column as xterm does (the progress
/// bars rely on it), and ignores colours. A row the terminal wrapped into is joined to the row
/// before, so a line wider than the terminal shows as one line.
fn screen_of(text: &str, cols: usize) -> Vec<String> {
    // Each row, and whether the terminal wrapped into it.
    let mut rows: Vec<(Vec<char>, bool)> = vec![(Vec::new(), false)];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.peek() != Some(&'[') {
                    chars.next();
                    continue;
                }
                chars.next();
                let mut param = String::new();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        last = c;
                        break;
                    }
                    param.push(c);
                }
                let n = param.trim_start_matches('?').parse::<usize>().unwrap_or(1).max(1);
                match last {
                    'A' => row = row.saturating_sub(n),
                    'B' => row += n,
                    'G' => col = n - 1,
                    'K' if param == "2" => rows[row] = (Vec::new(), false),
                    'K' => rows[row].0.truncate(col),
                    'J' => {
                        rows[row].0.truncate(col);
                        rows.truncate(row + 1);
                    }
                    _ => {}
                }
                col = col.min(cols);
            }
            '\r' => col = 0,
            '\n' => {
                row += 1;
                col = 0;
            }
            c => {
                let wrapped = col >= cols;
                if wrapped {
                    row += 1;
                    col = 0;
                }
                while rows.len() <= row {
                    rows.push((Vec::new(), false));
                }
                if wrapped {
                    rows[row] = (Vec::new(), true);
                }
                let line = &mut rows[row].0;
                while line.len() < col {
                    line.push(' ');
                }
                if col < line.len() {
                    line[col] = c;
                } else {
                    line.push(c);
                }
                col += 1;
            }
        }
        while rows.len() <= row {
            rows.push((Vec::new(), false));
        }
    }
    let mut out: Vec<String> = Vec::new();
    for (chars, wrapped) in rows {
        let text: String = chars.into_iter().collect();
        match out.last_mut() {
            Some(prev) if wrapped => prev.push_str(&text),
            _ => out.push(text),
        }
    }
    let mut out: Vec<String> = out.into_iter().map(|l| l.trim_end().to_string()).collect();
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

/// A line a person copies whole: a command or code, indented, in one column.
fn is_command(line: &str) -> bool {
    line.starts_with("  ") && !line.trim().contains("  ")
}

fn screen(text: &str) -> Vec<String> {
    screen_of(text, 80)
}

#[test]
fn a_scenario_reads_at_80_columns_without_maintainer_notes() {
    let r = in_terminal(80, serde_json::json!([]), &["scenarios", "show", "tor-client"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let lines = screen(&r.stdout);
    // Prose is laid out for the width; a command (indented) is shown whole, as it is run.
    for l in lines.iter().filter(|l| !l.starts_with("  ")) {
        assert!(l.chars().count() <= 80, "wider than 80 columns: {l:?}");
    }
    let all = lines.join("\n");
    assert!(all.contains("expected GuardDuty findings: UnauthorizedAccess:EC2/TorClient"), "{all}");
    assert!(!all.contains("notes:") && !all.contains("source:"), "maintainer notes shown: {all}");
    // The file itself, provenance included, is one flag away.
    let yaml = in_terminal(80, serde_json::json!([]), &["scenarios", "show", "tor-client", "--yaml"]);
    assert!(yaml.stdout.contains("findings:"), "{}", yaml.stdout);
}

#[test]
fn an_error_under_output_json_is_data_on_stdout() {
    let out = Command::new(BIN).args(["--output", "json", "--lab", "Bad_Name", "status"]).output().unwrap();
    let r = Run::from(out).code(1);
    let v = r.json();
    assert!(v["error"].as_str().unwrap().contains("invalid lab name"), "{v}");
    assert!(v["hint"].as_str().is_some(), "{v}");
    assert_eq!(v["exit"], 1);
}

#[tokio::test]
async fn ctrl_c_at_the_down_prompt_cancels_and_deletes_nothing() {
    let s = Standin::start();
    s.irlab(&["--lab", "tc", "--yes", "up", "--playbook", "lambda"]).ok();
    let r = in_terminal(
        80,
        serde_json::json!([["type the lab name", "\u{3}"]]),
        &["--local", "--endpoint-url", &s.endpoint, "--lab", "tc", "down"],
    );
    assert_eq!(r.code, 130, "{}", r.stdout);
    assert!(r.stdout.contains("cancelled, nothing deleted"), "{}", r.stdout);
    let cfn = aws_sdk_cloudformation::Client::new(&s.sdk().await);
    let victim = cfn.describe_stacks().stack_name("irlab-tc-victim").send().await.unwrap();
    assert_eq!(victim.stacks()[0].stack_status().map(|x| x.as_str()), Some("CREATE_COMPLETE"));
    // The plan said what billing stops and what history goes before asking.
    assert!(r.stdout.contains("billing stops for"), "{}", r.stdout);
    s.irlab(&["--lab", "tc", "--yes", "down"]).ok();
}

#[test]
fn help_is_laid_out_for_the_terminal_with_global_options_apart_and_examples() {
    for cols in [80u16, 120] {
        let r = in_terminal(cols, serde_json::json!([]), &["up", "--help"]);
        assert_eq!(r.code, 0, "{}", r.stdout);
        let lines = screen_of(&r.stdout, usize::from(cols));
        for l in &lines {
            assert!(l.chars().count() <= usize::from(cols), "wider than {cols} columns: {l:?}");
        }
        let all = lines.join("\n");
        assert!(all.contains("Global options:") && all.contains("Examples:"), "{all}");
        // The command's own options come before the global ones.
        assert!(all.find("--playbook").unwrap() < all.find("Global options:").unwrap(), "{all}");
    }
}

/// Snapshot settings that replace what differs from run to run (ids, times, ports, durations)
/// with names, so that a snapshot changes only when the layout or the words do.
fn stable() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    for (re, to) in [
        (r"\b(i|sg|vol|eni|snap|subnet|vpc|rtb|igw|eipalloc)-[0-9a-f]{8,17}\b", "$1-[id]"),
        (r"run-\d{8}-\d{6}(-\d+)?", "run-[when]"),
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[timestamp]"),
        (r"\b\d{2}:\d{2}:\d{2}\b", "[hh:mm:ss]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", "[ip]"),
        (r"\b[0-9a-f]{32}\b", "[finding-id]"),
        // CloudFormation's suffixes of physical names (buckets, roles), and counts that grow
        // with the time the lab ran (CloudTrail's log files).
        (r"-[a-z0-9]{12,13}\b", "-[suffix]"),
        (r"-[A-Z0-9]{12,13}\b", "-[SUFFIX]"),
        (r"\b\d+ object versions", "[n] object versions"),
        (r"\b\d+m \d{2}s\b", "[secs]"),
        (r"\b\d+(\.\d+)?\s?(ms|s)\b", "[secs]"),
    ] {
        settings.add_filter(re, to);
    }
    settings
}

/// One screen as a person sees it at `cols` columns: prose and tables fit the width (commands,
/// indented, are shown whole, as they are run), and the screen matches its reviewed snapshot.
fn screen_at(name: &str, cols: u16, args: &[&str]) -> String {
    answered_screen_at(name, cols, serde_json::json!([]), args)
}

/// `screen_at` for a screen with prompts, answered by `script` ([expected prompt, answer], ...).
fn answered_screen_at(name: &str, cols: u16, script: serde_json::Value, args: &[&str]) -> String {
    let r = in_terminal(cols, script, args);
    let lines = screen_of(&r.stdout, usize::from(cols));
    for l in lines.iter().filter(|l| !is_command(l)) {
        assert!(l.chars().count() <= usize::from(cols), "{name}: wider than {cols} columns: {l:?}");
    }
    let text = format!("exit {}\n{}", r.code, lines.join("\n"));
    stable().bind(|| insta::assert_snapshot!(format!("{name}-{cols}"), text));
    lines.join("\n")
}

#[test]
fn screens_without_a_lab_match_their_snapshots_at_80_and_120_columns() {
    for cols in [80, 120] {
        screen_at("scenarios-show", cols, &["scenarios", "show", "tor-client"]);
        screen_at("up-help", cols, &["up", "--help"]);
        let status_help = screen_at("status-help", cols, &["status", "--help"]);
        assert!(!status_help.contains("--yes"), "status asks nothing: {status_help}");
        screen_at("error", cols, &["--lab", "Bad_Name", "status"]);
    }
}

#[tokio::test]
async fn a_labs_screens_match_their_snapshots_and_down_ends_with_its_proof() {
    let s = Standin::start();
    let at = ["--local", "--endpoint-url", s.endpoint.as_str(), "--lab", "scr"];
    let with = |more: &[&str]| at.iter().copied().chain(more.iter().copied()).map(String::from).collect::<Vec<_>>();
    s.irlab(&["--lab", "scr", "--yes", "up", "--playbook", "lambda"]).ok();
    s.irlab(&["--lab", "scr", "attack", "tor-client"]).ok();
    s.irlab(&["--lab", "scr", "verify", "--timeout", "90s", "--interval", "500ms"]).ok();
    s.idle();
    // The workshop's first module: each paragraph of its text is broken at the width (the
    // text's own line breaks left a lone word on every other line).
    let args = ["--local", "--endpoint-url", s.endpoint.as_str(), "--lab", "scw", "workshop"];
    let answers = serde_json::json!([["Start module 1: Introduction", "y"], ["Start module 2: Preparation", "n"]]);
    answered_screen_at("workshop-module-1", 80, answers, &args);
    for cols in [80, 120] {
        let args = with(&["status"]);
        screen_at("status", cols, &args.iter().map(String::as_str).collect::<Vec<_>>());
        let args = with(&["verify"]);
        screen_at("verify", cols, &args.iter().map(String::as_str).collect::<Vec<_>>());
        let args = with(&["down", "--dry-run"]);
        screen_at("down-plan", cols, &args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    // The real down: every stack's line, then the proof service by service, then the verdict,
    // last (stack deletions end in any order, so this screen is checked, not snapshot).
    let args = with(&["--yes", "down"]);
    let r = in_terminal(80, serde_json::json!([]), &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code, 0, "{}", r.stdout);
    let lines = screen(&r.stdout);
    let last = lines.iter().rposition(|l| !l.trim().is_empty()).unwrap();
    assert!(lines[last].starts_with("0 resources left"), "the verdict is the last line: {lines:#?}");
    let proof = lines.iter().position(|l| l.starts_with("checked, service by service")).expect("the proof");
    for part in ["playbook-lambda", "victim", "detection"] {
        let stack = format!("irlab-scr-{part}");
        let deleted = lines
            .iter()
            .position(|l| l.contains(&stack) && l.contains("deleted"))
            .unwrap_or_else(|| panic!("no line says {stack} was deleted: {lines:#?}"));
        assert!(deleted < proof, "{stack} deleted after the proof began: {lines:#?}");
    }
}
