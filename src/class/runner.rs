//! Runs one single-lab command for many attendees at once: each attendee's lab is driven by this
//! same binary as a child process, with that attendee's lab name and credentials, up to
//! `--parallel` at a time. One attendee's failure never stops the others; each keeps a log file.
//!
//! A child is the single-lab command exactly as a user would run it (`irlab --lab alice up`),
//! so class mode inherits every guarantee of the single-lab path: the lease, the shared detector
//! and account parts, retries, and the proof of `down`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::aws::{AwsContext, AwsResultExt};
use crate::class::roster::{Account, Attendee, Roster};
use crate::cli::Global;
use crate::env_vars;
use crate::error::{Context, Error, Result};

/// What happened to one attendee.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub attendee: String,
    /// The account the lab lives in, where known (the child's own answer, or the roster's role).
    pub account: Option<String>,
    pub ok: bool,
    pub exit_code: i32,
    pub seconds: f64,
    /// The child's first `error:` line (the cause), or its last line of progress when it succeeded.
    pub message: String,
    /// The child's JSON result (`--output json`), when it printed one.
    #[serde(skip)]
    pub json: Option<serde_json::Value>,
    pub log: PathBuf,
}

/// The class's working directory, next to the roster: logs and the last command's verdicts.
pub fn class_dir(roster_path: &Path, roster: &Roster) -> PathBuf {
    let parent = roster_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    parent.join(format!("irlab-{}", roster.class))
}

/// The last class command's verdicts, for `--failed`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Last {
    pub command: String,
    pub at: String,
    pub failed: Vec<String>,
}

pub fn save_last(dir: &Path, command: &str, outcomes: &[Outcome]) -> Result<()> {
    let last = Last {
        command: command.to_string(),
        at: jiff::Timestamp::now().to_string(),
        failed: outcomes.iter().filter(|o| !o.ok).map(|o| o.attendee.clone()).collect(),
    };
    let path = dir.join("last.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&last).expect("serializes"))
        .context(|| format!("writing {}", path.display()))
}

pub fn load_last(dir: &Path) -> Result<Option<Last>> {
    let path = dir.join("last.json");
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::problem(format!("{} is not irlab's record", path.display())).with_source(e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::failure(format!("reading {}", path.display())).with_source(e)),
    }
}

/// How the runner shows progress: a live line per attendee on a terminal, else plain lines.
pub struct Display {
    bars: Option<MultiProgress>,
    quiet: bool,
}

impl Display {
    pub fn new(live: bool, quiet: bool) -> Self {
        Display { bars: (live && !quiet).then(MultiProgress::new), quiet }
    }

    fn line(&self, name: &str) -> Line {
        match &self.bars {
            Some(m) => {
                let bar = m.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:<16} {elapsed:>4} {wide_msg}")
                        .expect("valid template"),
                );
                bar.set_prefix(name.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                Line::Live(bar)
            }
            None if self.quiet => Line::Quiet,
            None => Line::Plain(name.to_string()),
        }
    }
}

enum Line {
    Live(ProgressBar),
    Plain(String),
    Quiet,
}

impl Line {
    fn progress(&self, msg: &str) {
        if let Line::Live(bar) = self {
            bar.set_message(msg.to_string());
        }
    }

    fn event(&self, msg: &str) {
        match self {
            Line::Live(bar) => bar.set_message(msg.to_string()),
            Line::Plain(name) => eprintln!("{name}: {msg}"),
            Line::Quiet => {}
        }
    }

    fn done(&self, o: &Outcome) {
        let verdict = if o.ok { "ok" } else { "FAILED" };
        let msg = format!("{verdict} in {:.0}s: {}", o.seconds, o.message);
        match self {
            Line::Live(bar) => bar.finish_with_message(msg),
            Line::Plain(name) => eprintln!("{name}: {msg}"),
            Line::Quiet => {}
        }
    }
}

/// Runs `args(attendee)` (the command after `irlab --lab NAME <connection>`) for every
/// attendee, `parallel` at a time, and returns their outcomes in roster order.
#[allow(clippy::too_many_arguments)]
pub async fn run_all<F: Fn(&Attendee) -> Vec<String>>(
    g: &Global,
    ctx: &AwsContext,
    roster: &Roster,
    attendees: &[Attendee],
    command: &str,
    args: &F,
    parallel: usize,
    dir: &Path,
    display: &Display,
) -> Result<Vec<Outcome>> {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).context(|| format!("creating {}", logs.display()))?;
    let permits = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let work = attendees.iter().map(|a| {
        let permits = permits.clone();
        let log = logs.join(format!("{}.log", a.name()));
        async move {
            let line = display.line(a.name());
            line.progress("waiting for a slot");
            let _permit = permits.acquire().await.expect("semaphore stays open");
            line.event(&format!("{command} started"));
            let o = one(g, ctx, roster, a, command, &args(a), &log, &line).await;
            line.done(&o);
            o
        }
    });
    Ok(futures::future::join_all(work).await)
}

