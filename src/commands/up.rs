//! `irlab up`: preflight, adopt or create the GuardDuty detector, deploy the detection and
//! victim stacks side by side, and print what the lab now has.

use std::time::Instant;

use serde_json::json;

use crate::cli::{Global, UpArgs};
use crate::detector::{self, Adoption};
use crate::error::{Error, Result};
use crate::lab::{LAB_TAG, LabName, PART_TAG, Part};
use crate::printer::Printer;
use crate::progress::Reporter;
use crate::stacks::{self, Deployment, Outcome, StackInfo};
use crate::state::{LabState, Ownership};

const AMI_X86: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
const AMI_ARM: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64";

pub async fn run(g: &Global, args: &UpArgs, p: &Printer) -> Result<()> {
    let started = Instant::now();
    check_args(args)?;
    let (lab, ctx) = super::open(g).await?;
    let me = ctx.identity().await?;
    p.info(format!(
        "account {} ({}), region {}, lab {lab}",
        me.account, me.arn, ctx.region
    ));

    // Preflight: what is already there decides between create and update.
    let mut state = LabState::load(&ctx, &lab)
        .await?
        .unwrap_or_else(|| LabState::new(&lab, &me.account, &ctx.region));
    let mut deployed = Vec::new();
    for part in Part::ALL {
        if let Some(s) = stacks::describe(&ctx, &lab.stack_name(part)).await? {
            deployed.push(format!("{} ({})", s.name, s.status));
        }
    }
    if !deployed.is_empty() {
        p.info(format!(
            "lab {lab} exists: {}; bringing it up to date",
            deployed.join(", ")
        ));
    }

    let (record, adoption) = detector::ensure(&ctx, &lab, state.detector.as_ref()).await?;
    let detector_line = match (record.ownership, adoption) {
        (Ownership::Owned, Adoption::Created) => {
            format!("GuardDuty detector {} created by the lab", record.id)
        }
        (Ownership::Owned, _) => format!("GuardDuty detector {} (owned by the lab)", record.id),
        (Ownership::Adopted, Adoption::Enabled) => {
            format!(
                "GuardDuty detector {} adopted and enabled; `irlab down` disables it again",
                record.id
            )
        }
        (Ownership::Adopted, _) => format!(
            "GuardDuty detector {} adopted; `irlab down` leaves it as it was",
            record.id
        ),
    };
    p.info(&detector_line);
    // Recorded before the stacks, so an interrupted `up` still tells `down` what it owns.
    state.detector = Some(record.clone());
    state.save(&ctx, &lab).await?;

    let detection = deployment(&lab, Part::Detection, detection_parameters(&lab, args));
    let victim = deployment(&lab, Part::Victim, victim_parameters(&lab, args));
    let reporter: &dyn Reporter = p;
    let (d, v) = futures::join!(
        stacks::deploy(&ctx, &detection, Part::Detection.as_str(), reporter),
        stacks::deploy(&ctx, &victim, Part::Victim.as_str(), reporter),
    );
    let (d, v) = (d?, v?);

    if p.is_json() {
        p.json(&json!({
            "lab": lab.as_str(),
            "account": me.account,
            "region": ctx.region,
            "detector": record,
            "stacks": { "detection": stack_json(&d), "victim": stack_json(&v) },
        }));
        return Ok(());
    }
    p.out(format!(
        "lab {lab} is up in {} / {} ({})",
        me.account,
        ctx.region,
        super::elapsed(started)
    ));
    for (part, (outcome, s)) in [(Part::Detection, &d), (Part::Victim, &v)] {
        p.out(format!(
            "  {part:<10} {:<28} {:<16} {}",
            s.name,
            s.status,
            outcome_word(*outcome)
        ));
    }
    p.out(format!("  {detector_line}"));
    let o = |s: &(Outcome, StackInfo), k: &str| s.1.output(k).unwrap_or("-").to_string();
    p.out(format!("  victim instance   {}", o(&v, "InstanceId")));
    p.out(format!(
        "  quarantine group  {}",
        o(&v, "QuarantineSecurityGroupId")
    ));
    p.out(format!(
        "  trail             {} -> s3://{}",
        o(&d, "TrailName"),
        o(&d, "TrailBucketName")
    ));
    p.out(format!("  alert topic       {}", o(&d, "AlertTopicArn")));
    p.out("next: `irlab status` to see it and what it costs; `irlab down` when you are done");
    Ok(())
}

