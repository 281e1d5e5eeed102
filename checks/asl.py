"""asl-validator (npm, pinned in checks/package.json) over every Step
Functions state machine in the lab's templates.

The validator sees the definition Step Functions would get: the template's
intrinsics resolved to a sample lab's values (checks/stacks.py), then the
state machine's ``DefinitionSubstitutions`` applied to the definition text
the way CloudFormation applies them (each ``${key}`` replaced by its value,
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-stepfunctions-statemachine.html).
A ``${name}`` left in the text names a substitution the state machine does
not define: reported here too.

    python checks/asl.py [--validator PATH] [TEMPLATE ...]

The validator is installed by scripts/test (``npm ci`` of checks/) into
``${XDG_CACHE_HOME:-~/.cache}/irlab/node``; ``--validator`` or
``IRLAB_ASL_VALIDATOR`` names another.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import stacks

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")


def default_validator() -> Path:
    if os.environ.get("IRLAB_ASL_VALIDATOR"):
        return Path(os.environ["IRLAB_ASL_VALIDATOR"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "irlab" / "node" / "node_modules" / ".bin" / "asl-validator"


def definitions(template: stacks.Template) -> list[tuple[str, str, list[str]]]:
    """(``<template stem>.<logical id>``, definition text, problems) of each
    state machine."""
    out = []
    for logical, resource in template.resources("AWS::StepFunctions::StateMachine"):
        props = resource.get("Properties") or {}
        name = f"{template.path.stem}.{logical}"
        if "DefinitionS3Location" in props:
            out.append((name, "", ["DefinitionS3Location is not read by checks/asl.py"]))
            continue
        if "Definition" in props:
            text = json.dumps(template.resolve(props["Definition"]), indent=2)
        else:
            text = str(template.resolve(props.get("DefinitionString", "")))
        substitutions: dict[str, Any] = template.resolve(props.get("DefinitionSubstitutions") or {})
        for key, value in substitutions.items():
            text = text.replace("${" + key + "}", str(value))
        problems = [
            f"${{{left}}} is not in DefinitionSubstitutions ({', '.join(substitutions) or 'none'})"
            for left in sorted(set(_PLACEHOLDER.findall(text)))
        ]
        out.append((name, text, problems))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--validator", type=Path, default=None)
    parser.add_argument("templates", nargs="*")
    args = parser.parse_args(argv)
    validator = args.validator or default_validator()
    if not validator.exists():
        print(f"asl-validator not found at {validator}: run `npm ci` in a copy of checks/ "
              "(scripts/test does), or name it with --validator / IRLAB_ASL_VALIDATOR")
        return 2

    failed = False
    with tempfile.TemporaryDirectory(prefix="irlab-asl-") as tmp:
        paths = []
        for template in stacks.templates(args.templates):
            for name, text, problems in definitions(template):
                for problem in problems:
                    print(f"{template.label} {name}: {problem}")
                    failed = True
                if text:
                    path = Path(tmp) / f"{name}.json"
                    path.write_text(text, encoding="utf-8")
                    paths.append(path)
        if not paths:
            print("no state machine definitions found")
            return 0 if not failed else 1
        cmd = [str(validator)]
        for path in paths:
            cmd += ["--json-path", str(path)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        output = (result.stdout + result.stderr).replace(tmp + os.sep, "")
        print(output.rstrip())
        if result.returncode != 0:
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
