"""Run Command that really runs: ``AWS-RunShellScript`` on a stand-in instance
is executed in a sandbox, and its invocations report the real output.

What AWS does (SSM API reference: SendCommand, GetCommandInvocation,
CommandInvocation, CommandPlugin; "Understanding command statuses",
https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html):
SendCommand answers at once with the command ``Pending``; the SSM Agent runs
the ``commands`` as one shell script in ``workingDirectory`` and reports each
invocation ``InProgress``, then ``Success`` (exit code 0), ``Failed`` (another
exit code) or ``TimedOut`` (StatusDetails "Execution Timed Out") when the script
outlives ``executionTimeout`` (default 3600 s). GetCommandInvocation gives the
``ResponseCode`` (-1 until it has run), the first 24,000 characters of stdout
(``StandardOutputContent``) and the first 8,000 of stderr
(``StandardErrorContent``), empty while it runs; ListCommandInvocations with
``Details`` the plugin's ``Output`` (at most 2,500 characters, botocore's
``CommandPluginOutput``).

Here each invocation runs in a thread, about 50 ms after SendCommand (the
agent's pick-up; a choice), as ``bash`` on the script inside a sandbox with no
network:

* bubblewrap (``bwrap``, Debian package ``bubblewrap``): new network, PID, IPC,
  UTS and mount namespaces; the host's ``/usr`` read-only (``/bin``, ``/sbin``,
  ``/lib*`` link into it), fresh ``/proc``, ``/dev``, ``/run``; the instance's
  own writable ``/etc``, ``/var``, ``/home``, ``/root``, ``/opt``, ``/tmp``;
* if bwrap cannot run, ``unshare`` (util-linux: user, network, mount and PID
  namespaces) and ``chroot`` into a tmpfs root with the same binds; with
  neither the invocation fails (the script is never run unsandboxed).

The instance's state lives under a directory per instance (``IRLAB_INSTANCE_STATE``,
else a temporary directory), seeded like an Amazon Linux 2023 instance
(``/etc/os-release``, ``/etc/passwd`` with ``ec2-user`` and ``ssm-user``,
``/etc/hostname``, ``/home/ec2-user/.ssh/authorized_keys``, empty
``/etc/cron.d``, ``/etc/systemd/system``), so what an attack script leaves is
there for a later collection script; it is deleted when the instance terminates
and on ``POST /moto-api/reset``.

Commands Amazon Linux 2023 has that the host lacks or that need the network are
stubs first on ``PATH`` (``irlab_emulator/instance/bin``): ``dnf``/``yum``/``rpm``
record packages in ``/var/lib/irlab/packages``; ``systemctl``/``service`` write unit
files and start or stop the unit's daemon; ``docker`` records containers in
``/var/lib/irlab/containers`` (runs end at once, status 0); ``curl``, ``wget``,
``dig``, ``nslookup`` answer nothing and exit 0; ``avml FILE`` writes a small LiME
file; each records its call in ``/var/log/irlab/effects.log``. ``sleep`` sleeps at
the scale of AWS's delays (``_clock.service_scale()``), so a script that beacons
for 20 minutes takes seconds in tests. ``executionTimeout`` runs on the
instance's clock: real time while the script works (its work cannot be made
faster), scaled time while it sleeps (wrapper.sh and bin/sleep keep that clock).

Processes: a daemon a script leaves running (``systemctl start tor``,
``nohup x &``) must still be there for a later ``ps``. Each command runs in its
own sandbox (a PID namespace that dies with it), so every process alive when
the script ends is recorded (its command line) in ``/var/lib/irlab/processes``
and started again by the next command as a real process with that command
line (``cat`` on a pipe that never ends, renamed with ``exec -a``): ``ps``, ``pgrep``, ``pkill`` and ``/proc/PID/cmdline`` see it and
can end it. Chosen over one long-lived sandbox per instance (joining its
namespaces needs ``--userns``/``--pidns`` plumbing that the ``unshare``
fallback lacks); the cost is below.

Where the output differs from Amazon Linux 2023: PID 1 is the wrapper
(``/bin/bash /run/irlab/wrapper.sh``), not systemd, and the script runs as
``bash /run/irlab/script.sh`` (AL2023: ``sh -c .../_script.sh`` under
``ssm-document-worker``); ``uname``, ``/proc/cpuinfo``,
``/proc/meminfo`` and the host's ``/usr`` tools are the host's (Debian: e.g.
``ps`` from procps-ng as on AL2023, but no ``/usr/bin/systemd``); PIDs are
small and change from one command to the next; a recorded process's
``/proc/PID/exe`` is ``/usr/bin/cat`` (its hash is cat's) and its command line
one argument with spaces; ``ss``/``netstat``
show no connections (no network namespace traffic); ``last``/``who`` and the
journal are empty; ``id`` of root is root but other users need the seeded
``/etc/passwd``.

Command documents of one's own run the same way ("Command document plugin
reference", aws:runShellScript,
https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html#aws-runShellScript;
"Parameters" of a document,
https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html):
a schema 2.2 document whose ``mainSteps`` are ``aws:runShellScript`` steps
(a schema 1.2 ``runtimeConfig`` too) runs each step's ``runCommand`` in
order, with ``{{ Name }}`` replaced by the parameter's value (its
``default`` when SendCommand does not give it; a StringList parameter that
is a whole ``runCommand`` entry becomes its lines), ``workingDirectory`` and
``timeoutSeconds`` (default 3600) substituted the same way. A document with
any other action (``aws:runPowerShellScript``, ``aws:runDocument`` ...) is
not run: its invocations keep moto's immediate Success, as before. Not
modelled: ``precondition``, ``{{ssm:...}}`` parameter references,
``allowedPattern`` checks at SendCommand, and one ``CommandPlugins`` entry per
step (the invocation has the steps' combined output). A StringList inside a
longer string is substituted as its lines (the agent writes its JSON).

Steps run in order, and a failed step does not stop the next one: the agent
skips the remaining steps only after a step with ``onFailure: exit`` (or
``successAndExit``, which reports that step Success) failed, a step with
``onSuccess: exit`` succeeded, or a step exited 168 (Success, skip the rest)
or 169 (Failed, skip the rest); a ``finallyStep: true`` that is the last step
runs in any case ("Command document plugin reference", shared inputs,
https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html;
the agent's runpluginutil). A skipped step reports Success, response code 0
and the agent's "skipped due to prior step with an exit condition" (the
agent's Skipped has no API status). GetCommandInvocation with ``PluginName``
= a step's name answers that step alone (its status, response code and
output, "If the document contains more than one step, you must specify the
name of the step", API_GetCommandInvocation); without it, the invocation has
the steps' combined output, the status of the first step that did not succeed
(Failed or TimedOut) and its response code.

``aws`` in the sandbox is the AWS CLI answered by the stand-in as the
instance role (``_instance_aws.py``): the invocation's run directory holds a
unix socket the stub reaches, as the sandbox has no network.

Stand-in control: ``POST /moto-api/irlab/ssm/instance-state`` ``{"instanceId",
"region"?, "files"?: {"/etc/cron.d/x": "text", ...}, "processes"?: ["/usr/bin/xmrig
-o pool:3333", ...]}`` (header ``x-moto-account-id`` for another account) seeds
files (only under the six writable roots) and running processes; ``GET
...?instanceId=&region=`` -> ``{"root", "processes", "files"}``; 404 for an unknown
instance, 400 for a path outside the writable roots.

An agent that does not take its commands (busy, or cut off from the
endpoint while it still counts as a managed node): an invocation stays
``Pending`` ("The command hasn't been sent to the managed node", "Understanding
command statuses") until the agent receives it. Stand-in control: ``POST
/moto-api/irlab/ssm/agent`` ``{"instanceId", "region"?, "holdSeconds": N,
"documentName"?}``: commands sent to the instance from now on (only those of
that document, when named) are picked up N real seconds late (0 restores the
default); the answer is ``{"instanceId", "holdSeconds"[, "documentName"]}``.

CancelCommand (SSM API reference,
https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CancelCommand.html):
"Attempts to cancel the command ... There is no guarantee that the command
will be terminated and the underlying process stopped." Here an invocation
not yet in a terminal state (of the given ``InstanceIds``, else all) becomes
``Cancelled`` (StatusDetails "Cancelled", a terminal state), the command too
when all its invocations are; an invocation still ``Pending`` is never run; a
script already running is left to end, its result discarded. An unknown
command id fails ``InvalidCommandId``; the answer is empty (moto 5.2.5 has
no CancelCommand).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from moto.ssm import models as ssm_models

from . import _clock

log = logging.getLogger("irlab_emulator.ssm")

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
WRITABLE = ("etc", "var", "home", "root", "opt", "tmp")
STDOUT_MAX, STDERR_MAX, PLUGIN_OUTPUT_MAX = 24000, 8000, 2500
PICK_UP_S = 0.05
PLUGIN = "aws:runShellScript"

_lock = threading.Lock()
_root: Path | None = None
_sandbox: str | None = None  # "bwrap" | "unshare" | "" (none works)
_probe_lock = threading.Lock()
_seed_lock = threading.Lock()
_generation = 0  # bumped by a reset: runs of an earlier generation do not write back
# (account, region, instance[, document]) -> seconds the agent picks up late
_held: dict[tuple[str, ...], float] = {}
# (command id, instance id) -> step name -> that step's result (GetCommandInvocation PluginName)
_plugins: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
EXIT_SUCCESS, EXIT_FAILURE = 168, 169  # the agent's "exit the document" codes
FINAL = ("Success", "Failed", "TimedOut", "Cancelled")

OS_RELEASE = """NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"
HOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"
SUPPORT_END="2029-06-30"
"""
PASSWD = """root:x:0:0:root:/root:/bin/bash
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
nobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin
ec2-user:x:1000:1000:EC2 Default User:/home/ec2-user:/bin/bash
ssm-user:x:1001:1001::/home/ssm-user:/bin/bash
"""
GROUP = """root:x:0:
bin:x:1:
daemon:x:2:
wheel:x:10:ec2-user
nobody:x:65534:
ec2-user:x:1000:
ssm-user:x:1001:
"""


def state_root() -> Path:
    global _root
    with _lock:
        if _root is None:
            configured = os.environ.get("IRLAB_INSTANCE_STATE")
            if configured:
                _root = Path(configured)
                _root.mkdir(parents=True, exist_ok=True)
            else:
                import atexit

                _root = Path(tempfile.mkdtemp(prefix="irlab-instances-"))
                atexit.register(shutil.rmtree, _root, True)  # the stand-in's memory goes at exit: so does this
        return _root


def state_dir(account: str, region: str, instance: Any) -> Path:
    """The instance's writable state, seeded on first use (once, also when
    two invocations start together)."""
    path = state_root() / account / region / instance.id
    with _seed_lock:
        _seed(path, instance)
    return path


def _seed(path: Path, instance: Any) -> None:
    if not (path / "etc" / "os-release").exists():
        for name in WRITABLE:
            (path / name).mkdir(parents=True, exist_ok=True)
        etc = path / "etc"
        hostname = getattr(instance, "private_dns_name", None) or f"{instance.id}.ec2.internal"
        files = {
            "etc/os-release": OS_RELEASE,
            "etc/system-release": "Amazon Linux release 2023 (Amazon Linux)\n",
            "etc/passwd": PASSWD,
            "etc/group": GROUP,
            "etc/hostname": hostname + "\n",
            "etc/hosts": "127.0.0.1   localhost localhost.localdomain\n::1         localhost6 localhost6.localdomain6\n",
            "etc/resolv.conf": "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch ec2.internal\n",
            "etc/machine-id": instance.id.replace("i-", "").ljust(32, "0")[:32] + "\n",
            "etc/crontab": "SHELL=/bin/bash\nPATH=/sbin:/bin:/usr/sbin:/usr/bin\nMAILTO=root\n",
            "home/ec2-user/.ssh/authorized_keys": "",
            "var/lib/irlab/processes": "",
        }
        for relative, text in files.items():
            target = path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        for directory in ("cron.d", "systemd/system", "ssh"):
            (etc / directory).mkdir(parents=True, exist_ok=True)
        for directory in ("var/log/irlab", "var/tmp", "root/.ssh"):
            (path / directory).mkdir(parents=True, exist_ok=True)
        # the host's /usr tools reach some commands through /etc/alternatives
        # (awk, nc, ...); AL2023 has the same mechanism
        alternatives = Path("/etc/alternatives")
        if alternatives.is_dir():
            (etc / "alternatives").mkdir(exist_ok=True)
            for link in alternatives.iterdir():
                if link.is_symlink() and str(os.readlink(link)).startswith("/usr/"):
                    target = etc / "alternatives" / link.name
                    if not os.path.lexists(target):
                        os.symlink(os.readlink(link), target)


def forget(account: str, region: str, instance_id: str) -> None:
    """Delete a terminated instance's state."""
    if _root is None:
        return
    shutil.rmtree(_root / account / region / instance_id, ignore_errors=True)


