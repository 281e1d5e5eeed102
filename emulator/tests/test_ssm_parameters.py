"""Parameter Store PutParameter semantics the lab relies on: a parameter
created without Overwrite is a lease only one caller can take (patches/ssm.py)."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import unique

ALREADY_EXISTS = "The parameter already exists. To overwrite this value, set the overwrite option in the request to true."


def test_put_parameter_without_overwrite_never_replaces_an_existing_parameter(aws):
    """Overwrite: "Overwrite an existing parameter. The default value is false."
    PutParameter of an existing name without Overwrite (or with false) fails with
    ParameterAlreadyExists (HTTP 400) and leaves value and version as they were;
    Overwrite true replaces it (version + 1). After DeleteParameter the name can
    be created again. (moto already did this; tested because the lab's lease
    depends on it.)
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html (Overwrite, ParameterAlreadyExists)
    """
    ssm = aws("ssm")
    name = f"/irlab/{unique('lease')}"
    assert ssm.put_parameter(Name=name, Value="holder-1", Type="String")["Version"] == 1
    for kwargs in ({}, {"Overwrite": False}):
        with pytest.raises(ClientError) as err:
            ssm.put_parameter(Name=name, Value="holder-2", Type="String", **kwargs)
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert err.value.response["Error"]["Code"] == "ParameterAlreadyExists"
        assert err.value.response["Error"]["Message"] == ALREADY_EXISTS
    parameter = ssm.get_parameter(Name=name)["Parameter"]
    assert (parameter["Value"], parameter["Version"]) == ("holder-1", 1)
    assert ssm.put_parameter(Name=name, Value="holder-1 renewed", Overwrite=True)["Version"] == 2
    parameter = ssm.get_parameter(Name=name)["Parameter"]
    assert (parameter["Value"], parameter["Type"]) == ("holder-1 renewed", "String")
    ssm.delete_parameter(Name=name)
    assert ssm.put_parameter(Name=name, Value="holder-2", Type="String")["Version"] == 1


def test_tags_and_overwrite_cannot_be_used_together(aws):
    """Tags are given when a parameter is created ("To add tags to an existing
    Systems Manager parameter, use the AddTagsToResource operation"); a request
    with Tags and Overwrite true fails with ValidationException, whether or not
    the parameter exists, and changes nothing. (moto already did this.)
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html (Tags)
    https://github.com/aws/copilot-cli/pull/4885 ("the overwrite flag cannot be used with tags")
    """
    ssm = aws("ssm")
    name = f"/irlab/{unique('tagged')}"
    tags = [{"Key": "irlab:lab", "Value": "t1"}]
    with pytest.raises(ClientError) as err:
        ssm.put_parameter(Name=name, Value="v", Type="String", Overwrite=True, Tags=tags)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "tags and overwrite can't be used together" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        ssm.get_parameter(Name=name)
    ssm.put_parameter(Name=name, Value="v1", Type="String", Tags=tags)
    with pytest.raises(ClientError) as err:
        ssm.put_parameter(Name=name, Value="v2", Type="String", Overwrite=True, Tags=tags)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "v1"
    listed = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert listed == tags


def test_creating_a_parameter_needs_a_type_even_with_overwrite(aws):
    """Type: "Specifying a parameter type isn't required when updating a
    parameter. You must specify a parameter type when creating a parameter." -
    also when Overwrite is true and the name does not exist yet (moto created a
    parameter without a type). An update without Type keeps the type.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html (Type)
    """
    ssm = aws("ssm")
    name = f"/irlab/{unique('typed')}"
    for kwargs in ({}, {"Overwrite": True}):
        with pytest.raises(ClientError) as err:
            ssm.put_parameter(Name=name, Value="v", **kwargs)
        assert err.value.response["Error"]["Code"] == "ValidationException"
        assert err.value.response["Error"]["Message"] == "A parameter type is required when you create a parameter."
    with pytest.raises(ClientError):
        ssm.get_parameter(Name=name)
    assert ssm.put_parameter(Name=name, Value="v", Type="StringList", Overwrite=True)["Version"] == 1
    assert ssm.put_parameter(Name=name, Value="w,x", Overwrite=True)["Version"] == 2
    assert ssm.get_parameter(Name=name)["Parameter"]["Type"] == "StringList"


def test_concurrent_creates_of_one_parameter_let_exactly_one_win(aws, monkeypatch):
    """A parameter name is unique in the Region and PutParameter without
    Overwrite never replaces one: of creates arriving together exactly one
    succeeds (Version 1), every other one fails with ParameterAlreadyExists, and
    the value is the winner's - moto checked and stored in two steps, so
    concurrent creates all "succeeded" and the last one won.
    https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html (Name: "A parameter name must be unique within an Amazon Web Services Region")
    """
    from moto.ssm import models as ssm_models

    original = ssm_models.Parameter.__init__

    def init_slowly(self, *args, **kwargs):  # a busy server: widen check-to-store
        time.sleep(0.05)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssm_models.Parameter, "__init__", init_slowly)
    clients = [aws("ssm") for _ in range(6)]
    name = f"/irlab/{unique('race')}"
    barrier = threading.Barrier(len(clients))
    won: list[str] = []
    refused: list[dict] = []
    unexpected: list[BaseException] = []

    def take(index: int) -> None:
        barrier.wait()
        try:
            clients[index].put_parameter(Name=name, Value=f"holder-{index}", Type="String")
            won.append(f"holder-{index}")
        except ClientError as exc:
            refused.append(exc.response)
        except BaseException as exc:  # noqa: BLE001 - reported below
            unexpected.append(exc)

    threads = [threading.Thread(target=take, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not unexpected
    assert len(won) == 1 and len(refused) == len(clients) - 1
    assert all(r["Error"]["Code"] == "ParameterAlreadyExists" for r in refused)
    parameter = clients[0].get_parameter(Name=name)["Parameter"]
    assert (parameter["Value"], parameter["Version"]) == (won[0], 1)
