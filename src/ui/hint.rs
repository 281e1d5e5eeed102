//! The commands irlab suggests (`hint:` lines, `next:` lines, plans) carry the connection the
//! user is working with, so a copied suggestion never reaches another account, region or lab.
//!
//! Messages are written with plain `` `irlab verify` `` commands; the printer rewrites each one
//! with the user's own `--local`, `--endpoint-url`, `--profile`, `--region` and `--lab`.

use crate::cli::Global;
use crate::env_vars;

/// The options to repeat in suggested commands, as the user gave them (flag or environment).
pub fn connection_flags(g: &Global) -> Vec<String> {
    let mut out = Vec::new();
    if g.local {
        out.push("--local".to_string());
    }
    let profile = g.profile.clone().or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
    for (flag, value) in
        [("--endpoint-url", g.endpoint_url.clone()), ("--profile", profile), ("--region", g.region.clone())]
    {
        if let Some(v) = value {
            out.extend([flag.to_string(), quote(&v)]);
        }
    }
    // The default lab needs no flag, unless IRLAB_LAB chose another one in this shell only.
    if g.lab != env_vars::DEFAULT_LAB {
        out.extend(["--lab".to_string(), quote(&g.lab)]);
    }
    out
}

/// Commands that do not talk to a lab, and so take none of its options.
const OFFLINE: [&str; 2] = ["local", "scenarios"];

/// Puts `flags` after `irlab` in every backquoted `irlab ...` command of `text`.
pub fn rewrite(text: &str, flags: &[String]) -> String {
    if flags.is_empty() || !text.contains("`irlab ") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(at) = rest.find("`irlab ") {
        let (before, cmd) = rest.split_at(at + "`irlab".len());
        out.push_str(before);
        let sub = cmd.trim_start().split([' ', '`']).next().unwrap_or_default();
        if !OFFLINE.contains(&sub) {
            for f in flags {
                out.push(' ');
                out.push_str(f);
            }
        }
        rest = cmd;
    }
    out.push_str(rest);
    out
}

fn quote(v: &str) -> String {
    let plain = v.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@=+,".contains(c));
    if plain && !v.is_empty() { v.to_string() } else { format!("'{}'", v.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_suggested_lab_command_gets_the_connection() {
        let f = flags(&["--local", "--lab", "b"]);
        assert_eq!(
            rewrite("run `irlab reset` first, then `irlab attack tor-client --force`", &f),
            "run `irlab --local --lab b reset` first, then `irlab --local --lab b attack tor-client --force`"
        );
    }

    #[test]
    fn offline_commands_and_plain_text_stay_as_they_are() {
        let f = flags(&["--profile", "prod"]);
        assert_eq!(
            rewrite("start it with `irlab local start --port 5000`", &f),
            "start it with `irlab local start --port 5000`"
        );
        assert_eq!(rewrite("irlab lab state: removed by down", &f), "irlab lab state: removed by down");
        assert_eq!(rewrite("see `irlab status`", &[]), "see `irlab status`");
    }

    #[test]
    fn values_that_a_shell_would_split_are_quoted() {
        assert_eq!(quote("my profile"), "'my profile'");
        assert_eq!(quote("http://127.0.0.1:4566"), "http://127.0.0.1:4566");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
