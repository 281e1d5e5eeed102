"""Eradication (issue 13): each scenario's eradicate commands, run by the
detection stack's EradicateDocument through Run Command on a stand-in
instance after the scenario's attack, leave none of its indicators; and the
Run Command behaviours the document rests on (patches/ssm_instance.py: the
steps of a Command document, onFailure/onSuccess/finallyStep, exit codes 168
and 169, GetCommandInvocation PluginName).

What the sandbox cannot show (said again where it matters): its /usr is the
host's, read-only, so the files a package ships (/usr/bin/dig,
/usr/bin/docker) are never there - dnf and rpm are stubs that record the
package, and the tests check that record instead; its journal is empty, so a
domain is never present; each command runs in its own PID namespace, so what
an attack leaves running only while it runs (the beacon loop and its curl,
Tor in its container) is seeded through the instance-state control as it is
mid-attack.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO_ROOT, create_stack, unique
from test_ssm_instance import _node, _run_commands, _send, _service_scale, _state
from test_ssm_run_command import finished

DETECTION = REPO_ROOT / "stacks" / "detection.yaml"
SCENARIOS = sorted((REPO_ROOT / "scenarios").glob("*.yaml"))
PLUGIN_REFERENCE = "https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html"
# what each scenario's attack leaves that the sandbox can show, mid-attack (see the module docstring)
PRESENT_IN_SANDBOX = {
    "bitcoin-mining": [],
    "c2-dns": [],
    "malicious-ip": ["processes:curl"],
    "tor-client": ["processes:tor", "processes:dockerd"],
}
PACKAGES = {"bitcoin-mining": "bind-utils", "c2-dns": "bind-utils", "tor-client": "docker"}


def _template() -> dict[str, Any]:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load(DETECTION.read_text(), Loader=Loader)


def _content(name: str = "EradicateDocument") -> dict[str, Any]:
    return _template()["Resources"][name]["Properties"]["Content"]


def _document(ssm: Any) -> str:
    """The EradicateDocument, created from the detection stack's own content."""
    name = unique("irlab-eradicate")
    ssm.create_document(Name=name, DocumentType="Command", Content=json.dumps(_content()))
    return name


def _scenario(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _eradicate(ssm: Any, document: str, instance: str, commands: list[str], indicators: dict[str, Any], timeout: int = 300) -> dict[str, Any]:
    """SendCommand of the EradicateDocument as `irlab eradicate` sends it;
    the answer: the invocation, each step's invocation and the record."""
    command = ssm.send_command(
        DocumentName=document,
        InstanceIds=[instance],
        Parameters={"Commands": commands, "Indicators": [json.dumps(indicators)], "TimeoutSeconds": [str(timeout)]},
    )["Command"]
    invocation = finished(ssm, command["CommandId"], instance, timeout=timeout + 30)
    steps = {
        name: ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=instance, PluginName=name)
        for name in ("eradicate", "checkIndicators")
    }
    lines = [line for line in steps["checkIndicators"]["StandardOutputContent"].splitlines() if line.strip()]
    assert len(lines) == 1, steps["checkIndicators"]
    return {"invocation": invocation, "steps": steps, "record": json.loads(lines[0])}


def _functions(script: str) -> dict[str, str]:
    """name -> text of every top-level shell function of a script."""
    found = {}
    for match in re.finditer(r"^(\w+)\(\) \{\n.*?^\}$", script, re.M | re.S):
        found[match.group(1)] = match.group(0)
    return found


# ----------------------------------------------------------------------------
# the document and the scenarios, as written


def test_eradicate_document_is_as_declared(aws):
    """The detection stack's EradicateDocument is a Command document (schema
    2.2, Linux) with the parameters Commands (StringList, no default),
    Indicators ("{}") and TimeoutSeconds ("300"), and two aws:runShellScript
    steps: eradicate (timeoutSeconds TimeoutSeconds, the commands as a whole
    runCommand entry, so that they become lines of the script as in
    AWS-RunShellScript) and checkIndicators, a finallyStep, the last step (the
    agent runs it also after a failed or exiting step); the stack's output
    EradicateDocumentName names it.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html
    """
    cf, ssm = aws("cloudformation"), aws("ssm")
    stack = create_stack(cf, "irlab-er0-detection", DETECTION.read_text(), {"LabName": "er0"})
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    name = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["EradicateDocumentName"]
    described = ssm.describe_document(Name=name)["Document"]
    assert (described["DocumentType"], described["SchemaVersion"]) == ("Command", "2.2")
    content = json.loads(ssm.get_document(Name=name, DocumentFormat="JSON")["Content"])
    parameters = content["parameters"]
    assert parameters["Commands"]["type"] == "StringList" and "default" not in parameters["Commands"]
    assert (parameters["Indicators"]["default"], parameters["TimeoutSeconds"]["default"]) == ("{}", "300")
    eradicate, check = content["mainSteps"]
    assert (eradicate["name"], check["name"]) == ("eradicate", "checkIndicators")
    assert {eradicate["action"], check["action"]} == {"aws:runShellScript"}
    assert eradicate["inputs"]["timeoutSeconds"] == "{{ TimeoutSeconds }}"
    assert "{{ Commands }}" in eradicate["inputs"]["runCommand"]
    assert check["inputs"]["finallyStep"] is True and "onFailure" not in eradicate["inputs"]