# --------------------------------------------------------------------------
# the sandbox


def _bwrap_argv(state: Path, run_dir: Path) -> list[str]:
    argv = [
        "bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--as-pid-1",
        "--ro-bind", "/usr", "/usr",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/run",
        "--ro-bind", str(run_dir), "/run/irlab",
    ]
    if os.geteuid() != 0:
        # the SSM Agent runs commands as root: map the stand-in's user to root
        argv += ["--unshare-user", "--uid", "0", "--gid", "0"]
    for link in ("bin", "sbin", "lib", "lib64", "lib32"):
        if Path(f"/usr/{link}").exists():
            argv += ["--symlink", f"usr/{link}", f"/{link}"]
    for name in WRITABLE:
        argv += ["--bind", str(state / name), f"/{name}"]
    return argv


def _unshare_argv(state: Path, run_dir: Path) -> list[str]:
    """The fallback: ``unshare`` (user namespace mapped to root, network, mount
    and PID namespaces), then a root of its own on a tmpfs - the host's ``/usr``
    read-only, the instance's writable directories - entered with ``chroot``."""
    new_root = run_dir / "rootfs"
    steps = [
        "set -e",
        f"r={str(new_root)!r}",
        'mkdir -p "$r" && mount -t tmpfs tmpfs "$r"',
        'mkdir -p "$r/usr" "$r/proc" "$r/dev" "$r/run/irlab"',
        'mount --rbind /usr "$r/usr" && mount -o remount,bind,ro "$r/usr"',
        'mount --rbind /dev "$r/dev"',
        'mount -t proc proc "$r/proc"',
        f'mount --bind {str(run_dir)!r} "$r/run/irlab"',
    ]
    for link in ("bin", "sbin", "lib", "lib64", "lib32"):
        if Path(f"/usr/{link}").exists():
            steps.append(f'ln -s usr/{link} "$r/{link}"')
    for name in WRITABLE:
        steps.append(f'mkdir -p "$r/{name}" && mount --bind {str(state / name)!r} "$r/{name}"')
    steps.append('exec chroot "$r" "$@"')
    return ["unshare", "--user", "--map-root-user", "--net", "--mount", "--pid", "--fork", "sh", "-c", "\n".join(steps), "sh"]


