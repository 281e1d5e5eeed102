"""Run Command that really runs (patches/ssm_instance.py): AWS-RunShellScript
executed in a sandbox with no network, real output, statuses, timeouts, and an
instance state that lasts from one command to the next."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT
from test_ssm import SSM_CORE, _profile, _run, managed
from test_ssm_run_command import finished

INSTANCE_DIR = Path(__file__).resolve().parents[1] / "irlab_emulator" / "instance"
SCENARIOS = sorted((REPO_ROOT / "scenarios").glob("*.yaml"))


def _node(aws: Any) -> tuple[Any, Any, str]:
    ec2, iam, ssm = aws("ec2"), aws("iam"), aws("ssm")
    instance = _run(ec2, _profile(iam, [SSM_CORE]))
    managed(ssm, instance)
    return ec2, ssm, instance


def _send(ssm: Any, instance: str, commands: list[str], **parameters: str) -> dict[str, Any]:
    params: dict[str, list[str]] = {"commands": commands}
    params.update({k: [v] for k, v in parameters.items()})
    command = ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=[instance], Parameters=params)["Command"]
    return command


def _run_commands(ssm: Any, instance: str, commands: list[str], **parameters: str) -> dict[str, Any]:
    command = _send(ssm, instance, commands, **parameters)
    return finished(ssm, command["CommandId"], instance)


def _service_scale(emulator: Any, scale: float) -> None:
    """AWS's delays - and the instance's time - at ``scale`` for this test
    (the next reset restores the default)."""
    request = urllib.request.Request(
        f"{emulator.endpoint}/moto-api/irlab/wait-scale", data=json.dumps({"serviceScale": scale}).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def _state(emulator: Any, method: str = "GET", instance: str = "", body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    url = f"{emulator.endpoint}/moto-api/irlab/ssm/instance-state"
    if method == "GET":
        url += f"?instanceId={instance}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_commands_run_and_report_their_real_output(aws):
    """SendCommand answers at once with the command Pending; the agent runs the
    commands as one shell script and the invocation ends Success (exit 0) or
    Failed (another exit code, its ResponseCode), with the script's stdout in
    StandardOutputContent (first 24,000 characters) and stderr in
    StandardErrorContent (first 8,000); ListCommandInvocations' plugin Output
    has at most 2,500 characters; ListCommands shows the command's final status
    and counts.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CommandPlugin.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html
    """
    _, ssm, instance = _node(aws)
    sent = _send(ssm, instance, ["echo hello from $(cat /etc/hostname | cut -c1-3)", "echo oops >&2", "exit 3"])
    assert sent["Status"] == "Pending"
    pending = ssm.get_command_invocation(CommandId=sent["CommandId"], InstanceId=instance)
    assert pending["ResponseCode"] == -1 and pending["StandardOutputContent"] == ""
    failed = finished(ssm, sent["CommandId"], instance)
    assert failed["Status"] == "Failed" and failed["StatusDetails"] == "Failed" and failed["ResponseCode"] == 3
    assert failed["StandardOutputContent"] == "hello from ip-\n" and failed["StandardErrorContent"] == "oops\n"
    listed = ssm.list_commands(CommandId=sent["CommandId"])["Commands"][0]
    assert listed["Status"] == "Failed" and listed["ErrorCount"] == 1 and listed["CompletedCount"] == 1

    big = _run_commands(ssm, instance, ["head -c 30000 /dev/zero | tr '\\0' a", "head -c 9000 /dev/zero | tr '\\0' b >&2"])
    assert big["Status"] == "Success" and big["ResponseCode"] == 0
    assert big["StandardOutputContent"] == "a" * 24000 and big["StandardErrorContent"] == "b" * 8000
    plugins = ssm.list_command_invocations(CommandId=big["CommandId"], Details=True)["CommandInvocations"][0]["CommandPlugins"]
    assert plugins[0]["Output"] == "a" * 2500

    os_release = _run_commands(ssm, instance, ["grep PRETTY_NAME /etc/os-release", "id -un", "pwd"], workingDirectory="/tmp")
    assert os_release["StandardOutputContent"] == 'PRETTY_NAME="Amazon Linux 2023"\nroot\n/tmp\n'


def test_the_execution_timeout_ends_the_script(aws, emulator):
    """executionTimeout (seconds, default 3600) bounds the script's run: past
    it the invocation is TimedOut with StatusDetails "Execution Timed Out", and
    the command is TimedOut. (The stand-in runs the instance's sleeps at the scale
    of AWS's delays, and the timeout counts each sleep at its requested length.)
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html
    """
    _, ssm, instance = _node(aws)
    _service_scale(emulator, 0.02)  # 60 s of the instance's time: 1.2 s
    invocation = _run_commands(ssm, instance, ["echo started", "sleep 600", "echo never"], executionTimeout="60")
    assert invocation["Status"] == "TimedOut" and invocation["StatusDetails"] == "Execution Timed Out"
    assert invocation["StandardOutputContent"] == "started\n"
    assert ssm.list_commands(CommandId=invocation["CommandId"])["Commands"][0]["Status"] == "TimedOut"
    quick = _run_commands(ssm, instance, ["sleep 5", "echo done"], executionTimeout="60")
    assert quick["Status"] == "Success" and quick["StandardOutputContent"] == "done\n"


def test_the_execution_timeout_gives_real_work_its_real_seconds(aws, emulator):
    """A script's own work takes the instance real time; only its sleeps pass
    at the stand-in's scale. So a script that works 1.5 s within an
    executionTimeout of 5 s succeeds even when the scale makes 5 s of sleep
    last 0.1 s, and one that works 1.5 s and then sleeps 10 s (of its clock)
    is TimedOut after its 5 s: the instance's clock counts the work in real
    seconds and the sleep at its requested length.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html#aws-runShellScript
    """
    _, ssm, instance = _node(aws)
    _service_scale(emulator, 0.02)
    work = "python3 -c 'import time; end = time.time() + 1.5\nwhile time.time() < end: pass'"
    worked = _run_commands(ssm, instance, [work, "echo worked"], executionTimeout="5")
    assert worked["Status"] == "Success" and worked["StandardOutputContent"] == "worked\n", worked
    overdue = _run_commands(ssm, instance, [work, "echo worked", "sleep 10", "echo never"], executionTimeout="5")
    assert overdue["Status"] == "TimedOut" and overdue["StandardOutputContent"] == "worked\n", overdue


def test_what_a_script_leaves_is_there_for_the_next_one(aws, emulator):
    """A command runs on the instance itself: files it writes and daemons it
    starts (systemctl start) are there when a later command looks (ps, the unit
    file, cron); the stand-in's sandbox has no network. The instance's state
    goes when the instance terminates.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/run-command.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html#aws-runShellScript
    """
    ec2, ssm, instance = _node(aws)
    attack = _run_commands(
        ssm,
        instance,
        [
            "echo '* * * * * root /tmp/.x/miner' > /etc/cron.d/0hourly-update",
            "mkdir -p /tmp/.x && echo payload > /tmp/.x/miner",
            "echo 'ssh-ed25519 AAAA attacker' >> /home/ec2-user/.ssh/authorized_keys",
            "dnf install -y -q tor && systemctl enable tor && systemctl start tor",
            "(exec -a kworker/u8:miner /usr/bin/cat < /dev/zero > /dev/null) &",
        ],
    )
    assert attack["Status"] == "Success", attack
    collect = _run_commands(
        ssm,
        instance,
        [
            "ps -eo args | grep -E '^(/usr/bin/tor|kworker)' | cut -d' ' -f1",
            "cat /etc/cron.d/0hourly-update",
            "ls /etc/systemd/system/multi-user.target.wants",
            "rpm -q tor",
            "tail -n 1 /home/ec2-user/.ssh/authorized_keys",
            "bash -c 'exec 3<>/dev/tcp/198.51.100.1/80' 2>/dev/null && echo online || echo offline",
        ],
    )
    assert collect["StandardOutputContent"] == (
        "/usr/bin/tor\nkworker/u8:miner\n* * * * * root /tmp/.x/miner\ntor.service\ntor\nssh-ed25519 AAAA attacker\noffline\n"
    ), collect
    stopped = _run_commands(ssm, instance, ["systemctl stop tor", "pkill -f kworker", "systemctl is-active tor || true"])
    assert stopped["StandardOutputContent"] == "inactive\n"
    after = _run_commands(ssm, instance, ["ps -eo args | grep -cE '^(/usr/bin/tor|kworker)' || true"])
    assert after["StandardOutputContent"] == "0\n"

    status, state = _state(emulator, instance=instance)
    assert status == 200 and "/etc/cron.d/0hourly-update" in state["files"]
    root = Path(state["root"])
    assert root.is_dir()
    ec2.terminate_instances(InstanceIds=[instance])
    assert not root.exists()


def test_tests_can_seed_an_instance(aws, emulator):
    """Stand-in control (AWS has no such call): POST
    /moto-api/irlab/ssm/instance-state seeds files under the instance's writable
    directories and running processes; a Run Command then finds them as it would
    on the instance (ps, pgrep, cat). Paths elsewhere are refused (400), an
    unknown instance is 404.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/run-command.html
    """
    _, ssm, instance = _node(aws)
    status, body = _state(
        emulator,
        "POST",
        body={
            "instanceId": instance,
            "files": {"/etc/cron.d/miner": "*/5 * * * * root /opt/xmrig/xmrig\n", "/opt/xmrig/config.json": "{}"},
            "processes": ["/opt/xmrig/xmrig -o pool.example:3333 --donate-level 1"],
        },
    )
    assert status == 200, body
    assert body["processes"] == ["/opt/xmrig/xmrig -o pool.example:3333 --donate-level 1"]
    seen = _run_commands(ssm, instance, ["pgrep -af xmrig | cut -d' ' -f2-", "cat /etc/cron.d/miner", "ls /opt/xmrig"])
    assert seen["StandardOutputContent"] == "/opt/xmrig/xmrig -o pool.example:3333 --donate-level 1\n*/5 * * * * root /opt/xmrig/xmrig\nconfig.json\n"
    assert _state(emulator, "POST", body={"instanceId": instance, "files": {"/usr/bin/x": "no"}})[0] == 400
    assert _state(emulator, "POST", body={"instanceId": "i-0123456789abcdef0"})[0] == 404


def test_each_invocation_reports_its_run_time_as_iso_8601(aws):
    """GetCommandInvocation's ExecutionElapsedTime is the run's duration as an ISO 8601 duration
    (``PT0.101S``), and short scripts succeed each time they are sent. (How fast the sandbox is,
    measured at 0.1-0.2 s a command on 2 cores, is a benchmark's business, not a test's.)
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
    """
    _, ssm, instance = _node(aws)
    for _ in range(3):
        invocation = _run_commands(ssm, instance, ["ps -eo pid,args >/dev/null", "ls -la /etc >/dev/null", "uptime"])
        assert invocation["Status"] == "Success"
        text = invocation["ExecutionElapsedTime"]
        assert text.startswith("PT") and text.endswith("S"), text
        assert float(text[2:-1]) >= 0.0


def _scenario_script(path: Path) -> str:
    data = yaml.safe_load(path.read_text())
    return "#!/bin/bash\n" + "\n".join(data["traffic"]["commands"]) + "\n"


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
@pytest.mark.parametrize("path", SCENARIOS + sorted(INSTANCE_DIR.rglob("*")), ids=lambda p: p.name)
def test_scripts_pass_shellcheck(path: Path):
    """Every shell script that runs on an instance passes shellcheck: the
    scenarios' attack commands (as the one script AWS-RunShellScript makes of
    them, run by bash on Amazon Linux 2023) and the stand-in's own stubs.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html#aws-runShellScript
    """
    if path.is_dir():
        return
    text = _scenario_script(path) if path.suffix == ".yaml" else path.read_text()
    done = subprocess.run(["shellcheck", "-s", "bash", "-"], input=text, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_attack_scenarios_run_on_the_instance(aws, emulator, path: Path):
    """Each scenario's attack commands, sent as irlab sends them
    (AWS-RunShellScript with the scenario's executionTimeout), succeed on a
    stand-in instance: what needs the network or AL2023's packages goes through
    the stubs, which record it in /var/log/irlab/effects.log.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
    """
    _, ssm, instance = _node(aws)
    # the instance's time at 0.01: malicious-ip's 20 minutes of beacons take 12 s of its 15 s budget, leaving
    # room for the stubs' own (unscaled) time
    _service_scale(emulator, 0.01)
    scenario = yaml.safe_load(path.read_text())
    commands = scenario["traffic"]["commands"]
    command = _send(ssm, instance, commands, executionTimeout=str(scenario["traffic"]["timeout_seconds"]))
    invocation = finished(ssm, command["CommandId"], instance, timeout=60)
    assert invocation["Status"] == "Success", invocation
    effects = _run_commands(ssm, instance, ["cut -d' ' -f2 /var/log/irlab/effects.log | sort -u"])["StandardOutputContent"].split()
    tools = {c.split()[0] for c in commands if c.split()[0] in ("dnf", "systemctl", "docker", "dig", "curl")}
    if "curl" in " ".join(commands):
        tools.add("curl")
    assert tools <= set(effects), (tools, effects)


def test_the_unshare_fallback_isolates_like_bubblewrap():
    """Where bubblewrap cannot run, the sandbox is unshare (user, network,
    mount and PID namespaces) with the same view: the host's /usr read-only, the
    instance's own /etc, no network.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html#aws-runShellScript
    """
    from irlab_emulator.patches import ssm_instance

    root = Path(tempfile.mkdtemp(prefix="irlab-fallback-"))
    try:
        for name in ssm_instance.WRITABLE:
            (root / name).mkdir()
        (root / "etc" / "os-release").write_text('PRETTY_NAME="Amazon Linux 2023"\n')
        probe = subprocess.run(ssm_instance._unshare_argv(root, root / "tmp") + ["/usr/bin/true"], capture_output=True)
        if probe.returncode != 0:
            pytest.skip(f"unshare cannot run here: {probe.stderr.decode(errors='replace')}")
        saved = ssm_instance._sandbox
        ssm_instance._sandbox = "unshare"
        try:
            code, out, err = ssm_instance.run_script(
                root,
                ["cat /etc/os-release", "touch /usr/x 2>/dev/null || echo read-only", "bash -c 'exec 3<>/dev/tcp/198.51.100.1/80' 2>/dev/null || echo offline"],
                "",
                10,
            )
        finally:
            ssm_instance._sandbox = saved
        assert (code, out) == (0, 'PRETTY_NAME="Amazon Linux 2023"\nread-only\noffline\n'), err
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _agent(emulator: Any, instance: str, hold: float) -> dict[str, Any]:
    """The stand-in's control: the instance's agent picks up commands ``hold`` s late."""
    request = urllib.request.Request(
        f"{emulator.endpoint}/moto-api/irlab/ssm/agent",
        data=json.dumps({"instanceId": instance, "holdSeconds": hold}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_a_command_the_agent_has_not_taken_stays_pending_and_can_be_cancelled(aws, emulator):
    """Until the SSM Agent receives it an invocation is Pending ("The command
    hasn't been sent to the managed node"); CancelCommand "attempts to cancel
    the command" and answers with an empty body: the invocation becomes
    Cancelled (a terminal state, StatusDetails Cancelled), so does the
    command, and the agent never runs it; a command already finished keeps its
    status; an unknown command id fails InvalidCommandId. Once the agent
    takes commands again they run.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CancelCommand.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
    """
    from botocore.exceptions import ClientError

    _, ssm, instance = _node(aws)
    done = _run_commands(ssm, instance, ["echo before"])
    assert _agent(emulator, instance, 60) == {"instanceId": instance, "holdSeconds": 60}
    held = _send(ssm, instance, ["touch /tmp/ran"])
    time.sleep(1.0)
    pending = ssm.get_command_invocation(CommandId=held["CommandId"], InstanceId=instance)
    assert (pending["Status"], pending["StatusDetails"], pending["ResponseCode"]) == ("Pending", "Pending", -1)

    answer = ssm.cancel_command(CommandId=held["CommandId"], InstanceIds=[instance])
    assert set(answer) == {"ResponseMetadata"}
    cancelled = finished(ssm, held["CommandId"], instance)
    assert (cancelled["Status"], cancelled["StatusDetails"]) == ("Cancelled", "Cancelled")
    assert ssm.list_commands(CommandId=held["CommandId"])["Commands"][0]["Status"] == "Cancelled"
    ssm.cancel_command(CommandId=done["CommandId"])
    assert ssm.get_command_invocation(CommandId=done["CommandId"], InstanceId=instance)["Status"] == "Success"
    with pytest.raises(ClientError) as unknown:
        ssm.cancel_command(CommandId="11111111-2222-3333-4444-555555555555")
    assert unknown.value.response["Error"]["Code"] == "InvalidCommandId"

    _agent(emulator, instance, 0)
    after = _run_commands(ssm, instance, ["test -e /tmp/ran && echo ran || echo never ran"])
    assert after["StandardOutputContent"] == "never ran\n"
