"""Every AWS SDK call the lab's templates make, checked against botocore's
service models (the botocore pinned with the stand-in; model loading shared
with it: emulator/irlab_emulator/patches/_sdk_models.py).

* Step Functions tasks: ``arn:aws:states:::aws-sdk:<service>:<action>``
  (the service and action exist, https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html)
  and the optimized integrations such as ``arn:aws:states:::sns:publish``;
  the task's ``Parameters`` (JSONPath, ``Name.$`` keys given at run time) or
  ``Arguments`` (JSONata) hold only members of the operation's input shape in
  PascalCase, and every required member, also inside nested structures and
  lists written out in the definition.
* SSM Automation steps: ``aws:executeAwsApi``, ``aws:waitForAwsResourceProperty``
  and ``aws:assertAwsResourceProperty`` (``Service`` a Boto3 client name,
  ``Api`` an operation, the other inputs members of its input shape, the
  required ones given; https://docs.aws.amazon.com/systems-manager/latest/userguide/automation-action-executeAwsApi.html),
  also inside ``aws:loop``; ``aws:executeScript`` Python scripts as below.
* Python code, in Automation scripts and in the inline ``ZipFile`` of Lambda
  functions: every ``<client>.<method>(...)`` call on a client made by
  ``boto3.client("<service>")`` (or a session's ``client``): the method is an
  operation of the service (or ``get_paginator``/``get_waiter`` of an
  existing paginator or waiter, whose ``paginate``/``wait`` calls are checked
  the same way), arguments are keywords, each a member of the input shape,
  the required ones given; dict and list literals are checked member by
  member.

Values only known at run time (``Name.$`` keys, ``{{ }}`` in Automation,
names and ``**kwargs`` in Python) are not looked into. Types are not checked.

    python checks/sdk_calls.py [TEMPLATE ...]
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import re
import sys
from typing import Any, Callable, Iterator, NamedTuple

import yaml
from botocore import xform_name

import stacks

sys.path.insert(0, str(stacks.ROOT / "emulator"))
from irlab_emulator.patches import _sdk_models  # noqa: E402

# Step Functions' optimized integrations: the service name in the task ARN ->
# the Boto3 client behind it (https://docs.aws.amazon.com/step-functions/latest/dg/integrate-optimized.html).
# Parameters are the API's input members, as in aws-sdk tasks.
OPTIMIZED = {
    "athena": "athena",
    "batch": "batch",
    "codebuild": "codebuild",
    "dynamodb": "dynamodb",
    "ecs": "ecs",
    "events": "events",
    "glue": "glue",
    "lambda": "lambda",
    "sns": "sns",
    "sqs": "sqs",
    "states": "stepfunctions",
}
# inputs of the Automation API actions that are not the API's
AUTOMATION_OWN_INPUTS = {
    "aws:executeAwsApi": {"Service", "Api"},
    "aws:waitForAwsResourceProperty": {"Service", "Api", "PropertySelector", "DesiredValues"},
    "aws:assertAwsResourceProperty": {"Service", "Api", "PropertySelector", "DesiredValues"},
}
# methods every Boto3 client has besides its operations
CLIENT_METHODS = {"can_paginate", "close", "generate_presigned_post", "generate_presigned_url", "get_paginator", "get_waiter"}
# arn:<partition>:states:::<service>:<action>[.sync|.sync:2|.waitForTaskToken],
# the service being aws-sdk:<service> for the AWS SDK integrations
_TASK = re.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]*:(?:\d{12})?:(aws-sdk:[a-z0-9-]+|[a-z0-9-]+):([A-Za-z0-9]+)(?:\.([A-Za-z0-9:]+))?$")


class Problem(NamedTuple):
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class _Dynamic:
    """A value only known at run time."""

    def __repr__(self) -> str:
        return "<dynamic>"


DYNAMIC = _Dynamic()


class _Open(dict):  # type: ignore[type-arg]
    """A dict literal with ``**`` in it: more members may come at run time."""


# ------------------------------------------------------------ input shapes


def check_input(
    value: Any,
    shape: Any,
    path: str,
    naming: Callable[[str], str] = lambda m: m,
    dynamic_key: Callable[[str], bool] = lambda k: False,
) -> list[str]:
    """The unknown and missing members of ``value`` against a botocore input
    shape, as messages (``path`` names where ``value`` sits)."""
    out: list[str] = []
    _walk(value, shape, path, naming, dynamic_key, out)
    return out


def _walk(value: Any, shape: Any, path: str, naming: Callable[[str], str], dynamic_key: Callable[[str], bool], out: list[str]) -> None:
    if shape is None or value is DYNAMIC:
        return
    members = _sdk_models.structure_members(shape)
    if members is not None and isinstance(value, dict):
        by_name = {naming(m): (m, s) for m, s in members.items()}
        given = set()
        for key, item in value.items():
            dynamic = dynamic_key(key)
            name = key[:-2] if dynamic else key
            if name not in by_name:
                near = difflib.get_close_matches(name, list(by_name), n=1)
                hint = f"; did you mean {near[0]}?" if near else f" (members: {', '.join(sorted(by_name)) or 'none'})"
                out.append(f"{path}.{name}: not a member of {shape.name}{hint}")
                continue
            member, member_shape = by_name[name]
            given.add(member)
            if not dynamic:
                _walk(item, member_shape, f"{path}.{name}", naming, dynamic_key, out)
        if not isinstance(value, _Open):
            for required in getattr(shape, "required_members", []):
                if required not in given:
                    out.append(f"{path}: required member {naming(required)} of {shape.name} missing")
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, shape.member, f"{path}[{i}]", naming, dynamic_key, out)
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            if not dynamic_key(key):
                _walk(item, shape.value, f"{path}[{key}]", naming, dynamic_key, out)


def _optimized_operation(boto_name: str, action: str) -> Any:
    """The operation an optimized integration's action names (the API name
    with a lower-case first letter, ``publish``)."""
    model = _sdk_models.service_model(boto_name)
    if model is None:
        return None
    for op in model.operation_names:
        if op[:1].lower() + op[1:] == action:
            return model.operation_model(op)
    return None


# ------------------------------------------------------------ Step Functions


def _sfn_states(container: dict[str, Any], path: str, language: str) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(name, state, query language) of every state, also in branches and
    item processors (which inherit the machine's language)."""
    for name, state in (container.get("States") or {}).items():
        if not isinstance(state, dict):
            continue
        yield f"{path}{name}", state, state.get("QueryLanguage") or language
        for i, branch in enumerate(state.get("Branches") or []):
            if isinstance(branch, dict):
                yield from _sfn_states(branch, f"{path}{name}/Branches[{i}]/", language)
        for field in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(field), dict):
                yield from _sfn_states(state[field], f"{path}{name}/{field}/", language)