def sandbox_kind() -> str:
    """The sandbox that works here ("bwrap", "unshare", or "" for none),
    probed once (``IRLAB_SANDBOX`` forces one)."""
    global _sandbox
    with _probe_lock:
        return _probe()


def _probe() -> str:
    global _sandbox
    if _sandbox is None:
        forced = os.environ.get("IRLAB_SANDBOX")
        candidates = [forced] if forced else ["bwrap", "unshare"]
        _sandbox = ""
        probe_root = Path(tempfile.mkdtemp(prefix="irlab-sandbox-probe-"))
        try:
            for name in WRITABLE:
                (probe_root / name).mkdir()
            for kind in candidates:
                argv = (_bwrap_argv if kind == "bwrap" else _unshare_argv)(probe_root, probe_root / "tmp")
                try:
                    done = subprocess.run(argv + ["/usr/bin/true"], capture_output=True, timeout=10)
                except (OSError, subprocess.SubprocessError):
                    continue
                if done.returncode == 0:
                    _sandbox = kind
                    break
                log.warning("sandbox %s cannot run here: %s", kind, done.stderr.decode(errors="replace").strip())
        finally:
            shutil.rmtree(probe_root, ignore_errors=True)
        if not _sandbox:
            log.error("no sandbox (bwrap, unshare) works here: Run Command invocations will fail")
    return _sandbox