#[allow(clippy::too_many_arguments)]
async fn one(
    g: &Global,
    ctx: &AwsContext,
    roster: &Roster,
    a: &Attendee,
    command: &str,
    args: &[String],
    log: &Path,
    line: &Line,
) -> Outcome {
    let started = Instant::now();
    let mut o = Outcome {
        attendee: a.name().to_string(),
        account: a.account.stated_id().map(String::from),
        ok: false,
        exit_code: 2,
        seconds: 0.0,
        message: String::new(),
        json: None,
        log: log.to_path_buf(),
    };
    let mut file = match std::fs::OpenOptions::new().create(true).append(true).open(log) {
        Ok(f) => f,
        Err(e) => {
            o.message = format!("cannot write {}: {e}", log.display());
            return o;
        }
    };
    let _ = writeln!(file, "=== {} irlab class {command}: irlab {}", jiff::Timestamp::now(), args.join(" "));
    match child(g, ctx, roster, a, args).await {
        Err(e) => {
            o.message = e.to_string();
            let _ = writeln!(file, "error: {}", e.message);
            if let Some(h) = &e.hint {
                let _ = writeln!(file, "hint: {h}");
            }
        }
        Ok(mut cmd) => match cmd.spawn() {
            Err(e) => o.message = format!("could not start irlab: {e}"),
            Ok(mut proc) => {
                let mut stdout = proc.stdout.take().expect("piped");
                let stderr = proc.stderr.take().expect("piped");
                let out_task = tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let _ = stdout.read_to_end(&mut buf).await;
                    buf
                });
                let mut lines = BufReader::new(stderr).lines();
                let mut last_error: Option<String> = None;
                let mut last_line = String::new();
                while let Ok(Some(l)) = lines.next_line().await {
                    let _ = writeln!(file, "{l}");
                    // The first error is the cause; a command's last one is its summary.
                    if let Some(err) = l.strip_prefix("error: ")
                        && last_error.is_none()
                    {
                        last_error = Some(err.to_string());
                    }
                    if !l.trim().is_empty() {
                        line.progress(l.trim());
                        last_line = l.trim().to_string();
                    }
                }
                let status = proc.wait().await;
                let stdout = out_task.await.unwrap_or_default();
                let text = String::from_utf8_lossy(&stdout);
                let _ = writeln!(file, "{text}");
                o.json = last_json(&text);
                o.exit_code = status.ok().and_then(|s| s.code()).unwrap_or(130);
                o.ok = o.exit_code == 0;
                o.message = if o.ok { last_line } else { last_error.unwrap_or(last_line) };
                if let Some(acc) = o.json.as_ref().and_then(|j| j.get("account")).and_then(|v| v.as_str()) {
                    o.account = Some(acc.to_string());
                }
            }
        },
    }
    o.seconds = started.elapsed().as_secs_f64();
    let _ = writeln!(file, "=== exit {} after {:.1}s", o.exit_code, o.seconds);
    o
}

/// The last top-level JSON document the child printed on stdout, if it is a result: an error
/// document (`{"error", "hint", "exit"}`, what a command that failed before any result prints)
/// is no result; its message is on stderr too.
fn last_json(text: &str) -> Option<serde_json::Value> {
    let stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    stream.filter_map(|v| v.ok()).last().filter(|v| !(v.get("error").is_some() && v.get("exit").is_some()))
}

/// The child process for one attendee: this binary, the attendee's lab and credentials.
async fn child(
    g: &Global,
    ctx: &AwsContext,
    roster: &Roster,
    a: &Attendee,
    args: &[String],
) -> Result<tokio::process::Command> {
    let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    cmd.args(["--lab", a.lab.as_str(), "--output", "json", "--yes"]);
    if g.local {
        cmd.arg("--local");
    }
    if let Some(url) = &g.endpoint_url {
        cmd.args(["--endpoint-url", url]);
    }
    if let Some(region) = g.region.as_ref().or(roster.region.as_ref()) {
        cmd.args(["--region", region]);
    }
    match &a.account {
        Account::Instructor => {
            if let Some(p) = &g.profile {
                cmd.args(["--profile", p]);
            }
        }
        Account::Profile { profile } => {
            if g.local {
                return Err(Error::problem(format!(
                    "attendee {} uses profile `{profile}`, which names AWS credentials: the local stand-in takes `role_arn` accounts",
                    a.name()
                )));
            }
            cmd.args(["--profile", profile]).env_remove("AWS_ACCESS_KEY_ID").env_remove("AWS_SESSION_TOKEN");
        }
        Account::Role { role_arn, external_id } => {
            let creds = assume(ctx, &roster.class, role_arn, external_id.as_deref()).await?;
            cmd.env("AWS_ACCESS_KEY_ID", creds.0)
                .env("AWS_SECRET_ACCESS_KEY", creds.1)
                .env("AWS_SESSION_TOKEN", creds.2)
                .env_remove("AWS_PROFILE");
            if g.local {
                cmd.env(env_vars::IRLAB_LOCAL_ENV_CREDENTIALS, "1");
            }
        }
    }
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    Ok(cmd)
}

/// Assumes the attendee's role with the instructor's credentials; the session is named after
/// the class, so CloudTrail in the attendee's account says who acted.
async fn assume(
    ctx: &AwsContext,
    class: &str,
    role_arn: &str,
    external_id: Option<&str>,
) -> Result<(String, String, String)> {
    let session: String = format!("irlab-{class}").chars().take(64).collect();
    let out = ctx
        .sts()
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session)
        .set_external_id(external_id.map(String::from))
        .duration_seconds(3600)
        .send()
        .await
        .aws(|| format!("assuming {role_arn}"), ctx)?;
    let c = out.credentials().ok_or_else(|| Error::failure(format!("STS gave no credentials for {role_arn}")))?;
    Ok((c.access_key_id().to_string(), c.secret_access_key().to_string(), c.session_token().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_childs_result_is_its_last_json_document() {
        let text = "{\"a\": 1}\n{\"account\": \"111122223333\", \"left\": []}\n";
        assert_eq!(last_json(text).unwrap()["account"], "111122223333");
        assert!(last_json("plain text\n").is_none());
        assert!(last_json(r#"{"error": "AccessDenied", "hint": null, "exit": 2}"#).is_none());
    }
}
