//! A lab that cannot be forgotten: at its expiry the janitor in the account (EventBridge
//! Scheduler starting an SSM Automation runbook, `stacks/janitor.yaml`) removes it as `down`
//! would, with no irlab running. Checked in the stand-in directly, whose Scheduler fires
//! one-time schedules at their time on the service clock (`IRLAB_SERVICE_SCALE` 0.01 here: 40
//! minutes pass in 24 s).

mod common;

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use common::{Run, Standin, leftovers, outputs, shared_leftovers};

fn irlab(s: &Standin, lab: &str, args: &[&str]) -> Run {
    let mut full = vec!["--lab", lab];
    full.extend_from_slice(args);
    s.irlab(&full)
}

/// A queue subscribed to the lab's alert topic: what a subscriber of the topic receives, kept
/// after the topic itself is gone.
async fn subscribe(sdk: &SdkConfig, lab: &str) -> String {
    let topic = outputs(sdk, &format!("irlab-{lab}-detection")).await["AlertTopicArn"].clone();
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let url =
        sqs.create_queue().queue_name(format!("watch-{lab}")).send().await.unwrap().queue_url().unwrap().to_string();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]});
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .unwrap();
    aws_sdk_sns::Client::new(sdk)
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    url
}

/// Every message the queue holds now, consumed.
async fn notices(sdk: &SdkConfig, url: &str) -> Vec<String> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut out = Vec::new();
    loop {
        let got = sqs.receive_message().queue_url(url).max_number_of_messages(10).send().await.unwrap();
        if got.messages().is_empty() {
            return out;
        }
        for m in got.messages() {
            out.push(m.body().unwrap_or_default().to_string());
            sqs.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
        }
    }
}

