"""Validation of registered model names, aliases, tags and version numbers (MLflow's rules)."""

from __future__ import annotations

import re

from tracklog.registry.errors import InvalidArgument

MAX_NAME_LENGTH = 256
MAX_ALIAS_LENGTH = 255
MAX_TAG_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 5000
MAX_DESCRIPTION_LENGTH = 65_535
# '/' and '@' would make `models:/` URIs ambiguous; control characters never belong in a name.
_NAME_FORBIDDEN = re.compile(r"[/@:\x00-\x1f\x7f]")
_ALIAS = re.compile(r"^[\w\-]+$", re.ASCII)
_VERSION_ALIAS = re.compile(r"^v\d+$", re.IGNORECASE)
_TAG_KEY = re.compile(r"^[\w\-. /]+$")


def model_name(name: str) -> str:
    """A valid registered model name, or InvalidArgument saying what is wrong."""
    if not name or not name.strip():
        raise InvalidArgument("registered model name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(
            f"registered model name is {len(name)} characters long; at most {MAX_NAME_LENGTH}"
        )
    bad = _NAME_FORBIDDEN.search(name)
    if bad:
        raise InvalidArgument(
            f"registered model name {name!r} contains {bad.group()!r}; "
            "'/', '@', ':' and control characters are not allowed"
        )
    if name != name.strip():
        raise InvalidArgument(f"registered model name {name!r} has leading or trailing spaces")
    return name


def alias(name: str) -> str:
    """A valid alias: letters, digits, '_' and '-'; not `latest` or `v<digits>` (reserved)."""
    if not name:
        raise InvalidArgument("alias must not be empty")
    if len(name) > MAX_ALIAS_LENGTH:
        raise InvalidArgument(f"alias is {len(name)} characters long; at most {MAX_ALIAS_LENGTH}")
    if not _ALIAS.match(name):
        raise InvalidArgument(
            f"invalid alias {name!r}: only letters, digits, '_' and '-' are allowed"
        )
    if name.lower() == "latest":
        raise InvalidArgument(f"alias {name!r} is reserved (it means the latest version)")
    if _VERSION_ALIAS.match(name):
        raise InvalidArgument(f"alias {name!r} is reserved (v<number> names a version)")
    return name


def version(number: int) -> int:
    if number < 1:
        raise InvalidArgument(f"invalid model version {number}: versions start at 1")
    return number


def tag(key: str, value: str) -> tuple[str, str]:
    tag_key(key)
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise InvalidArgument(f"value of tag {key!r} is longer than {MAX_TAG_VALUE_LENGTH}")
    if "\x00" in value:
        raise InvalidArgument(f"value of tag {key!r} contains a NUL character")
    return key, value


def tag_key(key: str) -> str:
    if not key or len(key) > MAX_TAG_KEY_LENGTH or not _TAG_KEY.match(key):
        raise InvalidArgument(
            f"invalid tag key {key!r}: 1-{MAX_TAG_KEY_LENGTH} letters, digits, '_', '-', '.', "
            "' ' or '/'"
        )
    return key


def text(what: str, value: str, limit: int = MAX_DESCRIPTION_LENGTH) -> str:
    """A free-text field (description, source, run id): bounded, no NUL."""
    if len(value) > limit:
        raise InvalidArgument(f"{what} is {len(value)} characters long; at most {limit}")
    if "\x00" in value:
        raise InvalidArgument(f"{what} contains a NUL character")
    return value
