//! `irlab verify` passes after each playbook contained an injected finding, and names the check
//! that fails when a containment step is undone.

mod common;

use common::{Standin, outputs};

async fn verify_passes_then_catches_a_reattached_profile(variant: &str) {
    let s = Standin::start();
    let sdk = s.sdk().await;
    // The longest evidence budget: on the stand-in the engines' waits are scaled (120 s of a Step
    // Functions Wait last 6 s) while the victim's collection takes real seconds.
    s.irlab(&["up", "--playbook", variant, "--evidence-budget", "600"]).ok();
    s.irlab(&["attack", "tor-client"]).ok();
    let junit = tempfile::NamedTempFile::new().unwrap();
    let ok = s
        .irlab(&[
            "verify",
            "--timeout",
            "90s",
            "--interval",
            "500ms",
            "--junit",
            junit.path().to_str().unwrap(),
            "--output",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(ok["passed"], true, "{ok}");
    let names: Vec<&str> = ok["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for want in [
        "finding arrived",
        "playbook contained",
        "isolated",
        "credentials revoked",
        "protected",
        "evidence preserved",
        "volatile evidence sealed",
        "responders notified",
    ] {
        assert!(names.contains(&want), "{names:?}");
    }
    assert!(std::fs::read_to_string(junit.path()).unwrap().contains("failures=\"0\""));

    // Undo one containment step: the victim gets its instance profile back.
    let v = outputs(&sdk, "irlab-irlab-victim").await;
    let spec = aws_sdk_ec2::types::IamInstanceProfileSpecification::builder().arn(&v["InstanceProfileArn"]).build();
    aws_sdk_ec2::Client::new(&sdk)
        .associate_iam_instance_profile()
        .instance_id(&v["InstanceId"])
        .iam_instance_profile(spec)
        .send()
        .await
        .unwrap();
    let bad = s.irlab(&["verify", "--timeout", "3s", "--interval", "1s"]).code(1);
    assert!(bad.stdout.contains("FAIL credentials revoked"), "{}", bad.stdout);
    assert!(bad.stderr.contains("1 check(s) failed: credentials revoked"), "{}", bad.stderr);
    s.irlab(&["down", "--yes"]).ok();
}

#[tokio::test]
async fn verify_lambda() {
    verify_passes_then_catches_a_reattached_profile("lambda").await;
}

#[tokio::test]
async fn verify_stepfunctions() {
    verify_passes_then_catches_a_reattached_profile("stepfunctions").await;
}

#[tokio::test]
async fn verify_ssm() {
    verify_passes_then_catches_a_reattached_profile("ssm").await;
}

#[test]
fn verify_without_a_run_says_to_attack_first() {
    let s = Standin::start();
    s.irlab(&["up", "--playbook", "lambda", "--quiet"]).ok();
    let r = s.irlab(&["verify"]).code(1);
    // The hint carries this user's connection: copied, it reaches this stand-in, not AWS.
    let want = format!("`irlab --local --endpoint-url {} attack SCENARIO`", s.endpoint);
    assert!(r.stderr.contains(&want), "{}", r.stderr);
    s.irlab(&["down", "--yes", "--quiet"]).ok();
}

#[tokio::test]
async fn reset_restores_the_starting_state_and_the_next_exercise_runs() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    s.irlab(&["up", "--playbook", "stepfunctions"]).ok();
    let v = outputs(&sdk, "irlab-irlab-victim").await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let iam = aws_sdk_iam::Client::new(&sdk);
    // The victim has an Elastic IP the containment must take off and reset put back.
    let eip = ec2.allocate_address().domain(aws_sdk_ec2::types::DomainType::Vpc).send().await.unwrap();
    let allocation = eip.allocation_id().unwrap().to_string();
    ec2.associate_address().allocation_id(&allocation).instance_id(&v["InstanceId"]).send().await.unwrap();
    let eip_of_victim = || async {
        let out = ec2.describe_addresses().allocation_ids(&allocation).send().await.unwrap();
        // moto answers an empty InstanceId for an address that is not associated; AWS omits it.
        out.addresses()[0].instance_id().filter(|i| !i.is_empty()).map(String::from)
    };
    let revoked = || async {
        iam.get_role_policy()
            .role_name(&v["InstanceRoleName"])
            .policy_name("irlab-revoke-sessions")
            .send()
            .await
            .is_ok()
    };
    let deleted_on_termination = || async {
        let out = ec2.describe_instances().instance_ids(&v["InstanceId"]).send().await.unwrap();
        out.reservations()[0].instances()[0]
            .block_device_mappings()
            .iter()
            .map(|b| b.ebs().unwrap().delete_on_termination().unwrap())
            .collect::<Vec<bool>>()
    };
    assert_eq!(deleted_on_termination().await, vec![true]);

    s.irlab(&["attack", "bitcoin-mining"]).ok();
    s.irlab(&["verify", "--timeout", "90s", "--interval", "500ms"]).ok();
    assert_eq!(eip_of_victim().await, None, "the containment takes the Elastic IP off");
    assert!(revoked().await, "the containment revokes the role's sessions");
    assert_eq!(deleted_on_termination().await, vec![false], "the containment keeps the volume");
    s.irlab(&["reset"]).ok();
    assert_eq!(eip_of_victim().await.as_deref(), Some(v["InstanceId"].as_str()), "reset puts the Elastic IP back");
    assert!(!revoked().await, "reset lifts the session revocation");
    assert_eq!(deleted_on_termination().await, vec![true], "reset restores DeleteOnTermination");

    let inst = ec2.describe_instances().instance_ids(&v["InstanceId"]).send().await.unwrap();
    let inst = &inst.reservations()[0].instances()[0];
    for eni in inst.network_interfaces() {
        let groups: Vec<&str> = eni.groups().iter().filter_map(|g| g.group_id()).collect();
        assert_eq!(groups, vec![v["AppSecurityGroupId"].as_str()]);
    }
    assert!(
        !inst
            .tags()
            .iter()
            .any(|t| t.key().is_some_and(|k| k.starts_with("irlab:") && k != "irlab:lab" && k != "irlab:part")),
        "{:?}",
        inst.tags()
    );
    let assoc = ec2
        .describe_iam_instance_profile_associations()
        .filters(aws_sdk_ec2::types::Filter::builder().name("instance-id").values(&v["InstanceId"]).build())
        .send()
        .await
        .unwrap();
    assert!(
        assoc.iam_instance_profile_associations().iter().any(|a| a.state().map(|s| s.as_str()) == Some("associated"))
    );
    let term = ec2
        .describe_instance_attribute()
        .instance_id(&v["InstanceId"])
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::DisableApiTermination)
        .send()
        .await
        .unwrap();
    assert_eq!(term.disable_api_termination().and_then(|b| b.value()), Some(false));
    let snaps = ec2
        .describe_snapshots()
        .owner_ids("self")
        .filters(aws_sdk_ec2::types::Filter::builder().name("tag:irlab:lab").values("irlab").build())
        .send()
        .await
        .unwrap();
    assert!(snaps.snapshots().is_empty());

    // Verify now fails (nothing is contained), and a new attack is contained again.
    s.irlab(&["verify", "--timeout", "2s", "--interval", "1s"]).code(1);
    s.irlab(&["attack", "tor-client"]).ok();
    s.irlab(&["verify", "--timeout", "90s", "--interval", "500ms"]).ok();
    // Down while contained: the kept volume goes with the instance, the revocation with the role.
    let down = s.irlab(&["down", "--yes"]).ok();
    assert!(down.stdout.contains("0 resources left"), "{}", down.stdout);
    let volumes = ec2
        .describe_volumes()
        .filters(aws_sdk_ec2::types::Filter::builder().name("tag:irlab:lab").values("irlab").build())
        .send()
        .await
        .unwrap();
    assert!(volumes.volumes().iter().all(|vol| vol.state().map(|s| s.as_str()) == Some("deleted")), "{volumes:?}");
    ec2.release_address().allocation_id(&allocation).send().await.unwrap();
}

