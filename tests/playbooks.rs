//! Each playbook variant, deployed by `irlab up`, contains the victim when a finding-shaped event
//! arrives on the default bus; checked in EC2 and the audit trail, never through irlab.

mod common;

use aws_config::SdkConfig;
use common::{
    Standin, audit_messages, audit_now, engines_left, finding_events, instance_tags, leftovers, notifications, outputs,
    put_finding, wait_for_ir_status,
};

struct Lab {
    instance: String,
    quarantine: String,
    app_group: String,
    audit: String,
}

async fn lab(sdk: &SdkConfig) -> Lab {
    let v = outputs(sdk, "irlab-irlab-victim").await;
    let d = outputs(sdk, "irlab-irlab-detection").await;
    Lab {
        instance: v["InstanceId"].clone(),
        quarantine: v["QuarantineSecurityGroupId"].clone(),
        app_group: v["AppSecurityGroupId"].clone(),
        audit: d["AuditLogGroupName"].clone(),
    }
}

/// Every containment effect a user cares about, read from EC2.
async fn assert_contained(sdk: &SdkConfig, lab: &Lab, finding: &str, snapshots_completed: bool) {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let inst = ec2.describe_instances().instance_ids(&lab.instance).send().await.unwrap();
    let inst = &inst.reservations()[0].instances()[0];
    assert!(!inst.network_interfaces().is_empty());
    for eni in inst.network_interfaces() {
        let groups: Vec<&str> = eni.groups().iter().filter_map(|g| g.group_id()).collect();
        assert_eq!(groups, vec![lab.quarantine.as_str()], "interface {:?}", eni.network_interface_id());
    }
    let assoc = ec2
        .describe_iam_instance_profile_associations()
        .filters(aws_sdk_ec2::types::Filter::builder().name("instance-id").values(&lab.instance).build())
        .send()
        .await
        .unwrap();
    let live: Vec<_> = assoc
        .iam_instance_profile_associations()
        .iter()
        .filter(|a| a.state().map(|s| s.as_str()) == Some("associated"))
        .collect();
    assert!(live.is_empty(), "the instance profile is still associated: {live:?}");
    for attr in [
        aws_sdk_ec2::types::InstanceAttributeName::DisableApiTermination,
        aws_sdk_ec2::types::InstanceAttributeName::DisableApiStop,
    ] {
        let a =
            ec2.describe_instance_attribute().instance_id(&lab.instance).attribute(attr.clone()).send().await.unwrap();
        let on = match attr {
            aws_sdk_ec2::types::InstanceAttributeName::DisableApiTermination => {
                a.disable_api_termination().and_then(|b| b.value())
            }
            _ => a.disable_api_stop().and_then(|b| b.value()),
        };
        assert_eq!(on, Some(true), "{attr:?}");
    }
    let volumes: Vec<String> =
        inst.block_device_mappings().iter().filter_map(|b| b.ebs()?.volume_id()).map(String::from).collect();
    assert!(!volumes.is_empty());
    let snaps = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(aws_sdk_ec2::types::Filter::builder().name("tag:irlab:instance").values(&lab.instance).build())
        .send()
        .await
        .unwrap();
    let mut snapped: Vec<String> = snaps.snapshots().iter().filter_map(|s| s.volume_id()).map(String::from).collect();
    snapped.sort();
    let mut want = volumes.clone();
    want.sort();
    assert_eq!(snapped, want, "one snapshot per attached volume");
    for s in snaps.snapshots() {
        let tags: std::collections::HashMap<&str, &str> =
            s.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))).collect();
        assert_eq!(tags.get("irlab:lab"), Some(&"irlab"));
        assert_eq!(tags.get("irlab:finding-id"), Some(&finding));
        if snapshots_completed {
            assert_eq!(s.state().map(|x| x.as_str()), Some("completed"));
        }
    }
    let tags = instance_tags(sdk, &lab.instance).await;
    assert_eq!(tags.get("irlab:ir-status").map(String::as_str), Some("contained"));
    assert_eq!(tags.get("irlab:finding-id").map(String::as_str), Some(finding));
    assert!(tags.get("irlab:original-groups").is_some_and(|g| g.contains(&lab.app_group)), "{tags:?}");
}

