"""Step Functions: CreateStateMachine and UpdateStateMachine refuse a definition
AWS refuses (patches/_asl_validate.py, hooked in by patches/stepfunctions.py),
and accept the lab's own workflow."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cfn_template import properties
from conftest import ACCOUNT_ID, REGION, REPO_ROOT, create_stack, unique
from iam_roles import service_role
from test_stepfunctions import ROLE, run

PLAYBOOK = REPO_ROOT / "stacks" / "playbook-stepfunctions.yaml"


def refused(sfn: Any, definition: Any) -> str:
    """CreateStateMachine's InvalidDefinition message (HTTP 400) for ``definition``."""
    text = definition if isinstance(definition, str) else json.dumps(definition)
    before = len(sfn.list_state_machines()["stateMachines"])
    with pytest.raises(ClientError) as caught:
        sfn.create_state_machine(name=unique("sm"), definition=text, roleArn=ROLE)
    error = caught.value.response
    assert error["Error"]["Code"] == "InvalidDefinition", error
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"].startswith("Invalid State Machine Definition: '"), error["Error"]["Message"]
    assert len(sfn.list_state_machines()["stateMachines"]) == before
    return error["Error"]["Message"]


def task(resource: str, parameters: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": resource, **fields}
    if parameters is not None:
        state["Parameters"] = parameters
    if "Next" not in state:
        state["End"] = True
    return state


def test_invalid_json_is_refused(aws):
    """CreateStateMachine "InvalidDefinition: The provided Amazon States Language
    definition is not valid" (HTTP 400); text that is not JSON is diagnosed
    INVALID_JSON_DESCRIPTION ("JSON syntax problem found"), and JSON that is
    not an object "Definition must be a valid JSON object".
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_ValidateStateMachineDefinitionDiagnostic.html
    """
    sfn = aws("stepfunctions")
    message = refused(sfn, '{"StartAt": "A", "States": {')
    assert message.startswith("Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: ")
    assert "line: 1" in message
    assert refused(sfn, "[]") == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Definition must be a valid JSON object at null'"
    )


def test_missing_start_at_or_a_start_at_naming_no_state_is_refused(aws):
    """A state machine "MUST have a string field named "StartAt", whose value
    MUST exactly match one of names of the "States" fields" (ASL); AWS reports
    the missing field as SCHEMA_VALIDATION_FAILED "These fields are required:
    [StartAt]" at "/", and a StartAt naming no state as
    MISSING_TRANSITION_TARGET.
    https://states-language.net/spec.html
    https://docs.aws.amazon.com/step-functions/latest/dg/statemachine-structure.html
    """
    sfn = aws("stepfunctions")
    assert refused(sfn, {"States": {"A": {"Type": "Pass", "End": True}}}) == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [StartAt] at /'"
    )
    assert refused(sfn, {}) == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [States, StartAt] at /'"
    )
    message = refused(sfn, {"StartAt": "B", "States": {"A": {"Type": "Pass", "End": True}}})
    assert "MISSING_TRANSITION_TARGET: Missing 'StartAt' target: B at /StartAt" in message


@pytest.mark.parametrize(
    "states, expected",
    [
        (
            {"A": {"Type": "Pass", "Next": "Nowhere"}, "B": {"Type": "Succeed"}},
            "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nowhere at /States/A/Next",
        ),
        (
            {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "B"}], "Default": "Nowhere"},
             "B": {"Type": "Succeed"}},
            "MISSING_TRANSITION_TARGET: Missing 'Default' target: Nowhere at /States/A/Default",
        ),
        (
            {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Nowhere"}], "Default": "B"},
             "B": {"Type": "Succeed"}},
            "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nowhere at /States/A/Choices/0/Next",
        ),
        (
            {"A": {"Type": "Pass", "Next": "B"},
             "B": task("arn:aws:states:::aws-sdk:ec2:describeInstances", {},
                       Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Nowhere"}])},
            "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nowhere at /States/B/Catch/0/Next",
        ),
    ],
    ids=["Next", "Default", "Choice-Next", "Catch-Next"],
)
def test_a_transition_to_a_missing_state_is_refused(aws, states, expected):
    """"The value of the "Next" field MUST exactly and case-sensitively match
    the name of another state"; the same holds for a Choice rule's "Next", its
    "Default" and a Catcher's "Next" (ASL). AWS answers
    "MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at
    /States/pass1/Next" ("The value of "Next" field doesn't match a known state
    name").
    https://states-language.net/spec.html
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_ValidateStateMachineDefinitionDiagnostic.html
    """
    message = refused(aws("stepfunctions"), {"StartAt": "A", "States": states})
    assert expected in message, message


