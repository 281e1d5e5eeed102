//! The class roster: one YAML file naming the class, its region, the defaults and every
//! attendee, validated as a whole (with line and column) before anything is created.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::error::{Context, Error, Result};
use crate::lab::{LabName, Variant};

const HINT: &str = "a roster is `class: NAME`, `region:`, `defaults: {playbook: stepfunctions, instance_type: t3.micro}` \
                    and `attendees:` with a `name:` each (see the README's class section)";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoster {
    class: Spanned<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    defaults: Settings,
    /// An AWS Organizations OU whose every account gets a lab, through one StackSet.
    #[serde(default)]
    org_unit: Option<Spanned<String>>,
    #[serde(default)]
    attendees: Vec<RawAttendee>,
}

/// What an attendee's lab is made of; the roster's `defaults`, overridden per attendee.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub playbook: Option<Variant>,
    #[serde(default)]
    pub instance_type: Option<String>,
    /// Seconds the playbook's evidence collection may hold back isolation (`up --evidence-budget`).
    #[serde(default)]
    pub evidence_budget: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttendee {
    name: Spanned<String>,
    #[serde(default)]
    email: Option<Spanned<String>>,
    #[serde(default)]
    account: Option<Spanned<AccountSpec>>,
    #[serde(default)]
    playbook: Option<Variant>,
    #[serde(default)]
    instance_type: Option<String>,
    #[serde(default)]
    evidence_budget: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct AccountSpec {
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    role_arn: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
}

/// Where an attendee's lab lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Account {
    /// The instructor's own credentials and account.
    Instructor,
    /// A named profile of the instructor's AWS configuration.
    Profile { profile: String },
    /// A role assumed through STS, with the session named after the class.
    Role { role_arn: String, external_id: Option<String> },
}