def check_state_machine(definition: dict[str, Any], where: str) -> tuple[list[Problem], int]:
    problems: list[Problem] = []
    count = 0
    for name, state, language in _sfn_states(definition, "", definition.get("QueryLanguage") or "JSONPath"):
        resource = state.get("Resource")
        if state.get("Type") != "Task" or not isinstance(resource, str):
            continue
        match = _TASK.match(resource)
        if not match:
            if re.match(r"^arn:aws[a-z-]*:states:[a-z0-9-]*:(?:\d{12})?:(?!activity:)", resource):
                problems.append(Problem(f"{where} state '{name}'", f"{resource}: not an integration ARN checks/sdk_calls.py reads"))
            continue  # a Lambda function or activity ARN: no SDK parameters
        count += 1
        service, action, _pattern = match.groups()
        at = f"{where} state '{name}' ({service}:{action})"
        if service.startswith("aws-sdk:"):
            operation = _sdk_models.sfn_operation(service.split(":", 1)[1], action)
        elif service in OPTIMIZED:
            operation = _optimized_operation(OPTIMIZED[service], action)
        else:
            problems.append(Problem(at, f"{resource}: an integration checks/sdk_calls.py does not know (add it to OPTIMIZED)"))
            continue
        if operation is None:
            problems.append(Problem(at, f"{resource}: no such operation in botocore's models"))
            continue
        field = "Arguments" if language == "JSONata" else "Parameters"
        payload = state.get(field, {})
        if isinstance(payload, str):
            continue  # a JSONata expression for the whole input
        jsonpath = language == "JSONPath"
        for message in check_input(
            payload,
            operation.input_shape,
            field,
            naming=_sdk_models.sfn_member_name,
            dynamic_key=(lambda k: k.endswith(".$")) if jsonpath else (lambda k: False),
        ):
            problems.append(Problem(at, message))
    return problems, count