def test_unreachable_states_and_a_workflow_without_end_are_refused(aws):
    """Every state must be reachable from StartAt (AWS: "MISSING_TRANSITION_TARGET:
    State "pass2" is not reachable. at /States/pass2", several problems joined
    with ", " in one message), and a workflow needs a terminal state - "End":
    true, Succeed or Fail (MISSING_END_STATE "The workflow does not have a
    terminal state"); a non-terminal state other than Choice needs "Next"
    ("All non-terminal states MUST have a "Next" field, except for the Choice
    state").
    https://docs.aws.amazon.com/step-functions/latest/dg/statemachine-structure.html
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_ValidateStateMachineDefinitionDiagnostic.html
    https://states-language.net/spec.html
    """
    sfn = aws("stepfunctions")
    assert refused(sfn, {"StartAt": "pass1", "States": {"pass1": {"Type": "Pass", "Next": "pass3"},
                                                         "pass2": {"Type": "Pass", "End": True}}}) == (
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at /States/pass1/Next, "
        "MISSING_TRANSITION_TARGET: State \"pass2\" is not reachable. at /States/pass2'"
    )
    assert refused(sfn, {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}) == (
        "Invalid State Machine Definition: 'MISSING_END_STATE: Workflow has no terminal state at null'"
    )
    message = refused(sfn, {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass"},
                                                       "C": {"Type": "Succeed"}}})
    assert "SCHEMA_VALIDATION_FAILED: These fields are required: [Next] at /States/B" in message
    assert "State \"C\" is not reachable. at /States/C" in message
    assert "DUPLICATE_STATE_NAME: Duplicate State name: A at /States/A" in refused(
        sfn, '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "A": {"Type": "Succeed"}}}'
    )


def test_an_unknown_aws_sdk_service_or_action_is_refused(aws):
    """An AWS SDK integration is "arn:aws:states:::aws-sdk:serviceName:apiAction",
    the service named as Step Functions lists it (CloudWatch Logs is
    "cloudwatchlogs", not Boto3's "logs") and "The API action will always be
    camel case"; anything else is "SCHEMA_VALIDATION_FAILED: The resource
    provided ... is not recognized. The value is not a valid resource ARN, or
    the resource is not available in this region." at the state's Resource.
    Lambda's InvokeAsync is listed as unsupported.
    https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
    """
    sfn = aws("stepfunctions")
    for resource in (
        "arn:aws:states:::aws-sdk:logs:describeLogGroups",
        "arn:aws:states:::aws-sdk:ec2:describeInstance",
        "arn:aws:states:::aws-sdk:ec2:DescribeInstances",
        "arn:aws:states:::aws-sdk:ec2:describeInstances.sync",
        "arn:aws:states:::aws-sdk:lambda:invokeAsync",
    ):
        message = refused(sfn, {"StartAt": "A", "States": {"A": task(resource)}})
        assert message == (
            f"Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The resource provided {resource} is not "
            "recognized. The value is not a valid resource ARN, or the resource is not available in this region. "
            "at /States/A/Resource'"
        )
    for resource in (
        "arn:aws:states:::aws-sdk:cloudwatchlogs:describeLogGroups",
        "arn:aws:states:::aws-sdk:eventbridge:listRules",
        "arn:aws:states:::aws-sdk:sfn:listStateMachines",
        "arn:aws:states:::aws-sdk:rds:describeDBInstances",
        "arn:aws-us-gov:states:::aws-sdk:sqs:sendMessage.waitForTaskToken",
    ):
        sfn.create_state_machine(name=unique("sm"), roleArn=ROLE,
                                 definition=json.dumps({"StartAt": "A", "States": {"A": task(resource)}}))