def run_script(
    state: Path,
    commands: list[str],
    working_directory: str,
    timeout_s: float,
    instance: tuple[str, str, str] | None = None,
) -> tuple[int | None, str, str]:
    """(exit code - None when timed out -, stdout, stderr) of the commands run
    as one bash script in the instance's sandbox; with ``instance`` (account,
    region, instance id) the sandbox's ``aws`` acts as that instance's role."""
    kind = sandbox_kind()
    if not kind:
        return 1, "", "irlab stand-in: no sandbox (bubblewrap or unshare) can run on this host; the script was not run\n"
    run_dir = Path(tempfile.mkdtemp(prefix="irlab-run-"))
    os.chmod(run_dir, 0o755)
    bridge = None
    try:
        if instance is not None:
            from ._instance_aws import Bridge

            bridge = Bridge(run_dir, *instance)
        (run_dir / "script.sh").write_text("\n".join(commands) + "\n")
        shutil.copy(INSTANCE_DIR / "wrapper.sh", run_dir / "wrapper.sh")
        shutil.copytree(INSTANCE_DIR / "bin", run_dir / "bin")
        # irlab writes the stand-in's sources out of its binary without their modes: the
        # instance's tools are made executable here, as an AMI ships them.
        for tool in (run_dir / "bin").iterdir():
            tool.chmod(0o755)
        env = {
            "PATH": "/run/irlab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root",
            "USER": "root",
            "LANG": "C.UTF-8",
            "SHELL": "/bin/bash",
            "IRLAB_TIME_SCALE": repr(_clock.service_scale()),
            "IRLAB_WORKDIR": working_directory or "/root",
            # executionTimeout, on the instance's clock (see the wrapper)
            "IRLAB_TIMEOUT": f"{timeout_s:.3f}",
        }
        argv = (_bwrap_argv if kind == "bwrap" else _unshare_argv)(state, run_dir) + ["/bin/bash", "/run/irlab/wrapper.sh"]
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
        )
        started = time.monotonic()
        try:
            # the wrapper kills the script when the instance's clock reaches timeout_s, which is
            # never later than timeout_s real seconds (it runs at least as fast): a safety net
            out, err = process.communicate(timeout=timeout_s + 10)
            code: int | None = process.returncode
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            out, err = process.communicate()
            code = None
        if code == 137 and time.monotonic() - started >= timeout_s * min(_clock.service_scale(), 1.0) - 0.05:
            code = None  # killed by the wrapper's timeout (the instance's clock, at most 1/scale fast)
        return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    finally:
        if bridge is not None:
            bridge.close()
        shutil.rmtree(run_dir, ignore_errors=True)


# --------------------------------------------------------------------------
# Run Command


