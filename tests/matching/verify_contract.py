"""GOV.UK Verify's matching service contract as a JSON schema (verify_matching_contract.schema.json,
written from Verify's documentation), and a check that names every way a body breaks it."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA = Path(__file__).with_name("verify_matching_contract.schema.json")


@cache
def _document() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


@cache
def validator(definition: str) -> Draft202012Validator:
    """A validator for one of the contract's messages, e.g. "legacyMatchRequest"."""
    document = _document()
    assert definition in document["$defs"], definition
    schema = {"$schema": document["$schema"], "$defs": document["$defs"],
              "$ref": f"#/$defs/{definition}"}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def violations(definition: str, body: Any) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
            for error in validator(definition).iter_errors(body)]


def assert_follows(definition: str, body: Any) -> None:
    problems = violations(definition, body)
    assert not problems, f"{definition} broken:\n" + "\n".join(problems)