/// Evidence before isolation through the binary: the Lambda playbook's collection is sealed,
/// listed, verified and put in the report; an item rewritten afterwards is caught; `down`
/// removes the evidence bucket although its objects are under Object Lock.
#[tokio::test]
async fn evidence_is_sealed_a_rewritten_item_is_caught_and_down_removes_it() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    s.irlab(&["up", "--playbook", "lambda", "--evidence-budget", "600"]).ok();
    let run =
        s.irlab(&["attack", "tor-client", "--output", "json"]).ok().json()["run"]["id"].as_str().unwrap().to_string();
    s.irlab(&["verify", "--timeout", "90s", "--interval", "500ms"]).ok();

    let listed = s.irlab(&["evidence", "list", "--run", &run]).ok();
    for item in ["processes.txt", "network.txt", "users.txt", "auth.txt", "persistence.txt", "indicators.json"] {
        assert!(listed.stdout.contains(item), "{item}: {}", listed.stdout);
    }
    let intact = s.irlab(&["evidence", "verify"]).ok();
    assert!(intact.stdout.contains("every item matches"), "{}", intact.stdout);

    // The report's evidence table carries each item's SHA-256, as S3 holds the bytes.
    let bucket = outputs(&sdk, "irlab-irlab-detection").await["EvidenceBucketName"].clone();
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let keys: Vec<String> = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("volatile/")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect();
    let key = keys.iter().find(|k| k.ends_with("/processes.txt")).expect("processes.txt collected").clone();
    let body = s3.get_object().bucket(&bucket).key(&key).send().await.unwrap().body.collect().await.unwrap();
    let sha = sha256_hex(&body.into_bytes());
    let report = s.irlab(&["report", "--format", "md"]).ok();
    assert!(report.stdout.contains(&sha), "the report lists processes.txt's SHA-256 {sha}:\n{}", report.stdout);

    // A rewritten item: S3 keeps the locked original, the newer version differs from the manifest.
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"nothing to see here\n"))
        .send()
        .await
        .unwrap();
    let bad = s.irlab(&["evidence", "verify", "--run", &run]).code(1);
    assert!(bad.stdout.contains(&format!("FAIL {key}")), "{}", bad.stdout);
    assert!(bad.stderr.contains("do not match what was sealed"), "{}", bad.stderr);
    // `get` still fetches the bytes as collected, not the rewrite.
    let dir = tempfile::tempdir().unwrap();
    s.irlab(&["evidence", "get", "--run", &run, "--out", dir.path().to_str().unwrap()]).ok();
    assert_eq!(sha256_hex(&std::fs::read(dir.path().join("processes.txt")).unwrap()), sha);
    assert!(s.irlab(&["evidence", "list", "--run", "run-19700101-000000"]).code != 0);

    // A manifest rewritten to match the rewrite (as an administrator could; the victim's own
    // credentials are denied it by the bucket policy) fails too: the sealed, first version is read.
    let manifest_key = keys.iter().find(|k| k.ends_with("/manifest.json")).expect("a manifest").clone();
    let sealed = s3.get_object().bucket(&bucket).key(&manifest_key).send().await.unwrap().body.collect().await;
    let mut forged: serde_json::Value = serde_json::from_slice(&sealed.unwrap().into_bytes()).unwrap();
    let now = s3.get_object().bucket(&bucket).key(&key).send().await.unwrap();
    for item in forged["items"].as_array_mut().unwrap() {
        if item["key"] == key.as_str() {
            item["version_id"] = now.version_id().unwrap().into();
            item["checksum_sha256"] = base64_sha256(b"nothing to see here\n").into();
            item["bytes"] = 20.into();
        }
    }
    s3.put_object()
        .bucket(&bucket)
        .key(&manifest_key)
        .body(serde_json::to_vec(&forged).unwrap().into())
        .send()
        .await
        .unwrap();
    let forged = s.irlab(&["evidence", "verify"]).code(1);
    assert!(
        forged.stdout.contains(&format!("FAIL {manifest_key}: rewritten or deleted 1 time(s)")),
        "{}",
        forged.stdout
    );
    assert!(forged.stdout.contains(&format!("FAIL {key}")), "{}", forged.stdout);
    let verified = s.irlab(&["verify", "--timeout", "2s", "--interval", "500ms", "--output", "json"]);
    let verified = verified.code(1).json();
    let sealed_check = verified["checks"].as_array().unwrap().iter().find(|c| c["name"] == "volatile evidence sealed");
    assert_eq!(sealed_check.expect("the evidence check")["passed"], false, "{verified}");

    let down = s.irlab(&["down", "--yes"]).ok();
    assert!(down.stdout.contains("0 resources left"), "{}", down.stdout);
    assert_eq!(common::leftovers(&sdk, "irlab").await, Vec::<String>::new());
}

