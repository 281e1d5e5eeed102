"""checks/workshop_commands.py finds a command or parameter that does not exist."""

from __future__ import annotations

import botocore.session

import workshop_commands


def test_real_commands_pass_and_invented_ones_fail() -> None:
    s = botocore.session.get_session()
    good = "aws ec2 modify-instance-attribute --instance-id i-1 --groups sg-1"
    assert workshop_commands.problems(good, s) == []
    assert "no operation" in workshop_commands.problems("aws ec2 quarantine-instance --instance-id i-1", s)[0]
    assert "no parameter `--group`" in workshop_commands.problems("aws ec2 modify-instance-attribute --group sg-1", s)[0]
    assert "no AWS service" in workshop_commands.problems("aws nosuch do-it", s)[0]


def test_the_workshop_texts_pass() -> None:
    assert workshop_commands.main() == 0


def test_commands_named_inline_in_the_prose_are_read_too() -> None:
    text = "Run `aws ec2 describe-instances` first.\n```sh\naws sts get-caller-identity\n```\n```text\n`aws no`\n```\n"
    assert workshop_commands.commands(text) == ["aws ec2 describe-instances", "aws sts get-caller-identity"]