# ------------------------------------------------------------ SSM Automation


def _automation_steps(steps: list[Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for step in steps or []:
        if not isinstance(step, dict):
            continue
        name = f"{path}{step.get('name', '?')}"
        yield name, step
        inputs = step.get("inputs") or {}
        if step.get("action") == "aws:loop" and isinstance(inputs.get("Steps"), list):
            yield from _automation_steps(inputs["Steps"], f"{name}/")


def _automation_value(value: Any) -> Any:
    """A runbook input with ``{{ }}`` values made dynamic."""
    if isinstance(value, str) and "{{" in value:
        return DYNAMIC
    if isinstance(value, dict):
        return {k: _automation_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_automation_value(v) for v in value]
    return value


def check_runbook(content: dict[str, Any], where: str) -> tuple[list[Problem], int]:
    problems: list[Problem] = []
    count = 0
    for name, step in _automation_steps(content.get("mainSteps") or [], ""):
        action = step.get("action")
        inputs = step.get("inputs") or {}
        at = f"{where} step {name} ({action})"
        if action in AUTOMATION_OWN_INPUTS:
            count += 1
            service, api = inputs.get("Service"), inputs.get("Api")
            known, operation = _sdk_models.automation_operation(str(service), str(api))
            if not known:
                problems.append(Problem(at, f"Service {service}: not a Boto3 client name"))
                continue
            if operation is None:
                problems.append(Problem(at, f"Api {api}: no such operation of {service}"))
                continue
            payload = {k: _automation_value(v) for k, v in inputs.items() if k not in AUTOMATION_OWN_INPUTS[action]}
            for message in check_input(payload, operation.input_shape, "inputs"):
                problems.append(Problem(at, message))
        elif action == "aws:executeScript":
            runtime = str(inputs.get("Runtime", ""))
            if not runtime.startswith("python"):
                problems.append(Problem(at, f"Runtime {runtime}: only Python scripts are checked"))
                continue
            found, n = check_python(str(inputs.get("Script", "")), at)
            problems += found
            count += n
    return problems, count


# ------------------------------------------------------------ Python code


def _literal(node: ast.AST) -> Any:
    """A literal's value, with what only run time knows made DYNAMIC."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        if any(isinstance(e, ast.Starred) for e in node.elts):
            return DYNAMIC
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[Any, Any] = {}
        open_ = False
        for key, value in zip(node.keys, node.values):
            if key is None:  # {**other}
                open_ = True
                continue
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                return DYNAMIC
            out[key.value] = _literal(value)
        return _Open(out) if open_ else out
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        out = {}
        open_ = False
        for kw in node.keywords:
            if kw.arg is None:
                open_ = True
            else:
                out[kw.arg] = _literal(kw.value)
        return _Open(out) if open_ else out
    return DYNAMIC


def _client_service(node: ast.AST) -> str | None:
    """``"ec2"`` for ``boto3.client("ec2", ...)`` / ``session.client(service_name="ec2")``."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    named = (isinstance(func, ast.Attribute) and func.attr == "client") or (isinstance(func, ast.Name) and func.id == "client")
    if not named:
        return None
    arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "service_name"), None)
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    return None


