"""The councils: each one's name, upstream, brand, the links its residents' pages must offer,
and how its local accounts are matched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from broker.config.branding import Brand, Text, read_brand
from broker.config.model import (
    ACCOUNT_CREATION_ATTRIBUTES,
    DATASET_SCHEMAS,
    UPSTREAM_KINDS,
    CouncilConfig,
    Cycle3Config,
    MatchingConfig,
)
from broker.config.reader import Reader


def read_councils(file: Reader, raw: Mapping[str, Any]) -> dict[str, CouncilConfig]:
    councils = {}
    for council_id, item in raw.items():
        prefix = f"councils.{council_id}."
        name = file.get(item, "name", prefix)
        service_url = file.url(item, "service_url", prefix, default=None)
        councils[council_id] = CouncilConfig(
            id=council_id,
            name=name,
            entity_id=file.get(item, "entity_id", prefix),
            service_url=service_url,
            matching=read_matching(file, item.get("matching"), f"{prefix}matching."),
            hashing_entity_id=file.get(item, "hashing_entity_id", prefix, default=""),
            upstream=read_council_upstream(file, item, prefix),
            branding=read_residents_links(file, item, prefix, read_brand(
                item.get("branding"), f"{prefix}branding.", key=f"councils/{council_id}",
                default_name=Text(name, name), default_url=service_url, base=file.base,
                fail=file.fail), matching_contact=item.get("matching")),
        )
    return councils


def read_council_upstream(file: Reader, item: Mapping[str, Any], prefix: str) -> str:
    kind = file.get(item, "upstream", prefix, default="")
    if kind and kind not in UPSTREAM_KINDS:
        raise file.fail(f"{prefix}upstream",
                        f"must be one of {', '.join(UPSTREAM_KINDS)}, got {kind!r}")
    return kind


def read_residents_links(file: Reader, raw: Mapping[str, Any], prefix: str, brand: Brand,
                         matching_contact: Any = None) -> Brand:
    """What every page of a council's residents must offer: its accessibility statement
    (Public Sector Bodies Accessibility Regulations 2018) and privacy notice (UK GDPR
    articles 13 and 14), required in production, and how to reach the council."""
    links = {}
    for key in ("accessibility_statement_url", "privacy_notice_url"):
        default = ... if file.mode == "production" and prefix else None
        links[key] = file.url(raw, key, prefix, default=default)
    contact = file.get(raw, "contact", prefix, dict, default=None)
    if contact is None and isinstance(matching_contact, Mapping):
        contact = matching_contact.get("contact")
    if contact is not None and (not contact or not all(
            isinstance(v, str) for v in contact.values())):
        raise file.fail(f"{prefix}contact", "must give the council's contact details as text")
    return replace(brand, contact=tuple((str(k), v) for k, v in (contact or {}).items()),
                   **links)


def read_matching(file: Reader, raw: Any, prefix: str) -> MatchingConfig | None:
    if raw is None or raw == "none":
        return None
    if not isinstance(raw, Mapping):
        raise file.fail(prefix.rstrip("."), "must be `none` or a mapping")
    timeout = file.get(raw, "timeout_seconds", prefix, (int, float), default=5)
    if not 0 < timeout <= 60:
        raise file.fail(f"{prefix}timeout_seconds", "must be more than 0 and at most 60")
    cycle3 = None
    if raw.get("cycle3") is not None:
        c3 = file.get(raw, "cycle3", prefix, dict)
        p3 = f"{prefix}cycle3."
        texts = {}
        for key in ("label", "hint"):
            value = file.get(c3, key, p3, dict)
            if set(value) != {"en", "cy"} or not all(isinstance(v, str) and v for v in value.values()):
                raise file.fail(f"{p3}{key}", "must give non-empty `en` and `cy` text")
            texts[key] = dict(value)
        pattern = file.get(c3, "pattern", p3)
        try:
            re.compile(pattern)
        except re.error as exc:
            raise file.fail(f"{p3}pattern", f"not a valid regular expression: {exc}") from None
        attribute = file.get(c3, "attribute", p3)
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", attribute):
            raise file.fail(f"{p3}attribute", "must be a name of letters, digits and _")
        cycle3 = Cycle3Config(attribute=attribute, label=texts["label"], hint=texts["hint"],
                              pattern=pattern)
    creation = file.get(raw, "account_creation", prefix, dict, default={})
    attributes = tuple(file.get(creation, "attributes", f"{prefix}account_creation.", list,
                                default=[]))
    for name in attributes:
        if name not in ACCOUNT_CREATION_ATTRIBUTES:
            raise file.fail(f"{prefix}account_creation.attributes",
                            f"unknown attribute {name!r}; use {', '.join(ACCOUNT_CREATION_ATTRIBUTES)}")
    dataset_schema = file.get(raw, "dataset_schema", prefix, default="legacy")
    if dataset_schema not in DATASET_SCHEMAS:
        raise file.fail(f"{prefix}dataset_schema",
                        f"must be one of {', '.join(DATASET_SCHEMAS)}, got {dataset_schema!r}")
    contact = file.get(raw, "contact", prefix, dict)
    if not contact or not all(isinstance(v, str) for v in contact.values()):
        raise file.fail(f"{prefix}contact", "must give the council's contact details as text")
    consent = file.get(creation, "consent", f"{prefix}account_creation.", (bool, dict),
                       default=True) if creation else True
    consent_text = None
    if isinstance(consent, dict):
        consent_text = file.get(consent, "text", f"{prefix}account_creation.consent.", dict,
                                default=None)
        if consent_text is not None and (set(consent_text) != {"en", "cy"} or not all(
                isinstance(v, str) and v.strip() for v in consent_text.values())):
            raise file.fail(f"{prefix}account_creation.consent.text",
                            "must give non-empty `en` and `cy` text")
        consent = file.get(consent, "ask", f"{prefix}account_creation.consent.", bool,
                           default=True)
    return MatchingConfig(
        service_url=file.url(raw, "service_url", prefix),
        bearer_token=file.get(raw, "bearer_token", prefix, default=None) or None,
        timeout_seconds=float(timeout),
        cycle3=cycle3,
        account_creation_url=file.url(creation, "url", f"{prefix}account_creation.",
                                      default=None) if creation else None,
        account_creation_attributes=attributes,
        contact={str(k): v for k, v in contact.items()},
        account_creation_consent=consent,
        account_creation_consent_text=dict(consent_text) if consent_text else None,
        dataset_schema=dataset_schema,
    )
