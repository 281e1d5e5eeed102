//! Text laid out for the terminal it is shown on: paragraphs reflowed to its width.

use std::io::IsTerminal;

/// The width to lay text out for: the terminal's, else 80 (also for pipes and files).
pub fn width() -> usize {
    if std::io::stdout().is_terminal() {
        let (_, cols) = console::Term::stdout().size();
        usize::from(cols).clamp(40, 120)
    } else {
        80
    }
}

/// Reflows each paragraph (lines separated by a blank line) to `width`, words never split.
/// Lines that start with spaces, `-` or a digit and a dot keep their own line (lists, code).
pub fn wrap(text: &str, width: usize) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, out: &mut Vec<String>| {
        if para.is_empty() {
            return;
        }
        let mut line = String::new();
        for word in para.iter().flat_map(|l| l.split_whitespace()) {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                out.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            out.push(line);
        }
        para.clear();
    };
    for line in text.lines() {
        let t = line.trim_start();
        let own_line = line.starts_with(' ')
            || t.starts_with("- ")
            || t.split_once(". ").is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if t.is_empty() {
            flush(&mut para, &mut out);
            out.push(String::new());
        } else if own_line {
            flush(&mut para, &mut out);
            out.push(line.to_string());
        } else {
            para.push(line);
        }
    }
    flush(&mut para, &mut out);
    out.join("\n")
}

/// A YAML parser's message without what irlab's own message already says: its `error:` word
/// and its `line N column M:` (irlab puts `file:N:M` in front), first line only.
pub fn yaml_message(message: &str) -> String {
    let first = message.lines().next().unwrap_or_default().trim();
    let first = first.strip_prefix("error:").map_or(first, str::trim_start);
    match first.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
        Some((at, rest)) if at.contains("column") => rest.to_string(),
        _ => first.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_yaml_message_does_not_repeat_the_place() {
        assert_eq!(yaml_message("error: line 2 column 8: unknown field `x`\nmore"), "unknown field `x`");
        assert_eq!(yaml_message("invalid type: string"), "invalid type: string");
    }

    #[test]
    fn paragraphs_reflow_to_the_width_and_lists_keep_their_lines() {
        let text = "An attacker installs a TOR client on the instance and connects\nto the network.\n\n- one item\n    code line";
        let w = wrap(text, 30);
        assert!(w.lines().all(|l| l.chars().count() <= 30 || l.starts_with("    ")), "{w}");
        assert_eq!(w.lines().next(), Some("An attacker installs a TOR"));
        assert!(w.contains("\n\n- one item\n    code line"), "{w}");
    }
}
