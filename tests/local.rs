//! `irlab local start|status|stop` manage one stand-in per port, idempotently.

mod common;

use std::process::Command;

use common::{BIN, Run, Standin};

fn irlab(args: &[&str]) -> Run {
    Run::from(Command::new(BIN).args(args).output().unwrap())
}

#[test]
fn start_is_idempotent_and_stop_ends_the_process() {
    let s = Standin::start();
    let port = s.port.to_string();
    let again = irlab(&["local", "start", "--port", &port]).ok();
    assert!(again.stderr.contains("already running"), "{}", again.stderr);

    let status = irlab(&["local", "status", "--port", &port, "--output", "json"]).ok().json();
    assert_eq!(status["running"], true);
    let pid = status["pid"].as_u64().expect("irlab knows the pid it started");
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());

    irlab(&["local", "stop", "--port", &port]).ok();
    // Nothing running is a failure for a script that asks (exit 1), with the same JSON shape.
    let after = irlab(&["local", "status", "--port", &port, "--output", "json"]).code(1).json();
    assert_eq!(after["running"], false);
    assert!(after["pid"].is_null());
    let r = s.irlab(&["status"]).code(2);
    assert!(r.stderr.contains("not running"), "{}", r.stderr);
}
