//! `up`, `status` and `down` against a private stand-in, checked directly with the SDK.

mod common;

use common::{Standin, leftovers, shared_leftovers};

/// Every non-default VPC, whatever its tags: a lab that leaks its network shows here.
async fn custom_vpcs(sdk: &aws_config::SdkConfig) -> Vec<String> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    ec2.describe_vpcs()
        .send()
        .await
        .unwrap()
        .vpcs()
        .iter()
        .filter(|v| v.is_default() != Some(true))
        .map(|v| v.vpc_id().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn up_builds_the_lab_status_shows_it_and_down_leaves_nothing() {
    let s = Standin::start();
    let sdk = s.sdk().await;

    let up = s.irlab(&["up", "--yes"]).ok();
    assert!(up.stdout.contains("lab irlab is up"), "{}", up.stdout);

    // The stacks exist and carry the lab's tags.
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    for part in ["detection", "victim"] {
        let name = format!("irlab-irlab-{part}");
        let st = cfn.describe_stacks().stack_name(&name).send().await.unwrap();
        let st = &st.stacks()[0];
        assert_eq!(st.stack_status().unwrap().as_str(), "CREATE_COMPLETE", "{name}");
        assert!(st.tags().iter().any(|t| t.key() == Some("irlab:lab") && t.value() == Some("irlab")));
    }
    let outputs = |name: &str| {
        let cfn = cfn.clone();
        let name = name.to_string();
        async move {
            let st = cfn.describe_stacks().stack_name(name).send().await.unwrap();
            st.stacks()[0]
                .outputs()
                .iter()
                .map(|o| (o.output_key().unwrap().to_string(), o.output_value().unwrap().to_string()))
                .collect::<std::collections::HashMap<_, _>>()
        }
    };
    let shared = outputs("irlab-shared").await;
    let vic = outputs("irlab-irlab-victim").await;
    // The victim runs in the lab's own subnet of the region's shared VPC.
    assert_eq!(vic["VpcId"], shared["VpcId"]);

    // The shared trail logs; GuardDuty is on and owned by the lab.
    let ct = aws_sdk_cloudtrail::Client::new(&sdk);
    assert_eq!(ct.get_trail_status().name(&shared["TrailName"]).send().await.unwrap().is_logging(), Some(true));
    let gd = aws_sdk_guardduty::Client::new(&sdk);
    let ids = gd.list_detectors().send().await.unwrap().detector_ids().to_vec();
    assert_eq!(ids.len(), 1);
    let d = gd.get_detector().detector_id(&ids[0]).send().await.unwrap();
    assert_eq!(d.status().unwrap().as_str(), "ENABLED");

    // The victim runs with only the app group on every interface; quarantine allows no ingress
    // and only HTTPS to the region's SSM endpoints (how eradication reaches a contained victim).
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let inst = ec2.describe_instances().instance_ids(&vic["InstanceId"]).send().await.unwrap();
    let inst = &inst.reservations()[0].instances()[0];
    assert_eq!(inst.state().unwrap().name().unwrap().as_str(), "running");
    assert!(!inst.network_interfaces().is_empty());
    for eni in inst.network_interfaces() {
        let groups: Vec<&str> = eni.groups().iter().filter_map(|g| g.group_id()).collect();
        assert_eq!(groups, vec![vic["AppSecurityGroupId"].as_str()]);
    }
    let q = ec2.describe_security_groups().group_ids(&vic["QuarantineSecurityGroupId"]).send().await.unwrap();
    let q = &q.security_groups()[0];
    assert!(q.ip_permissions().is_empty(), "quarantine has ingress: {:?}", q.ip_permissions());
    // (protocol, from, to, groups, address ranges) of each egress rule.
    type Rule = (String, Option<i32>, Option<i32>, Vec<String>, usize);
    let egress: Vec<Rule> = q
        .ip_permissions_egress()
        .iter()
        .map(|p| {
            let groups = p.user_id_group_pairs().iter().filter_map(|g| g.group_id()).map(String::from).collect();
            let ranges = p.ip_ranges().len() + p.ipv6_ranges().len() + p.prefix_list_ids().len();
            (p.ip_protocol().unwrap_or_default().to_string(), p.from_port(), p.to_port(), groups, ranges)
        })
        .collect();
    assert_eq!(
        egress,
        vec![("tcp".to_string(), Some(443), Some(443), vec![shared["EndpointSecurityGroupId"].clone()], 0)]
    );

    // status tells the same story, as data.
    let status = s.irlab(&["status", "--output", "json"]).ok().json();
    assert_eq!(status["deployed"], true);
    assert_eq!(status["instance"]["id"], vic["InstanceId"].as_str());
    assert_eq!(status["instance"]["state"], "running");
    assert_eq!(status["trail"]["logging"], true);
    assert_eq!(status["detector"]["ownership"], "owned");
    assert!(status["cost"]["usd_per_hour"].as_f64().unwrap() > 0.0);
    let text = s.irlab(&["status"]).ok();
    assert!(text.stdout.contains("cost: about $"), "{}", text.stdout);

    // A second up changes nothing and succeeds.
    let again = s.irlab(&["up", "--output", "json"]).ok().json();
    assert_eq!(again["stacks"]["victim"]["outcome"], "unchanged");
    assert_eq!(again["stacks"]["detection"]["outcome"], "unchanged");
    assert_eq!(again["stacks"]["shared"]["outcome"], "unchanged");
    assert_eq!(again["stacks"]["victim"]["outputs"]["InstanceId"], vic["InstanceId"].as_str());

    // CloudTrail writes into a versioned bucket: down must remove every version and delete marker.
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    let key = "AWSLogs/123456789012/CloudTrail/us-east-1/log.json.gz";
    for body in ["first", "second"] {
        s3.put_object()
            .bucket(&shared["TrailBucketName"])
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    s3.delete_object().bucket(&shared["TrailBucketName"]).key(key).send().await.unwrap();
    let plan = s.irlab(&["down", "--dry-run"]).ok();
    // The test's two versions and delete marker, plus whatever log files the trail has
    // delivered meanwhile (the stand-in delivers every few seconds, as CloudTrail every 5 minutes).
    let counted =
        plan.stdout.lines().find(|l| l.contains("the account's CloudTrail logs")).and_then(|l| {
            l.split_once("bucket ")?.1.split_once(" (")?.1.split_whitespace().next()?.parse::<usize>().ok()
        });
    assert!(counted.is_some_and(|n| n >= 3), "{}", plan.stdout);

    // down removes all of it and says so.
    let down = s.irlab(&["down", "--yes"]).ok();
    assert!(down.stdout.contains("0 resources left"), "{}", down.stdout);
    assert!(down.stdout.contains("delete the region's shared parts"), "the last lab out removes them: {}", down.stdout);
    assert_eq!(leftovers(&sdk, "irlab").await, Vec::<String>::new());
    assert_eq!(shared_leftovers(&sdk).await, Vec::<String>::new());
    assert_eq!(custom_vpcs(&sdk).await, Vec::<String>::new());
    assert!(gd.list_detectors().send().await.unwrap().detector_ids().is_empty());

    // A second down finds nothing and still succeeds.
    let second = s.irlab(&["down", "--yes"]).ok();
    assert!(second.stdout.contains("does not exist"), "{}", second.stdout);
}

#[tokio::test]
async fn an_adopted_detector_is_put_back_as_it_was() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let gd = aws_sdk_guardduty::Client::new(&sdk);
    let id = gd.create_detector().enable(false).send().await.unwrap().detector_id().unwrap().to_string();

    s.irlab(&["up"]).ok();
    assert_eq!(gd.get_detector().detector_id(&id).send().await.unwrap().status().unwrap().as_str(), "ENABLED");
    let status = s.irlab(&["status", "--output", "json"]).ok().json();
    assert_eq!(status["detector"]["ownership"], "adopted");

    s.irlab(&["down", "--yes"]).ok();
    let ids = gd.list_detectors().send().await.unwrap().detector_ids().to_vec();
    assert_eq!(ids, vec![id.clone()], "the adopted detector must survive down");
    assert_eq!(gd.get_detector().detector_id(&id).send().await.unwrap().status().unwrap().as_str(), "DISABLED");
    assert_eq!(leftovers(&sdk, "irlab").await, Vec::<String>::new());
}

#[tokio::test]
async fn down_removes_one_lab_and_never_touches_another() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    s.irlab(&["--lab", "a", "up"]).ok();
    s.irlab(&["--lab", "a-b", "up"]).ok();

    // A snapshot a playbook would take: tagged with the lab, outside every stack.
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let vol = ec2.describe_volumes().send().await.unwrap().volumes()[0].volume_id().unwrap().to_string();
    let tag = aws_sdk_ec2::types::Tag::builder().key("irlab:lab").value("a").build();
    let spec = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::Snapshot)
        .tags(tag)
        .build();
    let snap = ec2
        .create_snapshot()
        .volume_id(vol)
        .tag_specifications(spec)
        .send()
        .await
        .unwrap()
        .snapshot_id()
        .unwrap()
        .to_string();

    // More parameters under the lab's path than one page of GetParametersByPath holds (10).
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    for i in 0..12 {
        let name = format!("/irlab/a/notes/n{i:02}");
        ssm.put_parameter()
            .name(name)
            .value("x")
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .unwrap();
    }

    let dry = s.irlab(&["--lab", "a", "down", "--dry-run"]).ok();
    assert!(dry.stdout.contains(&snap), "the plan must list the snapshot:\n{}", dry.stdout);
    for i in 0..12 {
        let name = format!("/irlab/a/notes/n{i:02}");
        assert!(dry.stdout.contains(&name), "the plan must read every page of parameters, {name}:\n{}", dry.stdout);
    }
    assert!(dry.stdout.contains("irlab-a-victim") && !dry.stdout.contains("irlab-a-b-"), "{}", dry.stdout);
    assert!(!leftovers(&sdk, "a").await.is_empty(), "dry run deleted something");

    s.irlab(&["--lab", "a", "down", "--yes"]).ok();
    assert_eq!(leftovers(&sdk, "a").await, Vec::<String>::new());
    let other = leftovers(&sdk, "a-b").await;
    assert!(other.contains(&"stack irlab-a-b-victim".to_string()), "{other:?}");
    assert!(other.iter().any(|r| r.starts_with("instance ")), "{other:?}");
    let status = s.irlab(&["--lab", "a-b", "status", "--output", "json"]).ok().json();
    assert_eq!(status["instance"]["state"], "running");
    // The shared parts stay while a lab holds them; the last one out removes them.
    assert_eq!(status["shared"]["status"], "CREATE_COMPLETE");
    assert!(!shared_leftovers(&sdk).await.is_empty());

    s.irlab(&["--lab", "a-b", "down", "--yes"]).ok();
    assert_eq!(leftovers(&sdk, "a-b").await, Vec::<String>::new());
    assert_eq!(shared_leftovers(&sdk).await, Vec::<String>::new());
}

