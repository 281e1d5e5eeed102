"""checks/iam_policies.py fails on a Parliament finding that is not accepted,
and on an accepted finding that no longer occurs."""

from __future__ import annotations

from pathlib import Path

import iam_policies
import stacks

ROLE = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: read
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: Describe
                Effect: Allow
                Action: ec2:DescribeInstances
                Resource: "*"
  Permission:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: irlab-demo-audit-recorder
      Action: lambda:InvokeFunction
      Principal: events.amazonaws.com
      SourceArn: !Sub "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/x"
"""
TYPO_ENTRY = """
- policy: {template} Role read
  statement: Describe
  finding: UNKNOWN_ACTION
  detail: 'Unknown action ec2:DescribeInstancez'
  why: a test
"""


def run(tmp_path: Path, template: str, accepted: str) -> tuple[list[iam_policies.Finding], list[dict[str, str]], int]:
    path = tmp_path / "fixture.yaml"
    path.write_text(template)
    accepted_path = tmp_path / "accepted.yaml"
    accepted_path.write_text(accepted.replace("{template}", str(path)) or "[]")
    return iam_policies.check([stacks.Template(path)], accepted_path)


def test_correct_policies_have_no_finding(tmp_path: Path) -> None:
    unexpected, stale, count = run(tmp_path, ROLE, "")
    assert (unexpected, stale, count) == ([], [], 2)  # the inline policy and the Lambda permission


def test_a_typo_in_an_action_fails_the_check(tmp_path: Path) -> None:
    unexpected, stale, _ = run(tmp_path, ROLE.replace("ec2:DescribeInstances", "ec2:DescribeInstancez"), "")
    assert [(f.statement, f.finding) for f in unexpected] == [("Describe", "UNKNOWN_ACTION")]
    assert "ec2:DescribeInstancez" in unexpected[0].detail
    assert stale == []


def test_a_lambda_permission_is_checked_as_the_function_policy_statement(tmp_path: Path) -> None:
    unexpected, _stale, _ = run(tmp_path, ROLE.replace("lambda:InvokeFunction", "lambda:InvokeFunctoin"), "")
    assert [(f.policy.split()[-1], f.statement, f.finding) for f in unexpected] == [("Permission", "Permission", "UNKNOWN_ACTION")]


def test_an_accepted_finding_passes(tmp_path: Path) -> None:
    unexpected, stale, _ = run(tmp_path, ROLE.replace("ec2:DescribeInstances", "ec2:DescribeInstancez"), TYPO_ENTRY)
    assert (unexpected, stale) == ([], [])


def test_an_accepted_finding_that_no_longer_occurs_fails_the_check(tmp_path: Path) -> None:
    unexpected, stale, _ = run(tmp_path, ROLE, TYPO_ENTRY)
    assert unexpected == []
    assert [(e["statement"], e["finding"]) for e in stale] == [("Describe", "UNKNOWN_ACTION")]
