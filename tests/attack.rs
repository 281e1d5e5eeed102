//! `irlab scenarios` and `irlab attack` in each mode, checked in the stand-in directly.

mod common;

use common::{Standin, audit_now, instance_tags, leftovers, outputs, wait_for_ir_status};

#[test]
fn scenarios_lists_and_shows_the_built_in_scenarios() {
    let s = Standin::start();
    let list = s.irlab(&["scenarios", "--output", "json"]).ok().json();
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap()).collect();
    for id in ["tor-client", "bitcoin-mining", "malicious-ip"] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    let show = s.irlab(&["scenarios", "show", "tor-client"]).ok();
    assert!(show.stdout.contains("UnauthorizedAccess:EC2/TorClient"), "{}", show.stdout);
    let missing = s.irlab(&["scenarios", "show", "nope"]).code(1);
    assert!(missing.stderr.contains("known scenarios"), "{}", missing.stderr);
}

#[tokio::test]
async fn inject_triggers_the_playbook_and_records_the_run() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    s.irlab(&["up", "--playbook", "lambda"]).ok();
    let victim = outputs(&sdk, "irlab-irlab-victim").await["InstanceId"].clone();
    let out = s.irlab(&["attack", "tor-client", "--output", "json"]).ok().json();
    assert_eq!(out["run"]["mode"], "inject");
    assert_eq!(wait_for_ir_status(&sdk, &victim, &["contained", "failed"]).await, "contained");
    let tags = instance_tags(&sdk, &victim).await;
    assert_eq!(tags["irlab:finding-type"], "UnauthorizedAccess:EC2/TorClient");
    let status = s.irlab(&["status", "--output", "json"]).ok().json();
    assert_eq!(status["instance"]["ir_status"], "contained");
    assert_eq!(status["instance"]["finding"], "UnauthorizedAccess:EC2/TorClient");
    // The run is in the lab's state in the account, for any machine to find.
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let state = ssm.get_parameter().name("/irlab/irlab/state").send().await.unwrap();
    let state: serde_json::Value = serde_json::from_str(state.parameter().unwrap().value().unwrap()).unwrap();
    assert_eq!(state["runs"][0]["scenarios"], serde_json::json!(["tor-client"]));
    assert_eq!(state["runs"][0]["instance"], victim.as_str());
    assert_eq!(state["runs"][0]["finding_ids"][0], out["run"]["finding_ids"][0]);
    s.irlab(&["down", "--yes"]).ok();
}

#[tokio::test]
async fn sample_findings_carry_the_scenario_types_and_no_lab_answers_them() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    s.irlab(&["up", "--playbook", "stepfunctions", "--evidence-budget", "600"]).ok();
    let victim = outputs(&sdk, "irlab-irlab-victim").await["InstanceId"].clone();
    let audit = outputs(&sdk, "irlab-irlab-detection").await["AuditLogGroupName"].clone();

    let r = s.irlab(&["attack", "bitcoin-mining", "--mode", "sample"]).ok();
    assert!(r.stderr.contains("i-99999999"), "the user is told samples name a placeholder: {}", r.stderr);
    assert!(r.stderr.contains("no lab's playbook answers them"), "{}", r.stderr);

    let gd = aws_sdk_guardduty::Client::new(&sdk);
    let detector = gd.list_detectors().send().await.unwrap().detector_ids()[0].clone();
    let ids = gd.list_findings().detector_id(&detector).send().await.unwrap().finding_ids().to_vec();
    let found = gd.get_findings().detector_id(&detector).set_finding_ids(Some(ids)).send().await.unwrap();
    let mut types: Vec<String> = found.findings().iter().map(|f| f.r#type().unwrap_or_default().to_string()).collect();
    types.sort();
    assert_eq!(
        types,
        vec![
            "CryptoCurrency:EC2/BitcoinTool.B!DNS".to_string(),
            "Impact:EC2/BitcoinDomainRequest.Reputation".to_string()
        ]
    );
    // Samples name a placeholder instance, which is no lab's victim: the rule matches only the
    // lab's own instance, so nothing runs, nothing is recorded and nobody is notified.
    s.idle();
    assert_eq!(audit_now(&sdk, &audit).await, Vec::<serde_json::Value>::new());
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let machine = outputs(&sdk, "irlab-irlab-playbook-stepfunctions").await["PlaybookArn"].clone();
    assert!(sfn.list_executions().state_machine_arn(machine).send().await.unwrap().executions().is_empty());
    assert!(!instance_tags(&sdk, &victim).await.contains_key("irlab:ir-status"), "the real victim must be untouched");
    // verify judges a sample run by what it can be: the findings arrived, the victim untouched.
    s.irlab(&["verify", "--timeout", "30s"]).ok();
    s.irlab(&["down", "--yes"]).ok();
}