def test_the_check_is_the_collection_s_own():
    """checkIndicators looks for the indicators exactly as the CollectDocument
    does: its json_str, indicator_list, process_running and collect_indicators
    are copies of the collection's (irlab's own rule: one meaning of
    "present")."""
    collect = "\n".join(_content("CollectDocument")["mainSteps"][0]["inputs"]["runCommand"])
    check = "\n".join(_content()["mainSteps"][1]["inputs"]["runCommand"])
    theirs, ours = _functions(collect), _functions(check)
    for name in ("json_str", "indicator_list", "process_running", "collect_indicators"):
        assert ours.get(name) == theirs[name], name


def _scripts() -> list[tuple[str, str]]:
    scripts = [
        (path.stem, "#!/bin/bash\n" + "\n".join(_scenario(path)["eradicate"]["commands"]) + "\n") for path in SCENARIOS
    ]
    eradicate, check = (step["inputs"]["runCommand"] for step in _content()["mainSteps"])
    scripts.append(("eradicate-step", "\n".join(e if e != "{{ Commands }}" else "true" for e in eradicate)))
    scripts.append(("checkIndicators-step", "\n".join(check)))
    return scripts


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
@pytest.mark.parametrize("name,script", _scripts(), ids=[n for n, _ in _scripts()])
def test_eradication_scripts_pass_shellcheck(name: str, script: str):
    """Every scenario's eradicate commands (as the one script
    aws:runShellScript makes of a runCommand list, run by bash on Amazon Linux
    2023) and both steps of the EradicateDocument pass shellcheck.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html#aws-runShellScript
    """
    done = subprocess.run(["shellcheck", "-s", "bash", "-"], input=script, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_eradicate_commands_address_every_process_and_file_indicator(path: Path):
    """Each scenario has an eradicate section (commands, a timeout within Run
    Command's bounds) whose commands name every process indicator and every
    file indicator (its path): nothing the attack leaves is forgotten.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html#aws-runShellScript
    """
    scenario = _scenario(path)
    section = scenario["eradicate"]
    text = "\n".join(section["commands"])
    assert section["commands"] and 1 <= int(section.get("timeout_seconds", 300)) <= 172800
    for kind in ("processes", "files"):
        for item in scenario["indicators"][kind]:
            assert item in text, (kind, item)


# ----------------------------------------------------------------------------
# each scenario, attacked and eradicated in the sandbox


def _mid_attack(emulator: Any, instance: str, scenario: dict[str, Any]) -> None:
    """What the attack leaves running only while it runs, as it is then (the
    sandbox's commands each end with their PID namespace)."""
    if scenario["id"] == "malicious-ip":
        # the attack's own Run Command script, where the SSM Agent keeps it, still looping
        script = f"/var/lib/amazon/ssm/{instance}/document/orchestration/{unique('cmd')}/awsrunShellScript/0.awsrunShellScript/_script.sh"
        body = {
            "files": {script: "\n".join(scenario["traffic"]["commands"]) + "\n"},
            "processes": [f"/bin/bash {script}", "curl -4 -s -o /dev/null -m 10 http://45.33.32.156/"],
        }
    elif scenario["id"] == "tor-client":
        # Tor inside the irlab-tor container, within its 300 s (the container shares the host's kernel)
        body = {"processes": ["tor"], "files": {"/var/lib/docker/containers/irlab-tor/config.v2.json": "{}"}}
    else:
        return
    status, answer = _state(emulator, "POST", body={"instanceId": instance, **body})
    assert status == 200, answer


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_each_scenario_is_eradicated_and_eradication_can_run_again(aws, emulator, path: Path):
    """After a scenario's attack (its traffic commands through
    AWS-RunShellScript) the EradicateDocument, sent with the scenario's
    eradicate commands and indicators, succeeds: its eradicate step exits 0,
    its checkIndicators step prints one irlab-eradicate-1 line with no
    indicator present and exits 0; what the attack installed is gone. Sent a
    second time, with nothing left, it succeeds again. Each step's result is
    read with GetCommandInvocation PluginName ("If the document contains more
    than one step, you must specify the name of the step").
    Not shown by the sandbox: /usr/bin/dig and /usr/bin/docker (the package
    record stands for them) and domains (no journal).
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html
    """
    _, ssm, instance = _node(aws)
    _service_scale(emulator, 0.01)
    scenario = _scenario(path)
    attack = _send(ssm, instance, scenario["traffic"]["commands"], executionTimeout=str(scenario["traffic"]["timeout_seconds"]))
    assert finished(ssm, attack["CommandId"], instance, timeout=60)["Status"] == "Success"
    _mid_attack(emulator, instance, scenario)
    document = _document(ssm)
    indicators = scenario["indicators"]
    package = PACKAGES.get(scenario["id"])

    before = _eradicate(ssm, document, instance, [":"], indicators)
    assert before["record"]["present"] == PRESENT_IN_SANDBOX[scenario["id"]], before["record"]
    assert before["record"]["eradicated"] is (not PRESENT_IN_SANDBOX[scenario["id"]])
    if package:
        assert _run_commands(ssm, instance, [f"rpm -q {package}"])["Status"] == "Success"

    section = scenario["eradicate"]
    for attempt in (1, 2):
        result = _eradicate(ssm, document, instance, section["commands"], indicators, section.get("timeout_seconds", 300))
        steps, record = result["steps"], result["record"]
        assert steps["eradicate"]["Status"] == "Success", (attempt, steps["eradicate"])
        assert "irlab-eradicate: every command succeeded" in steps["eradicate"]["StandardOutputContent"]
        assert (record["version"], record["eradicated"], record["present"]) == ("irlab-eradicate-1", True, []), (attempt, record)
        assert set(record["indicators"]) == {"processes", "files", "domains"} and "domains" in record["checked"]
        assert (steps["checkIndicators"]["Status"], steps["checkIndicators"]["ResponseCode"]) == ("Success", 0)
        assert result["invocation"]["Status"] == "Success", result["invocation"]
    if package:
        assert _run_commands(ssm, instance, [f"rpm -q {package}"])["Status"] == "Failed"
    _, state = _state(emulator, "GET", instance)
    assert not [p for p in state["processes"] if "_script.sh" in p or p.split()[0].endswith(("tor", "curl", "dockerd"))], state


def test_a_failing_command_is_named_and_the_indicators_are_still_checked(aws, emulator):
    """The eradicate step stops at the first command that fails: the later
    ones do not run, the step fails with that command's exit code and names it
    ("command 2 failed (exit 3): ..."), on stdout and stderr; checkIndicators
    still runs (a finallyStep, and a failed step does not stop the next) and
    reports the indicators present (exit 1); the invocation is Failed.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
    """
    _, ssm, instance = _node(aws)
    assert _state(emulator, "POST", body={"instanceId": instance, "processes": ["/opt/xmrig/xmrig -o pool:3333"]})[0] == 200
    document = _document(ssm)
    indicators = {"processes": ["xmrig"], "files": ["/etc/cron.d/miner", "/etc/hostname"], "domains": ["pool.example"]}
    result = _eradicate(ssm, document, instance, ["echo first", "if true; then (exit 3); fi", "pkill -f xmrig", "echo never"], indicators)
    eradicate, check, record = result["steps"]["eradicate"], result["steps"]["checkIndicators"], result["record"]
    assert (eradicate["Status"], eradicate["ResponseCode"]) == ("Failed", 3), eradicate
    message = "irlab-eradicate: command 2 failed (exit 3): if true; then (exit 3); fi"
    assert eradicate["StandardOutputContent"] == f"first\n{message}\n"
    assert message in eradicate["StandardErrorContent"]
    assert (check["Status"], check["ResponseCode"]) == ("Failed", 1)
    assert record["eradicated"] is False and record["present"] == ["processes:xmrig", "files:/etc/hostname"]
    assert record["indicators"]["domains"] == {"pool.example": False}
    assert result["invocation"]["Status"] == "Failed"


def test_an_exit_code_that_would_end_the_document_still_leaves_the_check(aws):
    """A command exiting 168 or 169 (the SSM Agent's "exit the document"
    codes, which would mark the step succeeded or skip the remaining steps)
    fails the eradicate step with 1, and checkIndicators runs.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html
    """
    _, ssm, instance = _node(aws)
    result = _eradicate(ssm, _document(ssm), instance, ["(exit 168)"], {})
    assert (result["steps"]["eradicate"]["Status"], result["steps"]["eradicate"]["ResponseCode"]) == ("Failed", 1)
    assert "command 1 failed (exit 168)" in result["steps"]["eradicate"]["StandardOutputContent"]
    assert result["record"]["eradicated"] is True


# ----------------------------------------------------------------------------
# the stand-in behaviours the document rests on


def _steps_document(ssm: Any, steps: list[tuple[str, str, dict[str, Any]]]) -> str:
    content = {
        "schemaVersion": "2.2",
        "description": "steps",
        "mainSteps": [
            {"action": "aws:runShellScript", "name": name, "inputs": {"runCommand": [script], **extra}} for name, script, extra in steps
        ],
    }
    name = unique("steps")
    ssm.create_document(Name=name, DocumentType="Command", Content=json.dumps(content))
    return name


def _per_step(ssm: Any, document: str, instance: str, names: list[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    command = ssm.send_command(DocumentName=document, InstanceIds=[instance])["Command"]
    invocation = finished(ssm, command["CommandId"], instance)
    return invocation, {
        n: ssm.get_command_invocation(CommandId=command["CommandId"], InstanceId=instance, PluginName=n) for n in names
    }


def test_steps_run_in_order_and_a_failed_step_does_not_stop_the_next(aws):
    """A Command document's steps run in the order given; a step that fails
    does not keep the next from running: each has its own status, response
    code and output (GetCommandInvocation PluginName = the step's name); the
    invocation is Failed, with the first failed step's response code, and has
    the steps' output together.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetCommandInvocation.html
    """
    _, ssm, instance = _node(aws)
    document = _steps_document(ssm, [("first", "echo one; exit 3", {}), ("second", "echo two", {})])
    invocation, steps = _per_step(ssm, document, instance, ["first", "second"])
    assert (steps["first"]["Status"], steps["first"]["ResponseCode"], steps["first"]["StandardOutputContent"]) == ("Failed", 3, "one\n")
    assert (steps["second"]["Status"], steps["second"]["ResponseCode"], steps["second"]["StandardOutputContent"]) == ("Success", 0, "two\n")
    assert steps["second"]["PluginName"] == "second"
    assert (invocation["Status"], invocation["ResponseCode"], invocation["StandardOutputContent"]) == ("Failed", 3, "one\ntwo\n")


def test_on_failure_exit_skips_the_remaining_steps_but_not_a_final_finally_step(aws):
    """A failed step with onFailure: exit ends the document: the steps after
    it are skipped (reported Success, code 0, "skipped due to prior step with
    an exit condition"), except a last step with finallyStep: true, which
    runs; onFailure: successAndExit does the same but reports the failed step
    Success; a step exiting 169 ends the document as onFailure: exit does.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-command-ssm-plugin-reference.html
    """
    _, ssm, instance = _node(aws)
    document = _steps_document(
        ssm,
        [
            ("fail", "echo fail; exit 2", {"onFailure": "exit"}),
            ("skipped", "echo skipped", {}),
            ("last", "echo last", {"finallyStep": True}),
        ],
    )
    invocation, steps = _per_step(ssm, document, instance, ["fail", "skipped", "last"])
    assert (steps["fail"]["Status"], steps["fail"]["ResponseCode"]) == ("Failed", 2)
    assert "Further document steps will be skipped" in steps["fail"]["StandardOutputContent"]
    assert (steps["skipped"]["Status"], steps["skipped"]["ResponseCode"]) == ("Success", 0)
    assert "skipped due to prior step with an exit condition" in steps["skipped"]["StandardOutputContent"]
    assert (steps["last"]["Status"], steps["last"]["StandardOutputContent"]) == ("Success", "last\n")
    assert invocation["Status"] == "Failed"

    document = _steps_document(ssm, [("fail", "exit 2", {"onFailure": "successAndExit"}), ("skipped", "echo skipped", {})])
    invocation, steps = _per_step(ssm, document, instance, ["fail", "skipped"])
    assert steps["fail"]["Status"] == "Success" and "skipped due to prior step" in steps["skipped"]["StandardOutputContent"]
    assert invocation["Status"] == "Success"

    document = _steps_document(ssm, [("ends", "exit 169", {}), ("skipped", "echo skipped", {})])
    invocation, steps = _per_step(ssm, document, instance, ["ends", "skipped"])
    assert (steps["ends"]["Status"], steps["ends"]["ResponseCode"]) == ("Failed", 169)
    assert "skipped due to prior step" in steps["skipped"]["StandardOutputContent"]
