//! `irlab scenarios [show ID]`: the built-in attack scenarios.

use serde_json::json;

use crate::cli::ScenariosCommand;
use crate::error::Result;
use crate::incident::scenario;
use crate::ui::printer::Printer;

pub fn run(cmd: &Option<ScenariosCommand>, p: &Printer) -> Result<()> {
    match cmd {
        None => {
            let all = scenario::builtin()?;
            p.json(&json!(all));
            p.out(format!("{:<16} {:<10} {:<44} {}", "ID", "DELAY", "TITLE", "FINDINGS"));
            for s in &all {
                p.out(format!("{:<16} {:<10} {:<44} {}", s.id, s.typical_delay, s.title, s.findings.join(", ")));
            }
            p.out("run one with `irlab attack ID` (see `irlab scenarios show ID`)");
        }
        Some(ScenariosCommand::Show { id, yaml: true }) => {
            let text = scenario::source(id)?;
            p.json(&json!({ "id": id, "yaml": text }));
            p.out(text.trim_end());
        }
        Some(ScenariosCommand::Show { id, yaml: false }) => {
            let s = scenario::find(id)?;
            p.json(&json!(s));
            let width = crate::ui::text::width();
            p.out(format!("{} - {}", s.id, s.title));
            p.out(format!("\n{}", crate::ui::text::wrap(s.story.trim_end(), width)));
            let mitre: Vec<String> = s.mitre.iter().map(|t| format!("{} {}", t.id, t.name)).collect();
            p.out(format!("\nMITRE ATT&CK: {}", mitre.join("; ")));
            p.out(format!("expected GuardDuty findings: {}", s.findings.join(", ")));
            p.out(format!("typical time to a finding: {}", s.typical_delay));
            p.out("\ntraffic mode runs on the victim:");
            for c in &s.traffic.commands {
                p.out(format!("  {c}"));
            }
            if let Some(list) = &s.traffic.threat_list {
                let addrs: Vec<String> = list.addresses.iter().map(|a| a.to_string()).collect();
                p.out(format!("  (first lists {} in the lab's GuardDuty threat list)", addrs.join(", ")));
            }
            // The file's provenance and maintainer notes are for maintainers (`--yaml` shows them).
            p.out(format!("\ninject mode simulates: {} (severity {})", s.inject.finding_type, s.inject.severity));
            if !s.indicators.is_empty() {
                let list = |v: &[String]| if v.is_empty() { "none".to_string() } else { v.join(", ") };
                p.out("\nwhat it leaves on the victim (the playbooks' evidence collection looks for it):");
                p.out(format!("  processes: {}", list(&s.indicators.processes)));
                p.out(format!("  files:     {}", list(&s.indicators.files)));
                p.out(format!("  domains:   {}", list(&s.indicators.domains)));
            }
        }
    }
    Ok(())
}
