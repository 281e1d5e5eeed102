"""The stand-in's own caches (server.py, patches/cloudformation.py) keep its answers as
they were without them: they only spare it work it repeated for every request or stack."""

from __future__ import annotations

from typing import Any

from conftest import REPO_ROOT


def test_a_template_read_again_is_a_fresh_copy(emulator: Any) -> None:
    """moto writes into the template dict of a stack; the next stack made from the same
    body must still read the body, not what the first stack's resources made of it."""
    from irlab_emulator.patches.cloudformation import parse_template

    body = (REPO_ROOT / "stacks" / "detection.yaml").read_text()
    first = parse_template(body)
    pristine = parse_template(body)
    assert first == pristine and first is not pristine
    first["Resources"].clear()
    first["Parameters"]["LabName"]["Default"] = "changed"
    again = parse_template(body)
    assert again == pristine and again["Resources"], "a cached template was handed out and changed"


def test_a_method_added_to_a_response_class_later_is_found(emulator: Any) -> None:
    """moto finds a request's action among the response class's methods; a patch that adds
    one after the list was first read (and kept) must still be found."""
    from moto.core import responses

    assert "_cache_method_names" in responses.method_names_from_class.__qualname__, "the kept list is in place"

    class Probe(responses.BaseResponse):
        def first_action(self) -> None: ...

    assert "first_action" in responses.method_names_from_class(Probe)
    assert "second_action" not in responses.method_names_from_class(Probe)
    Probe.second_action = lambda self: None  # type: ignore[attr-defined]
    assert "second_action" in responses.method_names_from_class(Probe)


def test_answers_written_with_kept_attribute_names_are_the_answers_moto_writes(aws: Any, emulator: Any) -> None:
    """The serializer keeps which attribute of an object holds each member (server.py); every
    answer must read as what moto's own lookup writes: stack events, instance profiles with
    their roles, instances with their tags."""
    from conftest import create_stack, unique
    from moto.core import serialize

    cached = serialize.AttributePicker.__call__
    assert hasattr(cached, "uncached"), "the kept attribute names are in place"
    cf, iam, ec2 = aws("cloudformation"), aws("iam"), aws("ec2")
    stack = unique("cache")
    create_stack(cf, stack, "Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties:\n      Tags: [{Key: k, Value: v}]\n")
    role = unique("role")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}', Path="/cache/")
    iam.create_instance_profile(InstanceProfileName=role, Path="/cache/")
    iam.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "irlab:lab", "Value": stack}]}])

    def answers() -> list[Any]:
        return [
            cf.describe_stack_events(StackName=stack)["StackEvents"],
            cf.describe_stacks(StackName=stack)["Stacks"],
            iam.list_instance_profiles(PathPrefix="/cache/")["InstanceProfiles"],
            ec2.describe_instances(Filters=[{"Name": "tag:irlab:lab", "Values": [stack]}])["Reservations"],
        ]

    with_kept = answers()
    serialize.AttributePicker.__call__ = cached.uncached  # type: ignore[method-assign]
    try:
        without = answers()
    finally:
        serialize.AttributePicker.__call__ = cached  # type: ignore[method-assign]
    assert with_kept == without
    assert with_kept[0] and with_kept[2][0]["Roles"][0]["RoleName"] == role
