"""checks/asl.py hands asl-validator the definition Step Functions would get,
and fails on a seeded mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import asl
import stacks

MACHINE = """
Parameters:
  LabName:
    Type: String
Resources:
  Topic:
    Type: AWS::SNS::Topic
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: arn:aws:iam::123456789012:role/x
      DefinitionSubstitutions:
        LabName: !Ref LabName
        TopicArn: !Ref Topic
      Definition:
        StartAt: Notify
        States:
          Notify:
            Type: Task
            Resource: !Sub "arn:${AWS::Partition}:states:::sns:publish"
            Parameters:
              TopicArn: ${TopicArn}
              Message: irlab ${LabName}
            Next: Done
          Done:
            Type: Succeed
"""


@pytest.fixture(scope="module")
def validator() -> Path:
    path = asl.default_validator()
    if not path.exists():
        pytest.fail(f"asl-validator is not installed at {path}: scripts/test installs it (npm ci of checks/)")
    return path


def test_substitutions_and_intrinsics_are_applied(tmp_path: Path) -> None:
    path = tmp_path / "fixture.yaml"
    path.write_text(MACHINE)
    ((name, text, problems),) = asl.definitions(stacks.Template(path))
    notify = json.loads(text)["States"]["Notify"]
    assert (name, problems) == ("fixture.Machine", [])
    assert notify["Resource"] == "arn:aws:states:::sns:publish"
    assert notify["Parameters"] == {
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:irlab-demo-fixture-Topic-ABCDEF123456",
        "Message": "irlab demo",
    }


def test_an_undefined_substitution_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "fixture.yaml"
    path.write_text(MACHINE.replace("irlab ${LabName}", "irlab ${Lab}"))
    ((_name, _text, problems),) = asl.definitions(stacks.Template(path))
    assert problems == ["${Lab} is not in DefinitionSubstitutions (LabName, TopicArn)"]


def test_a_next_to_nowhere_fails_the_valid_definition_passes(
    tmp_path: Path, validator: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "valid.yaml").write_text(MACHINE)
    (tmp_path / "seeded.yaml").write_text(MACHINE.replace("Next: Done", "Next: Gone"))
    code = asl.main(["--validator", str(validator), str(tmp_path / "valid.yaml"), str(tmp_path / "seeded.yaml")])
    out = capsys.readouterr().out
    assert code == 1
    assert '"valid.Machine.json" is valid' in out
    assert '"seeded.Machine.json" is invalid' in out
    assert "MISSING_TRANSITION_TARGET: Missing 'StartAt'|'Next'|'Default' target: Gone" in out
