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
