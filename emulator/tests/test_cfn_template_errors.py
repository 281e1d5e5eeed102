"""Templates CloudFormation cannot read fail with ValidationError (HTTP 400),
not with an internal error (patches/cloudformation.py)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import unique


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: [unclosed\n",
            "Template format error: YAML not well-formed. (line 5, column 1)",
        ),
        ('{"Resources": {"Queue": {"Type": "AWS::SQS::Queue",}}', "Template format error: JSON not well-formed. (line 1, column 52)"),
        ("template.yaml", "Template format error: unsupported structure."),
    ],
)
def test_a_template_that_cannot_be_read_is_a_validation_error(aws, body, message):
    """A body that is not well-formed YAML or JSON fails CreateStack,
    CreateChangeSet and UpdateStack with ValidationError (HTTP 400) "Template
    format error: YAML not well-formed. (line L, column C)" (JSON: "JSON not
    well-formed."); a body that is well-formed but not a mapping (a file name
    passed as the body) with "Template format error: unsupported structure." -
    moto answered HTTP 500. Nothing is created.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-formats.html
    https://github.com/awslabs/amazon-eks-ami/issues/621 ("Template format error: YAML not well-formed. (line 91, column 65)")
    https://github.com/keaeriksson/hugo-s3-cloudfront/issues/1 ("Template format error: unsupported structure.")
    """
    cf = aws("cloudformation")
    name = unique("badtemplate")
    calls = [
        lambda: cf.create_stack(StackName=name, TemplateBody=body),
        lambda: cf.create_change_set(StackName=name, ChangeSetName="cs", TemplateBody=body, ChangeSetType="CREATE"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert err.value.response["Error"]["Code"] == "ValidationError"
        assert err.value.response["Error"]["Message"] == message
    assert [s for s in cf.list_stacks()["StackSummaries"] if s["StackName"] == name] == []
    cf.create_stack(StackName=name, TemplateBody="Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n")
    with pytest.raises(ClientError) as err:
        cf.update_stack(StackName=name, TemplateBody=body)
    assert err.value.response["Error"]["Message"] == message
    assert cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_a_parameter_the_template_does_not_declare_is_refused(aws):
    """CloudFormation refuses a CreateStack or CreateChangeSet that passes a parameter the
    template does not declare ("Parameters: [Extra] do not exist in the template"); moto ignored
    it, so irlab could pass a parameter a playbook template had lost and only AWS would tell.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html"""
    cf = aws("cloudformation")
    body = "Parameters:\n  Name:\n    Type: String\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n"
    params = [{"ParameterKey": "Name", "ParameterValue": "a"}, {"ParameterKey": "Extra", "ParameterValue": "b"}]
    with pytest.raises(ClientError) as e:
        cf.create_stack(StackName=unique("extra"), TemplateBody=body, Parameters=params)
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert e.value.response["Error"]["Message"] == "Parameters: [Extra] do not exist in the template"
    with pytest.raises(ClientError) as e:
        cf.create_change_set(
            StackName=unique("extra"), ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=body, Parameters=params
        )
    assert "do not exist in the template" in e.value.response["Error"]["Message"]
    name = unique("declared")
    cf.create_stack(StackName=name, TemplateBody=body, Parameters=params[:1])
    cf.delete_stack(StackName=name)
