"""Parliament (duo-labs' IAM policy linter, pinned in
emulator/requirements-dev.txt) over every IAM policy in the lab's templates.

Checked, with the templates' intrinsics resolved to a sample lab's values
(checks/stacks.py):

* identity policies: the inline ``Policies`` of roles, users and groups, and
  ``AWS::IAM::ManagedPolicy`` / ``AWS::IAM::Policy`` documents;
* resource policies: every other ``PolicyDocument`` (topic, queue and bucket
  policies) and each ``AWS::Lambda::Permission``, as the statement Lambda
  adds to the function's policy (``AWS:SourceArn`` / ``AWS:SourceAccount``
  conditions,
  https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html).

Not checked: role trust policies (``AssumeRolePolicyDocument``). Parliament
requires a Resource in every statement and reports a trust policy, which has
none, as MALFORMED.

Every finding must be listed, with why it is acceptable, in
checks/parliament-accepted.yaml; the check fails on a finding not listed and
on a listed finding that no longer occurs. Findings are read through
Parliament's API (``analyze_policy_string``, each finding's ``issue``,
``detail`` and ``location``), with its community auditors on.

    python checks/iam_policies.py [--accepted FILE] [TEMPLATE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import yaml

with warnings.catch_warnings():  # Parliament imports pkg_resources, which setuptools warns about
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    import parliament

import stacks

ACCEPTED = Path(__file__).resolve().parent / "parliament-accepted.yaml"
# titles and severities of the community auditors' findings, as Parliament's CLI loads them
parliament.override_config(str(Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml"))
IDENTITY_TYPES = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")


class Policy(NamedTuple):
    where: str  # "stacks/x.yaml Logical [policy name]"
    document: dict[str, Any]


class Finding(NamedTuple):
    policy: str
    statement: str  # Sid, "#<index>" without one, "" for the whole policy
    finding: str
    detail: str

    def entry(self) -> dict[str, str]:
        out = {"policy": self.policy}
        if self.statement:
            out["statement"] = self.statement
        out["finding"] = self.finding
        if self.detail:
            out["detail"] = self.detail
        return out


def policies(template: stacks.Template) -> Iterator[Policy]:
    for logical, resource in template.resources():
        typ = resource.get("Type")
        props = resource.get("Properties") or {}
        where = f"{template.label} {logical}"
        if typ in IDENTITY_TYPES:
            for inline in props.get("Policies") or []:
                name = template.resolve(inline.get("PolicyName"))
                yield Policy(f"{where} {name}", template.resolve(inline["PolicyDocument"]))
        elif typ == "AWS::Lambda::Permission":
            yield Policy(where, lambda_permission(template, logical, template.resolve(props)))
        elif "PolicyDocument" in props:
            document = template.resolve(props["PolicyDocument"])
            if isinstance(document, str):
                document = json.loads(document)
            yield Policy(where, document)


def lambda_permission(template: stacks.Template, logical: str, props: dict[str, Any]) -> dict[str, Any]:
    """The statement AddPermission stores in the function's resource policy."""
    function = str(props["FunctionName"])
    if not function.startswith("arn:"):
        function = f"arn:{stacks.PARTITION}:lambda:{stacks.REGION}:{stacks.ACCOUNT}:function:{function}"
    principal = str(props["Principal"])
    if principal == "*":
        who: Any = "*"
    elif principal.endswith(".amazonaws.com") or principal.endswith(".amazonaws.com.cn"):
        who = {"Service": principal}
    else:
        who = {"AWS": principal}
    statement: dict[str, Any] = {
        "Sid": logical,
        "Effect": "Allow",
        "Principal": who,
        "Action": props["Action"],
        "Resource": function,
    }
    condition: dict[str, Any] = {}
    if "SourceArn" in props:
        condition.setdefault("ArnLike", {})["AWS:SourceArn"] = props["SourceArn"]
    if "SourceAccount" in props:
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = props["SourceAccount"]
    if "PrincipalOrgID" in props:
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = props["PrincipalOrgID"]
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Id": "default", "Statement": [statement]}


