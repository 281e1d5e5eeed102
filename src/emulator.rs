//! The local AWS stand-in: moto's server at a pinned version plus the lab's extensions
//! (`emulator/` in the source tree, embedded in the binary).
//!
//! irlab writes the embedded sources to its cache directory, builds a virtualenv there with pip,
//! and starts `python -m irlab_emulator` in the background. A pid file per port records the
//! process irlab started, so `stop` ends that process and nothing else.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use include_dir::{Dir, include_dir};

use crate::env_vars;
use crate::error::{Context, Error, Result};
use crate::ui::progress::{Progress, Reporter};

static SOURCES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/emulator");
const TASK: &str = "stand-in";

/// `host:port` of an `http://host:port[/]` endpoint.
pub fn socket_addr_of(endpoint: &str) -> Option<SocketAddr> {
    let rest = endpoint.strip_prefix("http://")?;
    let host_port = rest.split('/').next()?;
    host_port.to_socket_addrs().ok()?.next()
}

/// Where irlab keeps the stand-in: `IRLAB_CACHE_DIR`, else the user's cache directory.
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(env_vars::IRLAB_CACHE_DIR) {
        return Ok(PathBuf::from(dir));
    }
    dirs::cache_dir().map(|d| d.join("irlab")).ok_or_else(|| {
        Error::failure("no cache directory on this machine").with_hint(format!("set {}", env_vars::IRLAB_CACHE_DIR))
    })
}

/// A stable digest of the embedded sources, so a new irlab never runs an old stand-in.
fn sources_digest() -> String {
    // FNV-1a over paths and contents: stable across builds and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for file in embedded_files() {
        eat(file.path().to_string_lossy().as_bytes());
        eat(file.contents());
    }
    format!("{hash:016x}")
}

fn embedded_files() -> Vec<&'static include_dir::File<'static>> {
    fn walk(dir: &'static Dir<'static>, out: &mut Vec<&'static include_dir::File<'static>>) {
        for f in dir.files() {
            out.push(f);
        }
        for d in dir.dirs() {
            let name = d.path().file_name().and_then(|n| n.to_str()).unwrap_or_default();
            // The stand-in's own tests stay in the source tree; the binary needs only the package.
            if name != "__pycache__" && name != "tests" && !name.starts_with('.') && !name.ends_with(".egg-info") {
                walk(d, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&SOURCES, &mut out);
    out.retain(|f| !f.path().to_string_lossy().ends_with(".pyc"));
    out.sort_by_key(|f| f.path());
    out
}

fn requirements() -> &'static str {
    SOURCES.get_file("requirements.txt").and_then(|f| f.contents_utf8()).unwrap_or("moto[server]==5.2.5\n")
}

/// The virtualenv and sources, ready to run.
pub struct Installation {
    pub python: PathBuf,
    pub sources: PathBuf,
}

/// Writes the sources and builds the virtualenv once; later calls reuse them.
/// A lock file serialises concurrent installs (parallel tests, two terminals).
pub fn install(reporter: &dyn Reporter) -> Result<Installation> {
    let cache = cache_dir()?;
    fs::create_dir_all(&cache).context(|| format!("creating {}", cache.display()))?;
    let lock_path = cache.join("install.lock");
    let lock = File::create(&lock_path).context(|| format!("creating {}", lock_path.display()))?;
    lock.lock().context(|| format!("locking {}", lock_path.display()))?;

    let sources = cache.join("emulator").join(sources_digest());
    if !sources.join(".complete").exists() {
        for file in embedded_files() {
            let dest = sources.join(file.path());
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent).context(|| format!("creating {}", parent.display()))?;
            }
            fs::write(&dest, file.contents()).context(|| format!("writing {}", dest.display()))?;
        }
        fs::write(sources.join(".complete"), b"").context(|| "marking the stand-in sources complete".into())?;
    }

    let venv = cache.join(format!("venv-{}", digest_str(requirements())));
    let python = venv.join("bin").join("python");
    if !venv.join(".complete").exists() {
        let base = std::env::var(env_vars::IRLAB_PYTHON).unwrap_or_else(|_| "python3".into());
        reporter.report(Progress::Started {
            task: TASK.into(),
            what: format!("creating a Python virtualenv in {}", venv.display()),
        });
        if venv.exists() {
            fs::remove_dir_all(&venv).context(|| format!("removing the unfinished {}", venv.display()))?;
        }
        run(Command::new(&base).args(["-m", "venv"]).arg(&venv), "creating the stand-in's virtualenv").map_err(|e| {
            e.with_hint(format!("irlab needs Python 3.9+ with the venv module (Debian: `apt-get install python3-venv`); set {} to choose the interpreter", env_vars::IRLAB_PYTHON))
        })?;
        reporter.report(Progress::Started {
            task: TASK.into(),
            what: "installing moto and the lab's extensions with pip (about a minute)".into(),
        });
        run(
            Command::new(&python)
                .args(["-m", "pip", "install", "--disable-pip-version-check", "--quiet", "-r"])
                .arg(sources.join("requirements.txt")),
            "installing the stand-in's packages with pip",
        )
        .map_err(|e| e.with_hint("pip needs to reach PyPI (or your pip mirror); the error above is pip's"))?;
        fs::write(venv.join(".complete"), b"").context(|| "marking the virtualenv complete".into())?;
        reporter.report(Progress::Finished { task: TASK.into(), what: "stand-in installed".into() });
    }
    drop(lock);
    Ok(Installation { python, sources })
}