#[tokio::test]
async fn traffic_sends_exactly_the_scenario_commands_to_the_victim_and_down_removes_the_threat_list() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    // An adopted detector: its own lists must survive, the lab's must not.
    let gd = aws_sdk_guardduty::Client::new(&sdk);
    let detector = gd.create_detector().enable(true).send().await.unwrap().detector_id().unwrap().to_string();
    s.irlab(&["up", "--evidence-budget", "600"]).ok();
    let victim = outputs(&sdk, "irlab-irlab-victim").await["InstanceId"].clone();

    let out = s.irlab(&["attack", "malicious-ip", "--mode", "traffic", "--output", "json"]).ok().json();
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let commands = ssm.list_commands().send().await.unwrap();
    assert_eq!(commands.commands().len(), 1);
    let c = &commands.commands()[0];
    assert_eq!(c.instance_ids(), std::slice::from_ref(&victim));
    assert_eq!(c.document_name(), Some("AWS-RunShellScript"));
    let sent = c.parameters().unwrap()["commands"].clone();
    let scenario = s.irlab(&["scenarios", "show", "malicious-ip", "--output", "json"]).ok().json();
    let want: Vec<String> =
        scenario["traffic"]["commands"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(sent, want, "exactly the scenario's commands, in order");
    assert_eq!(out["run"]["command_ids"][0], c.command_id().unwrap());

    let sets = gd.list_threat_intel_sets().detector_id(&detector).send().await.unwrap().threat_intel_set_ids().to_vec();
    assert_eq!(sets.len(), 1);
    let set = gd.get_threat_intel_set().detector_id(&detector).threat_intel_set_id(&sets[0]).send().await.unwrap();
    assert_eq!(set.status().unwrap().as_str(), "ACTIVE");

    s.irlab(&["down", "--yes"]).ok();
    assert_eq!(gd.list_detectors().send().await.unwrap().detector_ids(), std::slice::from_ref(&detector));
    assert!(gd.list_threat_intel_sets().detector_id(&detector).send().await.unwrap().threat_intel_set_ids().is_empty());
    assert_eq!(leftovers(&sdk, "irlab").await, Vec::<String>::new());
}

#[tokio::test]
async fn a_bad_scenario_file_names_line_and_column_and_runs_nothing() {
    let s = Standin::start();
    s.irlab(&["up", "--playbook", "lambda"]).ok();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.yaml");
    let text =
        std::fs::read_to_string("scenarios/tor-client.yaml").unwrap().replacen("severity:", "severity: high #", 1);
    std::fs::write(&path, &text).unwrap();
    let r = s.irlab(&["attack", "--scenario-file", path.to_str().unwrap(), "--mode", "traffic"]).code(1);
    let line = text.lines().position(|l| l.contains("severity: high")).unwrap() + 1;
    assert!(r.stderr.contains(&format!("mine.yaml:{line}:")), "{}", r.stderr);
    let sdk = s.sdk().await;
    assert!(aws_sdk_ssm::Client::new(&sdk).list_commands().send().await.unwrap().commands().is_empty());
    let victim = outputs(&sdk, "irlab-irlab-victim").await["InstanceId"].clone();
    assert!(!instance_tags(&sdk, &victim).await.contains_key("irlab:ir-status"));
}