def _detail(issue: str, detail: Any, location: dict[str, Any]) -> str:
    """A finding's detail as one stable line (no line numbers)."""
    if issue == "RESOURCE_MISMATCH" and isinstance(detail, list):
        return "; ".join(f"{d['action']} needs {d['required_format']}" for d in detail)
    parts = []
    if detail:
        parts.append(detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True))
    extra = {k: v for k, v in location.items() if k not in ("line", "column", "lineno", "filepath", "string")}
    if extra:
        # Parliament gathers some of these (actions) in a set: sorted, the line is the same every run.
        parts.append(
            ", ".join(f"{k}: {', '.join(sorted(map(str, v))) if isinstance(v, list) else v}" for k, v in sorted(extra.items()))
        )
    return "; ".join(parts)


def analyse(policy: Policy) -> list[Finding]:
    result = parliament.analyze_policy_string(json.dumps(policy.document, indent=1), include_community_auditors=True)
    out = []
    by_statement = {id(f): s for s in result.statements for f in s.findings}
    labels = {}
    for i, statement in enumerate(result.statements):
        labels[id(statement)] = statement.sid if statement.sid else f"#{i}"
    for f in result.findings:
        statement = by_statement.get(id(f))
        label = labels[id(statement)] if statement is not None else ""
        out.append(Finding(policy.where, label, f.issue, _detail(f.issue, f.detail, f.location or {})))
    return out


def load_accepted(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as f:
        entries = yaml.safe_load(f) or []
    for entry in entries:
        missing = [k for k in ("policy", "finding", "why") if not str(entry.get(k) or "").strip()]
        if missing:
            raise SystemExit(f"{path}: an entry lacks {', '.join(missing)}: {entry}")
    return entries


def _matches(entry: dict[str, str], finding: Finding) -> bool:
    return all(str(entry.get(k) or "") == v for k, v in finding.entry().items()) and not (
        set(entry) - {"policy", "statement", "finding", "detail", "why"}
    )


def check(templates: list[stacks.Template], accepted_path: Path) -> tuple[list[Finding], list[dict[str, str]], int]:
    """(findings not accepted, accepted entries that no longer occur, policies checked)."""
    accepted = load_accepted(accepted_path)
    used = [False] * len(accepted)
    unexpected: list[Finding] = []
    count = 0
    for template in templates:
        for policy in policies(template):
            count += 1
            for finding in analyse(policy):
                hits = [i for i, e in enumerate(accepted) if _matches(e, finding)]
                for i in hits:
                    used[i] = True
                if not hits:
                    unexpected.append(finding)
    stale = [e for e, u in zip(accepted, used) if not u]
    return unexpected, stale, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accepted", type=Path, default=ACCEPTED)
    parser.add_argument("templates", nargs="*")
    args = parser.parse_args(argv)
    unexpected, stale, count = check(stacks.templates(args.templates), args.accepted)
    label = args.accepted.name
    for f in unexpected:
        conf = parliament.config.get(f.finding, {})
        print(f"{f.policy}{' [' + f.statement + ']' if f.statement else ''}: {f.finding} "
              f"({conf.get('severity', '?')}: {conf.get('title', '')}){': ' + f.detail if f.detail else ''}")
    if unexpected:
        print(f"\n{len(unexpected)} finding(s) not in {label}. Fix the policy, or accept each with why:\n")
        print(yaml.safe_dump([{**f.entry(), "why": "..."} for f in unexpected], sort_keys=False, width=120))
    for e in stale:
        print(f"{label}: accepted finding no longer occurs (remove the entry): "
              f"{e['policy']}{' [' + e['statement'] + ']' if e.get('statement') else ''}: {e['finding']}")
    if unexpected or stale:
        return 1
    print(f"parliament {parliament.__version__}: {count} policies, every finding accepted in {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