#[tokio::test]
async fn down_finishes_what_an_interrupted_up_left() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    // As if `up` died after creating only the detection stack: no state, no victim. The template
    // is bigger than a request's body may be, so it goes by S3 as `up` sends it (from a bucket of
    // the test's, outside the lab).
    let s3 = aws_sdk_s3::Client::new(&sdk);
    s3.create_bucket().bucket("test-templates").send().await.unwrap();
    let template = include_str!("../stacks/detection.yaml");
    s3.put_object()
        .bucket("test-templates")
        .key("detection.yaml")
        .body(template.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let tags = [("irlab:lab", "half"), ("irlab:part", "detection")]
        .map(|(k, v)| aws_sdk_cloudformation::types::Tag::builder().key(k).value(v).build());
    cfn.create_stack()
        .stack_name("irlab-half-detection")
        .template_url("https://test-templates.s3.us-east-1.amazonaws.com/detection.yaml")
        .parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key("LabName")
                .parameter_value("half")
                .build(),
        )
        .set_tags(Some(tags.to_vec()))
        .send()
        .await
        .unwrap();
    // And a stack of the lab that is none of its parts (found by its name and tag, not by part).
    let lab_tag = aws_sdk_cloudformation::types::Tag::builder().key("irlab:lab").value("half").build();
    cfn.create_stack()
        .stack_name("irlab-half-notes")
        .template_body("Resources:\n  Notes:\n    Type: AWS::SNS::Topic\n")
        .tags(lab_tag)
        .send()
        .await
        .unwrap();
    let before = leftovers(&sdk, "half").await;
    assert!(before.contains(&"stack irlab-half-notes".to_string()), "{before:?}");

    let down = s.irlab(&["--lab", "half", "down", "--yes"]).ok();
    assert!(down.stdout.contains("0 resources left"), "{}", down.stdout);
    assert_eq!(leftovers(&sdk, "half").await, Vec::<String>::new());
}