impl Account {
    /// The account id where the roster states one (a role ARN names it); otherwise unknown
    /// until credentials are resolved.
    pub fn stated_id(&self) -> Option<&str> {
        match self {
            Account::Role { role_arn, .. } => role_arn.split(':').nth(4),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Attendee {
    pub lab: LabName,
    pub email: Option<String>,
    pub account: Account,
    pub settings: Settings,
    /// How the class names this attendee when it is not the lab's name: the account id of an
    /// organization's member account, where every lab has the class's one lab name.
    pub label: Option<String>,
}

impl Attendee {
    pub fn name(&self) -> &str {
        self.label.as_deref().unwrap_or(self.lab.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Roster {
    pub class: String,
    pub region: Option<String>,
    pub defaults: Settings,
    pub org_unit: Option<String>,
    pub attendees: Vec<Attendee>,
}

/// Reads and validates a roster file; every problem names its line and column.
pub fn load(path: &Path) -> Result<Roster> {
    let text = std::fs::read_to_string(path).context(|| format!("reading the roster {}", path.display()))?;
    parse(&text, &path.display().to_string())
}

pub fn parse(text: &str, origin: &str) -> Result<Roster> {
    let raw: RawRoster = serde_saphyr::from_str(text).map_err(|e| {
        let at = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
        let first = crate::ui::text::yaml_message(&e.to_string());
        Error::problem(format!("{origin}{at}: {first}")).with_hint(HINT).with_source(e)
    })?;
    let mut problems = Vec::new();
    let at = |l: &serde_saphyr::Location| format!("{origin}:{}:{}", l.line(), l.column());
    if let Err(e) = class_name(&raw.class.value) {
        problems.push(format!("{}: {e}", at(&raw.class.referenced)));
    }
    if let Some(r) = &raw.region
        && let Err(e) = crate::regions::validate(r)
    {
        problems.push(format!("{origin}: region: {}", e.message));
    }
    if let Some(t) = &raw.defaults.instance_type
        && let Err(e) = crate::commands::up::check_instance_type(t)
    {
        problems.push(format!("{origin}: defaults: {}", e.message));
    }
    if let Some(b) = raw.defaults.evidence_budget
        && !(10..=600).contains(&b)
    {
        problems.push(format!("{origin}: defaults: evidence_budget {b} is not between 10 and 600 seconds"));
    }
    if let Some(ou) = &raw.org_unit
        && let Err(e) = check_org_unit(&ou.value)
    {
        problems.push(format!("{}: {e}", at(&ou.referenced)));
    }
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut attendees = Vec::new();
    for a in raw.attendees {
        let here = at(&a.name.referenced);
        let lab = match LabName::parse(&a.name.value) {
            Ok(lab) => lab,
            Err(e) => {
                problems.push(format!("{here}: {}", e.message));
                continue;
            }
        };
        if let Some(first) = seen.insert(a.name.value.clone(), here.clone()) {
            problems.push(format!("{here}: attendee `{}` is already listed at {first}", a.name.value));
        }
        if let Some(email) = &a.email
            && let Err(e) = crate::commands::up::check_email(&email.value)
        {
            problems.push(format!("{}: {}", at(&email.referenced), e.message));
        }
        if let Some(t) = &a.instance_type
            && let Err(e) = crate::commands::up::check_instance_type(t)
        {
            problems.push(format!("{here}: {}", e.message));
        }
        let account = match a.account {
            None => Account::Instructor,
            Some(spec) => match account(&spec.value) {
                Ok(acc) => acc,
                Err(why) => {
                    problems.push(format!("{}: {why}", at(&spec.referenced)));
                    continue;
                }
            },
        };
        let settings = Settings {
            playbook: a.playbook.or(raw.defaults.playbook),
            instance_type: a.instance_type.or_else(|| raw.defaults.instance_type.clone()),
            evidence_budget: a.evidence_budget.or(raw.defaults.evidence_budget),
        };
        if let Some(b) = a.evidence_budget
            && !(10..=600).contains(&b)
        {
            problems.push(format!("{here}: evidence_budget {b} is not between 10 and 600 seconds"));
            continue;
        }
        attendees.push(Attendee { lab, email: a.email.map(|e| e.value), account, settings, label: None });
    }
    if !problems.is_empty() {
        return Err(Error::problem(format!("the roster is not valid:\n  {}", problems.join("\n  "))).with_hint(HINT));
    }
    Ok(Roster {
        class: raw.class.value,
        region: raw.region,
        defaults: raw.defaults,
        org_unit: raw.org_unit.map(|o| o.value),
        attendees,
    })
}

/// Class names become STS session names (`irlab-<class>`) and file names: the lab-name rules
/// with room for more characters.
fn class_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 48
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid class name `{name}`: use 1-48 lowercase letters, digits and hyphens, starting with a letter"
        ))
    }
}

/// An OU id as AWS Organizations writes it: `ou-` then 4-32 characters, `-`, 8-32 characters.
pub fn check_org_unit(id: &str) -> std::result::Result<(), String> {
    let ok = id.strip_prefix("ou-").and_then(|rest| rest.split_once('-')).is_some_and(|(a, b)| {
        let alnum = |s: &str| s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        (4..=32).contains(&a.len()) && (8..=32).contains(&b.len()) && alnum(a) && alnum(b)
    });
    if ok { Ok(()) } else { Err(format!("`{id}` is not an organizational unit id (ou-abcd-12345678)")) }
}

fn account(spec: &AccountSpec) -> std::result::Result<Account, String> {
    match (&spec.profile, &spec.role_arn) {
        (Some(_), Some(_)) => Err("give `profile` or `role_arn`, not both".into()),
        (None, None) => Err("`account` needs `profile` or `role_arn`".into()),
        (Some(p), None) if spec.external_id.is_some() => {
            Err(format!("`external_id` goes with `role_arn`; profile `{p}` sets its own in the AWS config"))
        }
        (Some(p), None) if p.trim().is_empty() => Err("`profile` is empty".into()),
        (Some(p), None) => Ok(Account::Profile { profile: p.clone() }),
        (None, Some(arn)) => {
            let parts: Vec<&str> = arn.split(':').collect();
            let valid = parts.len() == 6
                && parts[0] == "arn"
                && parts[2] == "iam"
                && parts[4].len() == 12
                && parts[4].chars().all(|c| c.is_ascii_digit())
                && parts[5].starts_with("role/")
                && parts[5].len() > "role/".len();
            if !valid {
                return Err(format!("`{arn}` is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"));
            }
            if let Some(x) = &spec.external_id
                && !(2..=1224).contains(&x.len())
            {
                return Err("`external_id` must be 2 to 1224 characters (STS AssumeRole)".into());
            }
            Ok(Account::Role { role_arn: arn.clone(), external_id: spec.external_id.clone() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
class: reinvent-2026
region: us-east-1
defaults: {playbook: stepfunctions, instance_type: t3.micro}
attendees:
  - name: alice            # becomes the lab name
    email: alice@example.com
  - name: bob
    account: {profile: attendee-bob}
    playbook: ssm
  - name: carol
    account: {role_arn: \"arn:aws:iam::111122223333:role/OrganizationAccountAccessRole\", external_id: \"xyz-123\"}
";

    #[test]
    fn the_example_roster_reads_with_defaults_and_overrides() {
        let r = parse(GOOD, "r.yaml").unwrap();
        assert_eq!(r.class, "reinvent-2026");
        let names: Vec<&str> = r.attendees.iter().map(|a| a.name()).collect();
        assert_eq!(names, ["alice", "bob", "carol"]);
        assert_eq!(r.attendees[0].account, Account::Instructor);
        assert_eq!(r.attendees[0].settings.playbook, Some(Variant::StepFunctions));
        assert_eq!(r.attendees[1].settings.playbook, Some(Variant::Ssm));
        assert_eq!(r.attendees[1].account, Account::Profile { profile: "attendee-bob".into() });
        assert_eq!(r.attendees[2].account.stated_id(), Some("111122223333"));
        assert_eq!(r.attendees[2].settings.instance_type.as_deref(), Some("t3.micro"));
    }

    #[test]
    fn an_unknown_field_names_its_line_and_column() {
        let text = GOOD.replace("    playbook: ssm", "    playbok: ssm");
        let err = parse(&text, "r.yaml").unwrap_err();
        assert!(err.message.starts_with("r.yaml:9:"), "{}", err.message);
        assert!(err.message.contains("playbok"), "{}", err.message);
    }

    #[test]
    fn every_bad_entry_is_reported_with_its_position() {
        let text = "\
class: c1
attendees:
  - name: Alice
  - name: bob
  - name: bob
    account: {profile: x, role_arn: \"arn:aws:iam::111122223333:role/R\"}
  - name: dan
    email: nobody
  - name: eve
    account: {role_arn: \"arn:aws:iam::1111:role/R\"}
";
        let err = parse(text, "r.yaml").unwrap_err();
        let m = &err.message;
        assert!(m.contains("r.yaml:3:11: invalid lab name `Alice`"), "{m}");
        assert!(m.contains("r.yaml:5:11: attendee `bob` is already listed at r.yaml:4:11"), "{m}");
        assert!(m.contains("r.yaml:6:14: give `profile` or `role_arn`, not both"), "{m}");
        assert!(m.contains("r.yaml:8:12: `nobody` is not an email address"), "{m}");
        assert!(m.contains("r.yaml:10:14: `arn:aws:iam::1111:role/R` is not an IAM role ARN"), "{m}");
    }

    #[test]
    fn an_evidence_budget_is_inherited_overridden_and_bounded() {
        let r = parse("class: c\ndefaults: {evidence_budget: 600}\nattendees:\n  - name: a\n  - name: b\n    evidence_budget: 60\n", "r")
            .unwrap();
        let budgets: Vec<Option<u32>> = r.attendees.iter().map(|a| a.settings.evidence_budget).collect();
        assert_eq!(budgets, [Some(600), Some(60)]);
        let err = parse("class: c\nattendees:\n  - name: a\n    evidence_budget: 5\n", "r").unwrap_err();
        assert!(err.message.contains("r:3:11: evidence_budget 5 is not between 10 and 600"), "{}", err.message);
        let err = parse("class: c\ndefaults: {evidence_budget: 900}\nattendees: [{name: a}]\n", "r").unwrap_err();
        assert!(err.message.contains("defaults: evidence_budget 900"), "{}", err.message);
    }

    #[test]
    fn a_roster_with_a_bad_class_name_or_org_unit_is_refused() {
        let ou = parse("class: c\norg_unit: ou-ab12-cdef3456\n", "r").unwrap();
        assert_eq!(ou.org_unit.as_deref(), Some("ou-ab12-cdef3456"));
        assert!(parse("class: c\norg_unit: r-ab12\n", "r").unwrap_err().message.contains("r:2:11"));
        assert!(parse("class: Big Class\nattendees: [{name: a}]\n", "r").unwrap_err().message.contains("r:1:8"));
    }
}
