"""The static checks Step Functions makes on an Amazon States Language
definition before CreateStateMachine / UpdateStateMachine store it.

AWS answers ``InvalidDefinition`` (HTTP 400) with every problem it found in
one message, each as ``<CODE>: <message> at <location>`` (the location a JSON
pointer into the definition, ``null`` when there is none), joined with
``", "`` inside ``Invalid State Machine Definition: '...'`` - e.g. (measured
against AWS, localstack issue #11978)::

    Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3
    at /States/pass1/Next, MISSING_TRANSITION_TARGET: State "pass2" is not reachable. at /States/pass2'

The codes are those ValidateStateMachineDefinition documents
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_ValidateStateMachineDefinitionDiagnostic.html).
Checked here:

* the text is JSON (``INVALID_JSON_DESCRIPTION``) and an object;
* ``StartAt`` and ``States`` are present (``SCHEMA_VALIDATION_FAILED: These
  fields are required: [States, StartAt] at /``), in the machine, in each
  Parallel branch and in each Map ``ItemProcessor``/``Iterator``;
* state names are unique in the whole machine (``DUPLICATE_STATE_NAME``);
* ``StartAt``, ``Next``, Choice ``Choices[].Next`` and ``Default`` and Catch
  ``Next`` name a state of the same container (``MISSING_TRANSITION_TARGET:
  Missing 'Next' target: X at /States/Y/Next``); a state other than Choice,
  Succeed and Fail has ``Next`` or ``End: true``;
* every container has a terminal state (``MISSING_END_STATE: Workflow has no
  terminal state``) and every state is reachable from its ``StartAt``
  (``MISSING_TRANSITION_TARGET: State "X" is not reachable.``);
* query languages: a JSONata machine cannot set a state to JSONPath, and the
  five JSONPath fields (InputPath, Parameters, ResultSelector, ResultPath,
  OutputPath) and the two JSONata ones (Arguments, Output) only appear in a
  state of their language; nested states inherit the machine's language;
* ``arn:<partition>:states:::aws-sdk:<service>:<action>[.waitForTaskToken]``
  names a service and an operation Step Functions offers (botocore's models,
  see ``_sdk_models``; minus the actions and services AWS lists as not
  supported) - else ``SCHEMA_VALIDATION_FAILED: The resource provided ... is
  not recognized. ...``;
* the task's ``Parameters`` (JSONPath, keys without their ``.$``) or
  ``Arguments`` (JSONata) hold only the operation's input members in
  PascalCase, also inside nested structures and lists - else
  ``SCHEMA_VALIDATION_FAILED: The field "X" is not supported by Step
  Functions at /States/Y/Parameters`` (aws-cdk issue #29968 shows AWS refusing
  a nested ``static`` of verifiedpermissions:createPolicy this way).
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

from . import _sdk_models


class Diagnostic(NamedTuple):
    code: str
    message: str
    location: str | None


JSONPATH_ONLY = ("InputPath", "Parameters", "ResultSelector", "ResultPath", "OutputPath")
JSONATA_ONLY = ("Arguments", "Output")
STATE_TYPES = {"Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"}

# https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html,
# "Unsupported API actions for supported services" (service -> actions)
UNSUPPORTED_ACTIONS = {
    "comprehendmedical": {"DetectEntities"},
    "efs": {"CreateTags"},
    "elastictranscoder": {"TestRole"},
    "emr": {"DescribeJobFlows"},
    "iotdeviceadvisor": {"ListTestCases"},
    "kinesis": {"SubscribeToShard"},
    "lambda": {"InvokeAsync"},
    "lexruntimev2": {"StartConversation"},
    "mediapackage": {"RotateChannelCredentials"},
    "rdsdata": {"ExecuteSql"},
    "s3": {"SelectObjectContent"},
    "s3control": {"SelectObjectContent"},
    "shield": {"DeleteSubscription"},
}
# services botocore models that Step Functions does not offer as aws-sdk
# integrations (AWS: "The resource provided arn:aws:states:::aws-sdk:
# apigatewaymanagementapi:postToConnection is not recognized")
UNSUPPORTED_SERVICES = {"apigatewaymanagementapi"}

_SDK_RESOURCE = re.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]*:(?:\d{12})?:aws-sdk:([^:]*):([^:]*)$")


class _Object(dict):
    """A JSON object that remembers the keys it had more than once."""

    duplicates: list[str]


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    out = _Object()
    out.duplicates = []
    for key, value in pairs:
        if key in out and key not in out.duplicates:
            out.duplicates.append(key)
        out[key] = value
    return out


def _json_error(text: str, exc: json.JSONDecodeError) -> Diagnostic:
    snippet = text if len(text) <= 500 else text[:500] + "[truncated]"
    source = f'[Source: (String)"{snippet}"; line: {exc.lineno}, column: {exc.colno}]'
    return Diagnostic("INVALID_JSON_DESCRIPTION", f"{exc.msg}\n at {source}", None)


def diagnostics(definition: str) -> list[Diagnostic]:
    """Every problem AWS would report for ``definition`` (empty: valid as far
    as these checks go)."""
    if definition is None or not str(definition).strip():
        return [Diagnostic("SCHEMA_VALIDATION_FAILED", "Definition must be a valid JSON object", None)]
    text = str(definition)
    try:
        root = json.loads(text, object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        return [_json_error(text, exc)]
    if not isinstance(root, dict):
        return [Diagnostic("SCHEMA_VALIDATION_FAILED", "Definition must be a valid JSON object", None)]
    out: list[Diagnostic] = []
    language = root.get("QueryLanguage") or "JSONPath"
    _container(root, "", language, out, set())
    return out


def message(found: list[Diagnostic]) -> str:
    parts = []
    for d in found:
        if d.code == "INVALID_JSON_DESCRIPTION":  # the message already says where
            parts.append(f"{d.code}: {d.message}")
        else:
            parts.append(f"{d.code}: {d.message} at {d.location if d.location is not None else 'null'}")
    return "Invalid State Machine Definition: '" + ", ".join(parts) + "'"


# ----------------------------------------------------------------- containers


def _transitions(state: dict[str, Any], loc: str) -> list[tuple[str, Any, str]]:
    """(field, target, location) of every transition out of ``state``."""
    out: list[tuple[str, Any, str]] = []
    if "Next" in state:
        out.append(("Next", state["Next"], f"{loc}/Next"))
    if state.get("Type") == "Choice":
        for i, rule in enumerate(state.get("Choices") or []):
            if isinstance(rule, dict) and "Next" in rule:
                out.append(("Next", rule["Next"], f"{loc}/Choices/{i}/Next"))
        if "Default" in state:
            out.append(("Default", state["Default"], f"{loc}/Default"))
    for i, catcher in enumerate(state.get("Catch") or [] if isinstance(state.get("Catch"), list) else []):
        if isinstance(catcher, dict) and "Next" in catcher:
            out.append(("Next", catcher["Next"], f"{loc}/Catch/{i}/Next"))
    return out


def _terminal(state: dict[str, Any]) -> bool:
    return state.get("Type") in ("Succeed", "Fail") or state.get("End") is True


def _container(obj: dict[str, Any], path: str, language: str, out: list[Diagnostic], names: set[str]) -> None:
    """A state machine, a Parallel branch or a Map item processor."""
    missing = [f for f in ("States", "StartAt") if f not in obj]
    if missing:
        out.append(Diagnostic("SCHEMA_VALIDATION_FAILED", f"These fields are required: [{', '.join(missing)}]", path or "/"))
    states = obj.get("States")
    if not isinstance(states, dict):
        return
    for name in getattr(states, "duplicates", []):
        out.append(Diagnostic("DUPLICATE_STATE_NAME", f"Duplicate State name: {name}", f"{path}/States/{name}"))
    for name, state in states.items():
        loc = f"{path}/States/{name}"
        if name in names:
            out.append(Diagnostic("DUPLICATE_STATE_NAME", f"Duplicate State name: {name}", loc))
        names.add(name)
        if isinstance(state, dict):
            _state(name, state, loc, language, out, names)

    start = obj.get("StartAt")
    if isinstance(start, str) and start not in states:
        out.append(Diagnostic("MISSING_TRANSITION_TARGET", f"Missing 'StartAt' target: {start}", f"{path}/StartAt"))
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        for field, target, loc in _transitions(state, f"{path}/States/{name}"):
            if not isinstance(target, str) or target not in states:
                out.append(Diagnostic("MISSING_TRANSITION_TARGET", f"Missing '{field}' target: {target}", loc))
    if not any(isinstance(s, dict) and _terminal(s) for s in states.values()):
        out.append(Diagnostic("MISSING_END_STATE", "Workflow has no terminal state", path or None))
    if isinstance(start, str) and start in states:
        seen = {start}
        todo = [start]
        while todo:
            state = states.get(todo.pop())
            if not isinstance(state, dict):
                continue
            for _field, target, _loc in _transitions(state, ""):
                if isinstance(target, str) and target in states and target not in seen:
                    seen.add(target)
                    todo.append(target)
        for name in states:
            if name not in seen:
                out.append(Diagnostic("MISSING_TRANSITION_TARGET", f'State "{name}" is not reachable.', f"{path}/States/{name}"))


# ----------------------------------------------------------------- states


def _state(name: str, state: dict[str, Any], loc: str, machine_language: str, out: list[Diagnostic], names: set[str]) -> None:
    typ = state.get("Type")
    language = state.get("QueryLanguage") or machine_language
    if machine_language == "JSONata" and state.get("QueryLanguage") == "JSONPath":
        out.append(
            Diagnostic(
                "SCHEMA_VALIDATION_FAILED", "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine", loc
            )
        )
    wrong = JSONPATH_ONLY if language == "JSONata" else JSONATA_ONLY
    other = "JSONPath" if language == "JSONata" else "JSONata"
    for field in wrong:
        if field in state:
            out.append(
                Diagnostic(
                    "SCHEMA_VALIDATION_FAILED",
                    f"The QueryLanguage is set to '{language}', but field '{field}' is only supported for the '{other}' QueryLanguage",
                    loc,
                )
            )
    if typ in STATE_TYPES and typ not in ("Choice", "Succeed", "Fail"):
        if "Next" not in state and state.get("End") is not True:
            out.append(Diagnostic("SCHEMA_VALIDATION_FAILED", "These fields are required: [Next]", loc))
        elif "Next" in state and state.get("End") is True:
            out.append(Diagnostic("SCHEMA_VALIDATION_FAILED", "There should only be one of the following fields: [End, Next]", loc))

    if typ == "Task":
        _task(state, loc, language, out)
    elif typ == "Parallel":
        for i, branch in enumerate(state.get("Branches") or [] if isinstance(state.get("Branches"), list) else []):
            if isinstance(branch, dict):
                _container(branch, f"{loc}/Branches/{i}", machine_language, out, names)
    elif typ == "Map":
        for field in ("ItemProcessor", "Iterator"):
            processor = state.get(field)
            if isinstance(processor, dict):
                _container(processor, f"{loc}/{field}", machine_language, out, names)


def _task(state: dict[str, Any], loc: str, language: str, out: list[Diagnostic]) -> None:
    resource = state.get("Resource")
    if not isinstance(resource, str):
        return
    match = _SDK_RESOURCE.match(resource)
    if not match:
        return
    service, action = match.group(1), match.group(2)
    action, _, pattern = action.partition(".")
    operation = None
    if service not in UNSUPPORTED_SERVICES and pattern in ("", "waitForTaskToken"):
        operation = _sdk_models.sfn_operation(service, action)
    if (
        operation is None
        or operation.name in UNSUPPORTED_ACTIONS.get(service, ())
        or operation.has_event_stream_input
        or operation.has_event_stream_output
    ):
        out.append(
            Diagnostic(
                "SCHEMA_VALIDATION_FAILED",
                f"The resource provided {resource} is not recognized. The value is not a valid resource ARN, "
                "or the resource is not available in this region.",
                f"{loc}/Resource",
            )
        )
        return
    field = "Arguments" if language == "JSONata" else "Parameters"
    payload = state.get(field)
    if isinstance(payload, dict):
        unknown: list[str] = []
        _fields(payload, operation.input_shape, language == "JSONPath", unknown)
        for name in unknown:
            out.append(Diagnostic("SCHEMA_VALIDATION_FAILED", f'The field "{name}" is not supported by Step Functions', f"{loc}/{field}"))


def _fields(value: Any, shape: Any, paths: bool, unknown: list[str]) -> None:
    """Collect the keys of ``value`` that ``shape`` (botocore) has no member
    for, recursively through structures, lists and map values."""
    if shape is None:
        if isinstance(value, dict):
            unknown.extend(k[:-2] if paths and k.endswith(".$") else k for k in value)
        return
    if isinstance(value, dict):
        members = _sdk_models.structure_members(shape)
        if members is not None:
            by_name = {_sdk_models.sfn_member_name(m): s for m, s in members.items()}
            for key, item in value.items():
                dynamic = paths and key.endswith(".$")
                name = key[:-2] if dynamic else key
                if name not in by_name:
                    if name not in unknown:
                        unknown.append(name)
                elif not dynamic:
                    _fields(item, by_name[name], paths, unknown)
        elif shape.type_name == "map":
            for key, item in value.items():
                if not (paths and key.endswith(".$")):
                    _fields(item, shape.value, paths, unknown)
    elif isinstance(value, list) and shape.type_name == "list":
        for item in value:
            _fields(item, shape.member, paths, unknown)