fn digest_str(s: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out =
        cmd.stdin(Stdio::null()).output().context(|| format!("{what}: could not start {:?}", cmd.get_program()))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
    Err(Error::failure(format!("{what} failed: {}", tail.join(" | "))))
}

/// The files that describe one running stand-in.
struct Files {
    pid: PathBuf,
    log: PathBuf,
}

fn files(port: u16) -> Result<Files> {
    let dir = cache_dir()?.join("local");
    fs::create_dir_all(&dir).context(|| format!("creating {}", dir.display()))?;
    Ok(Files { pid: dir.join(format!("{port}.pid")), log: dir.join(format!("{port}.log")) })
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    pub endpoint: String,
    pub running: bool,
    /// The process irlab started, if it is still alive.
    pub pid: Option<u32>,
    pub log: PathBuf,
}

fn endpoint(host: &str, port: u16) -> String {
    format!("http://{host}:{port}")
}

/// True when an HTTP server answers at host:port.
pub fn answers(host: &str, port: u16) -> bool {
    let Ok(mut addrs) = (host, port).to_socket_addrs() else {
        return false;
    };
    let Some(addr) = addrs.next() else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(format!("GET /moto-api/ HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/")
}

/// The wait scale of the stand-in at `endpoint` (`http://host:port`), as it reports it; `None`
/// when it does not answer or is not irlab's stand-in.
pub fn wait_scale(endpoint: &str) -> Option<f64> {
    let hostport = endpoint.strip_prefix("http://")?.trim_end_matches('/');
    let addr = hostport.to_socket_addrs().ok()?.next()?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    stream.write_all(format!("GET /moto-api/irlab/wait-scale HTTP/1.0\r\nHost: {hostport}\r\n\r\n").as_bytes()).ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let body = reply.split_once("\r\n\r\n")?.1;
    serde_json::from_str::<serde_json::Value>(body).ok()?.get("scale")?.as_f64()
}

/// The pid irlab recorded for this port, if that process still runs the stand-in.
fn live_pid(pid_file: &Path) -> Option<u32> {
    let pid: u32 = fs::read_to_string(pid_file).ok()?.trim().parse().ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok();
    match cmdline {
        Some(c) => String::from_utf8_lossy(&c).contains("irlab_emulator").then_some(pid),
        // Without /proc (macOS) fall back to "the process exists".
        None => (unsafe { libc::kill(pid as i32, 0) } == 0).then_some(pid),
    }
}

pub fn status(host: &str, port: u16) -> Result<Status> {
    let f = files(port)?;
    Ok(Status { endpoint: endpoint(host, port), running: answers(host, port), pid: live_pid(&f.pid), log: f.log })
}

/// Starts the stand-in unless it already runs; returns when it answers requests.
/// `wait_scale` compresses the playbook engines' own waits (see `emulator/README.md`).
pub fn start(host: &str, port: u16, wait_scale: f64, reporter: &dyn Reporter) -> Result<Status> {
    let f = files(port)?;
    if answers(host, port) {
        if live_pid(&f.pid).is_some() {
            reporter.report(Progress::Note(format!("the stand-in is already running at {}", endpoint(host, port))));
            return status(host, port);
        }
        return Err(Error::problem(format!("another program already answers on {}", endpoint(host, port))).with_hint(
            "stop it (LocalStack uses this port too), or choose another port with `irlab local start --port N`",
        ));
    }
    let install = install(reporter)?;
    reporter.report(Progress::Started { task: TASK.into(), what: format!("starting at {}", endpoint(host, port)) });
    let log = File::create(&f.log).context(|| format!("creating {}", f.log.display()))?;
    let mut cmd = Command::new(&install.python);
    cmd.args(["-m", "irlab_emulator", "--host", host, "--port", &port.to_string()])
        .env("PYTHONPATH", &install.sources)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env(env_vars::IRLAB_WAIT_SCALE, wait_scale.to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    #[cfg(unix)]
    {
        // Its own process group: the stand-in outlives this command and ignores the terminal's Ctrl-C.
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().context(|| format!("starting {}", install.python.display()))?;
    fs::write(&f.pid, child.id().to_string()).context(|| format!("writing {}", f.pid.display()))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if answers(host, port) {
            reporter
                .report(Progress::Finished { task: TASK.into(), what: format!("running at {}", endpoint(host, port)) });
            return status(host, port);
        }
        if let Some(exit) = child.try_wait()? {
            let _ = fs::remove_file(&f.pid);
            let text = fs::read_to_string(&f.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(3).collect::<Vec<_>>().into_iter().rev().collect();
            return Err(Error::failure(format!("the stand-in exited ({exit}) before answering: {}", tail.join(" | ")))
                .with_hint(format!("its log is {}", f.log.display())));
        }
        if Instant::now() > deadline {
            return Err(Error::failure(format!("the stand-in did not answer at {} within 60 s", endpoint(host, port)))
                .with_hint(format!("its log is {}; stop it with `irlab local stop --port {port}`", f.log.display())));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Stops the stand-in irlab started on this port, and only that process.
pub fn stop(port: u16, reporter: &dyn Reporter) -> Result<bool> {
    let f = files(port)?;
    let Some(pid) = live_pid(&f.pid) else {
        let _ = fs::remove_file(&f.pid);
        return Ok(false);
    };
    reporter.report(Progress::Started { task: TASK.into(), what: format!("stopping process {pid}") });
    let pid = pid as i32;
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && unsafe { libc::kill(pid, 0) } == 0 && live_pid(&f.pid).is_some() {
        std::thread::sleep(Duration::from_millis(100));
    }
    if live_pid(&f.pid).is_some() {
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let _ = fs::remove_file(&f.pid);
    reporter.report(Progress::Finished { task: TASK.into(), what: "stopped".into() });
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_resolve_to_socket_addresses() {
        assert_eq!(socket_addr_of("http://127.0.0.1:4566").unwrap().port(), 4566);
        assert_eq!(socket_addr_of("http://127.0.0.1:5000/").unwrap().port(), 5000);
        assert!(socket_addr_of("https://example.com").is_none());
    }

    #[test]
    fn the_embedded_sources_hold_the_package_and_its_pins() {
        let names: Vec<String> = embedded_files().iter().map(|f| f.path().to_string_lossy().into_owned()).collect();
        assert!(names.iter().any(|n| n == "irlab_emulator/__main__.py"), "{names:?}");
        assert!(requirements().contains("moto[server]==5.2.5"));
        assert!(!names.iter().any(|n| n.contains("__pycache__")));
    }
}
