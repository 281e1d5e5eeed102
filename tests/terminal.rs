//! What a person sees in a real terminal (a pseudo-terminal of 80 columns, driven by
//! tests/support/pty_drive.py): lines that fit, no maintainer notes for attendees, a prompt that
//! Ctrl-C cancels at once with what was (not) done, and errors as data under `--output json`.

mod common;

use std::process::Command;

use common::{BIN, Run, Standin, in_terminal};

/// The text as it would stand on the screen: escape sequences and carriage returns removed.
fn screen(text: &str) -> Vec<String> {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ ... final byte in @-~.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        if c != '\r' {
            out.push(c);
        }
    }
    out.lines().map(String::from).collect()
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
        let lines = screen(&r.stdout);
        for l in &lines {
            assert!(l.chars().count() <= usize::from(cols), "wider than {cols} columns: {l:?}");
        }
        let all = lines.join("\n");
        assert!(all.contains("Global options:") && all.contains("Examples:"), "{all}");
        // The command's own options come before the global ones.
        assert!(all.find("--playbook").unwrap() < all.find("Global options:").unwrap(), "{all}");
    }
}
