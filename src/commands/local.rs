//! `irlab local start|stop|status`: the local AWS stand-in.

use crate::cli::{LocalArgs, LocalCommand, StartArgs};
use crate::emulator;
use crate::error::{Error, Result};
use crate::ui::printer::Printer;

pub fn run(cmd: &LocalCommand, p: &Printer) -> Result<()> {
    match cmd {
        LocalCommand::Start(StartArgs { at: a, wait_scale }) => {
            if !(*wait_scale >= 0.0 && wait_scale.is_finite()) {
                return Err(Error::problem(format!("--wait-scale {wait_scale} must be a number of at least 0")));
            }
            let s = emulator::start(&a.host, a.port, *wait_scale, p)?;
            p.out(format!("stand-in running at {} (log: {})", s.endpoint, s.log.display()));
            p.out(format!("use it with: irlab --local{} up", endpoint_flag(a)));
            p.json(&serde_json::to_value(&s).expect("status serializes"));
        }
        LocalCommand::Stop(a) => {
            let stopped = emulator::stop(a.port, p)?;
            if stopped {
                p.out(format!("stand-in on port {} stopped", a.port));
            } else {
                p.out(format!("no stand-in started by irlab runs on port {}", a.port));
            }
            p.json(&serde_json::json!({"port": a.port, "stopped": stopped}));
        }
        LocalCommand::Status(a) => {
            let s = emulator::status(&a.host, a.port)?;
            match (s.running, s.pid) {
                (true, Some(pid)) => p.out(format!("stand-in running at {} (pid {pid})", s.endpoint)),
                (true, None) => p.out(format!("something answers at {}, but irlab did not start it", s.endpoint)),
                (false, _) => {}
            }
            p.json(&serde_json::to_value(&s).expect("status serializes"));
            if !s.running {
                return Err(Error::problem(format!("no stand-in at {}", s.endpoint))
                    .with_hint("start it with `irlab local start`"));
            }
        }
    }
    Ok(())
}

fn endpoint_flag(a: &LocalArgs) -> String {
    if a.port == 4566 && a.host == "127.0.0.1" {
        String::new()
    } else {
        format!(" --endpoint-url http://{}:{}", a.host, a.port)
    }
}
