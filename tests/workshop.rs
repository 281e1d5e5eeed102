//! `irlab workshop` through the binary: the whole path without prompts, with module 3's manual
//! containment done through the SDK as an attendee would do it with the AWS CLI (one step wrong
//! first, to check the explanation and the hint), then the three playbooks and the clean-up;
//! and the prompts themselves in a pseudo-terminal, with a resume after an interruption.

mod common;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, EbsInstanceBlockDeviceSpecification, Filter, InstanceBlockDeviceMappingSpecification,
    ResourceType, Tag, TagSpecification,
};
use common::{Standin, leftovers, outputs};

const LAB: &str = "ws";

fn workshop(s: &Standin, args: &[&str]) -> common::Run {
    let mut all = vec!["--lab", LAB];
    all.extend_from_slice(args);
    s.irlab(&all)
}

#[tokio::test]
async fn the_whole_path_runs_without_prompts_and_grades_a_manual_containment() {
    let s = Standin::start();
    let sdk = s.sdk().await;

    // Without a terminal and without --non-interactive, nothing is asked and nothing is made.
    let r = workshop(&s, &["workshop"]).code(1);
    assert!(r.stderr.contains("not a terminal") && r.stderr.contains("--non-interactive --yes"), "{}", r.stderr);
    let r = workshop(&s, &["workshop", "--non-interactive"]).code(1);
    assert!(r.stderr.contains("needs --yes"), "{}", r.stderr);

    // Modules 1 and 2, then module 3's attack; it stops for the attendee's own containment.
    let r = workshop(&s, &["--yes", "workshop", "--non-interactive"]).ok();
    assert!(r.stdout.contains("module 3 waits for your containment"), "{}\n{}", r.stdout, r.stderr);
    // The finding is read as GuardDuty describes it: type, severity level and title.
    assert!(r.stdout.contains("UnauthorizedAccess:EC2/TorClient about i-"), "{}", r.stdout);
    assert!(r.stdout.contains("  severity High (8.0): "), "{}", r.stdout);
    assert!(r.stdout.contains("0 of 5 containment steps done") || r.stderr.contains("0 of 5 containment steps done"));
    let st = workshop(&s, &["--output", "json", "workshop", "status"]).ok().json();
    assert_eq!(st["next"], 3, "{st}");
    let done: Vec<u64> = st["done"].as_array().unwrap().iter().map(|d| d["module"].as_u64().unwrap()).collect();
    assert_eq!(done, [1, 2]);

    let victim = outputs(&sdk, &format!("irlab-{LAB}-victim")).await;
    let (instance, quarantine, untrack, app, role) = (
        victim["InstanceId"].clone(),
        victim["QuarantineSecurityGroupId"].clone(),
        victim["UntrackSecurityGroupId"].clone(),
        victim["AppSecurityGroupId"].clone(),
        victim["InstanceRoleName"].clone(),
    );
    // No playbook was deployed: the manual module's rule only alerts.
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    assert!(cfn.describe_stacks().stack_name(format!("irlab-{LAB}-playbook-none")).send().await.is_ok());
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let desc = ec2.describe_instances().instance_ids(&instance).send().await.unwrap();
    let inst = desc.reservations()[0].instances()[0].clone();
    let eni = inst.network_interfaces()[0].network_interface_id().unwrap().to_string();
    let volumes: Vec<(String, String)> = inst
        .block_device_mappings()
        .iter()
        .map(|b| (b.ebs().unwrap().volume_id().unwrap().to_string(), b.device_name().unwrap().to_string()))
        .collect();

    // The mistake people make: the quarantine group added beside the others.
    ec2.modify_network_interface_attribute()
        .network_interface_id(&eni)
        .groups(&app)
        .groups(&quarantine)
        .send()
        .await
        .unwrap();
    let r = workshop(&s, &["workshop", "check"]).code(1);
    assert!(r.stdout.contains("added beside") && r.stdout.contains(&app), "{}", r.stdout);
    assert!(r.stdout.contains("[ ] 1. isolate"), "{}", r.stdout);
    // The hint is the exact command, with this lab's ids.
    assert!(
        r.stdout.contains(&format!("aws ec2 modify-instance-attribute --instance-id {instance} --groups {untrack}")),
        "{}",
        r.stdout
    );

    // Then every step right, as the module's commands do it.
    for group in [&untrack, &quarantine] {
        ec2.modify_instance_attribute().instance_id(&instance).groups(group).send().await.unwrap();
    }
    let assoc = ec2
        .describe_iam_instance_profile_associations()
        .filters(Filter::builder().name("instance-id").values(&instance).build())
        .send()
        .await
        .unwrap();
    for a in assoc.iam_instance_profile_associations() {
        if a.state().map(|s| s.as_str()) == Some("associated") {
            ec2.disassociate_iam_instance_profile().association_id(a.association_id().unwrap()).send().await.unwrap();
        }
    }
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    aws_sdk_iam::Client::new(&sdk)
        .put_role_policy()
        .role_name(&role)
        .policy_name("irlab-revoke-sessions")
        .policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":"*","Resource":"*","Condition":{{"DateLessThan":{{"aws:TokenIssueTime":"{now}"}}}}}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    let on = || AttributeBooleanValue::builder().value(true).build();
    ec2.modify_instance_attribute().instance_id(&instance).disable_api_termination(on()).send().await.unwrap();
    ec2.modify_instance_attribute().instance_id(&instance).disable_api_stop(on()).send().await.unwrap();
    let r = workshop(&s, &["workshop", "check"]).code(1);
    assert!(r.stdout.contains("[x] 1. isolate") && r.stdout.contains("[x] 2. revoke"), "{}", r.stdout);
    assert!(r.stdout.contains("[ ] 3. protect"), "the volumes are not kept yet: {}", r.stdout);
    assert!(r.stdout.contains("CloudTrail: ModifyInstanceAttribute by"), "{}", r.stdout);
    for (volume, device) in &volumes {
        ec2.modify_instance_attribute()
            .instance_id(&instance)
            .block_device_mappings(
                InstanceBlockDeviceMappingSpecification::builder()
                    .device_name(device)
                    .ebs(EbsInstanceBlockDeviceSpecification::builder().delete_on_termination(false).build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let finding = finding_of(&s).await;
        ec2.create_snapshot()
            .volume_id(volume)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Snapshot)
                    .tags(Tag::builder().key("irlab:lab").value(LAB).build())
                    .tags(Tag::builder().key("irlab:instance").value(&instance).build())
                    .tags(Tag::builder().key("irlab:finding-id").value(&finding).build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    let finding = finding_of(&s).await;
    ec2.create_tags()
        .resources(&instance)
        .tags(Tag::builder().key("irlab:ir-status").value("contained").build())
        .tags(Tag::builder().key("irlab:finding-id").value(&finding).build())
        .send()
        .await
        .unwrap();
    let r = workshop(&s, &["workshop", "check"]).ok();
    assert!(r.stdout.contains("contained by hand: every step done"), "{}", r.stdout);
    let st = workshop(&s, &["--output", "json", "workshop", "status"]).ok().json();
    assert_eq!(st["next"], 4, "{st}");
    assert!(st["manual"]["seconds"].as_f64().is_some_and(|x| x >= 0.0), "{st}");

    // Modules 4 and 5: each playbook contains a new attack, verify passes, then down.
    let r = workshop(&s, &["--yes", "workshop", "--non-interactive"]).ok();
    assert!(r.stdout.contains("you, by hand"), "{}\n{}", r.stdout, r.stderr);
    for v in ["lambda", "stepfunctions", "ssm"] {
        let row = r.stdout.lines().find(|l| l.trim_start().starts_with(v)).unwrap_or_else(|| panic!("{}", r.stdout));
        let w: Vec<&str> = row.split_whitespace().collect();
        assert!(
            w.windows(2).any(|p| p[0].parse::<f64>().is_ok_and(|x| x >= 0.0) && p[1] == "s"),
            "{v} has no time to contain: {row}"
        );
    }
    assert!(r.stdout.contains("the workshop is complete"), "{}", r.stdout);
    assert_eq!(leftovers(&sdk, LAB).await, Vec::<String>::new());
}

/// The finding the manual module's attack raised, as `workshop check --output json` names it.
async fn finding_of(s: &Standin) -> String {
    let r = workshop(s, &["--output", "json", "workshop", "check"]);
    r.json()["finding"].as_str().unwrap_or_else(|| panic!("no finding yet: {}", r.stdout)).to_string()
}

/// Runs irlab against the test's stand-in in an 80-column pseudo-terminal.
fn in_terminal(s: &Standin, script: serde_json::Value, args: &[&str]) -> common::Run {
    let mut all = vec!["--local", "--endpoint-url", &s.endpoint];
    all.extend_from_slice(args);
    common::in_terminal(80, script, &all)
}

#[tokio::test]
async fn the_prompts_work_in_a_terminal_and_an_interrupted_path_resumes() {
    let s = Standin::start();
    // Module 1 on a terminal: the question, the answer, the text; then Ctrl-C at module 2's
    // question.
    let r = in_terminal(
        &s,
        serde_json::json!([["Start module 1: Introduction", "y"], ["Start module 2: Preparation", "\u{3}"]]),
        &["--lab", "wp", "workshop"],
    );
    assert!(r.stdout.contains("incident-response lifecycle"), "module 1's text: {}", r.stdout);
    assert!(r.stdout.contains("module 1 done; about"), "{}", r.stdout);
    assert!(r.stdout.contains("workshop stopped"), "{}", r.stdout);
    assert_ne!(r.code, 0, "an interrupted path does not end with success: {}", r.stdout);
    let st = s.irlab(&["--lab", "wp", "--output", "json", "workshop", "status"]).ok().json();
    assert_eq!(st["next"], 2, "{st}");

    // Another start resumes at module 2; declining it stops cleanly, and nothing was brought up.
    let r = in_terminal(&s, serde_json::json!([["Start module 2: Preparation", "n"]]), &["--lab", "wp", "workshop"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("resuming the workshop in lab wp at module 2"), "{}", r.stdout);
    assert!(r.stdout.contains("stopped before module 2"), "{}", r.stdout);
    let cfn = aws_sdk_cloudformation::Client::new(&s.sdk().await);
    assert!(cfn.describe_stacks().stack_name("irlab-wp-victim").send().await.is_err());

    // --step goes back to a module already done (and on from it); there are five.
    let r = in_terminal(
        &s,
        serde_json::json!([["Start module 1: Introduction", "y"], ["Start module 2: Preparation", "n"]]),
        &["--lab", "wp", "workshop", "--step", "1"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("incident-response lifecycle"), "module 1 again: {}", r.stdout);
    assert!(r.stdout.contains("workshop in lab wp at module 1"), "{}", r.stdout);
    // A usage error is the user's to fix: exit 1, as every refusal of irlab.
    let r = s.irlab(&["--lab", "wp", "workshop", "--step", "6"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("6 is not in 1..=5"), "{}", r.stderr);
}
