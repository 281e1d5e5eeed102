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

/// The width of the terminal on stderr, where progress, errors and hints go.
pub fn stderr_width() -> usize {
    let (_, cols) = console::Term::stderr().size();
    usize::from(cols).clamp(40, 240)
}

/// The width of the terminal on stdout, where results go (not clamped: a table is laid out for
/// the whole terminal).
pub fn stdout_width() -> usize {
    let (_, cols) = console::Term::stdout().size();
    usize::from(cols).max(40)
}

/// Breaks each line of `text` longer than `width` at spaces, continuation lines indented by
/// `indent` spaces; colour codes take no width. An indented line is a table row or a command: a
/// row's last column is broken under itself, and a command (one column) is left whole, to be
/// copied as it is run.
pub fn hang(text: &str, width: usize, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out: Vec<String> = Vec::new();
    for line in text.split('\n') {
        if console::measure_text_width(line) <= width {
            out.push(line.to_string());
            continue;
        }
        if line.starts_with(' ') {
            match last_column(line).filter(|c| c + 20 <= width && !line.contains('\u{1b}')) {
                Some(c) => {
                    let head: String = line.chars().take(c).collect();
                    let tail: String = line.chars().skip(c).collect();
                    let body = hang(&tail, width - c, 0);
                    let pad = " ".repeat(c);
                    for (i, l) in body.lines().enumerate() {
                        out.push(if i == 0 { format!("{head}{l}") } else { format!("{pad}{l}") });
                    }
                }
                None => out.push(line.to_string()),
            }
            continue;
        }
        let mut current = String::new();
        let mut words = 0;
        for word in line.split(' ').filter(|w| !w.is_empty()) {
            if words > 0 && console::measure_text_width(&current) + 1 + console::measure_text_width(word) > width {
                out.push(std::mem::take(&mut current));
                current.push_str(&pad);
                words = 0;
            }
            if words > 0 {
                current.push(' ');
            }
            current.push_str(word);
            words += 1;
        }
        out.push(current);
    }
    out.join("\n")
}

/// An indented item of a list (a plan's step): broken at spaces to `width`, continuation lines
/// two spaces under the item's own indent.
pub fn hang_item(line: &str, width: usize) -> String {
    let n = line.len() - line.trim_start_matches(' ').len();
    let pad = " ".repeat(n);
    hang(&line[n..], width.saturating_sub(n).max(20), 2)
        .lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where the last column of a table row starts: after the last run of two or more spaces that
/// follows the row's first word. None for a line of one column (a command).
fn last_column(line: &str) -> Option<usize> {
    let chars: Vec<char> = line.chars().collect();
    let first = chars.iter().position(|c| *c != ' ')?;
    (first + 2..chars.len()).rev().find(|&i| chars[i] != ' ' && chars[i - 1] == ' ' && chars[i - 2] == ' ')
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

    #[test]
    fn a_long_line_hangs_under_its_label_and_rows_stay_whole() {
        let line = "hint: use 1-24 lowercase letters, digits and hyphens, starting with a letter (for example `irlab`)";
        let h = hang(line, 40, 6);
        assert!(h.lines().all(|l| console::measure_text_width(l) <= 40), "{h}");
        assert!(h.lines().skip(1).all(|l| l.starts_with("      ") && !l.starts_with("       ")), "{h}");
        assert_eq!(h.split_whitespace().collect::<Vec<_>>(), line.split_whitespace().collect::<Vec<_>>());
        let command = "    aws ec2 modify-instance-attribute --instance-id i-1 --groups sg-1";
        assert_eq!(hang(command, 40, 2), command, "a command is shown whole");
        let row = "  shared    irlab-shared  CREATE_COMPLETE (trail, bucket, VPC); no other lab";
        assert_eq!(
            hang(row, 50, 2),
            format!(
                "  shared    irlab-shared  CREATE_COMPLETE (trail,\n{0}bucket, VPC); no other\n{0}lab",
                " ".repeat(26)
            ),
            "a row's last column is broken under itself"
        );
        let item = hang_item(
            "    first empty bucket irlab-a-evidence (8 object versions of evidence), bypassing its retention",
            40,
        );
        assert!(item.lines().all(|l| l.len() <= 40 && l.starts_with("    ")), "{item}");
        assert!(item.lines().skip(1).all(|l| l.starts_with("      ")), "{item}");
        let coloured = format!("{} {}", console::style("PASS").green().force_styling(true), "x".repeat(35));
        assert_eq!(hang(&coloured, 40, 2), coloured, "colour codes take no width");
    }
}
