//! The workshop's guided path as data: one Markdown file per module in `workshop/` (embedded
//! like the scenarios), each with a short front matter (number, title, lifecycle phase, minutes,
//! the `irlab` commands it runs) and a body an instructor may rewrite without touching code.
//!
//! Texts name the attendee's real ids as `{{placeholder}}`s, filled from the lab when shown.

pub mod collect;
pub mod manual;
pub mod trail;

use std::collections::BTreeMap;

use include_dir::{Dir, include_dir};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::lab::Variant;

static TEXTS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/workshop");

/// The module of the manual response: it stops for the attendee's own work.
pub const MANUAL: u8 = 3;
/// The module that runs each playbook in turn.
pub const AUTOMATED: u8 = 4;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Front {
    pub module: u8,
    pub title: String,
    pub phase: String,
    pub minutes: u32,
    /// `irlab` commands (without `irlab`) the module runs, in order.
    #[serde(default)]
    pub run: Vec<String>,
    /// Run the commands once per variant (`{{variant}}`).
    #[serde(default)]
    pub each_variant: Vec<Variant>,
    /// Module 4's comparison: what each response can and cannot do, by row (`manual`, then each
    /// variant), so an instructor can reword it.
    #[serde(default)]
    pub compare: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Module {
    pub front: Front,
    pub file: String,
    pub body: String,
}

/// One step of the manual response: its section of the module 3 text.
#[derive(Debug, Clone)]
pub struct Section {
    pub id: String,
    pub text: String,
}

impl Module {
    /// The `<!-- step: ID -->` sections of the body, in order.
    pub fn sections(&self) -> Vec<Section> {
        let mut out: Vec<Section> = Vec::new();
        for line in self.body.lines() {
            if let Some(id) = line.trim().strip_prefix("<!-- step:").and_then(|r| r.strip_suffix("-->")) {
                out.push(Section { id: id.trim().to_string(), text: String::new() });
            } else if let Some(s) = out.last_mut() {
                s.text.push_str(line);
                s.text.push('\n');
            }
        }
        out
    }

    /// The body before the first step section.
    pub fn intro(&self) -> &str {
        self.body.split("<!-- step:").next().unwrap_or_default()
    }

    /// The commands the module runs, with `{{variant}}` filled for each variant it names.
    pub fn commands(&self) -> Vec<(Option<Variant>, Vec<String>)> {
        if self.front.each_variant.is_empty() {
            return vec![(None, self.front.run.clone())];
        }
        self.front
            .each_variant
            .iter()
            .map(|v| (Some(*v), self.front.run.iter().map(|c| c.replace("{{variant}}", v.as_str())).collect()))
            .collect()
    }
}

/// Every module, in order; a broken text is a build-time mistake, caught by the tests.
pub fn modules() -> Result<Vec<Module>> {
    let mut out = Vec::new();
    let mut files: Vec<_> = TEXTS.files().filter(|f| f.path().extension().is_some_and(|e| e == "md")).collect();
    files.sort_by_key(|f| f.path().to_path_buf());
    for f in files {
        let file = f.path().display().to_string();
        let text = f.contents_utf8().ok_or_else(|| Error::failure(format!("workshop/{file} is not UTF-8")))?;
        out.push(parse(&file, text)?);
    }
    for (i, m) in out.iter().enumerate() {
        if usize::from(m.front.module) != i + 1 {
            return Err(Error::failure(format!(
                "workshop/{} says module {}, but it is number {} in order",
                m.file,
                m.front.module,
                i + 1
            )));
        }
    }
    Ok(out)
}

pub fn parse(file: &str, text: &str) -> Result<Module> {
    let bad = |why: String| Error::failure(format!("workshop/{file}: {why}"));
    let rest = text.strip_prefix("---\n").ok_or_else(|| bad("does not start with a `---` front matter".into()))?;
    let (front, body) =
        rest.split_once("\n---\n").ok_or_else(|| bad("the front matter has no closing `---`".into()))?;
    let front: Front = serde_saphyr::from_str(front).map_err(|e| bad(format!("front matter: {e}")))?;
    Ok(Module { front, file: file.to_string(), body: body.trim_start().to_string() })
}

/// Minutes the modules from `from` on take.
pub fn minutes_left(modules: &[Module], from: u8) -> u32 {
    modules.iter().filter(|m| m.front.module >= from).map(|m| m.front.minutes).sum()
}

/// The attendee's ids that texts name.
pub type Facts = BTreeMap<&'static str, String>;

/// Fills `{{name}}` from `facts`. A line naming `{{volume}}` or `{{device}}` is repeated for each
/// of the victim's volumes (`volumes`: volume id and device name). A placeholder with no fact
/// is left as it is, for the reader to see what is missing.
pub fn render(text: &str, facts: &Facts, volumes: &[(String, String)]) -> String {
    let fill = |line: &str| {
        let mut out = line.to_string();
        for (k, v) in facts {
            out = out.replace(&format!("{{{{{k}}}}}"), v);
        }
        out
    };
    let mut out = String::new();
    for line in text.lines() {
        if (line.contains("{{volume}}") || line.contains("{{device}}")) && !volumes.is_empty() {
            for (volume, device) in volumes {
                out.push_str(&fill(&line.replace("{{volume}}", volume).replace("{{device}}", device)));
                out.push('\n');
            }
        } else {
            out.push_str(&fill(line));
            out.push('\n');
        }
    }
    out
}

/// A rendered text as a terminal shows it: code fences and comments dropped, commands
/// indented, emphasis marks removed (the Markdown stays the source for instructors), and each
/// paragraph or list item joined into one line, which the printer breaks at the terminal's
/// width (the texts' own line breaks, at about 90 columns, left a lone word on every other line
/// of an 80-column terminal).
pub fn for_terminal(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut inside = false;
    // Whether the last line out is prose that the next prose line continues.
    let mut open = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            inside = !inside;
            open = false;
            continue;
        }
        if t.starts_with("<!--") {
            open = false;
            continue;
        }
        if inside {
            out.push(format!("    {line}"));
            continue;
        }
        let prose = line.replace("**", "");
        let starts_block = t.is_empty() || t.starts_with('#') || t.starts_with('|') || is_list_item(t);
        match out.last_mut() {
            Some(last) if open && !starts_block => {
                last.push(' ');
                last.push_str(prose.trim());
            }
            _ => out.push(prose),
        }
        open = !t.is_empty() && !t.starts_with('#') && !t.starts_with('|');
    }
    out.join("\n")
}

