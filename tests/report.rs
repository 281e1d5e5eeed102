//! `irlab report`: the timeline's points in order, and the HTML chart as a person sees it in
//! headless Chromium.

mod common;

use std::process::Command;

use common::Standin;

/// Debian's Chromium, as `.ci/run` installs it.
fn chromium() -> String {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new("sh").args(["-c", &format!("command -v {name}")]).output().is_ok_and(|o| o.status.success()) {
            return name.to_string();
        }
    }
    panic!("this test needs Chromium (Debian: apt-get install chromium); .ci/run installs it");
}

fn headless(profile: &std::path::Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

#[test]
fn the_report_orders_the_timeline_and_the_html_chart_renders() {
    let s = Standin::start();
    s.irlab(&["up", "--playbook", "stepfunctions", "--quiet", "--evidence-budget", "600"]).ok();
    s.irlab(&["attack", "tor-client", "--quiet"]).ok();
    s.irlab(&["verify", "--timeout", "90s", "--interval", "500ms", "--quiet"]).ok();

    let json = s.irlab(&["report", "--format", "json"]).ok().json();
    let t = &json[0];
    let points = t["points"].as_array().unwrap();
    let labels: Vec<&str> = points.iter().map(|p| p["label"].as_str().unwrap()).collect();
    let at = |label: &str| {
        let i = labels.iter().position(|l| *l == label).unwrap_or_else(|| panic!("no `{label}` in {labels:?}"));
        points[i]["at"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap()
    };
    let ordered = [
        at("attack started"),
        at("finding created"),
        at("playbook started (Step Functions)"),
        at("contained"),
        at("verified"),
    ];
    assert!(ordered.windows(2).all(|w| w[0] <= w[1]), "{labels:?}");
    let times: Vec<jiff::Timestamp> = points.iter().map(|p| p["at"].as_str().unwrap().parse().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "points are in time order");
    assert!(labels.iter().any(|l| l.starts_with("step: ")), "each containment step appears: {labels:?}");
    assert!(t["time_to_contain"].as_f64().is_some_and(|x| x >= 0.0));

    // The HTML as a person sees it.
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    s.irlab(&["report", "-o", html.to_str().unwrap()]).ok();
    let browser = chromium();
    let profile = dir.path().join("profile");
    let dom = Command::new(&browser)
        .args(headless(&profile))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("<svg") && dom.contains("class=\"timeline\""), "the chart is in the DOM");
    let run = t["run"].as_str().unwrap();
    let ttc = common::report_duration(t["time_to_contain"].as_f64());
    assert!(
        dom.contains(&format!("id=\"ttc-{run}\"")) && dom.contains(&format!("<b>{ttc}</b>")),
        "time to contain {ttc} is shown"
    );

    let shot = dir.path().join("shot.png");
    let out = Command::new(&browser)
        .args(headless(&profile))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,1000")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(shot.exists(), "no screenshot: {}", String::from_utf8_lossy(&out.stderr));
    // Key points are drawn in #c0392b, other steps in #2c7fb8: both must be on the screen.
    let counts = Command::new("python3")
        .arg("tests/support/png_colors.py")
        .arg(&shot)
        .args(["c0392b", "2c7fb8"])
        .output()
        .unwrap();
    let counts: Vec<usize> =
        String::from_utf8_lossy(&counts.stdout).lines().map(|l| l.trim().parse().unwrap()).collect();
    assert!(counts[0] > 50, "key points visible: {counts:?}");
    assert!(counts[1] > 20, "step points visible: {counts:?}");
    s.irlab(&["down", "--yes", "--quiet"]).ok();
}
