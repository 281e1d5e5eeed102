//! A class over an AWS Organizations OU (`class ... --org-unit`): one service-managed StackSet
//! from the management account deploys a lab to every account of the OU, descendant OUs
//! included, and to accounts that join later; `class down` leaves every account as it was.
//! Checked through the SDK inside each account, never through irlab.

mod common;

use aws_config::SdkConfig;
use common::accounts::{class, detectors, sdk_as, stacks};
use common::{Standin, leftovers, shared_leftovers};

/// An organization with `workshop` > `table-2` OUs: two accounts directly in the OU, one in
/// its child OU, one outside at the root. Returns (OU, members, outsider, root).
async fn organization(sdk: &SdkConfig) -> (String, Vec<String>, String, String) {
    let orgs = aws_sdk_organizations::Client::new(sdk);
    orgs.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let root = orgs.list_roots().send().await.unwrap().roots()[0].id().unwrap().to_string();
    let ou = |parent: String, name: &'static str| {
        let orgs = orgs.clone();
        async move {
            let out = orgs.create_organizational_unit().parent_id(parent).name(name).send().await.unwrap();
            out.organizational_unit().unwrap().id().unwrap().to_string()
        }
    };
    let workshop = ou(root.clone(), "workshop").await;
    let table = ou(workshop.clone(), "table-2").await;
    let mut members = Vec::new();
    for (i, parent) in [&workshop, &workshop, &table].into_iter().enumerate() {
        members.push(account(sdk, &format!("attendee-{i}"), &root, Some(parent)).await);
    }
    let outsider = account(sdk, "outsider", &root, None).await;
    (workshop, members, outsider, root)
}

