//! `irlab status`: collect the lab's state in one pass, then show each part and what it costs.

use serde::Serialize;
use serde_json::json;

use crate::aws::{AwsContext, AwsResultExt};
use crate::cli::Global;
use crate::error::{Error, Result};
use crate::lab::cost::{self, Usage};
use crate::lab::detector::{self, DetectorInfo};
use crate::lab::playbook::{self, Health};
use crate::lab::state::{AttackRun, LabState, Ownership};
use crate::lab::{LAB_TAG, LabName, Part};
use crate::lab::{janitor, shared, stacks};
use crate::ui::printer::Printer;

/// Everything `status` shows, collected before anything is printed.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    pub lab: String,
    pub account: String,
    pub region: String,
    pub deployed: bool,
    pub stacks: Vec<StackView>,
    /// The deployed playbook variant(s) and whether each can answer a finding.
    pub playbooks: Vec<Health>,
    pub trail: Option<TrailView>,
    /// The region's shared parts (trail, bucket, VPC) and the other labs that hold them.
    pub shared: Option<SharedView>,
    pub detector: Option<DetectorView>,
    pub instance: Option<InstanceView>,
    /// Compromised victims `irlab recover` replaced and kept as evidence.
    pub retained: Vec<InstanceView>,
    pub snapshots: Vec<String>,
    pub cost: cost::Estimate,
    /// How many attack runs the lab has had, and the latest with its verdict.
    pub runs: usize,
    pub last_run: Option<AttackRun>,
    /// The attendee's progress through `irlab workshop`, if started.
    pub workshop: Option<crate::lab::state::WorkshopRecord>,
    /// When the janitor removes the lab (`up --expires`); None without a janitor.
    pub expiry: Option<ExpiryView>,
}