/// `up --memory --avml PATH`: the copy is uploaded to the evidence bucket and pinned by its
/// SHA-256; the Step Functions playbook takes the image before isolation and seals it in the same
/// manifest; the lab keeps memory capture across `playbook set` until `up --no-memory`; `down`
/// leaves nothing, the locked tool and image included. The stand-in's AVML writes a header and a
/// short text (its sandbox has no memory of its own): what is tested is the path, the pin and the
/// seal, not the image.
#[tokio::test]
async fn a_memory_image_is_taken_with_the_pinned_avml_sealed_and_kept_until_turned_off() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let avml = concat!(env!("CARGO_MANIFEST_DIR"), "/emulator/irlab_emulator/instance/bin/avml");
    let tool = std::fs::read(avml).unwrap();
    let up =
        s.irlab(&["up", "--playbook", "stepfunctions", "--evidence-budget", "600", "--memory", "--avml", avml]).ok();
    assert!(up.stdout.contains("then a memory image within 300 s"), "{}", up.stdout);
    assert!(up.stderr.contains(&format!("AVML pinned by SHA-256 {}", sha256_hex(&tool))), "{}", up.stderr);

    // The victim's copy is the user's, byte for byte, where only the lab's instances may read it.
    let bucket = outputs(&sdk, "irlab-irlab-detection").await["EvidenceBucketName"].clone();
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let placed = s3.get_object().bucket(&bucket).key("tools/avml").send().await.unwrap().body.collect().await.unwrap();
    assert_eq!(placed.into_bytes().as_ref(), tool.as_slice());

    s.irlab(&["attack", "tor-client"]).ok();
    let verified = s.irlab(&["verify", "--timeout", "90s", "--interval", "500ms", "--output", "json"]).ok().json();
    assert_eq!(verified["passed"], true, "{verified}");
    let listed = s.irlab(&["evidence", "list"]).ok();
    assert!(listed.stdout.contains("memory.lime"), "{}", listed.stdout);
    let image_key = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("volatile/")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .find(|k| k.ends_with("/memory.lime"))
        .expect("the image is in the evidence bucket");
    let image = s3.get_object().bucket(&bucket).key(&image_key).send().await.unwrap().body.collect().await.unwrap();
    let image = image.into_bytes();
    assert_eq!(&image[..4], b"AVML", "the compressed format's magic (avml --compress)");
    let report = s.irlab(&["report", "--format", "md"]).ok();
    assert!(report.stdout.contains(&sha256_hex(&image)), "the report lists the image's SHA-256:\n{}", report.stdout);

    // Kept across a playbook switch; turned off on request.
    let memory_tool = |name: &'static str| {
        let sdk = sdk.clone();
        async move {
            let p = common::parameters(&sdk, name).await;
            (p["MemoryTool"].clone(), p["MemoryToolSha256"].clone())
        }
    };
    s.irlab(&["playbook", "set", "ssm"]).ok();
    assert_eq!(memory_tool("irlab-irlab-playbook-ssm").await, (format!("s3://{bucket}/tools/avml"), sha256_hex(&tool)));
    let off = s.irlab(&["up", "--no-memory"]).ok();
    assert!(off.stdout.contains("no memory image"), "{}", off.stdout);
    assert_eq!(memory_tool("irlab-irlab-playbook-ssm").await, (String::new(), String::new()));

    let down = s.irlab(&["down", "--yes"]).ok();
    assert!(down.stdout.contains("0 resources left"), "{}", down.stdout);
    assert_eq!(common::leftovers(&sdk, "irlab").await, Vec::<String>::new());
}

/// Memory capture runs only a pinned AVML: a release URL without its SHA-256, or a copy whose
/// hash is not the one pinned, is refused before anything is created.
#[tokio::test]
async fn an_unpinned_or_mismatched_avml_is_refused_before_anything_is_created() {
    let s = Standin::start();
    let url = "https://github.com/microsoft/avml/releases/download/v0.14.0/avml";
    let r = s.irlab(&["up", "--memory", "--avml", url]).code(1);
    assert!(r.stderr.contains("needs --avml-sha256"), "{}", r.stderr);
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    let avml = concat!(env!("CARGO_MANIFEST_DIR"), "/emulator/irlab_emulator/instance/bin/avml");
    let r = s.irlab(&["up", "--memory", "--avml", avml, "--avml-sha256", &"0".repeat(64)]).code(1);
    assert!(r.stderr.contains("not the pinned"), "{}", r.stderr);
    let r = s.irlab(&["up", "--memory"]).code(1);
    assert!(r.stderr.contains("--avml"), "{}", r.stderr);
    let sdk = s.sdk().await;
    assert_eq!(common::leftovers(&sdk, "irlab").await, Vec::<String>::new());
}

fn base64_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    aws_smithy_types::base64::encode(sha2::Sha256::digest(bytes))
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
