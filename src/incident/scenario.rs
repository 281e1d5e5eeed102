//! Attack scenarios as data: one YAML file per scenario in `scenarios/` (embedded in the binary),
//! or a user's own file with the same schema.
//!
//! A scenario says what the attacker did (story, MITRE ATT&CK), which GuardDuty findings it should
//! raise, what runs on the victim in traffic mode, and what finding inject mode simulates.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use include_dir::{Dir, include_dir};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lab::{Part, Variant};

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/scenarios");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    pub story: String,
    pub mitre: Vec<Technique>,
    /// GuardDuty finding types the scenario should raise.
    pub findings: Vec<String>,
    /// Typical time from traffic to finding, e.g. `15m`.
    pub typical_delay: String,
    pub traffic: Traffic,
    pub inject: Inject,
    /// What the attack leaves on the victim: the playbooks' volatile collection records whether
    /// each is present, and the eradication check looks for them again.
    #[serde(default)]
    pub indicators: Indicators,
    /// What stops and removes what the attack left (`irlab eradicate`), run on the contained
    /// victim; the indicators are looked for again afterwards.
    #[serde(default)]
    pub eradicate: Option<Eradicate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eradicate {
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default = "default_eradicate_timeout")]
    pub timeout_seconds: u32,
    /// Shell lines run as root on the victim through Run Command; each must succeed when there
    /// is nothing left to remove (eradication runs again after a partial one).
    pub commands: Vec<String>,
}

