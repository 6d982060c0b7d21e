"""The pure parts: tokens (made, hashed, read from metadata), permission levels, and a
rule for every method of both services."""

from __future__ import annotations

import pytest
from psycopg import sql

from tracklog.query.auth.permissions import CALLER, Caller, Permission, actor, readable
from tracklog.query.auth.rules import RULES
from tracklog.query.auth.tokens import PREFIX, bearer_token, new_token, token_hash
from tracklog.v1 import query_pb2, registry_pb2


def test_tokens_are_random_and_stored_as_a_hash() -> None:
    first, second = new_token(), new_token()
    assert first.secret.startswith(PREFIX) and len(first.secret) >= 40
    assert first.secret != second.secret and first.token_id != second.token_id
    assert token_hash(first.secret) == token_hash(first.secret)
    assert first.secret not in token_hash(first.secret) and len(token_hash(first.secret)) == 64


def test_bearer_token_from_metadata() -> None:
    assert bearer_token([("authorization", "Bearer tlk_x")]) == "tlk_x"
    assert bearer_token([("x-other", "1"), ("Authorization", "bearer  tlk_y ")]) == "tlk_y"
    assert bearer_token([("authorization", "Basic dXNlcg==")]) is None
    assert bearer_token([("authorization", "Bearer ")]) is None
    assert bearer_token(None) is None


def test_levels_are_ordered_and_parsed() -> None:
    assert Permission.NO_PERMISSIONS < Permission.READ < Permission.EDIT < Permission.MANAGE
    assert Permission.parse("edit") is Permission.EDIT
    assert Permission.EDIT.allowed_names() == ["EDIT", "MANAGE"]
    with pytest.raises(ValueError, match="use one of NO_PERMISSIONS, READ, EDIT, MANAGE"):
        Permission.parse("OWNER")


def test_the_actor_is_the_caller_when_there_is_one() -> None:
    assert actor("laptop-user") == "laptop-user"  # authentication off
    assert readable("experiment", sql.SQL("e.id"))[1] == []
    token = CALLER.set(Caller("bob", False, Permission.READ))
    try:
        assert actor("mallory") == "bob"
        _, args = readable("registered_model", sql.SQL("m.model_id"))
        assert args == ["bob", "READ", ["READ", "EDIT", "MANAGE"]]
    finally:
        CALLER.reset(token)


@pytest.mark.parametrize(
    "service",
    [
        query_pb2.DESCRIPTOR.services_by_name["QueryService"],
        registry_pb2.DESCRIPTOR.services_by_name["RegistryService"],
    ],
)
def test_every_method_has_a_rule(service: object) -> None:
    methods = [f"/{service.full_name}/{m.name}" for m in service.methods]  # type: ignore[attr-defined]
    assert [m for m in methods if m not in RULES] == []
