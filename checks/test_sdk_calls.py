"""checks/sdk_calls.py finds a seeded mistake of each kind, and nothing in
the correct calls around it."""

from __future__ import annotations

from pathlib import Path

import pytest

import sdk_calls
import stacks

# One correct call of each kind the check reads; each test below spoils one.
STATE_MACHINE = """
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: arn:aws:iam::123456789012:role/x
      DefinitionSubstitutions:
        TopicArn: !Ref Topic
      Definition:
        StartAt: Look up
        States:
          Look up:
            Type: Task
            Resource: !Sub "arn:${AWS::Partition}:states:::aws-sdk:ec2:describeInstances"
            Parameters:
              Filters:
                - Name: instance-id
                  Values.$: States.Array($.id)
            Next: Both
          Both:
            Type: Parallel
            Branches:
              - StartAt: Tag
                States:
                  Tag:
                    Type: Task
                    Resource: arn:aws:states:::aws-sdk:ec2:createTags
                    Parameters:
                      Resources.$: States.Array($.id)
                      Tags:
                        - Key: irlab:ir-status
                          Value: contained
                    End: true
            Next: Notify
          Notify:
            Type: Task
            Resource: arn:aws:states:::sns:publish
            Parameters:
              TopicArn: ${TopicArn}
              Subject: contained
              Message.$: $.summary
            End: true
"""
RUNBOOK = """
  Runbook:
    Type: AWS::SSM::Document
    Properties:
      DocumentType: Automation
      Content:
        schemaVersion: "0.3"
        mainSteps:
          - name: lookUp
            action: aws:executeAwsApi
            inputs:
              Service: ec2
              Api: DescribeInstances
              Filters:
                - Name: instance-id
                  Values: ["{{ InstanceId }}"]
          - name: isolate
            action: aws:loop
            inputs:
              Iterators: "{{ lookUp.InterfaceIds }}"
              Steps:
                - name: quarantine
                  action: aws:executeAwsApi
                  inputs:
                    Service: ec2
                    Api: ModifyNetworkInterfaceAttribute
                    NetworkInterfaceId: "{{ isolate.CurrentIteratorValue }}"
                    Groups: [sg-0123456789abcdef0]
          - name: waitForSnapshots
            action: aws:waitForAwsResourceProperty
            inputs:
              Service: ec2
              Api: DescribeSnapshots
              SnapshotIds: ["{{ snap.Id }}"]
              PropertySelector: $.Snapshots[0].State
              DesiredValues: [completed]
          - name: triage
            action: aws:executeScript
            inputs:
              Runtime: python3.11
              Handler: triage
              Script: |
                def triage(events, context):
                    import boto3
                    ec2, ssm = boto3.client("ec2"), boto3.client("ssm")
                    ssm.get_automation_execution(AutomationExecutionId=events["Id"])
                    return ec2.describe_instances(InstanceIds=[events["InstanceId"]])
"""
FUNCTION = """
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.13
      Handler: index.handler
      Role: arn:aws:iam::123456789012:role/x
      Code:
        ZipFile: |
          import boto3
          ec2 = boto3.client("ec2")
          sns = boto3.client("sns")

          def handler(event, context):
              pages = ec2.get_paginator("describe_instances").paginate(
                  Filters=[{"Name": "tag:irlab:lab", "Values": ["demo"]}])
              ec2.modify_instance_attribute(InstanceId=event["id"], DisableApiStop={"Value": True})
              sns.publish(TopicArn=event["topic"], Subject="contained", Message="done")
"""
TOPIC = """
  Topic:
    Type: AWS::SNS::Topic
"""


def template(tmp_path: Path, *resources: str) -> stacks.Template:
    path = tmp_path / "fixture.yaml"
    path.write_text("Resources:" + "".join(resources))
    return stacks.Template(path)


def problems(tmp_path: Path, *resources: str) -> list[str]:
    found, _counts = sdk_calls.check_template(template(tmp_path, *resources))
    return [p.message for p in found]


def test_the_correct_calls_pass(tmp_path: Path) -> None:
    found, counts = sdk_calls.check_template(template(tmp_path, STATE_MACHINE, RUNBOOK, FUNCTION, TOPIC))
    assert [str(p) for p in found] == []
    assert counts == {"Step Functions tasks": 3, "Automation API steps and script calls": 5, "Lambda code calls": 4}