def test_unknown_aws_sdk_parameter_names_are_refused(aws):
    """"Parameters in Step Functions are expressed in PascalCase, even if the
    native service API is in camelCase", and array parameters take the plural
    form: "If you don't use the plural form, Step Functions returns the
    following error: The field Filter is not supported by Step Functions."
    The key of a path is the name without its ".$"; nested structures are
    checked too (AWS refused verifiedpermissions:createPolicy with a nested
    "static": 'SCHEMA_VALIDATION_FAILED: The field "static" is not supported by
    Step Functions at /States/resource/Parameters').
    https://docs.aws.amazon.com/step-functions/latest/dg/connect-parameters.html
    https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
    """
    sfn = aws("stepfunctions")
    snapshots = "arn:aws:states:::aws-sdk:ec2:describeSnapshots"
    message = refused(sfn, {"StartAt": "A", "States": {"A": task(snapshots, {"Filter": [{"Name": "status", "Values": ["completed"]}]})}})
    assert message == (
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The field \"Filter\" is not supported by Step "
        "Functions at /States/A/Parameters'"
    )
    assert 'The field "Owner" is not supported by Step Functions at /States/A/Parameters' in refused(
        sfn, {"StartAt": "A", "States": {"A": task(snapshots, {"Owner.$": "$.owner"})}}
    )
    assert 'The field "Value" is not supported by Step Functions' in refused(
        sfn, {"StartAt": "A", "States": {"A": task(snapshots, {"Filters": [{"Name": "status", "Value": ["completed"]}]})}}
    )
    assert 'The field "static" is not supported by Step Functions' in refused(
        sfn, {"StartAt": "A", "States": {"A": task("arn:aws:states:::aws-sdk:verifiedpermissions:createPolicy",
                                                   {"PolicyStoreId": "ps-1", "Definition": {"static": {"Statement": "permit(principal, action, resource);"}}})}}
    )
    # camelCase members are PascalCase in Step Functions; paths keep their ".$"
    sfn.create_state_machine(name=unique("sm"), roleArn=ROLE, definition=json.dumps({"StartAt": "A", "States": {"A": task(
        "arn:aws:states:::aws-sdk:verifiedpermissions:createPolicy",
        {"PolicyStoreId.$": "$.store", "Definition": {"Static": {"Statement": "permit(principal, action, resource);"}}})}}))


def test_branches_and_item_processors_are_checked_too(aws):
    """Each Parallel branch and each Map ItemProcessor (or its older name
    Iterator) is a state machine of its own: "A state within a branch may not
    transition to a state outside that branch"; every rule above applies
    inside, located under /States/<state>/Branches/<i> or /ItemProcessor.
    https://states-language.net/spec.html
    https://docs.aws.amazon.com/step-functions/latest/dg/state-parallel.html
    https://docs.aws.amazon.com/step-functions/latest/dg/state-map-inline.html
    """
    sfn = aws("stepfunctions")
    message = refused(sfn, {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "Done", "Branches": [
            {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Done"}}}]},
        "Done": {"Type": "Succeed"}}})
    assert "MISSING_TRANSITION_TARGET: Missing 'Next' target: Done at /States/P/Branches/0/States/X/Next" in message
    assert "MISSING_END_STATE: Workflow has no terminal state at /States/P/Branches/0" in message
    message = refused(sfn, {"StartAt": "M", "States": {
        "M": {"Type": "Map", "End": True, "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "T", "States": {
            "T": task("arn:aws:states:::aws-sdk:ec2:createTags", {"Resources.$": "States.Array($)", "Tag": []})}}}}})
    assert 'The field "Tag" is not supported by Step Functions at /States/M/ItemProcessor/States/T/Parameters' in message
    message = refused(sfn, {"StartAt": "M", "States": {
        "M": {"Type": "Map", "End": True, "Iterator": {"StartAt": "T", "States": {
            "T": task("arn:aws:states:::aws-sdk:ec2:describeInstance")}}}}})
    assert "at /States/M/Iterator/States/T/Resource" in message


