"""CloudFormation calls authorised on the stack they name (patches/_iam_enforce.py)."""

from __future__ import annotations

from conftest import ACCOUNT_ID, REGION, create_stack, unique
from test_iam_enforcement import _error, _role, _session

TEMPLATE = "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n"


def test_a_stack_named_by_its_name_is_authorised_as_its_arn(aws, emulator):
    """A policy may allow DescribeStacks and UpdateStack on one stack's ARN,
    arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/* (the resource type
    "stack" of these actions in the Service Authorization Reference;
    "Controlling access with IAM" gives stack/MyStack/* as the example
    resource). A request that names the stack by its name is authorised on
    that ARN: the role's own stack is readable by name, another stack is
    denied on its ARN.
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/control-access-with-iam.html
    """
    cf = aws("cloudformation")
    mine, theirs = unique("mine"), unique("theirs")
    create_stack(cf, mine, TEMPLATE)
    create_stack(cf, theirs, TEMPLATE)
    statement = {
        "Effect": "Allow",
        "Action": ["cloudformation:DescribeStacks"],
        "Resource": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{mine}/*",
    }
    session = _session(aws, emulator, _role(aws, [statement]))("cloudformation")
    assert session.describe_stacks(StackName=mine)["Stacks"][0]["StackName"] == mine
    denied = _error(lambda: session.describe_stacks(StackName=theirs))
    arn = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{theirs}/"
    assert f"cloudformation:DescribeStacks on resource: {arn}" in denied["message"], denied
