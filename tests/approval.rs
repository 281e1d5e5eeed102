//! After containment, a person decides (`up --approval-timeout`): `irlab approve` lets the
//! playbook eradicate in the same execution, `irlab reject` and silence leave the victim
//! contained, and verify says which happened. The Lambda playbook cannot wait and refuses.

mod common;

use common::{Standin, associated_profiles as profiles, instance_tags, leftovers, outputs};

/// Waits until the instance's `key` tag is one of `values`; returns it.
async fn wait_tag(sdk: &aws_config::SdkConfig, instance: &str, key: &str, values: &[&str]) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let tags = instance_tags(sdk, instance).await;
        if let Some(v) = tags.get(key).filter(|v| values.contains(&v.as_str())) {
            return v.clone();
        }
        assert!(std::time::Instant::now() < deadline, "{instance} never had {key} in {values:?}; tags {tags:?}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

/// The check of `verify --output json` named `name`: (passed, observed).
fn check(v: &serde_json::Value, name: &str) -> (bool, String) {
    let c = v["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("{v}"));
    (c["passed"].as_bool().unwrap(), c["observed"].as_str().unwrap().to_string())
}

async fn approve_reject_and_silence(variant: &str, recovers_itself: bool) {
    let s = Standin::start();
    let sdk = s.sdk().await;
    // 2 hours of the stand-in's wait scale (0.05): six minutes to decide.
    let up = s.irlab(&["up", "--playbook", variant, "--evidence-budget", "600", "--approval-timeout", "2h"]).ok();
    assert!(
        up.stderr.contains("waits up to 2h for `irlab") && up.stderr.contains(" approve` (it then eradicates)"),
        "{}",
        up.stderr
    );
    let instance = outputs(&sdk, "irlab-irlab-victim").await["InstanceId"].clone();

    // Approved: contained first (verify passes while the playbook waits), then eradicated by the
    // same execution once approved, the eradication profile off again, still isolated.
    s.irlab(&["attack", "tor-client", "--mode", "inject"]).ok();
    wait_tag(&sdk, &instance, "irlab:approval", &["waiting"]).await;
    let contained = s.irlab(&["verify", "--timeout", "90s", "--interval", "500ms", "--output", "json"]).ok().json();
    let (_, observed) = check(&contained, "playbook contained");
    assert!(observed.contains(", waiting for `irlab") && observed.contains(" approve` or `"), "{variant}: {observed}");
    let early = s.irlab(&["verify", "--phase", "eradicate", "--timeout", "1s"]).code(1);
    assert!(early.stdout.contains("not eradicated yet: the playbook waits for `irlab"), "{variant}: {}", early.stdout);
    assert!(early.stderr.contains(" approve run-"), "{variant}: the hint names the command: {}", early.stderr);

    let approved = s.irlab(&["approve", "--reason", "workshop step 5"]).ok();
    assert!(approved.stdout.contains("it eradicates"), "{variant}: {}", approved.stdout);
    let v = s
        .irlab(&["verify", "--phase", "eradicate", "--timeout", "180s", "--interval", "1s", "--output", "json"])
        .ok()
        .json();
    assert_eq!(v["passed"], true, "{variant}: {v}");
    let (_, ran) = check(&v, "eradication ran");
    assert!(ran.contains(": commands Success"), "{variant}: {ran}");
    let tags = instance_tags(&sdk, &instance).await;
    assert_eq!(tags.get("irlab:approval").map(String::as_str), Some("approved"), "{variant}: {tags:?}");
    assert_eq!(wait_tag(&sdk, &instance, "irlab:eradication", &["eradicated", "failed"]).await, "eradicated");
    assert_eq!(tags.get("irlab:ir-status").map(String::as_str), Some("contained"), "{variant}: {tags:?}");
    assert_eq!(profiles(&sdk, &instance).await, Vec::<String>::new(), "{variant}: the eradication profile is off");
    // Then the same execution recovers (or, where the engine does not, `irlab recover`): a new
    // victim from the baseline through the victim stack, the compromised one stopped and kept,
    // the rule pointed at the new one.
    if !recovers_itself {
        s.irlab(&["recover"]).ok();
    }
    let all =
        s.irlab(&["verify", "--phase", "all", "--timeout", "300s", "--interval", "1s", "--output", "json"]).ok().json();
    assert_eq!(all["passed"], true, "{variant}: {all}");
    let recovered = outputs(&sdk, "irlab-irlab-victim").await["InstanceId"].clone();
    assert_ne!(recovered, instance, "{variant}: the victim stack names a new instance");
    if recovers_itself {
        let kept = instance_tags(&sdk, &instance).await;
        assert_eq!(kept.get("irlab:recovery").map(String::as_str), Some("recovered"), "{variant}: {kept:?}");
        assert_eq!(kept.get("irlab:replaced-by"), Some(&recovered), "{variant}: {kept:?}");
    }
    let status = s.irlab(&["status", "--output", "json"]).ok().json();
    assert_eq!(status["retained"][0]["id"], instance.as_str(), "{variant}: {status}");
    assert_eq!(status["retained"][0]["state"], "stopped", "{variant}: {status}");
    assert_eq!(status["instance"]["id"], recovered.as_str(), "{variant}: {status}");

    // The report puts the decision and the playbook's eradication and recovery in their lanes.
    let md = s.irlab(&["report", "--format", "md"]).ok().stdout;
    assert!(md.contains("| eradicate |") && md.contains("| recover |"), "{variant}: {md}");
    assert!(md.contains("- approved by moto after containment"), "{variant}: {md}");
    assert!(
        md.contains(&format!("- eradicated by the {variant} playbook after the approval, in the same execution")),
        "{variant}: {md}"
    );
    let recovery = if recovers_itself {
        format!("- recovered by the {variant} playbook in the same execution")
    } else {
        "- recovered by hand (`irlab recover`)".to_string()
    };
    assert!(md.contains(&recovery), "{variant}: {md}");
    let again = s.irlab(&["approve"]).code(1);
    assert!(again.stderr.contains("was approved already"), "{variant}: {}", again.stderr);
    let instance = recovered;

    // Rejected (on the recovered victim: the rule follows it): the victim stays contained, the
    // run says so, nothing was eradicated.
    let run = s.irlab(&["attack", "tor-client", "--mode", "inject", "--output", "json"]).ok().json();
    wait_tag(&sdk, &instance, "irlab:approval", &["waiting"]).await;
    let id = run["run"]["id"].as_str().unwrap();
    let rejected = s.irlab(&["reject", id, "--reason", "keep it for forensics"]).ok();
    assert!(rejected.stdout.contains("stays contained"), "{variant}: {}", rejected.stdout);
    wait_tag(&sdk, &instance, "irlab:approval", &["rejected"]).await;
    s.irlab(&["verify", "--timeout", "60s", "--interval", "500ms"]).ok();
    let v = s.irlab(&["verify", "--phase", "eradicate", "--timeout", "5s", "--output", "json"]).code(1).json();
    let (isolated, _) = check(&v, "isolated");
    let (ran, observed) = check(&v, "eradication ran");
    assert!(isolated && !ran, "{variant}: {v}");
    assert!(observed.contains("approval was rejected, the victim left contained"), "{variant}: {observed}");
    assert!(!instance_tags(&sdk, &instance).await.contains_key("irlab:eradication-command"), "{variant}");
    let md = s.irlab(&["report", "--run", id, "--format", "md"]).ok().stdout;
    assert!(md.contains("- rejected by moto after containment") && md.contains("- not eradicated"), "{variant}: {md}");

    // Nobody answers: after the timeout (a minute, scaled) the victim stays contained.
    s.irlab(&["up", "--approval-timeout", "1m"]).ok();
    s.irlab(&["reset"]).ok();
    s.irlab(&["attack", "tor-client", "--mode", "inject"]).ok();
    wait_tag(&sdk, &instance, "irlab:approval", &["timed-out"]).await;
    let late = s.irlab(&["approve"]).code(1);
    assert!(late.stderr.contains("was timed-out already"), "{variant}: {}", late.stderr);
    s.irlab(&["verify", "--timeout", "60s", "--interval", "500ms"]).ok();
    let md = s.irlab(&["report", "--format", "md"]).ok().stdout;
    assert!(md.contains("- nobody approved or rejected in time"), "{variant}: {md}");

    // down removes both victims, the kept one too, and everything else.
    s.irlab(&["down", "--yes"]).ok();
    assert_eq!(leftovers(&sdk, "irlab").await, Vec::<String>::new());
}

#[tokio::test]
async fn stepfunctions_waits_for_approval_then_eradicates_and_recovers_or_leaves_the_victim_contained() {
    approve_reject_and_silence("stepfunctions", true).await;
}

#[tokio::test]
async fn ssm_waits_for_approval_then_eradicates_and_recovers_or_leaves_the_victim_contained() {
    approve_reject_and_silence("ssm", true).await;
}

#[tokio::test]
async fn the_lambda_playbook_cannot_wait_and_says_so_before_anything_is_made() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let r = s.irlab(&["up", "--playbook", "lambda", "--approval-timeout", "1h"]).code(1);
    assert!(r.stderr.contains("cannot wait for an approval"), "{}", r.stderr);
    assert!(r.stderr.contains("stepfunctions"), "the hint names the engines that can: {}", r.stderr);
    assert_eq!(leftovers(&sdk, "irlab").await, Vec::<String>::new(), "refused before anything was created");
    let bad = s.irlab(&["up", "--approval-timeout", "30s"]).code(1);
    assert!(bad.stderr.contains("outside 1m-7d"), "{}", bad.stderr);
}