def _iso(value: datetime.datetime) -> str:
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _elapsed(seconds: float) -> str:
    return f"PT{seconds:.3f}S"


def _update_command(command: Any) -> None:
    invocations = command.invocations
    done = [i for i in invocations if i["Status"] in FINAL]
    errors = [i for i in done if i["Status"] not in ("Success", "Cancelled")]
    command.completed_count = len(done)
    command.error_count = len(errors)
    if len(done) < len(invocations):
        command.status, command.status_details = "InProgress", "In Progress"
    elif any(i["Status"] == "Cancelled" for i in done):
        command.status, command.status_details = "Cancelled", "Cancelled"
    elif any(i["Status"] == "Failed" for i in errors):
        command.status, command.status_details = "Failed", "Failed"
    elif errors:
        command.status, command.status_details = "TimedOut", "Execution Timed Out"
    else:
        command.status, command.status_details = "Success", "Success"


_PARAMETER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")


def _document_content(command: Any) -> dict[str, Any] | None:
    from moto.ssm.models import ssm_backends

    backend = ssm_backends[command.account_id][command.backend_region]
    documents = backend._documents.get(str(command.document_name or ""))
    if documents is None:
        return None
    version = str(getattr(command, "document_version", "") or "$DEFAULT")
    document = None
    if version not in ("$DEFAULT", "$LATEST"):
        document = documents.versions.get(version) if hasattr(documents, "versions") else None
    if document is None:
        document = documents.get_latest_version() if version == "$LATEST" else documents.get_default_version()
    content = getattr(document, "content_json", None)
    return content if isinstance(content, dict) else None