fn check_args(args: &UpArgs) -> Result<()> {
    if let Some(email) = &args.notify_email {
        let ok = email.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !email.contains(' ')
        });
        if !ok {
            return Err(Error::problem(format!("`{email}` is not an email address"))
                .with_hint("pass --notify-email you@example.com"));
        }
    }
    let valid_type = args
        .instance_type
        .split_once('.')
        .is_some_and(|(family, size)| {
            family
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
                && family
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !size.is_empty()
                && size.chars().all(|c| c.is_ascii_alphanumeric())
        });
    if !valid_type {
        return Err(Error::problem(format!(
            "`{}` is not an EC2 instance type",
            args.instance_type
        ))
        .with_hint("use a type such as t3.micro (the default) or t4g.micro"));
    }
    Ok(())
}

/// Graviton families carry a `g` after their generation digit (t4g, m7g, c6gn): they need the arm64 AMI.
fn is_arm(instance_type: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or_default();
    let after_letters = family.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = after_letters.trim_start_matches(|c: char| c.is_ascii_digit());
    !after_letters.is_empty() && suffix.contains('g')
}

fn detection_parameters(lab: &LabName, args: &UpArgs) -> Vec<(String, String)> {
    vec![
        ("LabName".into(), lab.to_string()),
        (
            "NotifyEmail".into(),
            args.notify_email.clone().unwrap_or_default(),
        ),
    ]
}

fn victim_parameters(lab: &LabName, args: &UpArgs) -> Vec<(String, String)> {
    let ami = if is_arm(&args.instance_type) {
        AMI_ARM
    } else {
        AMI_X86
    };
    vec![
        ("LabName".into(), lab.to_string()),
        ("InstanceType".into(), args.instance_type.clone()),
        ("LatestAmiId".into(), ami.into()),
    ]
}

fn deployment(lab: &LabName, part: Part, parameters: Vec<(String, String)>) -> Deployment<'static> {
    Deployment {
        stack_name: lab.stack_name(part),
        template: part.template(),
        parameters,
        tags: vec![
            (LAB_TAG.into(), lab.to_string()),
            (PART_TAG.into(), part.to_string()),
        ],
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Created => "created",
        Outcome::Updated => "updated",
        Outcome::Unchanged => "unchanged",
    }
}

fn stack_json((outcome, s): &(Outcome, StackInfo)) -> serde_json::Value {
    json!({ "name": s.name, "status": s.status, "outcome": outcome, "outputs": s.outputs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graviton_types_get_the_arm_image() {
        for t in [
            "t4g.micro",
            "m7g.large",
            "c6gn.xlarge",
            "x2gd.medium",
            "m6gd.large",
        ] {
            assert!(is_arm(t), "{t}");
        }
        for t in [
            "t3.micro",
            "t3a.small",
            "g4dn.xlarge",
            "m7i.large",
            "c5.large",
        ] {
            assert!(!is_arm(t), "{t}");
        }
    }

    #[test]
    fn bad_arguments_are_refused_before_any_aws_call() {
        let ok = UpArgs {
            instance_type: "t3.micro".into(),
            notify_email: Some("a@example.com".into()),
        };
        assert!(check_args(&ok).is_ok());
        for (t, e) in [
            ("t3micro", None),
            ("T3.micro", None),
            ("t3.", None),
            ("t3.micro", Some("nobody")),
            ("t3.micro", Some("a@b")),
        ] {
            let args = UpArgs {
                instance_type: t.into(),
                notify_email: e.map(String::from),
            };
            assert_eq!(check_args(&args).unwrap_err().exit_code(), 1, "{t} {e:?}");
        }
    }
}