#[tokio::test]
async fn a_failed_create_names_the_resource_and_the_next_up_recovers() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let r = s.irlab(&["up", "--playbook", "lambda", "--instance-type", "t3.bogus"]).code(2);
    assert!(r.stderr.contains("VictimInstance (AWS::EC2::Instance)"), "the error names the resource: {}", r.stderr);
    assert!(r.stderr.contains("t3.bogus"), "and CloudFormation's reason: {}", r.stderr);
    let cfn = aws_sdk_cloudformation::Client::new(&sdk);
    let victim = cfn.describe_stacks().stack_name("irlab-irlab-victim").send().await.unwrap();
    assert_eq!(victim.stacks()[0].stack_status().unwrap().as_str(), "ROLLBACK_COMPLETE");
    let lab_subnets = aws_sdk_ec2::Client::new(&sdk)
        .describe_subnets()
        .filters(aws_sdk_ec2::types::Filter::builder().name("tag:irlab:lab").values("irlab").build())
        .send()
        .await
        .unwrap();
    assert!(lab_subnets.subnets().is_empty(), "the rollback removed the victim's subnet");

    // The next up replaces the rolled-back stack instead of failing on it.
    let up = s.irlab(&["up", "--output", "json"]).ok().json();
    assert_eq!(up["stacks"]["victim"]["status"], "CREATE_COMPLETE");
    s.irlab(&["down", "--yes"]).ok();
    assert_eq!(leftovers(&sdk, "irlab").await, Vec::<String>::new());
    assert_eq!(shared_leftovers(&sdk).await, Vec::<String>::new());
}
