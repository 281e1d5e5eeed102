"""emulator/COVERAGE.md stays honest: every AWS call irlab or its engines make is a row of it.

The calls are extracted from the sources as they are now, with simple text rules (no AWS
behaviour is exercised here, so this module never starts the stand-in):

- the Rust CLI (src/**/*.rs): fluent SDK calls on a client accessor of ``AwsContext``
  (``ctx.ec2().describe_instances()``, also across lines) or on a variable bound to one
  (``let gd = ctx.guardduty(); gd.list_detectors()``) -> ``ec2:DescribeInstances``;
- CloudFormation resource types of stacks/*.yaml -> ``AWS::EC2::Instance``;
- Step Functions task ARNs in stacks/playbook-stepfunctions.yaml
  (``arn:aws:states:::aws-sdk:ec2:createTags`` -> ``ec2:CreateTags``,
  ``arn:aws:states:::sns:publish`` -> ``sns:Publish``);
- SSM Automation steps of stacks/playbook-ssm.yaml and stacks/janitor.yaml with ``inputs.Service``/``inputs.Api``
  (``aws:executeAwsApi``, and the ``aws:waitForAwsResourceProperty`` /
  ``aws:assertAwsResourceProperty`` calls) -> ``ec2:DescribeTags``, and every action used;
- boto3 client calls in the inline code of stacks/*.yaml (Lambda ``ZipFile``, Automation
  ``aws:executeScript``): ``ec2 = boto3.client("ec2"); ec2.describe_snapshots(...)``,
  ``get_paginator("describe_instances")`` -> ``ec2:DescribeSnapshots``.

Services are named by their IAM prefix (``states`` for Step Functions, ``events`` for
EventBridge, ``logs`` for CloudWatch Logs). Snake-case method names become the operation's
own name through botocore's service models, so ``describe_iam_instance_profile_associations``
is ``DescribeIamInstanceProfileAssociations`` exactly; a name no model has is not an AWS call
(``events.push(...)`` on a vector) unless it is sent (``.send()``), which fails the test.

Run ``python emulator/tests/test_coverage_matrix.py`` to print what is extracted.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import botocore.session
import yaml

TESTS_DIR = Path(__file__).resolve().parent
EMULATOR_DIR = TESTS_DIR.parent
REPO_ROOT = EMULATOR_DIR.parent
COVERAGE = EMULATOR_DIR / "COVERAGE.md"
SRC = REPO_ROOT / "src"
STACKS = REPO_ROOT / "stacks"

# AwsContext's client accessors (src/aws.rs) -> (IAM prefix, botocore service model).
RUST_CLIENTS = {
    "cloudformation": ("cloudformation", "cloudformation"),
    "ec2": ("ec2", "ec2"),
    "guardduty": ("guardduty", "guardduty"),
    "cloudtrail": ("cloudtrail", "cloudtrail"),
    "ssm": ("ssm", "ssm"),
    "sts": ("sts", "sts"),
    "sns": ("sns", "sns"),
    "sqs": ("sqs", "sqs"),
    "events": ("events", "events"),
    "lambda": ("lambda", "lambda"),
    "sfn": ("states", "stepfunctions"),
    "logs": ("logs", "logs"),
    "iam": ("iam", "iam"),
    "s3": ("s3", "s3"),
    "servicequotas": ("servicequotas", "service-quotas"),
}

# Service names as boto3, Step Functions SDK integrations (SDK v2 names) and Automation
# write them -> (IAM prefix, botocore service model).
SERVICE_ALIASES = {
    "sfn": ("states", "stepfunctions"),
    "stepfunctions": ("states", "stepfunctions"),
    "states": ("states", "stepfunctions"),
    "eventbridge": ("events", "events"),
    "cloudwatchevents": ("events", "events"),
    "events": ("events", "events"),
    "cloudwatchlogs": ("logs", "logs"),
    "logs": ("logs", "logs"),
}


def _service(name: str) -> tuple[str, str]:
    name = name.lower()
    return SERVICE_ALIASES.get(name, (name, name))


@lru_cache(maxsize=None)
def _operations(model: str) -> dict[str, str]:
    """snake_case and lower-case operation names -> the operation's name in the model."""
    session = botocore.session.get_session()
    try:
        names = session.get_service_model(model).operation_names
    except Exception:  # an unknown service: no operation maps
        return {}
    out: dict[str, str] = {}
    for op in names:
        out[botocore.xform_name(op)] = op
        out[op.lower()] = op
    return out