def test_jsonata_states_take_arguments_and_output(aws):
    """In a JSONata state "Arguments" replaces "Parameters" (and "Output" the
    output paths): the JSONPath fields InputPath, Parameters, ResultSelector,
    ResultPath and OutputPath are refused there ("The QueryLanguage is set to
    'JSONata', but field 'Parameters' is only supported for the 'JSONPath'
    QueryLanguage"), a JSONata machine cannot set a state back to JSONPath,
    and an aws-sdk task's Arguments hold the API's parameters in PascalCase.
    https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html
    https://docs.aws.amazon.com/step-functions/latest/dg/statemachine-structure.html
    """
    sfn = aws("stepfunctions")
    buckets = "arn:aws:states:::aws-sdk:s3:listBuckets"
    ok = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": buckets, "Arguments": {"MaxBuckets": "{% 3 %}"}, "Output": "{% $states.result %}", "End": True}}}
    sfn.create_state_machine(name=unique("sm"), roleArn=ROLE, definition=json.dumps(ok))
    bad = json.loads(json.dumps(ok))
    bad["States"]["A"]["Arguments"]["Maxbuckets"] = 1
    assert 'The field "Maxbuckets" is not supported by Step Functions at /States/A/Arguments' in refused(sfn, bad)
    bad = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Task", "Resource": buckets, "Parameters": {}, "End": True}}}
    assert ("SCHEMA_VALIDATION_FAILED: The QueryLanguage is set to 'JSONata', but field 'Parameters' is only supported "
            "for the 'JSONPath' QueryLanguage at /States/A") in refused(sfn, bad)
    bad = {"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}}}
    assert ("'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine at /States/A") in refused(sfn, bad)
    # a JSONata state in a JSONPath machine
    mixed = {"StartAt": "A", "States": {"A": {"Type": "Task", "QueryLanguage": "JSONata", "Resource": buckets,
                                                "Arguments": {}, "Output": "{% $states.result.Buckets %}", "End": True}}}
    sfn.create_state_machine(name=unique("sm"), roleArn=ROLE, definition=json.dumps(mixed))


def test_update_state_machine_refuses_an_invalid_definition(aws):
    """UpdateStateMachine answers InvalidDefinition like CreateStateMachine, and
    the machine keeps its definition.
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_UpdateStateMachine.html
    """
    sfn = aws("stepfunctions")
    good = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    arn = sfn.create_state_machine(name=unique("sm"), roleArn=ROLE, definition=json.dumps(good))["stateMachineArn"]
    with pytest.raises(ClientError) as caught:
        sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}))
    assert caught.value.response["Error"]["Code"] == "InvalidDefinition"
    assert "Missing 'Next' target: B at /States/A/Next" in caught.value.response["Error"]["Message"]
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == good