def _values(content: dict[str, Any], given: dict[str, Any]) -> dict[str, list[str]]:
    """Every parameter's value as a list of strings: given, else its default."""
    values: dict[str, list[str]] = {}
    for name, spec in (content.get("parameters") or {}).items():
        if name in (given or {}):
            value = given[name]
        else:
            value = (spec or {}).get("default", "") if isinstance(spec, dict) else ""
        values[name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return values


def _substitute(text: str, values: dict[str, list[str]]) -> str:
    return _PARAMETER.sub(lambda m: "\n".join(values[m.group(1)]) if m.group(1) in values else m.group(0), text)


def _lines(run_command: Any, values: dict[str, list[str]]) -> list[str]:
    entries = run_command if isinstance(run_command, list) else [run_command]
    lines: list[str] = []
    for entry in entries:
        whole = _PARAMETER.fullmatch(str(entry).strip())
        if whole and whole.group(1) in values:
            lines.extend(values[whole.group(1)])
        else:
            lines.append(_substitute(str(entry), values))
    return lines


def shell_steps(command: Any) -> list[tuple[list[str], str, float]] | None:
    """(commands, working directory, timeout in seconds) of each
    aws:runShellScript step of the command's document, parameters
    substituted; None when the document has other actions (not run)."""
    content = _document_content(command)
    if content is None:
        return None
    values = _values(content, command.parameters or {})
    raw: list[dict[str, Any]] = []
    if str(content.get("schemaVersion")) == "1.2":
        for plugin, spec in (content.get("runtimeConfig") or {}).items():
            if plugin != PLUGIN:
                return None
            raw.extend((spec or {}).get("properties") or [])
    else:
        for step in content.get("mainSteps") or []:
            if step.get("action") != PLUGIN:
                return None
            raw.append(step.get("inputs") or {})
    if not raw:
        return None
    steps = []
    for inputs in raw:
        try:
            timeout = float(_substitute(str(inputs.get("timeoutSeconds") or "3600"), values) or 3600)
        except ValueError:
            timeout = 3600.0
        workdir = _substitute(str(inputs.get("workingDirectory") or ""), values)
        steps.append((_lines(inputs.get("runCommand") or [], values), workdir, timeout))
    return steps


def step_controls(command: Any) -> list[dict[str, Any]]:
    """Each step's name and control inputs (onFailure, onSuccess,
    finallyStep) of the command's document, in order."""
    content = _document_content(command) or {}
    controls = []
    for index, step in enumerate(content.get("mainSteps") or []):
        inputs = step.get("inputs") or {}
        controls.append(
            {
                "name": str(step.get("name") or f"step{index}"),
                "onFailure": str(inputs.get("onFailure") or ""),
                "onSuccess": str(inputs.get("onSuccess") or ""),
                "finallyStep": str(inputs.get("finallyStep")).lower() == "true",
            }
        )
    return controls


def _invoke(command: Any, invocation: dict[str, Any], generation: int, steps: list[tuple[list[str], str, float]]) -> None:
    from moto.ec2.models import ec2_backends

    account, region = command.account_id, command.backend_region
    held = _held.get((account, region, invocation["InstanceId"], getattr(command, "document_name", "")))
    if held is None:
        held = _held.get((account, region, invocation["InstanceId"]), 0.0)
    picked_up = time.monotonic() + PICK_UP_S + held
    while time.monotonic() < picked_up:
        if generation != _generation or invocation["Status"] == "Cancelled":
            return
        time.sleep(min(0.05, max(0.0, picked_up - time.monotonic())))
    if generation != _generation or invocation["Status"] == "Cancelled":
        return
    instance = next((i for i in ec2_backends[account][region].all_instances() if i.id == invocation["InstanceId"]), None)
    started = datetime.datetime.now(datetime.timezone.utc)
    with _lock:
        if invocation["Status"] == "Cancelled":
            return
        invocation.update({"Status": "InProgress", "StatusDetails": "In Progress", "ExecutionStartDateTime": _iso(started)})
        _update_command(command)
    controls = step_controls(command)
    key = (command.command_id, invocation["InstanceId"])
    named = len(controls) == len(steps)
    if instance is None:
        code, out, err = 1, "", f"the instance {invocation['InstanceId']} no longer exists\n"
        status, details, response_code = "Failed", "Failed", 1
    else:
        state = state_dir(account, region, instance)
        out, err = "", ""
        first_bad: tuple[str, str, int] | None = None
        skip = False
        for index, (commands, workdir, step_timeout) in enumerate(steps):
            control = controls[index] if named else {"name": "", "onFailure": "", "onSuccess": "", "finallyStep": False}
            last = index == len(steps) - 1
            step_started = datetime.datetime.now(datetime.timezone.utc)
            if skip and not (control["finallyStep"] and last):
                note = f"Plugin with name {PLUGIN} and id {control['name']} skipped due to prior step with an exit condition"
                result = ("Success", "Success", 0, note, "")
            else:
                if named:
                    with _lock:
                        _plugins.setdefault(key, {})[control["name"]] = _step_result(
                            control["name"], "InProgress", "In Progress", -1, "", "", step_started, None
                        )
                code, step_out, step_err = run_script(state, commands, workdir, step_timeout, (account, region, instance.id))
                if code is None:
                    step_err = (step_err + f"\nfailed to run commands: the execution timed out ({step_timeout:g} s)\n").lstrip("\n")
                    result = ("TimedOut", "Execution Timed Out", -1, step_out, step_err)
                elif code == EXIT_SUCCESS:
                    note = "\nStep exited with code 168. Therefore, marking step as succeeded. Further document steps will be skipped."
                    result, skip = ("Success", "Success", code, step_out + note, ""), True
                elif code == EXIT_FAILURE:
                    note = "\nStep exited with code 169. Therefore, marking step as Failed. Further document steps will be skipped."
                    result, skip = ("Failed", "Failed", code, step_out + note, step_err + note), True
                elif code != 0 and control["onFailure"] in ("exit", "successAndExit"):
                    note = "\nStep was found to have onFailure property. Further document steps will be skipped."
                    skip = True
                    if control["onFailure"] == "successAndExit":
                        result = ("Success", "Success", EXIT_SUCCESS, step_out + note, step_err + note)
                    else:
                        result = ("Failed", "Failed", code, step_out + note, step_err + note)
                elif code != 0:
                    result = ("Failed", "Failed", code, step_out, step_err)
                else:
                    result, skip = ("Success", "Success", 0, step_out, step_err), skip or control["onSuccess"] == "exit"
            step_status, step_details, step_code, step_out, step_err = result
            out, err = out + step_out, err + step_err
            if step_status != "Success" and first_bad is None:
                first_bad = (step_status, step_details, step_code)
            if named:
                with _lock:
                    _plugins.setdefault(key, {})[control["name"]] = _step_result(
                        control["name"], step_status, step_details, step_code, step_out, step_err, step_started,
                        datetime.datetime.now(datetime.timezone.utc),
                    )
        status, details, response_code = first_bad or ("Success", "Success", 0)
    if generation != _generation or invocation["Status"] == "Cancelled":
        return
    ended = datetime.datetime.now(datetime.timezone.utc)
    with _lock:
        if invocation["Status"] == "Cancelled":
            return
        invocation.update(
            {
                "Status": status,
                "StatusDetails": details,
                "ResponseCode": response_code,
                "ExecutionEndDateTime": _iso(ended),
                "ExecutionElapsedTime": _elapsed((ended - started).total_seconds()),
                "StandardOutputContent": out[:STDOUT_MAX],
                "StandardErrorContent": err[:STDERR_MAX],
            }
        )
        _update_command(command)
    log.info("Run Command %s on %s: %s (%s)", command.command_id, invocation["InstanceId"], status, response_code)




def _step_result(
    name: str, status: str, details: str, code: int, out: str, err: str,
    started: datetime.datetime, ended: datetime.datetime | None,
) -> dict[str, Any]:
    return {
        "PluginName": name,
        "Status": status,
        "StatusDetails": details,
        "ResponseCode": code,
        "ExecutionStartDateTime": _iso(started),
        "ExecutionEndDateTime": _iso(ended) if ended else "",
        "ExecutionElapsedTime": _elapsed((ended - started).total_seconds()) if ended else "",
        "StandardOutputContent": out[:STDOUT_MAX],
        "StandardErrorContent": err[:STDERR_MAX],
    }


def _wrap_get_invocation() -> None:
    """GetCommandInvocation with PluginName = one step's name: that step's result."""
    original = ssm_models.Command.get_invocation
    if getattr(original, "_irlab_runs", False):
        return

    def get_invocation(self: Any, instance_id: str, plugin_name: str | None) -> Any:
        if plugin_name is not None:
            with _lock:
                step = (_plugins.get((self.command_id, instance_id)) or {}).get(plugin_name)
            if step is None and plugin_name in {c["name"] for c in step_controls(self)}:
                step = {"PluginName": plugin_name, "Status": "Pending", "StatusDetails": "Pending", "ResponseCode": -1,
                        "ExecutionStartDateTime": "", "ExecutionEndDateTime": "", "ExecutionElapsedTime": "",
                        "StandardOutputContent": "", "StandardErrorContent": ""}
            if step is not None:
                invocation = dict(original(self, instance_id, None))
                invocation.update(step)
                return invocation
        return original(self, instance_id, plugin_name)

    get_invocation._irlab_runs = True  # type: ignore[attr-defined]
    ssm_models.Command.get_invocation = get_invocation  # type: ignore[method-assign]


def _wrap_command_init() -> None:
    original = ssm_models.Command.__init__
    if getattr(original, "_irlab_runs", False):
        return

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        steps = shell_steps(self)
        if steps is None:
            return
        for invocation in self.invocations:
            invocation.update(
                {
                    "Status": "Pending",
                    "StatusDetails": "Pending",
                    "ResponseCode": -1,
                    "ExecutionStartDateTime": "",
                    "ExecutionElapsedTime": "",
                    "ExecutionEndDateTime": "",
                    "StandardOutputContent": "",
                    "StandardErrorContent": "",
                }
            )
        self.status = self.status_details = "Pending"
        self.completed_count = self.error_count = 0
        generation = _generation
        for invocation in self.invocations:
            threading.Thread(target=_invoke, args=(self, invocation, generation, steps), daemon=True, name="irlab-run-command").start()

    __init__._irlab_runs = True  # type: ignore[attr-defined]
    ssm_models.Command.__init__ = __init__  # type: ignore[method-assign]


def _wrap_plugin_output() -> None:
    """ListCommandInvocations' CommandPlugins Output: at most 2,500 characters."""
    from moto.ssm import responses as ssm_responses

    original = ssm_responses.SimpleSystemManagerResponse.list_command_invocations
    if getattr(original, "_irlab_runs", False):
        return

    def list_command_invocations(self: Any) -> Any:
        result = original(self)
        for item in (getattr(result, "result", None) or {}).get("CommandInvocations", []):
            for plugin in item.get("CommandPlugins") or []:
                plugin["Output"] = (plugin.get("Output") or "")[:PLUGIN_OUTPUT_MAX]
        return result

    list_command_invocations._irlab_runs = True  # type: ignore[attr-defined]
    ssm_responses.SimpleSystemManagerResponse.list_command_invocations = list_command_invocations  # type: ignore[method-assign]


# --------------------------------------------------------------------------
# instance lifecycle and the control


def _wrap_terminate() -> None:
    from moto.ec2.models.instances import Instance

    original = Instance.terminate
    if getattr(original, "_irlab_runs", False):
        return

    def terminate(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        forget(self.ec2_backend.account_id, self.ec2_backend.region_name, self.id)
        return result

    terminate._irlab_runs = True  # type: ignore[attr-defined]
    Instance.terminate = terminate  # type: ignore[method-assign]


def _instance(account: str, region: str, instance_id: str) -> Any | None:
    from moto.ec2.models import ec2_backends

    return next((i for i in ec2_backends[account][region].all_instances() if i.id == instance_id), None)


def _inside(state: Path, path: str) -> Path | None:
    parts = Path(path).parts
    if len(parts) < 3 or parts[0] != "/" or parts[1] not in WRITABLE or ".." in parts:
        return None
    return state.joinpath(*parts[1:])


def _state_response(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    from moto.core import DEFAULT_ACCOUNT_ID

    json_headers = {"Content-Type": "application/json"}
    account = headers.get("x-moto-account-id") or DEFAULT_ACCOUNT_ID
    if request.method == "POST":
        try:
            length = int(headers.get("Content-Length") or 0)
            body = json.loads(request.environ["wsgi.input"].read(length) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
        except (TypeError, ValueError) as exc:
            return 400, json_headers, json.dumps({"message": f"malformed JSON body: {exc}"})
    else:
        body = {k: v[0] for k, v in parse_qs(urlparse(full_url).query).items()}
    region = str(body.get("region") or "us-east-1")
    instance = _instance(account, region, str(body.get("instanceId") or ""))
    if instance is None:
        return 404, json_headers, json.dumps({"message": f"no instance {body.get('instanceId')!r} in {account} {region}"})
    state = state_dir(account, region, instance)
    processes_file = state / "var/lib/irlab/processes"
    if request.method == "POST":
        files = body.get("files") or {}
        processes = body.get("processes") or []
        if not isinstance(files, dict) or not isinstance(processes, list):
            return 400, json_headers, json.dumps({"message": '"files" must be an object, "processes" a list'})
        for path, text in files.items():
            target = _inside(state, str(path))
            if target is None:
                return 400, json_headers, json.dumps({"message": f"{path} is not under {', '.join('/' + n for n in WRITABLE)}"})
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(str(text))
        with processes_file.open("a") as f:
            for args in processes:
                f.write(str(args).replace("\n", " ") + "\n")
    listed = [
        "/" + str(p.relative_to(state))
        for name in WRITABLE
        for p in sorted((state / name).rglob("*"))
        if p.is_file()
    ]
    running = [line for line in processes_file.read_text().splitlines() if line.strip()] if processes_file.exists() else []
    return 200, json_headers, json.dumps({"root": str(state), "processes": running, "files": listed})


def _agent_response(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
    from moto.core import DEFAULT_ACCOUNT_ID

    json_headers = {"Content-Type": "application/json"}
    account = headers.get("x-moto-account-id") or DEFAULT_ACCOUNT_ID
    try:
        length = int(headers.get("Content-Length") or 0)
        body = json.loads(request.environ["wsgi.input"].read(length) or b"{}")
        hold = float(body.get("holdSeconds", 0))
        if hold < 0:
            raise ValueError("holdSeconds must not be negative")
    except (TypeError, ValueError, AttributeError) as exc:
        return 400, json_headers, json.dumps({"message": f"malformed body: {exc}"})
    region = str(body.get("region") or "us-east-1")
    instance_id = str(body.get("instanceId") or "")
    if _instance(account, region, instance_id) is None:
        return 404, json_headers, json.dumps({"message": f"no instance {instance_id!r} in {account} {region}"})
    document = str(body.get("documentName") or "")
    key: tuple[str, ...] = (account, region, instance_id, document) if document else (account, region, instance_id)
    if hold:
        _held[key] = hold
    else:
        _held.pop(key, None)
    answer: dict[str, Any] = {"instanceId": instance_id, "holdSeconds": hold}
    if document:
        answer["documentName"] = document
    return 200, json_headers, json.dumps(answer)


def _add_cancel_command() -> None:
    from moto.ssm import responses as ssm_responses
    from moto.ssm.models import ssm_backends

    responses = ssm_responses.SimpleSystemManagerResponse
    if getattr(getattr(responses, "cancel_command", None), "_irlab_runs", False):
        return

    def cancel_command(self: Any) -> Any:
        backend = ssm_backends[self.current_account][self.region]
        command = backend.get_command_by_id(self._get_param("CommandId"))  # InvalidCommandId
        wanted = set(self._get_param("InstanceIds") or [])
        with _lock:
            for invocation in command.invocations:
                if wanted and invocation["InstanceId"] not in wanted:
                    continue
                if invocation["Status"] not in FINAL:
                    invocation.update({"Status": "Cancelled", "StatusDetails": "Cancelled", "ResponseCode": -1})
            _update_command(command)
        return "{}"

    cancel_command._irlab_runs = True  # type: ignore[attr-defined]
    responses.cancel_command = cancel_command  # type: ignore[attr-defined]


def apply() -> None:
    from moto.moto_api._internal import urls as moto_api_urls
    from moto.moto_api._internal.models import MotoAPIBackend

    # probe the sandbox now, so the first command does not wait for it
    threading.Thread(target=sandbox_kind, daemon=True, name="irlab-sandbox-probe").start()
    _wrap_command_init()
    _wrap_plugin_output()
    _wrap_get_invocation()
    _wrap_terminate()
    _add_cancel_command()
    moto_api_urls.url_paths["{0}/moto-api/irlab/ssm/instance-state"] = _state_response
    moto_api_urls.url_paths["{0}/moto-api/irlab/ssm/agent"] = _agent_response
    if getattr(MotoAPIBackend.reset, "_irlab_instances", False):
        return
    original_reset = MotoAPIBackend.reset

    def reset(self: Any) -> None:
        global _generation
        with _lock:
            _generation += 1
            _held.clear()
            _plugins.clear()
            if _root is not None:
                for child in list(_root.iterdir()):
                    shutil.rmtree(child, ignore_errors=True)
        original_reset(self)

    reset._irlab_instances = True  # type: ignore[attr-defined]
    MotoAPIBackend.reset = reset  # type: ignore[method-assign]
