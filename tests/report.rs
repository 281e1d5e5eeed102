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
    // The summary block a reviewer files: every field, with this run's values.
    let finding = &t["finding"];
    for (field, value) in [
        ("Account", "123456789012"),
        ("Region", "us-east-1"),
        ("Lab", "irlab"),
        ("Finding type", "UnauthorizedAccess:EC2/TorClient"),
        ("Finding id", finding["id"].as_str().unwrap()),
        ("Victim", t["instance"].as_str().unwrap()),
        ("Playbook", "stepfunctions"),
    ] {
        assert!(dom.contains(&format!("<dt>{field}</dt><dd>{value}</dd>")), "{field} = {value} in the summary");
    }
    for field in ["Date (UTC)", "Severity", "Title"] {
        assert!(dom.contains(&format!("<dt>{field}</dt>")), "{field} in the summary");
    }
    for kpi in ["ttd", "tti", "ttc"] {
        assert!(dom.contains(&format!("id=\"{kpi}-{run}\"")), "{kpi} shown");
    }
    assert!(t["checks"].as_array().is_some_and(|c| c.len() >= 10), "each check's verdict: {}", t["checks"]);

    // As laid out by Chromium: no two texts of a chart overlap (phase names, axis, the key
    // points' labels).
    let texts = overlaps_none(&browser, &profile, &html);
    assert!(texts >= 8, "phase names, axis and key labels are texts: {texts}");

    let shot = dir.path().join("shot.png");
    let out = Command::new(&browser)
        .args(headless(&profile))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--window-size=1200,3000")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(shot.exists(), "no screenshot: {}", String::from_utf8_lossy(&out.stderr));
    // Key points are drawn in #c0392b, other steps in #2c7fb8: both must be on the screen (a
    // tall one: the chart follows the summary and the verdicts).
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

    // The comparison page: a run of a second variant, then both side by side, the chart of
    // their times above the table, laid out without overlaps.
    s.irlab(&["reset", "--quiet"]).ok();
    s.irlab(&["playbook", "set", "lambda", "--quiet"]).ok();
    s.irlab(&["attack", "tor-client", "--quiet"]).ok();
    s.irlab(&["verify", "--timeout", "90s", "--interval", "500ms", "--quiet"]).ok();
    let compare = dir.path().join("compare.html");
    s.irlab(&["report", "--compare", "-o", compare.to_str().unwrap()]).ok();
    let page = std::fs::read_to_string(&compare).unwrap();
    let chart = page.find("class=\"compare-chart\"").expect("the comparison has its chart");
    assert!(chart < page.find("<table id=\"compare\">").unwrap(), "the chart is above the table");
    assert_eq!(page.matches("<section class=\"run\"").count(), 2, "both runs follow");
    for variant in ["stepfunctions", "lambda"] {
        assert!(page.contains(&format!("<td>{variant}</td>")), "{variant} compared");
    }
    let texts = overlaps_none(&browser, &profile, &compare);
    assert!(texts >= 2 * 8 + 10, "two timelines and the comparison chart: {texts} texts");
    s.irlab(&["down", "--yes", "--quiet"]).ok();
}

/// Opens a copy of the page in Chromium that measures itself: every text of every chart, and
/// whether any two of one chart overlap. Fails on an overlap; returns how many texts it measured.
fn overlaps_none(browser: &str, profile: &std::path::Path, page: &std::path::Path) -> usize {
    let probe = page.with_extension("probe.html");
    let script = r#"<pre id="layout"></pre><script>
const out = [];
let texts = 0;
for (const svg of document.querySelectorAll('svg')) {
  const boxes = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
  texts += boxes.length;
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [a, r] = boxes[i], [b, q] = boxes[j];
    const w = Math.min(r.right, q.right) - Math.max(r.left, q.left);
    const h = Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top);
    if (w > 0.5 && h > 0.5) out.push(a + ' / ' + b);
  }
}
document.getElementById('layout').textContent = 'texts=' + texts + ' overlaps=' + JSON.stringify(out);
</script></body>"#;
    std::fs::write(&probe, std::fs::read_to_string(page).unwrap().replace("</body>", script)).unwrap();
    let measured = Command::new(browser)
        .args(headless(profile))
        .arg("--window-size=1200,1000")
        .arg("--dump-dom")
        .arg(format!("file://{}", probe.display()))
        .output()
        .unwrap();
    let measured = String::from_utf8_lossy(&measured.stdout);
    let layout = measured.split("<pre id=\"layout\">").nth(1).and_then(|s| s.split("</pre>").next()).unwrap_or("");
    let texts: usize = layout
        .strip_prefix("texts=")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the page measured itself: {layout}"));
    assert!(layout.ends_with("overlaps=[]"), "{}: texts overlap: {layout}", page.display());
    texts
}