/// How many messages the queue holds, without taking them.
async fn waiting(sdk: &SdkConfig, url: &str) -> u32 {
    use aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages;
    let out = aws_sdk_sqs::Client::new(sdk)
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    out.attributes().and_then(|a| a.get(&ApproximateNumberOfMessages)).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Waits until `done` holds, up to `secs`; returns whether it did.
async fn until<F, Fut>(secs: u64, done: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

async fn stack_exists(sdk: &SdkConfig, name: &str) -> bool {
    match aws_sdk_cloudformation::Client::new(sdk).describe_stacks().stack_name(name).send().await {
        Ok(out) => out.stacks().iter().any(|s| s.stack_status().is_some_and(|st| st.as_str() != "DELETE_COMPLETE")),
        Err(_) => false,
    }
}

/// The janitor's own resources the lab sweep in `common` does not look for.
async fn janitor_leftovers(sdk: &SdkConfig, lab: &str) -> Vec<String> {
    let mut left = Vec::new();
    let scheduler = aws_sdk_scheduler::Client::new(sdk);
    for s in scheduler.list_schedules().name_prefix(format!("irlab-{lab}-")).send().await.unwrap().schedules() {
        left.push(format!("schedule {}", s.name().unwrap_or_default()));
    }
    let ssm = aws_sdk_ssm::Client::new(sdk);
    for d in ssm.list_documents().send().await.unwrap().document_identifiers() {
        if d.name().is_some_and(|n| n.starts_with(&format!("irlab-{lab}-"))) {
            left.push(format!("document {}", d.name().unwrap()));
        }
    }
    left
}

async fn detector_enabled(sdk: &SdkConfig) -> Option<bool> {
    let gd = aws_sdk_guardduty::Client::new(sdk);
    let id = gd.list_detectors().send().await.unwrap().detector_ids().first()?.clone();
    let d = gd.get_detector().detector_id(id).send().await.unwrap();
    Some(d.status().map(|s| s.as_str()) == Some("ENABLED"))
}

#[tokio::test]
async fn a_forgotten_contained_lab_is_warned_then_removes_itself_and_nothing_is_left() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let lab = "forgot";
    let up = irlab(&s, lab, &["up", "--playbook", "lambda", "--expires", "8h", "--max-spend", "5", "--output", "json"])
        .ok()
        .json();
    let first: jiff::Timestamp = up["expires_at"].as_str().unwrap().parse().unwrap();
    let queue = subscribe(&sdk, lab).await;

    // The playbook contains the victim: termination and stop protection on, volumes kept, its
    // role's sessions revoked, evidence under Object Lock. The janitor must undo all of it.
    irlab(&s, lab, &["attack", "tor-client", "--mode", "inject"]).ok();
    let verdict =
        irlab(&s, lab, &["verify", "--timeout", "90s", "--interval", "300ms", "--output", "json"]).ok().json();
    assert_eq!(verdict["passed"], true, "{verdict}");

    // extend moves the expiry from the one the lab has, and status shows the time left.
    irlab(&s, lab, &["extend", "2h"]).ok();
    let status = irlab(&s, lab, &["status", "--output", "json"]).ok().json();
    let moved: jiff::Timestamp = status["expiry"]["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(moved.as_second() - first.as_second(), 2 * 3600, "{status}");
    assert!(status["expiry"]["seconds_left"].as_i64().unwrap() > 9 * 3600, "{status}");
    // The schedules themselves moved, the warning with the expiry.
    let scheduler = aws_sdk_scheduler::Client::new(&sdk);
    let at = |t: jiff::Timestamp| format!("at({})", t.strftime("%Y-%m-%dT%H:%M:%S"));
    let expiry = scheduler.get_schedule().name(format!("irlab-{lab}-expiry")).send().await.unwrap();
    assert_eq!(expiry.schedule_expression(), Some(at(moved).as_str()));
    let warning = scheduler.get_schedule().name(format!("irlab-{lab}-warning")).send().await.unwrap();
    let warn_at = moved - jiff::SignedDuration::from_mins(30);
    assert_eq!(warning.schedule_expression(), Some(at(warn_at).as_str()));
    assert_eq!(status["expiry"]["max_spend_usd"], "5");
    let budget = aws_sdk_budgets::Client::new(&sdk)
        .describe_budget()
        .account_id("123456789012")
        .budget_name(format!("irlab-{lab}-us-east-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(budget.budget().unwrap().budget_limit().unwrap().amount(), "5");

    // Brought up again with 40 minutes left (24 s here), then forgotten: nobody runs irlab.
    irlab(&s, lab, &["up", "--expires", "40m", "--quiet"]).ok();
    let gone = until(240, || {
        let sdk = sdk.clone();
        async move { !stack_exists(&sdk, &format!("irlab-{lab}-janitor")).await }
    })
    .await;
    s.idle();
    let left = leftovers(&sdk, lab).await;
    assert!(gone && left.is_empty(), "the lab did not remove itself: {left:?}");
    assert_eq!(janitor_leftovers(&sdk, lab).await, Vec::<String>::new());
    assert_eq!(shared_leftovers(&sdk).await, Vec::<String>::new(), "the last lab's janitor removes the shared parts");
    assert_eq!(detector_enabled(&sdk).await, None, "the detector a lab created goes with the last lab");
    let budgets =
        aws_sdk_budgets::Client::new(&sdk).describe_budgets().account_id("123456789012").send().await.unwrap();
    assert!(budgets.budgets().is_empty(), "{:?}", budgets.budgets());

    // The subscriber was warned 30 minutes before, with the command that keeps the lab, then told
    // what went.
    let got = notices(&sdk, &queue).await;
    let warning = got.iter().find(|m| m.contains("in 30 minutes")).unwrap_or_else(|| panic!("no warning: {got:?}"));
    assert!(warning.contains(&format!("irlab --region us-east-1 --lab {lab} extend 2h")), "{warning}");
    let removed = got.iter().find(|m| m.contains("Its janitor removed it")).unwrap_or_else(|| panic!("{got:?}"));
    assert!(removed.contains(&format!("deleted stack irlab-{lab}-victim")), "{removed}");
    assert!(removed.contains("deleted GuardDuty detector"), "{removed}");

    // An independent sweep through irlab agrees: nothing to remove.
    let plan = irlab(&s, lab, &["down", "--dry-run", "--output", "json"]).ok().json();
    assert_eq!(plan["plan"]["stacks"], serde_json::json!([]), "{plan}");
    assert_eq!(plan["plan"]["outside"], serde_json::json!([]), "{plan}");
}

#[tokio::test]
async fn a_janitor_denied_one_deletion_says_what_is_left_and_down_finishes() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let lab = "denied";
    irlab(&s, lab, &["up", "--playbook", "none", "--expires", "8h", "--quiet"]).ok();
    let queue = subscribe(&sdk, lab).await;
    // The janitor's role may not delete the victim stack.
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let role = cfn
        .describe_stack_resource()
        .stack_name(format!("irlab-{lab}-janitor"))
        .logical_resource_id("JanitorRole")
        .send()
        .await
        .unwrap()
        .stack_resource_detail()
        .unwrap()
        .physical_resource_id()
        .unwrap()
        .to_string();
    let deny = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
        "Action": "cloudformation:DeleteStack",
        "Resource": format!("arn:aws:cloudformation:us-east-1:123456789012:stack/irlab-{lab}-victim/*")}]});
    aws_sdk_iam::Client::new(&sdk)
        .put_role_policy()
        .role_name(&role)
        .policy_name("test-deny-victim")
        .policy_document(deny.to_string())
        .send()
        .await
        .unwrap();

    irlab(&s, lab, &["up", "--expires", "10m", "--quiet"]).ok();
    let told = until(240, || {
        let (sdk, queue) = (sdk.clone(), queue.clone());
        async move { waiting(&sdk, &queue).await > 0 }
    })
    .await;
    assert!(told, "no notice from the failed janitor");
    s.idle();
    let got = notices(&sdk, &queue).await;

    let failed = got.iter().find(|m| m.contains("could not remove all of it")).unwrap_or_else(|| panic!("{got:?}"));
    assert!(failed.contains(&format!("stack irlab-{lab}-victim")), "the notice names what is left: {failed}");
    assert!(failed.contains("cloudformation:DeleteStack"), "and why: {failed}");
    assert!(failed.contains(&format!("irlab --region us-east-1 --lab {lab} down")), "{failed}");
    // What it could remove is gone, what it could not is left for down, with the janitor.
    assert!(!stack_exists(&sdk, &format!("irlab-{lab}-playbook-none")).await);
    assert!(stack_exists(&sdk, &format!("irlab-{lab}-victim")).await);
    assert!(stack_exists(&sdk, &format!("irlab-{lab}-janitor")).await);

    irlab(&s, lab, &["--yes", "down"]).ok();
    assert_eq!(leftovers(&sdk, lab).await, Vec::<String>::new());
    assert_eq!(janitor_leftovers(&sdk, lab).await, Vec::<String>::new());
}