/// A Markdown list item's first line: "- ", "* " or "12. ".
fn is_list_item(t: &str) -> bool {
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    t.starts_with("- ") || t.starts_with("* ") || (digits > 0 && t[digits..].starts_with(". "))
}

/// The shell commands of a text's ```sh blocks, one per line (what the tests check).
#[cfg(test)]
pub fn shell_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            inside = !inside && t == "```sh";
            continue;
        }
        if inside && !t.is_empty() {
            out.push(t.to_string());
        }
    }
    out
}

/// The commands a text names inline, in `` `irlab ...` `` or `` `aws ...` `` code spans outside
/// its sh blocks (prose such as "run `irlab reset` first"): what the tests check.
#[cfg(test)]
pub fn inline_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.trim().starts_with("```") {
            inside = !inside;
            continue;
        }
        if inside {
            continue;
        }
        // Odd pieces between backticks are code spans.
        for span in line.split('`').skip(1).step_by(2) {
            if span.starts_with("irlab ") || span == "irlab" || span.starts_with("aws ") {
                out.push(span.to_string());
            }
        }
    }
    out
}

/// Splits a shell line into words, honouring single and double quotes (what the texts use).
pub fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() || any {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if !cur.is_empty() || any {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::cli::Cli;

    fn every_fact() -> Facts {
        [
            "lab",
            "instance",
            "quarantine_group",
            "untrack_group",
            "role",
            "association",
            "finding",
            "detector",
            "now",
            "region",
        ]
        .into_iter()
        .map(|k| (k, format!("x-{k}")))
        .collect()
    }

    #[test]
    fn five_modules_in_order_each_with_a_phase_and_time() {
        let m = modules().unwrap();
        assert_eq!(m.len(), 5);
        for (i, m) in m.iter().enumerate() {
            assert_eq!(usize::from(m.front.module), i + 1);
            assert!(!m.front.phase.is_empty() && m.front.minutes > 0, "{}", m.file);
            assert!(m.body.len() > 200, "{} says too little", m.file);
        }
        let manual = &modules().unwrap()[usize::from(MANUAL) - 1];
        let ids: Vec<String> = manual.sections().into_iter().map(|s| s.id).collect();
        assert_eq!(ids, manual::STEPS.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }

    /// Every `irlab` command a text runs or names parses as this binary's command line, and
    /// every placeholder it uses is one irlab fills.
    #[test]
    fn every_irlab_command_the_texts_name_exists_and_parses() {
        let vols = [("vol-1".to_string(), "/dev/xvda".to_string())];
        let mut seen = 0;
        for m in modules().unwrap() {
            for (_, cmds) in m.commands() {
                for c in cmds {
                    let args = std::iter::once("irlab".to_string()).chain(words(&c));
                    Cli::read(args).unwrap_or_else(|e| panic!("{}: `irlab {c}`: {e}", m.file));
                    seen += 1;
                }
            }
            let text = render(&m.body, &every_fact(), &vols);
            assert!(!text.contains("{{"), "{}: a placeholder irlab does not fill: {text}", m.file);
            for line in shell_commands(&text).into_iter().chain(inline_commands(&text)) {
                let w = words(&line);
                match w.first().map(String::as_str) {
                    Some("irlab") => {
                        Cli::read(&w).unwrap_or_else(|e| panic!("{}: `{line}`: {e}", m.file));
                        seen += 1;
                    }
                    // Checked against botocore's models by checks/workshop_commands.py.
                    Some("aws") => {}
                    other => panic!("{}: `{line}` is neither irlab nor aws ({other:?})", m.file),
                }
            }
        }
        assert!(seen > 10, "only {seen} commands found: is the parser reading the texts?");
    }

    #[test]
    fn a_command_that_does_not_exist_is_caught() {
        let bad = parse("x.md", "---\nmodule: 1\ntitle: t\nphase: p\nminutes: 1\nrun: [contain-everything]\n---\nbody")
            .unwrap();
        let (_, cmds) = &bad.commands()[0];
        assert!(Cli::read(std::iter::once("irlab".to_string()).chain(words(&cmds[0]))).is_err());
        assert!(parse("x.md", "no front matter").is_err());
        // A command named inline in the prose is found too.
        let inline = inline_commands("First run `irlab contain-everything`, then `ls`.\n```sh\nirlab status\n```");
        assert_eq!(inline, ["irlab contain-everything"]);
        assert!(Cli::read(words(&inline[0])).is_err());
        assert!(parse("x.md", "---\nmodule: 1\ntitle: t\nphase: p\nminutes: 1\nrunn: []\n---\n").is_err());
    }

    #[test]
    fn the_automated_module_says_what_each_response_can_and_cannot_do() {
        let m = modules().unwrap().into_iter().find(|m| m.front.module == AUTOMATED).unwrap();
        assert!(!m.front.each_variant.is_empty());
        for row in std::iter::once("manual".to_string()).chain(m.front.each_variant.iter().map(|v| v.to_string())) {
            assert!(
                m.front.compare.get(&row).is_some_and(|n| !n.is_empty()),
                "{}: no `compare` note for {row}",
                m.file
            );
        }
        assert!(m.front.compare["lambda"].contains("15 min"), "Lambda's limit is the workshop's point");
    }

    #[test]
    fn a_terminal_sees_commands_indented_and_no_markup() {
        let t = for_terminal("Read **this**:\n\n```sh\nirlab status\n```\n<!-- step: x -->\nend");
        assert_eq!(t, "Read this:\n\n    irlab status\nend");
        // A paragraph's lines, and a list item's, are one line for the printer to break.
        let t = for_terminal(
            "One two\nthree.\n\n1. Four\n   five.\n2. Six\n- seven\n\n## Title\nText\n<!-- step: x -->\nNext",
        );
        assert_eq!(t, "One two three.\n\n1. Four five.\n2. Six\n- seven\n\n## Title\nText\nNext");
    }

    #[test]
    fn volumes_repeat_their_lines_and_quotes_group_words() {
        let vols = [("vol-a".to_string(), "/dev/xvda".to_string()), ("vol-b".to_string(), "/dev/sdf".to_string())];
        let text = render("snap {{volume}} on {{device}} of {{instance}}\nend", &every_fact(), &vols);
        assert_eq!(text, "snap vol-a on /dev/xvda of x-instance\nsnap vol-b on /dev/sdf of x-instance\nend\n");
        assert_eq!(
            words(r#"aws x --doc '{"a": 1}' --d "two words" ''"#),
            ["aws", "x", "--doc", r#"{"a": 1}"#, "--d", "two words", ""]
        );
    }
}