def test_cloudformation_fails_a_state_machine_with_an_invalid_definition(aws):
    """CloudFormation creates an AWS::StepFunctions::StateMachine through
    CreateStateMachine: an invalid Definition fails the resource with the
    InvalidDefinition message and the stack rolls back.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-stepfunctions-statemachine.html
    """
    cf = aws("cloudformation")
    body = {"Resources": {"Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
        "RoleArn": ROLE,
        "Definition": {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:ec2:describeInstance", "End": True}}}}}}}
    name = unique("bad-sm")
    stack = create_stack(cf, name, json.dumps(body))
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [e.get("ResourceStatusReason", "") for e in cf.describe_stack_events(StackName=name)["StackEvents"]
               if e["LogicalResourceId"] == "Machine" and e["ResourceStatus"] == "CREATE_FAILED"]
    assert reasons and "Invalid State Machine Definition" in reasons[0] and "/States/A/Resource" in reasons[0], reasons


def lab_definition() -> dict[str, Any]:
    """The Step Functions playbook's definition as CloudFormation passes it to
    CreateStateMachine: Definition serialised, pseudo parameters and
    DefinitionSubstitutions filled with plausible values."""
    from irlab_emulator.patches.stepfunctions import definition_text

    props = properties(PLAYBOOK, "StateMachine", {
        "AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "LabName": "t1",
        "QuarantineSecurityGroupId": "sg-0123456789abcdef0",
        "UntrackSecurityGroupId": "sg-0fedcba9876543210",
        "InstanceRoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/irlab/t1/{REGION}/irlab-t1-victim-InstanceRole-ABC",
        "AlertTopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:irlab-t1-alerts",
        "EvidenceBucketName": "irlab-t1-detection-evidencebucket-abc",
        "CollectDocumentName": "irlab-t1-detection-CollectDocument-ABC",
        "EvidenceBudgetSeconds": "120",
        "Indicators": "{}",
        "MemoryDocumentName": "irlab-t1-detection-MemoryDocument-ABC",
        "MemoryTool": "",
        "MemoryToolSha256": "",
        "MemoryBudgetSeconds": "300",
        "ApprovalTimeoutSeconds": "3600",
        "EradicateDocumentName": "irlab-t1-detection-EradicateDocument-ABC",
        "EradicateInstanceProfileArn": f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/irlab/t1/{REGION}/irlab-t1-eradicate",
        "EradicateTimeoutSeconds": "300",
        "EradicateCommands": '["true"]',
        "SubnetId": "subnet-0123456789abcdef0",
        "AWS::StackName": "irlab-t1-playbook-stepfunctions",
        "StateMachineRole.Arn": ROLE,
    })
    return json.loads(definition_text(props, ACCOUNT_ID, REGION))


def test_the_lab_playbook_definition_is_accepted(aws):
    """The lab's workflow (stacks/playbook-stepfunctions.yaml) passes every check
    CreateStateMachine makes: JSONPath, aws-sdk:ec2 and aws-sdk:iam
    integrations with their parameters, sns:publish, Map item processors,
    nested intrinsic functions.
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html
    """
    sfn = aws("stepfunctions")
    definition = lab_definition()
    assert definition["QueryLanguage"] == "JSONPath" and "Cut interfaces" in definition["States"]
    arn = sfn.create_state_machine(name=unique("pb"), roleArn=ROLE, definition=json.dumps(definition))["stateMachineArn"]
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == definition
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(definition))


def test_aws_sdk_service_names_reach_their_boto3_client(aws):
    """Step Functions names services after the AWS SDK for Java 2.x ("cloudwatchlogs",
    "eventbridge", "sfn"): an execution of aws-sdk:cloudwatchlogs:describeLogGroups
    calls CloudWatch Logs (moto used the name as a Boto3 client name and failed).
    https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
    """
    logs, sfn = aws("logs"), aws("stepfunctions")
    logs.create_log_group(logGroupName="/irlab/sdk-names")
    service_role(sfn, "states.amazonaws.com", ROLE.rsplit("/", 1)[-1])
    arn = sfn.create_state_machine(name=unique("sm"), roleArn=ROLE, definition=json.dumps({"StartAt": "Logs", "States": {
        "Logs": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:cloudwatchlogs:describeLogGroups",
                 "Parameters": {"LogGroupNamePrefix": "/irlab/"}, "ResultSelector": {"names.$": "$.LogGroups[*].LogGroupName"},
                 "ResultPath": "$.logs", "Next": "Rules"},
        "Rules": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:eventbridge:listRules", "Parameters": {},
                  "ResultSelector": {"count.$": "States.ArrayLength($.Rules)"}, "ResultPath": "$.rules", "End": True}}}))["stateMachineArn"]
    described = run(sfn, arn)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["logs"]["names"] == ["/irlab/sdk-names"] and output["rules"]["count"] == 0
