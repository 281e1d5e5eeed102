//! The lifecycle after containment, through the binary: eradication and recovery.
//!
//! Eradication, for each playbook: a real attack installs its tools on the
//! victim, the playbook contains it, `irlab eradicate` runs the scenario's eradication through
//! the private path to Systems Manager while the victim stays isolated, and `verify --phase eradicate`
//! passes on Systems Manager's own record of the commands.
//!
//! The stand-in's sandbox keeps no package files (its /usr is the host's, read-only: dnf records
//! a package instead) and runs each command in its own PID namespace, so the indicators an
//! attack leaves are never present here: that each scenario's commands remove them is proved by
//! the stand-in's tests (`emulator/tests/test_eradication.py`), on processes and package records.

mod common;

use aws_sdk_ssm::types::CommandInvocationStatus;
use common::{Standin, outputs};

/// Waits for a Run Command (the traffic attack) to end on the stand-in's sandbox.
async fn wait_command(sdk: &aws_config::SdkConfig, command_id: &str) {
    let ssm = aws_sdk_ssm::Client::new(sdk);
    for _ in 0..240 {
        let out = ssm.list_command_invocations().command_id(command_id).send().await.unwrap();
        if let Some(status) = out.command_invocations().first().and_then(|i| i.status()) {
            match status {
                CommandInvocationStatus::Success => return,
                CommandInvocationStatus::Pending
                | CommandInvocationStatus::InProgress
                | CommandInvocationStatus::Delayed => {}
                other => panic!("the attack's command {command_id} ended {other:?}"),
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("the attack's command {command_id} did not end");
}

#[tokio::test]
async fn each_playbook_s_containment_is_followed_by_an_eradication_that_verify_proves() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    s.irlab(&["up", "--playbook", "lambda", "--evidence-budget", "600"]).ok();
    let instance = outputs(&sdk, "irlab-irlab-victim").await["InstanceId"].clone();

    for (i, variant) in ["lambda", "stepfunctions", "ssm"].into_iter().enumerate() {
        if i > 0 {
            s.irlab(&["reset"]).ok();
            s.irlab(&["playbook", "set", variant]).ok();
        }
        // The real attack: dig installed on the victim (the sandbox's dnf), then the finding.
        let traffic = s.irlab(&["attack", "c2-dns", "--mode", "traffic", "--output", "json"]).ok().json();
        wait_command(&sdk, traffic["run"]["command_ids"][0].as_str().unwrap()).await;
        if i == 0 {
            // Before containment the attacker still holds the victim: nothing to eradicate yet.
            let early = s.irlab(&["eradicate"]).code(1);
            assert!(early.stderr.contains("eradication runs on a contained victim"), "{}", early.stderr);
        }
        s.irlab(&["attack", "c2-dns", "--mode", "inject"]).ok();
        s.irlab(&["verify", "--timeout", "90s", "--interval", "500ms"]).ok();

        let done = s.irlab(&["eradicate", "--output", "json"]).ok().json();
        assert_eq!(done["eradicateStatus"], "Success", "{variant}: {done}");
        assert_eq!(done["eradicated"], true, "{variant}: {done}");
        assert_eq!(
            common::associated_profiles(&sdk, &instance).await,
            Vec::<String>::new(),
            "{variant}: the eradication profile is taken off again"
        );

        let v = s.irlab(&["verify", "--phase", "eradicate", "--timeout", "30s", "--output", "json"]).ok().json();
        assert_eq!(v["passed"], true, "{variant}: {v}");
        let names: Vec<&str> = v["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["isolated", "eradication ran", "indicators gone"], "{variant}");
        // The containment still holds after the eradication: its profile is gone again.
        s.irlab(&["verify", "--timeout", "30s"]).ok();
    }

    let down = s.irlab(&["down", "--yes"]).ok();
    assert!(down.stdout.contains("0 resources left"), "{}", down.stdout);
    assert_eq!(common::leftovers(&sdk, "irlab").await, Vec::<String>::new());
}

/// A run that was never eradicated fails `verify --phase eradicate` at once, naming the command
/// that does it, and keeps its containment verdict.
#[tokio::test]
async fn an_uneradicated_run_fails_the_eradicate_phase_and_says_what_to_run() {
    let s = Standin::start();
    s.irlab(&["up", "--playbook", "lambda", "--evidence-budget", "600"]).ok();
    s.irlab(&["attack", "tor-client"]).ok();
    s.irlab(&["verify", "--timeout", "90s", "--interval", "500ms"]).ok();
    let r = s.irlab(&["verify", "--phase", "eradicate", "--timeout", "5m"]).code(1);
    assert!(r.stdout.contains("FAIL eradication ran"), "{}", r.stdout);
    assert!(r.stderr.contains("eradicate --run run-"), "{}", r.stderr);
    let status = s.irlab(&["status", "--output", "json"]).ok().json();
    assert_eq!(status["last_run"]["verdict"]["passed"], true, "{status}");
    s.irlab(&["down", "--yes"]).ok();
}

/// Recovery: a clean victim from the recorded baseline through the victim stack, the compromised
/// one kept stopped, isolated and protected (and not discarded while its evidence does not
/// verify); `verify --phase all` passes the whole lifecycle; the recovered victim is contained
/// again by a second attack; `down` removes both instances.
#[tokio::test]
async fn recovery_brings_back_a_clean_victim_and_keeps_the_compromised_one_as_evidence() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    // The Lambda playbook cannot wait for an approval: eradication and recovery are by hand (the
    // engines that wait do both after `irlab approve`, tests/approval.rs).
    s.irlab(&["up", "--playbook", "lambda", "--evidence-budget", "600"]).ok();
    let victim = outputs(&sdk, "irlab-irlab-victim").await;
    let (compromised, quarantine) = (victim["InstanceId"].clone(), victim["QuarantineSecurityGroupId"].clone());
    s.irlab(&["attack", "tor-client"]).ok();
    s.irlab(&["verify", "--timeout", "90s", "--interval", "500ms"]).ok();
    s.irlab(&["eradicate"]).ok();

    let rec = s.irlab(&["recover", "--output", "json"]).ok().json();
    let recovered = rec["recovery"]["recovered"].as_str().unwrap().to_string();
    assert_ne!(recovered, compromised);
    assert_eq!(outputs(&sdk, "irlab-irlab-victim").await["InstanceId"], recovered, "the stack names the new victim");

    // The compromised instance: stopped, still only in quarantine, still protected.
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let old = ec2.describe_instances().instance_ids(&compromised).send().await.unwrap();
    let old = &old.reservations()[0].instances()[0];
    assert_eq!(old.state().and_then(|s| s.name()).map(|n| n.as_str()), Some("stopped"));
    for eni in old.network_interfaces() {
        let groups: Vec<&str> = eni.groups().iter().filter_map(|g| g.group_id()).collect();
        assert_eq!(groups, vec![quarantine.as_str()]);
    }
    let protection = ec2
        .describe_instance_attribute()
        .instance_id(&compromised)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::DisableApiTermination)
        .send()
        .await
        .unwrap();
    assert_eq!(protection.disable_api_termination().and_then(|b| b.value()), Some(true));
    let status = s.irlab(&["status"]).ok();
    assert!(status.stdout.contains(&format!("compromised  {compromised}")), "{}", status.stdout);

    // The whole lifecycle of the run verifies; then the recovered victim is attacked and contained.
    let all = s.irlab(&["verify", "--phase", "all", "--timeout", "30s", "--output", "json"]).ok().json();
    assert_eq!(all["passed"], true, "{all}");
    let names: Vec<&str> = all["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for want in ["isolated", "indicators gone", "recovered", "baseline restored", "recovered clean", "no finding on it"]
    {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    // The report draws the lifecycle's lanes and says what was done by hand.
    let md = s.irlab(&["report", "--format", "md"]).ok().stdout;
    for lane in ["| detect |", "| contain |", "| eradicate |", "| recover |"] {
        assert!(md.contains(lane), "{lane} in {md}");
    }
    assert!(md.contains("- eradicated by hand (`irlab eradicate`)"), "{md}");
    assert!(md.contains("- recovered by hand (`irlab recover`)"), "{md}");
    s.irlab(&["attack", "tor-client"]).ok();
    let again = s.irlab(&["verify", "--timeout", "90s", "--interval", "500ms", "--output", "json"]).ok().json();
    assert_eq!(again["passed"], true, "{again}");
    // The runs' evidence rewritten: the second run's victim may not be discarded.
    let bucket = outputs(&sdk, "irlab-irlab-detection").await["EvidenceBucketName"].clone();
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let listed = s3.list_objects_v2().bucket(&bucket).prefix("volatile/").send().await.unwrap();
    let keys: Vec<&str> =
        listed.contents().iter().filter_map(|o| o.key()).filter(|k| k.ends_with("/processes.txt")).collect();
    assert!(!keys.is_empty(), "processes.txt collected");
    for key in keys {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"rewritten\n"))
            .send()
            .await
            .unwrap();
    }
    let refused = s.irlab(&["recover", "--discard-compromised"]).code(1);
    assert!(refused.stderr.contains("is not complete and verified"), "{}", refused.stderr);
    assert!(refused.stderr.contains("volatile evidence sealed"), "{}", refused.stderr);

    let down = s.irlab(&["down", "--yes"]).ok();
    assert!(down.stdout.contains("0 resources left"), "{}", down.stdout);
    assert_eq!(common::leftovers(&sdk, "irlab").await, Vec::<String>::new());
}