fn default_eradicate_timeout() -> u32 {
    300
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicators {
    /// Process names (as `ps -o comm` shows them).
    #[serde(default)]
    pub processes: Vec<String>,
    /// Absolute paths of files the attack installs.
    #[serde(default)]
    pub files: Vec<String>,
    /// Domain names the attack resolves.
    #[serde(default)]
    pub domains: Vec<String>,
}

impl Indicators {
    pub fn is_empty(&self) -> bool {
        self.processes.is_empty() && self.files.is_empty() && self.domains.is_empty()
    }

    /// Every scenario's indicators together, sorted and without repeats: what the collection on
    /// a victim looks for, whichever scenario the attacker ran (the playbooks' `Indicators`).
    pub fn union<'a>(all: impl IntoIterator<Item = &'a Indicators>) -> Indicators {
        let mut out = Indicators::default();
        for i in all {
            out.processes.extend(i.processes.iter().cloned());
            out.files.extend(i.files.iter().cloned());
            out.domains.extend(i.domains.iter().cloned());
        }
        for v in [&mut out.processes, &mut out.files, &mut out.domains] {
            v.sort();
            v.dedup();
        }
        out
    }

    /// One line of JSON, as the collection document's `Indicators` parameter takes it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("indicators serialize")
    }

    /// What is wrong with each indicator: the collection script matches them literally, so a
    /// name with quotes, spaces or a backslash could never match and is refused here.
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let plain = |s: &str, extra: &str| {
            !s.is_empty()
                && s.len() <= 255
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c) || extra.contains(c))
        };
        for p in &self.processes {
            if !plain(p, "") || p.len() > 15 {
                out.push(format!("indicators.processes `{p}`: a process name is 1-15 letters, digits, `.`, `_` or `-` (the kernel's comm)"));
            }
        }
        for f in &self.files {
            if !f.starts_with('/') || !plain(f, "/") {
                out.push(format!("indicators.files `{f}`: an absolute path of letters, digits, `/`, `.`, `_` or `-`"));
            }
        }
        for d in &self.domains {
            if !plain(d, "") || !d.contains('.') {
                out.push(format!("indicators.domains `{d}`: a domain name such as example.com"));
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Technique {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// Where the technique comes from (the public GuardDuty tester).
    pub source: String,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
    /// Shell lines run as root on the victim through SSM Run Command.
    pub commands: Vec<String>,
    #[serde(default)]
    pub threat_list: Option<ThreatList>,
}

fn default_timeout() -> u32 {
    600
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreatList {
    pub addresses: Vec<Ipv4Addr>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inject {
    #[serde(rename = "type")]
    pub finding_type: String,
    pub severity: f64,
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub remote_ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
}

impl Scenario {
    pub fn typical_delay(&self) -> Duration {
        humantime::parse_duration(&self.typical_delay).unwrap_or(Duration::from_secs(15 * 60))
    }

    /// Everything wrong with the scenario beyond its YAML shape.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let id_ok = self.id.starts_with(|c: char| c.is_ascii_lowercase())
            && self.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            out.push(format!("id `{}` must be lowercase letters, digits and hyphens", self.id));
        }
        if self.findings.is_empty() {
            out.push("findings is empty".into());
        }
        // One problem per finding type, naming the rules that miss it (the three rules match
        // the same prefixes, which are listed once).
        for f in &self.findings {
            let missed: Vec<Variant> = Variant::ALL
                .into_iter()
                .filter(|v| !rule_prefixes(*v).iter().any(|p| f.starts_with(p.as_str())))
                .collect();
            if let Some(first) = missed.first() {
                let names: Vec<&str> = missed.iter().map(|v| v.as_str()).collect();
                out.push(format!(
                    "finding type `{f}` is not matched by the rule of the {} playbook (it matches types starting with {})",
                    names.join(", "),
                    rule_prefixes(*first).join(", ")
                ));
            }
        }
        if !self.findings.contains(&self.inject.finding_type) {
            out.push(format!("inject.type `{}` is not one of findings", self.inject.finding_type));
        }
        if !(1.0..=10.0).contains(&self.inject.severity) {
            out.push(format!("inject.severity {} is outside GuardDuty's 1-10 scale", self.inject.severity));
        }
        if humantime::parse_duration(&self.typical_delay).is_err() {
            out.push(format!("typical_delay `{}` is not a duration such as 15m or 1h", self.typical_delay));
        }
        if self.traffic.commands.iter().all(|c| c.trim().is_empty()) {
            out.push("traffic.commands is empty".into());
        }
        if !(30..=3600).contains(&self.traffic.timeout_seconds) {
            out.push("traffic.timeout_seconds must be 30-3600".into());
        }
        for t in &self.mitre {
            let (tech, sub) = t.id.split_once('.').map_or((t.id.as_str(), None), |(a, b)| (a, Some(b)));
            let tech_ok = tech.len() == 5 && tech.starts_with('T') && tech[1..].chars().all(|c| c.is_ascii_digit());
            let sub_ok = sub.is_none_or(|s| s.len() == 3 && s.chars().all(|c| c.is_ascii_digit()));
            if !(tech_ok && sub_ok) {
                out.push(format!("mitre id `{}` is not an ATT&CK technique id such as T1090 or T1090.003", t.id));
            }
        }
        out.extend(self.indicators.problems());
        out
    }
}

/// The finding-type prefixes a playbook's rule matches, read from its template (the templates
/// are the truth).
pub fn rule_prefixes(variant: Variant) -> Vec<String> {
    let text = Part::Playbook(variant).template();
    text.match_indices("\"prefix\":")
        .filter_map(|(i, m)| {
            let rest = text[i + m.len()..].trim_start().strip_prefix('"')?;
            Some(rest[..rest.find('"')?].to_string())
        })
        .collect()
}

/// Parses and validates one scenario; `origin` names it in errors (a path, or `builtin:<file>`).
pub fn parse(text: &str, origin: &str) -> Result<Scenario> {
    let scenario: Scenario = serde_saphyr::from_str(text).map_err(|e| {
        let at = e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
        let first = crate::ui::text::yaml_message(&e.to_string());
        Error::problem(format!("{origin}{at}: {first}"))
            .with_hint("`irlab scenarios show tor-client --yaml` prints a scenario file in the expected shape")
            .with_source(e)
    })?;
    let problems = scenario.problems();
    if !problems.is_empty() {
        return Err(Error::problem(format!("{origin}: {}", problems.join("; "))));
    }
    Ok(scenario)
}

pub fn builtin() -> Result<Vec<Scenario>> {
    let mut out = Vec::new();
    let mut files: Vec<_> = BUILTIN.files().filter(|f| f.path().extension().is_some_and(|e| e == "yaml")).collect();
    files.sort_by_key(|f| f.path());
    for f in files {
        let name = f.path().to_string_lossy().into_owned();
        let s = parse(f.contents_utf8().unwrap_or_default(), &format!("scenarios/{name}"))?;
        out.push(s);
    }
    Ok(out)
}

/// A built-in scenario by id.
pub fn find(id: &str) -> Result<Scenario> {
    let all = builtin()?;
    let known: Vec<String> = all.iter().map(|s| s.id.clone()).collect();
    all.into_iter().find(|s| s.id == id).ok_or_else(|| {
        Error::problem(format!("no scenario `{id}`")).with_hint(format!("known scenarios: {}", known.join(", ")))
    })
}

/// A built-in scenario's file, as it is embedded (provenance and maintainer notes included).
pub fn source(id: &str) -> Result<&'static str> {
    find(id)?;
    Ok(BUILTIN.get_file(format!("{id}.yaml")).and_then(|f| f.contents_utf8()).unwrap_or_default())
}

/// A user's scenario file.
pub fn load(path: &Path) -> Result<Scenario> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::problem(format!("cannot read scenario file {}: {e}", path.display())).with_source(e))?;
    parse(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_scenario_meets_the_schema_and_its_file_name() {
        let all = builtin().expect("built-in scenarios parse and validate");
        for s in &all {
            let file = BUILTIN.get_file(format!("{}.yaml", s.id));
            assert!(file.is_some(), "scenario {} must live in scenarios/{}.yaml", s.id, s.id);
        }
        for id in ["tor-client", "bitcoin-mining", "malicious-ip"] {
            assert!(all.iter().any(|s| s.id == id), "missing scenario {id}");
        }
    }

    #[test]
    fn indicators_are_checked_and_join_into_one_line_for_the_collection() {
        let all = builtin().unwrap();
        let union = Indicators::union(all.iter().map(|s| &s.indicators));
        assert!(union.processes.contains(&"tor".to_string()), "{union:?}");
        assert!(union.domains.contains(&"crypto.guarddutyc2activityb.com".to_string()), "{union:?}");
        let json = union.to_json();
        assert!(!json.contains('\n') && json.starts_with("{\"processes\":["), "{json}");
        let bad =
            Indicators { processes: vec!["a b".into()], files: vec!["etc/x".into()], domains: vec!["x\"y".into()] };
        assert_eq!(bad.problems().len(), 3, "{:?}", bad.problems());
    }

    #[test]
    fn every_playbook_rule_matches_every_scenario_finding() {
        for v in Variant::ALL {
            assert!(!rule_prefixes(v).is_empty(), "{v} has no prefixes in its rule");
        }
        for s in builtin().unwrap() {
            for v in Variant::ALL {
                for f in &s.findings {
                    assert!(
                        rule_prefixes(v).iter().any(|p| f.starts_with(p.as_str())),
                        "{v} would not match {f} of {}",
                        s.id
                    );
                }
            }
        }
    }

    fn sample() -> String {
        builtin_text("tor-client")
    }

    fn builtin_text(id: &str) -> String {
        BUILTIN.get_file(format!("{id}.yaml")).unwrap().contents_utf8().unwrap().to_string()
    }

    #[test]
    fn a_finding_type_no_rule_matches_is_refused() {
        let text = sample().replace("UnauthorizedAccess:EC2/TorClient", "Recon:EC2/PortProbeUnprotectedPort");
        let err = parse(&text, "x.yaml").unwrap_err();
        let m = &err.message;
        assert!(m.contains("not matched by the rule of the lambda, stepfunctions, ssm playbook"), "{m}");
        // The prefixes are listed once, not once per playbook.
        assert_eq!(m.matches("UnauthorizedAccess:EC2/Tor").count(), 1, "{m}");
        assert_eq!(err.exit_code(), 1);
    }

    #[test]
    fn an_unknown_field_is_refused_with_line_and_column() {
        let text = format!("{}\nsurprise: true\n", sample().trim_end());
        let err = parse(&text, "mine.yaml").unwrap_err();
        let line = text.lines().count();
        assert!(err.message.starts_with(&format!("mine.yaml:{line}:")), "{}", err.message);
    }

    #[test]
    fn a_wrong_type_names_where_it_is() {
        let text = sample().replacen("severity:", "severity: high #", 1);
        let err = parse(&text, "mine.yaml").unwrap_err();
        assert!(err.message.starts_with("mine.yaml:"), "{}", err.message);
        assert!(err.message.split(':').nth(1).is_some_and(|l| l.parse::<usize>().is_ok()), "{}", err.message);
    }
}