def _operation(model: str, name: str) -> str | None:
    """The model's name of an operation written snake_case, camelCase or PascalCase."""
    ops = _operations(model)
    return ops.get(name) or ops.get(name.lower()) or ops.get(botocore.xform_name(name))


def _pascal(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


# -- the Rust CLI ---------------------------------------------------------------------

_ACCESSORS = "|".join(RUST_CLIENTS)
_RUST_DIRECT = re.compile(rf"\.\s*({_ACCESSORS})\(\)\s*\.\s*([a-z][a-z0-9_]*)\s*\(")
_RUST_BIND = re.compile(rf"\blet\s+(?:mut\s+)?([a-z_][a-z0-9_]*)\s*=\s*&?\s*[\w.]*?\.\s*({_ACCESSORS})\(\)\s*;")


def _strip_rust_comments(text: str) -> str:
    """Drops comment lines (doc examples are not calls); block comments are not used in src/,
    and a naive /* */ rule would eat strings such as "instance/*"."""
    return "\n".join("" if line.lstrip().startswith("//") else line for line in text.splitlines())


def _sent(text: str, end: int) -> bool:
    """Whether the builder chain starting at ``end`` is sent before the statement ends."""
    rest = text[end:end + 600]
    stop = rest.find(";")
    return ".send()" in (rest if stop < 0 else rest[:stop])


def rust_calls() -> tuple[dict[str, set[str]], list[str]]:
    """``service:Operation`` -> files using it, and sent calls no model knows."""
    calls: dict[str, set[str]] = defaultdict(set)
    unknown: list[str] = []
    for path in sorted(SRC.rglob("*.rs")):
        text = _strip_rust_comments(path.read_text())
        rel = str(path.relative_to(REPO_ROOT))
        found = [(m.group(1), m.group(2), m.end()) for m in _RUST_DIRECT.finditer(text)]
        bound = {m.group(1): m.group(2) for m in _RUST_BIND.finditer(text)}
        for var, accessor in bound.items():
            for m in re.finditer(rf"\b{re.escape(var)}\s*\.\s*([a-z][a-z0-9_]*)\s*\(", text):
                found.append((accessor, m.group(1), m.end()))
        for accessor, method, end in found:
            prefix, model = RUST_CLIENTS[accessor]
            op = _operation(model, method)
            if op:
                calls[f"{prefix}:{op}"].add(rel)
            elif _sent(text, end):
                unknown.append(f"{rel}: {accessor}.{method} -> {prefix}:{_pascal(method)}?")
    return calls, unknown


# -- the templates --------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML: every ``!Tag`` becomes its plain value."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


_CfnLoader.add_multi_constructor("!", _any_tag)


def _load(path: Path):
    return yaml.load(path.read_text(), Loader=_CfnLoader)


def _walk(node):
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _templates() -> list[Path]:
    return sorted(STACKS.glob("*.yaml"))


_RESOURCE_TYPE = re.compile(r"^\s*Type:\s*[\"']?((?:AWS|Custom)::[A-Za-z0-9]+(?:::[A-Za-z0-9]+)?)[\"']?\s*(?:#.*)?$", re.M)


def resource_types() -> dict[str, set[str]]:
    """CloudFormation resource types (a parameter type such as AWS::EC2::VPC::Id has four
    parts, or angle brackets, and is not one)."""
    out: dict[str, set[str]] = defaultdict(set)
    for path in _templates():
        for m in _RESOURCE_TYPE.finditer(path.read_text()):
            if m.group(1).startswith("AWS::") and m.group(1).count("::") != 2:
                continue
            out[m.group(1)].add(path.name)
    return out


_STATES_ARN = re.compile(r"arn:(?:\$\{[^}]*\}|[^:\s\"']+):states:::([a-z0-9-]+):([A-Za-z0-9]+)(?::([A-Za-z0-9]+))?")


def stepfunctions_tasks() -> dict[str, set[str]]:
    """Task resources of the Step Functions playbook: SDK integrations and optimised ones."""
    out: dict[str, set[str]] = defaultdict(set)
    path = STACKS / "playbook-stepfunctions.yaml"
    for m in _STATES_ARN.finditer(path.read_text()):
        if m.group(1) == "aws-sdk":
            service, action = m.group(2), m.group(3) or ""
        else:  # optimised integration: arn:aws:states:::sns:publish(.sync|.waitForTaskToken)
            service, action = m.group(1), m.group(2)
        prefix, model = _service(service)
        op = _operation(model, action) or action[:1].upper() + action[1:]
        out[f"{prefix}:{op}"].add(path.name)
    return out


def _documents(path: Path):
    """Every Automation document content of a template (objects, or JSON/YAML text)."""
    for node in _walk(_load(path)):
        if isinstance(node, dict) and node.get("Type") == "AWS::SSM::Document":
            content = (node.get("Properties") or {}).get("Content")
            if isinstance(content, str):
                content = yaml.load(content, Loader=_CfnLoader)
            yield content


# The templates whose SSM Automation runbooks make calls: the ssm playbook and the janitor.
RUNBOOK_TEMPLATES = ("playbook-ssm.yaml", "janitor.yaml")


def ssm_steps() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(``service:Api`` of steps with inputs Service/Api, ``aws:action`` used)."""
    calls: dict[str, set[str]] = defaultdict(set)
    actions: dict[str, set[str]] = defaultdict(set)
    for path in (STACKS / name for name in RUNBOOK_TEMPLATES):
        for content in _documents(path):
            for node in _walk(content):
                if not (isinstance(node, dict) and isinstance(node.get("action"), str)):
                    continue
                actions[node["action"]].add(path.name)
                inputs = node.get("inputs")
                if isinstance(inputs, dict) and "Service" in inputs and "Api" in inputs:
                    prefix, model = _service(str(inputs["Service"]))
                    api = str(inputs["Api"])
                    op = _operation(model, api) or api[:1].upper() + api[1:]
                    calls[f"{prefix}:{op}"].add(path.name)
    return calls, actions


_BOTO_CLIENT = re.compile(r"""(?:boto3|session|_session)\.client\(\s*["']([a-z0-9-]+)["']""")
_PY_ASSIGN = re.compile(r"^[ \t]*([A-Za-z_][\w \t,]*?)\s*=\s*(.*?boto3\.client\(.*)$", re.M)


def boto3_calls() -> dict[str, set[str]]:
    """boto3 client calls in the inline code of every template."""
    out: dict[str, set[str]] = defaultdict(set)
    for path in _templates():
        text = path.read_text()
        bound: dict[str, str] = {}
        for m in _PY_ASSIGN.finditer(text):
            names = [n.strip() for n in m.group(1).split(",")]
            services = _BOTO_CLIENT.findall(m.group(2))
            if len(names) == len(services):
                bound.update(zip(names, services))
        found = [(m.group(1), m.group(2)) for m in re.finditer(
            r"""boto3\.client\(\s*["']([a-z0-9-]+)["'][^)]*\)\s*\.\s*([a-z_][a-z0-9_]*)\s*\(""", text)]
        for var, service in bound.items():
            for m in re.finditer(rf"(?<![\w.]){re.escape(var)}\s*\.\s*([a-z_][a-z0-9_]*)\s*\(", text):
                found.append((service, m.group(1)))
            for m in re.finditer(rf"(?<![\w.]){re.escape(var)}\s*\.\s*get_paginator\(\s*[\"']([a-z0-9_]+)[\"']", text):
                found.append((service, m.group(1)))
        for service, method in found:
            prefix, model = _service(service)
            op = _operation(model, method)
            if op:
                out[f"{prefix}:{op}"].add(path.name)
    return out


def all_calls() -> dict[str, dict[str, set[str]]]:
    """Every extracted item -> {kind: files}, kind one of cli, template, lambda, stepfunctions, ssm."""
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    rust, _ = rust_calls()
    ssm, actions = ssm_steps()
    for kind, found in (
        ("cli", rust),
        ("template", resource_types()),
        ("stepfunctions", stepfunctions_tasks()),
        ("ssm", ssm),
        ("ssm", actions),
    ):
        for item, files in found.items():
            out[item][kind] |= files
    for item, files in boto3_calls().items():  # aws:executeScript in the runbook, else a function
        for file in files:
            out[item]["ssm" if file in RUNBOOK_TEMPLATES else "lambda"].add(file)
    return out


# -- COVERAGE.md ----------------------------------------------------------------------

_ROW = re.compile(r"^\|(.+)\|\s*$")


def coverage_rows() -> list[list[str]]:
    """The body rows of every table in COVERAGE.md, as lists of cells."""
    rows = []
    for line in COVERAGE.read_text().splitlines():
        m = _ROW.match(line.strip())
        if not m:
            continue
        cells = [c.strip() for c in m.group(1).split("|")]
        if all(set(c) <= set("-: ") for c in cells) or cells[0].lower().startswith("call"):
            continue
        rows.append(cells)
    return rows


def _first_cell_items(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


def _test_functions() -> dict[str, dict[str, str]]:
    """test file name -> {test function name: its docstring (and the module's)}."""
    out: dict[str, dict[str, str]] = {}
    for path in TESTS_DIR.glob("test_*.py"):
        tree = ast.parse(path.read_text())
        module_doc = ast.get_docstring(tree) or ""
        out[path.name] = {
            node.name: (ast.get_docstring(node) or "") + "\n" + module_doc
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")
        }
    return out


_TEST_REF = re.compile(r"`(test_[a-z0-9_]+\.py)::(test_[A-Za-z0-9_]+)`")
_RUST_TEST_REF = re.compile(r"`tests/([a-z0-9_]+\.rs)::([a-z0-9_]+)`")
_PATCH_REF = re.compile(r"`patches/([a-z0-9_]+\.py)`")
_URL = re.compile(r"https?://[^\s)>`|]+")
_TOTALS = re.compile(
    r"\*\*Totals: (\d+) rows; (\d+) faithful in moto, (\d+) reproduced by an extension, (\d+) not modelled\.\*\*"
)
STATUSES = ("faithful in moto", "reproduced by an extension", "not modelled")


def _status(cell: str) -> str | None:
    return next((s for s in STATUSES if cell.lower().startswith(s)), None)


def test_every_extracted_call_has_a_row():
    """Every call, resource type, engine task and Automation action found in src/ and
    stacks/ is named (in backticks) in the first column of a COVERAGE.md row."""
    listed = set()
    for cells in coverage_rows():
        listed |= _first_cell_items(cells[0])
    missing = sorted(
        f"{item} (used by {', '.join(sorted(kinds))}: {', '.join(sorted(set().union(*kinds.values())))})"
        for item, kinds in all_calls().items()
        if item not in listed
    )
    assert not missing, "calls missing from emulator/COVERAGE.md:\n  " + "\n  ".join(missing)


def test_rust_calls_map_to_aws_operations():
    """A call the CLI sends whose name no botocore model knows would escape the matrix."""
    _, unknown = rust_calls()
    assert not unknown, "SDK calls in src/ no AWS service model names:\n  " + "\n  ".join(unknown)


def test_extraction_finds_each_kind():
    """The rules still see each source (guards against a rule silently finding nothing)."""
    rust, _ = rust_calls()
    ssm, actions = ssm_steps()
    assert "ec2:DescribeInstances" in rust and "cloudformation:CreateStack" in rust
    assert "guardduty:ListDetectors" in rust  # through `let gd = ctx.guardduty();`
    assert "AWS::EC2::Instance" in resource_types()
    assert not any(t.startswith("AWS::EC2::VPC::") for t in resource_types())  # a parameter type
    tasks = stepfunctions_tasks()
    assert any(k.startswith("ec2:") for k in tasks) and "sns:Publish" in tasks
    assert any(k.startswith("ec2:") for k in ssm) and "aws:executeAwsApi" in actions
    assert "sns:Publish" in boto3_calls()


def test_rows_are_well_formed_and_their_evidence_exists():
    """Each row has four cells and one of the three statuses; every test it names exists
    (emulator/tests, or tests/*.rs for the CLI's integration tests); every patch module it names
    exists; every AWS page it gives is cited by a test it names. A row reproduced by an
    extension names a patch module, a stand-in test and a page; a row "faithful in moto" without
    "(not checked against AWS)" names a stand-in test and the page it cites."""
    tests = _test_functions()
    problems = []
    for cells in coverage_rows():
        row = " | ".join(cells)[:120]
        if len(cells) != 4:
            problems.append(f"{row}: {len(cells)} cells, expected 4")
            continue
        status, evidence = _status(cells[2]), cells[3]
        if status is None:
            problems.append(f"{row}: status {cells[2]!r} is none of {STATUSES}")
        docs = []
        for file, func in _TEST_REF.findall(evidence):
            if func not in tests.get(file, {}):
                problems.append(f"{row}: no test {file}::{func} in emulator/tests")
            else:
                docs.append(tests[file][func])
        for file, func in _RUST_TEST_REF.findall(evidence):
            path = REPO_ROOT / "tests" / file
            if not path.exists() or not re.search(rf"\bfn {re.escape(func)}\s*\(", path.read_text()):
                problems.append(f"{row}: no fn {func} in tests/{file}")
        for module in _PATCH_REF.findall(evidence):
            if not (EMULATOR_DIR / "irlab_emulator" / "patches" / module).exists():
                problems.append(f"{row}: no patch module patches/{module}")
        urls = [url.rstrip(".,;:") for url in _URL.findall(evidence)]
        for url in urls:
            if not any(url in doc for doc in docs):
                problems.append(f"{row}: {url} is cited by none of the tests the row names")
        if status == "reproduced by an extension" and not (_PATCH_REF.search(evidence) and docs and urls):
            problems.append(f"{row}: an extension row names a patch module, a test and the AWS page it cites")
        if cells[2].lower() == "faithful in moto" and not (docs and urls):
            problems.append(f"{row}: 'faithful in moto' names the test that checks it and the page it cites")
    assert not problems, "\n".join(problems)


def test_totals_add_up():
    """The totals line at the top of COVERAGE.md counts the rows as they are."""
    m = _TOTALS.search(COVERAGE.read_text())
    assert m, "COVERAGE.md has no line '**Totals: N rows; F faithful in moto, E reproduced by an extension, M not modelled.**'"
    statuses = [_status(cells[2]) for cells in coverage_rows() if len(cells) == 4]
    actual = (len(statuses), *(statuses.count(s) for s in STATUSES))
    assert tuple(int(g) for g in m.groups()) == actual, f"rows, faithful, extension, not modelled: {actual}"


if __name__ == "__main__":
    rust, unknown = rust_calls()
    for item, kinds in sorted(all_calls().items()):
        print(f"{item:60} {', '.join(f'{k}={sorted(v)}' for k, v in sorted(kinds.items()))}")
    print("unmapped:", unknown)