/// A new account, moved from the root into `parent`; AWS creates OrganizationAccountAccessRole
/// in it for the management account.
async fn account(sdk: &SdkConfig, name: &str, root: &str, parent: Option<&str>) -> String {
    let orgs = aws_sdk_organizations::Client::new(sdk);
    let created = orgs.create_account().email(format!("{name}@example.com")).account_name(name).send().await.unwrap();
    let request = created.create_account_status().unwrap().id().unwrap().to_string();
    let id = loop {
        let st = orgs.describe_create_account_status().create_account_request_id(&request).send().await.unwrap();
        if let Some(id) = st.create_account_status().and_then(|s| s.account_id()) {
            break id.to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    if let Some(parent) = parent {
        orgs.move_account().account_id(&id).source_parent_id(root).destination_parent_id(parent).send().await.unwrap();
    }
    id
}

fn role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole")
}

async fn stack_sets(sdk: &SdkConfig) -> Vec<String> {
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let out = cfn.list_stack_sets().status(aws_sdk_cloudformation::types::StackSetStatus::Active).send().await.unwrap();
    out.summaries().iter().filter_map(|s| s.stack_set_name().map(String::from)).collect()
}

#[tokio::test]
async fn an_ou_class_deploys_through_one_stackset_reaches_late_joiners_and_leaves_every_account_as_it_was() {
    let s = Standin::start();
    let sdk = s.sdk().await;
    let dir = tempfile::tempdir().unwrap();
    let (ou, members, outsider, root) = organization(&sdk).await;
    std::fs::write(
        dir.path().join("roster.yaml"),
        "class: org-class\nregion: us-east-1\ndefaults: {playbook: lambda}\n",
    )
    .unwrap();
    let r = ["--roster", "roster.yaml", "--org-unit", ou.as_str()];
    // `class CMD --roster ... --org-unit OU EXTRA...`
    let with = |cmd: &[&str]| -> Vec<String> {
        cmd.iter().take(1).chain(&r).chain(cmd.iter().skip(1)).map(|x| x.to_string()).collect()
    };

    // Without StackSets' trusted access the class is refused before anything is created.
    let refused = class(&s, dir.path(), &with(&["up"])).code(1);
    assert!(refused.stderr.contains("activate-organizations-access"), "{}", refused.stderr);
    assert_eq!(stack_sets(&sdk).await, Vec::<String>::new());
    aws_sdk_cloudformation::Client::new(&sdk).activate_organizations_access().send().await.unwrap();

    let up = class(&s, dir.path(), &with(&["up"])).ok();
    assert!(up.stdout.contains("up done for 3 account(s)"), "{}\n{}", up.stdout, up.stderr);
    assert_eq!(stack_sets(&sdk).await, ["irlab-org-class"]);
    // The instructor's account holds the StackSet and the template bucket, no lab.
    let mine = stacks(&sdk).await;
    assert_eq!(mine, ["irlab-class-org-class-templates"], "{mine:?}");
    // Every account of the OU, the child OU's included, has its lab from the StackSet and a
    // detector; the account outside the OU has nothing.
    for m in &members {
        let view = sdk_as(&s, &sdk, &role(m)).await;
        let names = stacks(&view).await;
        assert!(names.iter().all(|n| n.starts_with("StackSet-irlab-org-class-")), "{m}: {names:?}");
        assert_eq!(names.len(), 5, "{m}: the wrapper and its four nested stacks: {names:?}");
        assert_eq!(detectors(&view).await.len(), 1, "{m}");
    }
    let away = sdk_as(&s, &sdk, &role(&outsider)).await;
    assert_eq!(stacks(&away).await, Vec::<String>::new());

    // Attendees' labs work as any lab: attacked and contained in every account.
    class(&s, dir.path(), &with(&["attack", "--", "--mode", "inject", "tor-client"])).ok();
    class(&s, dir.path(), &with(&["verify"])).ok();
    let book = class(&s, dir.path(), &with(&["status", "--output", "json"])).ok();
    let book: serde_json::Value = serde_json::from_str(&book.stdout).unwrap();
    assert_eq!(book["accounts"], 3, "{book:#}");
    assert_eq!(book["passed"], 3, "{book:#}");

    // An account that joins the OU gets its lab from the StackSet alone; `class up` then adds
    // what only the account can do (its detector).
    let late = account(&sdk, "late-joiner", &root, Some(&ou)).await;
    let late_view = sdk_as(&s, &sdk, &role(&late)).await;
    let mut waited = 0;
    while stacks(&late_view).await.len() < 5 {
        assert!(waited < 600, "no lab reached the late joiner");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(detectors(&late_view).await, Vec::<String>::new());
    let again = class(&s, dir.path(), &with(&["up"])).ok();
    assert!(again.stdout.contains("up done for 4 account(s)"), "{}", again.stdout);
    assert_eq!(detectors(&late_view).await.len(), 1);

    // Removing some accounts' labs is not what one StackSet does: refused, nothing removed.
    let partial = class(&s, dir.path(), &with(&["down", "--only", &late])).code(1);
    assert!(partial.stderr.contains("--only and --failed do not apply"), "{}", partial.stderr);
    assert_eq!(stack_sets(&sdk).await, ["irlab-org-class"]);
    let down = class(&s, dir.path(), &with(&["down"])).ok();
    assert!(down.stdout.contains("0 resources left in 4 labs across 4 account(s)"), "{}", down.stdout);
    assert_eq!(stack_sets(&sdk).await, Vec::<String>::new());
    assert_eq!(stacks(&sdk).await, Vec::<String>::new());
    let mut everyone = members.clone();
    everyone.push(late);
    for m in &everyone {
        let view = sdk_as(&s, &sdk, &role(m)).await;
        assert_eq!(stacks(&view).await, Vec::<String>::new(), "{m}");
        assert_eq!(detectors(&view).await, Vec::<String>::new(), "{m}");
        assert_eq!(shared_leftovers(&view).await, Vec::<String>::new(), "{m}");
        assert_eq!(leftovers(&view, "irlab").await, Vec::<String>::new(), "{m}");
    }
}