class _Code:
    def __init__(self, source: str, where: str) -> None:
        self.where = where
        self.problems: list[Problem] = []
        self.count = 0
        self.clients: dict[str, str] = {}  # variable -> Boto3 client name
        self.helpers: dict[str, tuple[str, str, str]] = {}  # variable -> (kind, service, name)
        try:
            self.tree: ast.AST | None = ast.parse(source)
        except SyntaxError as exc:
            self.tree = None
            self.problems.append(Problem(where, f"the code does not parse: {exc}"))

    def run(self) -> None:
        if self.tree is None:
            return
        for node in ast.walk(self.tree):  # every name a client or helper is assigned to
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind(target, node.value)
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                self._call(node)

    def _bind(self, target: ast.AST, value: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)):
            for t, v in zip(target.elts, value.elts):
                self._bind(t, v)
            return
        if not isinstance(target, ast.Name):
            return
        service = _client_service(value)
        if service is not None:
            self.clients[target.id] = service
            return
        helper = self._helper(value)
        if helper is not None:
            self.helpers[target.id] = helper

    def _helper(self, node: ast.AST) -> tuple[str, str, str] | None:
        """("paginator"|"waiter", service, name) for ``client.get_paginator("x")``."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            return None
        if node.func.attr not in ("get_paginator", "get_waiter"):
            return None
        service = self._service_of(node.func.value)
        if service is None or not node.args or not isinstance(node.args[0], ast.Constant):
            return None
        return ("paginator" if node.func.attr == "get_paginator" else "waiter", service, str(node.args[0].value))

    def _service_of(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return self.clients.get(node.id)
        return _client_service(node)

    def _call(self, node: ast.Call) -> None:
        func = node.func
        if not isinstance(func, ast.Attribute):
            return
        line = f"{self.where}, code line {node.lineno}"
        if func.attr == "resource" and isinstance(func.value, ast.Name) and func.value.id == "boto3":
            self.problems.append(Problem(line, "boto3.resource(...): its calls cannot be checked; use a client"))
            return
        if func.attr == "client" and _client_service(node) is None and (node.args or node.keywords):
            self.problems.append(Problem(line, "a client of a service named at run time: its calls cannot be checked"))
            return
        service = self._service_of(func.value)
        if service is not None:
            self.count += 1
            model = _sdk_models.service_model(service)
            if model is None:
                self.problems.append(Problem(line, f"boto3.client({service!r}): botocore has no such service"))
                return
            method = func.attr
            if method in ("get_paginator", "get_waiter"):
                self._helper_target(node, line, service, method)
                return
            if method in CLIENT_METHODS:
                return
            operation = next((model.operation_model(op) for op in model.operation_names if xform_name(op) == method), None)
            if operation is None:
                near = difflib.get_close_matches(method, [xform_name(op) for op in model.operation_names], n=1)
                hint = f"; did you mean {near[0]}?" if near else ""
                self.problems.append(Problem(line, f"{service}.{method}: no such operation{hint}"))
                return
            self._arguments(node, line, f"{service}.{method}", operation.input_shape)
            return
        helper = None
        if isinstance(func.value, ast.Name):
            helper = self.helpers.get(func.value.id)
        elif isinstance(func.value, ast.Call):
            helper = self._helper(func.value)
        if helper is None:
            return
        kind, service, name = helper
        if (kind, func.attr) not in (("paginator", "paginate"), ("waiter", "wait")):
            return
        self.count += 1
        shape = self._helper_shape(kind, service, name)
        if shape is not None:
            extra = "PaginationConfig" if kind == "paginator" else "WaiterConfig"
            self._arguments(node, line, f"{service} {kind} {name}.{func.attr}", shape, extra=extra)

    def _helper_target(self, node: ast.Call, line: str, service: str, method: str) -> None:
        if not node.args or not isinstance(node.args[0], ast.Constant):
            return
        kind = "paginator" if method == "get_paginator" else "waiter"
        name = str(node.args[0].value)
        if self._helper_shape(kind, service, name) is None:
            self.problems.append(Problem(line, f"{service}.{method}({name!r}): botocore has no such {kind}"))

    @staticmethod
    def _helper_shape(kind: str, service: str, name: str) -> Any:
        model = _sdk_models.service_model(service)
        if model is None:
            return None
        try:
            if kind == "paginator":
                pages = _sdk_models._loader.load_service_model(service, "paginators-1")["pagination"]
                op = next((o for o in pages if xform_name(o) == name), None)
            else:
                waiters = _sdk_models._loader.load_service_model(service, "waiters-2")["waiters"]
                op = waiters[name]["operation"] if name in waiters else None
        except Exception:
            return None
        return model.operation_model(op).input_shape if op else None

    def _arguments(self, node: ast.Call, line: str, call: str, shape: Any, extra: str = "") -> None:
        if node.args:
            self.problems.append(Problem(line, f"{call}: positional arguments (Boto3 takes keywords only)"))
        value: dict[str, Any] = {}
        open_ = False
        for kw in node.keywords:
            if kw.arg is None:
                open_ = True
            elif kw.arg != extra:
                value[kw.arg] = _literal(kw.value)
        for message in check_input(_Open(value) if open_ else value, shape, call):
            self.problems.append(Problem(line, message))


def check_python(source: str, where: str) -> tuple[list[Problem], int]:
    """(problems, SDK calls checked) of Python code."""
    code = _Code(source, where)
    code.run()
    return code.problems, code.count


# ------------------------------------------------------------ templates


def check_template(template: stacks.Template) -> tuple[list[Problem], dict[str, int]]:
    problems: list[Problem] = []
    counts = {"Step Functions tasks": 0, "Automation API steps and script calls": 0, "Lambda code calls": 0}
    for logical, resource in template.resources():
        typ = resource.get("Type")
        props = resource.get("Properties") or {}
        where = f"{template.label} {logical}"
        if typ == "AWS::StepFunctions::StateMachine":
            if "Definition" in props:
                definition = template.resolve(props["Definition"])
            else:
                text = str(template.resolve(props.get("DefinitionString", "{}")))
                for key, value in (template.resolve(props.get("DefinitionSubstitutions") or {})).items():
                    text = text.replace("${" + key + "}", str(value))
                definition = json.loads(text)
            found, n = check_state_machine(definition, where)
            problems += found
            counts["Step Functions tasks"] += n
        elif typ == "AWS::SSM::Document" and props.get("DocumentType") == "Automation":
            content = template.resolve(props.get("Content"))
            if isinstance(content, str):
                content = yaml.safe_load(content)
            found, n = check_runbook(content or {}, where)
            problems += found
            counts["Automation API steps and script calls"] += n
        elif typ == "AWS::Lambda::Function" and "ZipFile" in (props.get("Code") or {}):
            runtime = str(template.resolve(props.get("Runtime", "")))
            if not runtime.startswith("python"):
                problems.append(Problem(where, f"Runtime {runtime}: only Python inline code is checked"))
                continue
            found, n = check_python(str(template.resolve(props["Code"]["ZipFile"])), where)
            problems += found
            counts["Lambda code calls"] += n
    return problems, counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("templates", nargs="*")
    args = parser.parse_args(argv)
    problems: list[Problem] = []
    totals: dict[str, int] = {}
    for template in stacks.templates(args.templates):
        found, counts = check_template(template)
        problems += found
        for k, v in counts.items():
            totals[k] = totals.get(k, 0) + v
    for problem in problems:
        print(problem)
    import botocore

    summary = ", ".join(f"{v} {k}" for k, v in totals.items())
    if problems:
        print(f"\n{len(problems)} problem(s) against botocore {botocore.__version__}'s models ({summary})")
        return 1
    print(f"botocore {botocore.__version__}: {summary}; every call matches its model")
    return 0


if __name__ == "__main__":
    sys.exit(main())
