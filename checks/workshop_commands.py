"""Every AWS CLI command the workshop's texts (workshop/*.md) show an attendee names an
operation and parameters that exist, checked against botocore's models (the AWS CLI is built on
them): `aws ec2 modify-instance-attribute --groups ...` must be EC2's ModifyInstanceAttribute
with a Groups member. The `irlab` commands are checked by the Rust unit test
`workshop::tests::every_irlab_command_the_texts_name_exists_and_parses`.

    python checks/workshop_commands.py      # exit 1 and one line per problem
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import botocore.session
from botocore import xform_name

ROOT = Path(__file__).resolve().parent.parent
# CLI flags every command takes (global options), not members of an operation's input.
GLOBAL = {"region", "profile", "output", "query", "endpoint-url", "no-cli-pager", "debug"}


def commands(text: str) -> list[str]:
    """The aws commands of the text's sh blocks, and those named inline in `aws ...` code spans
    of its prose (as src/workshop/mod.rs reads the irlab ones)."""
    out, inside, fenced = [], False, False
    for line in text.splitlines():
        t = line.strip()
        if t.startswith("```"):
            fenced = not fenced
            inside = fenced and t == "```sh"
            continue
        if inside and t.startswith("aws "):
            out.append(t)
        if not fenced:
            out += [span for span in line.split("`")[1::2] if span.startswith("aws ")]
    return out


def problems(line: str, session: botocore.session.Session) -> list[str]:
    words = shlex.split(line)
    if len(words) < 3:
        return [f"`{line}`: no service and operation"]
    service, op = words[1], words[2]
    try:
        model = session.get_service_model(service)
    except Exception:
        return [f"`{line}`: no AWS service `{service}`"]
    ops = {xform_name(name, "-"): name for name in model.operation_names}
    if op not in ops:
        return [f"`{line}`: {service} has no operation `{op}`"]
    shape = model.operation_model(ops[op]).input_shape
    members = {xform_name(m, "-") for m in (shape.members if shape else {})}
    out = []
    for w in words[3:]:
        if w.startswith("--"):
            flag = w[2:]
            if flag not in members and flag not in GLOBAL:
                out.append(f"`{line}`: {ops[op]} has no parameter `--{flag}`")
    return out


def main() -> int:
    session = botocore.session.get_session()
    found, bad = 0, []
    for path in sorted((ROOT / "workshop").glob("*.md")):
        for line in commands(path.read_text()):
            found += 1
            bad += [f"workshop/{path.name}: {p}" for p in problems(line, session)]
    for b in bad:
        print(b)
    print(f"{found} AWS CLI commands in workshop/, {len(bad)} problem(s)")
    return 1 if bad or not found else 0


if __name__ == "__main__":
    sys.exit(main())
