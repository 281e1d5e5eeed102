//! `irlab demo` runs the whole lab and leaves nothing.

mod common;

use std::process::{Command, Stdio};

use common::{BIN, Run, Standin, engines_left, leftovers};

#[tokio::test]
async fn the_demo_runs_every_variant_and_leaves_nothing() {
    let s = Standin::start();
    // The longest evidence budget: on the stand-in the engines' waits are scaled (120 s of a Step
    // Functions Wait last 6 s) while the victim's collection takes real seconds on a busy machine.
    let r = s.irlab(&["demo", "--all-variants", "--evidence-budget", "600"]).ok();
    assert!(r.stdout.contains("demo passed"), "{}", r.stdout);
    for v in ["lambda", "stepfunctions", "ssm"] {
        assert!(r.stdout.contains(&format!("| {v} | yes |")), "{}", r.stdout);
    }
    // The comparison page puts each variant's run side by side.
    let page = std::fs::read_to_string(std::env::temp_dir().join("irlab-irlab-demo-report.html")).unwrap();
    let table = &page[page.find("id=\"compare\"").expect("a comparison table")..];
    let table = &table[..table.find("</table>").unwrap()];
    for v in ["lambda", "stepfunctions", "ssm"] {
        let row = table.lines().find(|l| l.contains(&format!("<td>{v}</td>"))).unwrap_or_else(|| panic!("{v} missing"));
        // The history keeps each variant's timeline after the playbook is swapped.
        assert!(!row.ends_with("<td>n/a</td></tr>"), "no time to contain for {v}: {row}");
    }
    let sdk = s.sdk().await;
    assert_eq!(leftovers(&sdk, "irlab").await, Vec::<String>::new());
    assert_eq!(engines_left(&sdk).await, Vec::<String>::new());
}

#[test]
fn the_demo_against_aws_asks_first_and_creates_nothing_without_an_answer() {
    let out = Command::new(BIN)
        .args(["--region", "us-east-1", "demo"])
        .stdin(Stdio::null())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let r = Run::from(out).code(1);
    assert!(r.stdout.contains("your AWS account"), "the cost is stated: {}", r.stdout);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
}