/// An instance the lab did not create, in its own network.
async fn foreign_instance(sdk: &SdkConfig) -> (String, Vec<String>) {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let image = ec2.describe_images().send().await.unwrap().images()[0].image_id().unwrap().to_string();
    let run = ec2
        .run_instances()
        .image_id(image)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    let inst = &run.instances()[0];
    let groups = inst.security_groups().iter().filter_map(|g| g.group_id()).map(String::from).collect();
    (inst.instance_id().unwrap().to_string(), groups)
}

async fn contains_the_victim(variant: &str) {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let up = s.irlab(&["up", "--playbook", variant]).ok();
    assert!(up.stdout.contains(&format!("playbook-{variant}")), "{}", up.stdout);
    let lab = lab(&sdk).await;

    // A finding for an instance the lab does not own starts nothing here: no run, no audit
    // record, no notification, and the instance is unchanged.
    let (foreign, foreign_groups) = foreign_instance(&sdk).await;
    put_finding(&sdk, &foreign, "UnauthorizedAccess:EC2/TorClient", 8.0).await;
    s.idle();
    let msgs = audit_now(&sdk, &lab.audit).await;
    assert_eq!(msgs, Vec::<serde_json::Value>::new(), "another instance's finding reached the lab");
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let f = ec2.describe_instances().instance_ids(&foreign).send().await.unwrap();
    let f = &f.reservations()[0].instances()[0];
    let now: Vec<String> = f.security_groups().iter().filter_map(|g| g.group_id()).map(String::from).collect();
    assert_eq!(now, foreign_groups);
    assert!(!f.tags().iter().any(|t| t.key().is_some_and(|k| k.starts_with("irlab:"))));

    // Below the severity floor: nothing fires.
    put_finding(&sdk, &lab.instance, "UnauthorizedAccess:EC2/TorClient", 2.0).await;
    // The lab's own finding: contained.
    let finding = put_finding(&sdk, &lab.instance, "UnauthorizedAccess:EC2/TorClient", 8.0).await;
    assert_eq!(wait_for_ir_status(&sdk, &lab.instance, &["contained", "failed"]).await, "contained");
    assert_contained(&sdk, &lab, &finding, variant != "lambda").await;
    let msgs = audit_messages(&sdk, &lab.audit, |m| notifications(m).iter().any(|n| n.contains(&lab.instance))).await;
    assert_eq!(finding_events(&msgs), vec![finding.clone()], "only the finding above the floor fired");
    assert!(notifications(&msgs).iter().any(|n| n.contains(&lab.instance) && n.contains(&finding)), "{msgs:?}");
    if variant == "lambda" {
        // It cannot wait for a person: the responders learn that the rest is theirs to run.
        let notes = notifications(&msgs);
        assert!(
            notes.iter().any(|n| n.contains("cannot wait for an approval") && n.contains("irlab --lab irlab recover")),
            "{notes:?}"
        );
    }

    // status shows the variant ready; down removes the snapshots with the rest.
    let status = s.irlab(&["status", "--output", "json"]).ok().json();
    assert_eq!(status["playbooks"][0]["variant"], variant);
    assert_eq!(status["playbooks"][0]["problems"], serde_json::json!([]));
    s.irlab(&["down", "--yes"]).ok();
    assert_eq!(leftovers(&sdk, "irlab").await, Vec::<String>::new());
    assert_eq!(engines_left(&sdk).await, Vec::<String>::new());
}