@pytest.mark.parametrize(
    ("resource", "before", "after", "expected"),
    [
        # Step Functions: aws-sdk action, parameter name, required member, nested member
        (STATE_MACHINE, "ec2:describeInstances", "ec2:describeInstance", ["no such operation"]),
        (STATE_MACHINE, "Values.$: States.Array($.id)", "Valuez.$: States.Array($.id)", ["Parameters.Filters[0].Valuez: not a member of Filter; did you mean Values?"]),
        (STATE_MACHINE, "Resources.$: States.Array($.id)", "ResourceIds.$: States.Array($.id)",
         ["Parameters.ResourceIds: not a member", "required member Resources of CreateTagsRequest missing"]),
        # Step Functions: an optimized integration
        (STATE_MACHINE, "Message.$: $.summary", "Mesage.$: $.summary",
         ["Parameters.Mesage: not a member of PublishInput; did you mean Message?", "required member Message of PublishInput missing"]),
        # Automation: Api, input name, required member, a step inside a loop, wait's own inputs
        (RUNBOOK, "Api: DescribeInstances", "Api: DescribeInstance", ["Api DescribeInstance: no such operation of ec2"]),
        (RUNBOOK, "Service: ec2\n              Api: DescribeInstances", "Service: ec3\n              Api: DescribeInstances",
         ["Service ec3: not a Boto3 client name"]),
        (RUNBOOK, "NetworkInterfaceId: ", "NetworkInterface: ",
         ["inputs.NetworkInterface: not a member", "required member NetworkInterfaceId of ModifyNetworkInterfaceAttributeRequest missing"]),
        (RUNBOOK, "SnapshotIds: ", "SnapshotId: ", ["inputs.SnapshotId: not a member of DescribeSnapshotsRequest; did you mean SnapshotIds?"]),
        # Automation scripts: method and keyword
        (RUNBOOK, "ec2.describe_instances(", "ec2.describe_instance(", ["ec2.describe_instance: no such operation; did you mean describe_instances?"]),
        (RUNBOOK, "AutomationExecutionId=", "ExecutionId=",
         ["ssm.get_automation_execution.ExecutionId: not a member", "required member AutomationExecutionId"]),
        # Lambda code: keyword, required member, dict literal member, paginator, paginate keyword, positional
        (FUNCTION, 'Subject="contained"', 'Subjet="contained"', ["sns.publish.Subjet: not a member of PublishInput; did you mean Subject?"]),
        (FUNCTION, ', Message="done"', "", ["required member Message of PublishInput missing"]),
        (FUNCTION, 'DisableApiStop={"Value": True}', 'DisableApiStop={"Valu": True}',
         ["ec2.modify_instance_attribute.DisableApiStop.Valu: not a member of AttributeBooleanValue; did you mean Value?"]),
        (FUNCTION, 'get_paginator("describe_instances")', 'get_paginator("describe_instance")',
         ["ec2.get_paginator('describe_instance'): botocore has no such paginator"]),
        (FUNCTION, '[{"Name": "tag:irlab:lab"', '[{"Nmae": "tag:irlab:lab"', ["Filters[0].Nmae: not a member of Filter; did you mean Name?"]),
        (FUNCTION, 'sns.publish(TopicArn=event["topic"]', 'sns.publish(event["topic"]',
         ["sns.publish: positional arguments (Boto3 takes keywords only)"]),
        # Lambda code: calls the check cannot follow are reported, not skipped
        (FUNCTION, 'sns = boto3.client("sns")', 'sns = boto3.resource("sns")', ["boto3.resource(...): its calls cannot be checked"]),
    ],
    ids=[
        "sfn-action", "sfn-parameter", "sfn-required", "sfn-optimized",
        "ssm-api", "ssm-service", "ssm-loop-step", "ssm-wait",
        "script-method", "script-keyword",
        "lambda-keyword", "lambda-required", "lambda-literal", "lambda-paginator", "lambda-paginate", "lambda-positional",
        "lambda-resource",
    ],
)
def test_a_seeded_mistake_is_found(tmp_path: Path, resource: str, before: str, after: str, expected: list[str]) -> None:
    assert before in resource
    others = [r for r in (STATE_MACHINE, RUNBOOK, FUNCTION) if r is not resource]
    found = problems(tmp_path, resource.replace(before, after, 1), *others, TOPIC)
    assert len(found) == len(expected), found
    for message, want in zip(found, expected):
        assert want in message