#[derive(Debug, Serialize)]
pub struct ExpiryView {
    /// UTC; None when the lab never expires (the janitor stack then holds only a budget).
    pub expires_at: Option<String>,
    /// Negative once the time has passed (the janitor is at work, or failed).
    pub seconds_left: Option<i64>,
    pub janitor_stack: String,
    pub janitor_status: String,
    /// The monthly AWS Budgets limit on the lab's tagged cost (`up --max-spend`).
    pub max_spend_usd: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct StackView {
    pub part: Part,
    pub name: String,
    pub status: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SharedView {
    pub stack: String,
    pub status: String,
    pub vpc: Option<String>,
    /// Other labs of the region: while there are any, the shared parts stay after this lab's `down`.
    pub shared_with: Vec<String>,
    /// The VPC's interface endpoints (Systems Manager's, for the isolated victim), by service.
    pub endpoints: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct TrailView {
    pub name: String,
    pub logging: bool,
}

#[derive(Debug, Serialize)]
pub struct DetectorView {
    pub id: String,
    pub enabled: bool,
    /// "owned", "adopted", or "not the lab's" when the lab has no record of it.
    pub ownership: String,
}

#[derive(Debug, Serialize)]
pub struct InstanceView {
    pub id: String,
    pub state: String,
    pub instance_type: String,
    pub public_ip: Option<String>,
    pub security_groups: Vec<String>,
    /// The playbook's verdict (`containing`, `contained`, `failed`), from the instance's tags.
    pub ir_status: Option<String>,
    /// The finding the playbook answered, from the instance's tags.
    pub finding: Option<String>,
    pub volume_gb: u64,
    /// SSM agent ping status ("Online", "ConnectionLost", ...), None when not registered.
    pub ssm_ping: Option<String>,
}

pub async fn run(g: &Global, p: &Printer) -> Result<()> {
    let (lab, ctx) = super::open(g).await?;
    let snap = collect(&ctx, &lab).await?;
    if p.is_json() {
        p.json(&json!(snap));
    } else {
        print(&snap, p);
        if g.local {
            p.out("(the local stand-in costs nothing: these are what the same lab would cost on AWS)");
        }
    }
    // A lab without an enabled detector detects nothing, whatever else is healthy.
    match &snap.detector {
        _ if !snap.deployed => Ok(()),
        Some(d) if d.enabled => Ok(()),
        Some(d) => {
            Err(Error::problem(format!("lab {lab}: GuardDuty detector {} is disabled, so nothing is detected", d.id))
                .with_hint("run `irlab up` to enable it again"))
        }
        None => Err(Error::problem(format!(
            "lab {lab}: GuardDuty has no detector in {}, so nothing is detected",
            snap.region
        ))
        .with_hint("run `irlab up` to create it again")),
    }
}

pub async fn collect(ctx: &AwsContext, lab: &LabName) -> Result<Snapshot> {
    let me = ctx.identity().await?;
    let (state, det, found, shared, others) = futures::try_join!(
        LabState::load(ctx, lab),
        stacks::find(ctx, lab, Part::Detection),
        detector::find(ctx),
        shared::find(ctx),
        LabState::others(ctx, lab),
    )?;
    let victim = stacks::find(ctx, lab, Part::Victim).await?;
    let expiry = janitor::find(ctx, lab).await?.map(|s| {
        let at = janitor::expires_at(&s);
        ExpiryView {
            expires_at: at.map(|t| t.to_string()),
            seconds_left: at.map(|t| t.as_second() - jiff::Timestamp::now().as_second()),
            janitor_stack: s.name.clone(),
            janitor_status: s.status.clone(),
            max_spend_usd: s.kept_parameter("MaxSpendUsd").filter(|b| !b.is_empty()).map(String::from),
        }
    });
    let deployed_playbooks = playbook::deployed(ctx, lab).await?;
    let mut stack_views: Vec<StackView> = [(Part::Detection, &det), (Part::Victim, &victim)]
        .into_iter()
        .map(|(part, s)| StackView {
            part,
            name: s.as_ref().map_or_else(|| lab.stack_name(part), |s| s.name.clone()),
            status: s.as_ref().map(|s| s.status.clone()),
        })
        .collect();
    let mut playbooks = Vec::new();
    for (variant, stack) in &deployed_playbooks {
        let part = Part::Playbook(*variant);
        stack_views.push(StackView { part, name: stack.name.clone(), status: Some(stack.status.clone()) });
        playbooks.push(playbook::health(ctx, *variant, stack).await?);
    }

    let trail = match shared.as_ref().and_then(|s| s.output("TrailName")) {
        Some(name) => {
            let st = ctx
                .cloudtrail()
                .get_trail_status()
                .name(name)
                .send()
                .await
                .aws(|| format!("reading the status of trail {name}"), ctx)?;
            Some(TrailView { name: name.to_string(), logging: st.is_logging().unwrap_or(false) })
        }
        None => None,
    };
    let detector = found.as_ref().map(|d| detector_view(lab, state.as_ref(), d));
    let instance = match victim.as_ref().and_then(|s| s.output("InstanceId")) {
        Some(id) => instance_view(ctx, id).await?,
        None => None,
    };
    let snapshots = lab_snapshots(ctx, lab).await?;
    // The compromised instances a recovery kept: `irlab recover`'s record, and those the
    // playbook replaced itself (tagged irlab:replaced-by).
    let mut kept: Vec<String> =
        state.as_ref().map(|s| s.retained.iter().map(|r| r.instance.clone()).collect()).unwrap_or_default();
    for id in replaced_by_playbook(ctx, lab).await? {
        if !kept.contains(&id) {
            kept.push(id);
        }
    }
    let mut retained = Vec::new();
    for id in &kept {
        if let Some(v) = instance_view(ctx, id).await?
            && v.state != "terminated"
        {
            retained.push(v);
        }
    }

    let endpoints = match shared.as_ref().and_then(|s| s.output("VpcId")) {
        Some(vpc) => interface_endpoints(ctx, vpc).await?,
        None => Vec::new(),
    };
    let usage = Usage {
        running_instance_type: instance.as_ref().filter(|i| i.state == "running").map(|i| i.instance_type.clone()),
        ebs_gb: instance.as_ref().map(|i| i.volume_gb).unwrap_or(0) + retained.iter().map(|i| i.volume_gb).sum::<u64>(),
        snapshot_gb: snapshots.len() as u64 * instance.as_ref().map(|i| i.volume_gb).unwrap_or(8),
        public_ipv4: instance.as_ref().map(|i| u32::from(i.public_ip.is_some())).unwrap_or(0),
        guardduty_enabled_by_lab: detector.as_ref().is_some_and(|d| d.enabled && d.ownership == "owned"),
        trail_logging: trail.as_ref().is_some_and(|t| t.logging),
        trail_labs: 1 + shared::holders(&others).len() as u32,
        interface_endpoints: endpoints.len() as u32,
    };
    let deployed =
        state.is_some() || det.is_some() || victim.is_some() || !deployed_playbooks.is_empty() || expiry.is_some();
    let shared = shared.map(|s| SharedView {
        stack: s.name.clone(),
        status: s.status.clone(),
        vpc: s.output("VpcId").map(String::from),
        shared_with: shared::holders(&others),
        endpoints,
    });
    Ok(Snapshot {
        lab: lab.to_string(),
        account: me.account,
        region: ctx.region.clone(),
        deployed,
        stacks: stack_views,
        playbooks,
        trail,
        shared,
        detector,
        instance,
        retained,
        snapshots,
        cost: cost::estimate(&usage),
        runs: state.as_ref().map_or(0, |s| s.runs.len()),
        last_run: state.as_ref().and_then(|s| s.runs.last().cloned()),
        workshop: state.as_ref().and_then(|s| s.workshop.clone()),
        expiry,
    })
}

/// The interface endpoints of the VPC that bill by the hour (pending or available), by service.
async fn interface_endpoints(ctx: &AwsContext, vpc: &str) -> Result<Vec<String>> {
    use aws_sdk_ec2::types::Filter;
    let out = ctx
        .ec2()
        .describe_vpc_endpoints()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(Filter::builder().name("vpc-endpoint-type").values("Interface").build())
        .send()
        .await
        .aws(|| format!("listing the VPC endpoints of {vpc}"), ctx)?;
    let mut names: Vec<String> = out
        .vpc_endpoints()
        .iter()
        .filter(|e| {
            e.state().is_some_and(|s| {
                matches!(s.as_str().to_ascii_lowercase().as_str(), "available" | "pending" | "pendingacceptance")
            })
        })
        .filter_map(|e| e.service_name())
        .map(|n| n.rsplit('.').next().unwrap_or(n).to_string())
        .collect();
    names.sort();
    Ok(names)
}

fn detector_view(lab: &LabName, state: Option<&LabState>, d: &DetectorInfo) -> DetectorView {
    let record = state.and_then(|s| s.detector.as_ref()).filter(|r| r.id == d.id);
    let ownership = match record.map(|r| r.ownership) {
        // "owned": a lab created it, and the last lab to leave deletes it.
        Some(Ownership::Owned) => "owned",
        Some(Ownership::Adopted) => "adopted",
        None if d.owner_lab.as_deref() == Some(lab.as_str()) => "owned",
        None => "not the lab's",
    };
    DetectorView { id: d.id.clone(), enabled: d.enabled, ownership: ownership.into() }
}

async fn instance_view(ctx: &AwsContext, id: &str) -> Result<Option<InstanceView>> {
    let out = ctx
        .ec2()
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .aws(|| format!("describing instance {id}"), ctx)?;
    let Some(i) = out.reservations().iter().flat_map(|r| r.instances()).next() else {
        return Ok(None);
    };
    let volume_ids: Vec<String> = i
        .block_device_mappings()
        .iter()
        .filter_map(|b| b.ebs().and_then(|e| e.volume_id()))
        .map(String::from)
        .collect();
    let volume_gb = if volume_ids.is_empty() {
        0
    } else {
        let v = ctx
            .ec2()
            .describe_volumes()
            .set_volume_ids(Some(volume_ids))
            .send()
            .await
            .aws(|| format!("describing the volumes of {id}"), ctx)?;
        v.volumes().iter().map(|v| v.size().unwrap_or(0) as u64).sum()
    };
    let info = ctx
        .ssm()
        .describe_instance_information()
        .instance_information_filter_list(
            aws_sdk_ssm::types::InstanceInformationFilter::builder()
                .key(aws_sdk_ssm::types::InstanceInformationFilterKey::InstanceIds)
                .value_set(id)
                .build()
                .expect("key and values set"),
        )
        .send()
        .await;
    // SSM's answer is informative only: a missing registration is shown, an API error too.
    let ssm_ping = match info {
        Ok(info) => {
            info.instance_information_list().first().and_then(|x| x.ping_status()).map(|s| s.as_str().to_string())
        }
        Err(e) => Some(format!("unknown ({})", crate::aws::error_code(&e).unwrap_or("error"))),
    };
    Ok(Some(InstanceView {
        id: id.to_string(),
        state: i.state().and_then(|s| s.name()).map(|n| n.as_str().to_string()).unwrap_or_default(),
        instance_type: i.instance_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
        public_ip: i.public_ip_address().map(String::from),
        security_groups: i.security_groups().iter().filter_map(|g| g.group_id()).map(String::from).collect(),
        ir_status: i
            .tags()
            .iter()
            .find(|t| t.key() == Some("irlab:ir-status"))
            .and_then(|t| t.value())
            .map(String::from),
        finding: i
            .tags()
            .iter()
            .find(|t| t.key() == Some("irlab:finding-type"))
            .and_then(|t| t.value())
            .map(String::from),
        volume_gb,
        ssm_ping,
    }))
}

async fn lab_snapshots(ctx: &AwsContext, lab: &LabName) -> Result<Vec<String>> {
    let out = ctx
        .ec2()
        .describe_snapshots()
        .owner_ids("self")
        .filters(aws_sdk_ec2::types::Filter::builder().name(format!("tag:{LAB_TAG}")).values(lab.as_str()).build())
        .send()
        .await
        .aws(|| "listing the lab's snapshots".into(), ctx)?;
    Ok(out.snapshots().iter().filter_map(|s| s.snapshot_id()).map(String::from).collect())
}

fn print(s: &Snapshot, p: &Printer) {
    if !s.deployed {
        p.out(format!("lab {} is not deployed in {} / {}", s.lab, s.account, s.region));
        p.out("start it with `irlab up`");
        return;
    }
    p.out(format!("lab {} in {} / {}", s.lab, s.account, s.region));
    for st in &s.stacks {
        p.out(format!("  {:<22} {:<36} {}", st.part.as_str(), st.name, st.status.as_deref().unwrap_or("not deployed")));
    }
    match s.playbooks.as_slice() {
        [] => p.out(format!(
            "  {:<12} {:<30} {}",
            "playbook", "-", "none: findings are not contained (`irlab playbook set stepfunctions`)"
        )),
        list => {
            for h in list {
                let verdict =
                    if h.healthy() { "ready".to_string() } else { format!("NOT READY: {}", h.problems.join("; ")) };
                p.out(format!(
                    "  {:<12} {:<30} {verdict} (rule {}, severity >= {}, {})",
                    "playbook",
                    h.variant.as_str(),
                    h.rule.as_deref().unwrap_or("-"),
                    h.min_severity.as_deref().unwrap_or("-"),
                    h.engine
                ));
            }
            if list.len() > 1 {
                p.out("  more than one playbook is deployed: keep one with `irlab playbook set VARIANT`");
            }
        }
    }
    match &s.trail {
        Some(t) => {
            p.out(format!("  {:<12} {:<30} {}", "trail", t.name, if t.logging { "logging" } else { "NOT logging" }))
        }
        None => p.out(format!("  {:<12} {:<30} {}", "trail", "-", "none")),
    }
    if let Some(sh) = &s.shared {
        let with = if sh.shared_with.is_empty() {
            "no other lab: this lab's `irlab down` removes them".to_string()
        } else {
            format!("shared with {}", sh.shared_with.join(", "))
        };
        p.out(format!("  {:<12} {:<30} {} (trail, bucket, VPC); {with}", "shared", sh.stack, sh.status));
        if !sh.endpoints.is_empty() {
            p.out(format!(
                "  {:<12} {:<30} interface endpoints the isolated victim reaches Systems Manager by",
                "endpoints",
                sh.endpoints.join(", ")
            ));
        }
    }
    match &s.detector {
        Some(d) => p.out(format!(
            "  {:<12} {:<30} {} ({})",
            "guardduty",
            d.id,
            if d.enabled { "enabled" } else { "DISABLED" },
            d.ownership
        )),
        None => p.out(format!("  {:<12} {:<30} {}", "guardduty", "-", "no detector")),
    }
    match &s.instance {
        Some(i) => {
            p.out(format!(
                "  {:<12} {:<30} {} {} ip {}",
                "instance",
                i.id,
                i.state,
                i.instance_type,
                i.public_ip.as_deref().unwrap_or("-")
            ));
            p.out(format!("  {:<12} {:<30} {}", "ssm agent", "", i.ssm_ping.as_deref().unwrap_or("not registered")));
            p.out(format!("  {:<12} {:<30} {}", "groups", "", i.security_groups.join(", ")));
            if let Some(ir) = &i.ir_status {
                let finding = i.finding.as_deref().map(|f| format!(" after {f}")).unwrap_or_default();
                p.out(format!("  {:<12} {:<30} {ir}{finding}", "response", ""));
            }
        }
        None => p.out(format!("  {:<12} {:<30} {}", "instance", "-", "none")),
    }
    for i in &s.retained {
        p.out(format!(
            "  {:<12} {:<30} {} {}, {} GB kept as evidence ({}; `irlab down` removes it)",
            "compromised",
            i.id,
            i.state,
            i.instance_type,
            i.volume_gb,
            i.security_groups.join(", ")
        ));
    }
    if !s.snapshots.is_empty() {
        p.out(format!("  {:<12} {}", "snapshots", s.snapshots.join(", ")));
    }
    p.out(format!("  {:<12} {}", "expires", expiry_line(s.expiry.as_ref())));
    let c = &s.cost;
    p.out(format!(
        "cost: about ${:.4}/hour, ${:.2}/day{} (list prices {}, {})",
        c.usd_per_hour,
        c.usd_per_day,
        if c.complete { "" } else { " or more" },
        c.price_region,
        c.price_date
    ));
    for l in &c.lines {
        let price = l.usd_per_hour.map(|x| format!("${x:.4}/h")).unwrap_or_else(|| "no price in table".into());
        p.out(format!("  {:<40} {price}", l.item));
    }
    if s.region != c.price_region {
        p.out(format!("  prices are for {}; {} may differ", c.price_region, s.region));
    }
}

/// When the lab removes itself, and what its janitor is doing.
fn expiry_line(e: Option<&ExpiryView>) -> String {
    let Some(e) = e else {
        return "never (`irlab up --expires 8h` sets one)".into();
    };
    let budget = e.max_spend_usd.as_ref().map(|b| format!("; budget ${b} a month")).unwrap_or_default();
    let at = e.expires_at.as_deref().and_then(|t| t.parse::<jiff::Timestamp>().ok());
    match at {
        None => format!("never (`irlab up --expires 8h` sets one){budget}"),
        Some(t) if e.janitor_status.starts_with("DELETE") => format!(
            "expired {}: the janitor is removing it ({}); `irlab down` finishes if it stopped",
            t.strftime("%Y-%m-%d %H:%M UTC"),
            e.janitor_status
        ),
        Some(t) if e.seconds_left.is_some_and(|s| s < 0) => format!(
            "expired at {} ({}): the janitor is removing the lab, or failed (the alert topic says what is left); `irlab down` finishes it{budget}",
            t.strftime("%Y-%m-%d %H:%M UTC"),
            janitor::left(t, jiff::Timestamp::now())
        ),
        Some(t) => format!(
            "{} ({}; `irlab extend 2h` keeps it longer){budget}",
            t.strftime("%Y-%m-%d %H:%M UTC"),
            janitor::left(t, jiff::Timestamp::now())
        ),
    }
}

/// The lab's instances a playbook's recovery replaced and kept (tag `irlab:replaced-by`).
async fn replaced_by_playbook(ctx: &AwsContext, lab: &LabName) -> Result<Vec<String>> {
    use aws_sdk_ec2::types::Filter;
    let out = ctx
        .ec2()
        .describe_instances()
        .filters(Filter::builder().name(format!("tag:{}", crate::lab::LAB_TAG)).values(lab.as_str()).build())
        .filters(Filter::builder().name("tag-key").values(crate::incident::evidence::REPLACED_BY_TAG).build())
        .send()
        .await
        .aws(|| "listing the instances a recovery kept".into(), ctx)?;
    Ok(out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|i| i.instance_id())
        .map(String::from)
        .collect())
}