async fn a_failure_is_marked_and_notified(variant: &str) {
    let s = Standin::start();
    let sdk = s.sdk().await;
    s.irlab(&["up", "--playbook", variant]).ok();
    let lab = lab(&sdk).await;
    // Someone deleted the quarantine group: isolation cannot succeed.
    aws_sdk_ec2::Client::new(&sdk).delete_security_group().group_id(&lab.quarantine).send().await.unwrap();
    put_finding(&sdk, &lab.instance, "CryptoCurrency:EC2/BitcoinTool.B!DNS", 8.0).await;
    assert_eq!(wait_for_ir_status(&sdk, &lab.instance, &["contained", "failed"]).await, "failed");
    let msgs = audit_messages(&sdk, &lab.audit, |m| notifications(m).iter().any(|n| n.contains(&lab.instance))).await;
    let notes = notifications(&msgs);
    assert!(notes.iter().any(|n| n.contains(&lab.instance) && n.to_lowercase().contains("fail")), "{notes:?}");
    s.irlab(&["down", "--yes"]).ok();
    assert_eq!(leftovers(&sdk, "irlab").await, Vec::<String>::new());
    assert_eq!(engines_left(&sdk).await, Vec::<String>::new());
}

#[tokio::test]
async fn lambda_contains_the_victim() {
    contains_the_victim("lambda").await;
}

#[tokio::test]
async fn stepfunctions_contains_the_victim() {
    contains_the_victim("stepfunctions").await;
}

#[tokio::test]
async fn ssm_contains_the_victim() {
    contains_the_victim("ssm").await;
}

#[tokio::test]
async fn lambda_marks_a_failure_and_notifies() {
    a_failure_is_marked_and_notified("lambda").await;
}

#[tokio::test]
async fn stepfunctions_marks_a_failure_and_notifies() {
    a_failure_is_marked_and_notified("stepfunctions").await;
}

#[tokio::test]
async fn ssm_marks_a_failure_and_notifies() {
    a_failure_is_marked_and_notified("ssm").await;
}

#[tokio::test]
async fn playbook_set_swaps_the_variant_and_leaves_the_rest() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    s.irlab(&["up", "--playbook", "lambda", "--min-severity", "7"]).ok();
    let before = outputs(&sdk, "irlab-irlab-victim").await;
    let set = s.irlab(&["playbook", "set", "ssm"]).ok();
    assert!(set.stdout.contains("replaced lambda"), "{}", set.stdout);
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    assert!(
        cfn.describe_stacks().stack_name("irlab-irlab-playbook-lambda").send().await.is_err(),
        "the old variant must be gone"
    );
    let ssm = cfn.describe_stacks().stack_name("irlab-irlab-playbook-ssm").send().await.unwrap();
    let sev = ssm.stacks()[0]
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some("MinSeverity"))
        .and_then(|p| p.parameter_value())
        .map(String::from);
    assert_eq!(sev.as_deref(), Some("7"), "the severity floor is kept across a swap");
    assert_eq!(
        outputs(&sdk, "irlab-irlab-victim").await["InstanceId"],
        before["InstanceId"],
        "the victim is untouched"
    );
    // `up` without --playbook keeps the deployed variant.
    let again = s.irlab(&["up", "--output", "json"]).ok().json();
    assert_eq!(again["playbook"], "ssm");
    let status = s.irlab(&["status", "--output", "json"]).ok().json();
    assert_eq!(status["playbooks"].as_array().unwrap().len(), 1);
    s.irlab(&["down", "--yes"]).ok();
    assert_eq!(leftovers(&sdk, "irlab").await, Vec::<String>::new());
    assert_eq!(engines_left(&sdk).await, Vec::<String>::new());
}

#[test]
fn playbook_set_on_a_missing_lab_says_to_run_up() {
    let s = Standin::start();
    let r = s.irlab(&["playbook", "set", "lambda"]).code(1);
    let want = format!("irlab --local --endpoint-url {} up --playbook lambda", s.endpoint);
    assert!(r.stderr.contains(&want), "{}", r.stderr);
}