#[tokio::test]
async fn one_labs_expiry_leaves_the_shared_detector_and_parts_to_the_lab_that_remains() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    // `short-b` never expires (the stand-in's default); `short` expires in 10 minutes (6 s here).
    // Lab short's stack names fit short-b's too (irlab-short-...): only the tags tell them apart.
    irlab(&s, "short-b", &["up", "--playbook", "none", "--quiet"]).ok();
    let status = irlab(&s, "short-b", &["status", "--output", "json"]).ok().json();
    assert!(status["expiry"].is_null(), "{status}");
    irlab(&s, "short", &["up", "--playbook", "none", "--expires", "10m", "--quiet"]).ok();
    let gone = until(240, || {
        let sdk = sdk.clone();
        async move { !stack_exists(&sdk, "irlab-short-janitor").await }
    })
    .await;
    s.idle();
    assert!(gone, "the short lab did not remove itself");
    assert_eq!(leftovers(&sdk, "short").await, Vec::<String>::new());
    for part in ["detection", "victim", "playbook-none"] {
        assert!(stack_exists(&sdk, &format!("irlab-short-b-{part}")).await, "short's janitor took short-b's {part}");
    }
    // The detector and the region's shared parts stay for `short-b`, which still works.
    assert_eq!(detector_enabled(&sdk).await, Some(true));
    assert!(stack_exists(&sdk, "irlab-shared").await);
    irlab(&s, "short-b", &["status"]).ok();
    irlab(&s, "short-b", &["--yes", "down"]).ok();
    assert_eq!(leftovers(&sdk, "short-b").await, Vec::<String>::new());
    assert_eq!(shared_leftovers(&sdk).await, Vec::<String>::new());
    assert_eq!(detector_enabled(&sdk).await, None);
}
