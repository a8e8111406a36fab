"""The Matching Dataset assertion translated into the protocol-neutral MatchingDataset: Verify's
ida attribute types, values that repeat (history), dates that may be missing."""

from __future__ import annotations

from datetime import date

from lxml import etree

from broker.hub.outcomes import ResponseRejected
from broker.hub.saml_values import IDA_NS, NS, simple_value
from broker.identity import Address, MatchingDataset, MatchingValue


def _date(value: str | None, what: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        # The value itself stays out of the message: it may be a date of birth.
        raise ResponseRejected(f"{what} is not a date") from None


def _flags(value: etree._Element) -> dict:
    verified = value.get(f"{{{IDA_NS}}}Verified", "false").strip().lower() == "true"
    return {"verified": verified,
            "valid_from": _date(value.get(f"{{{IDA_NS}}}From"), "From"),
            "valid_to": _date(value.get(f"{{{IDA_NS}}}To"), "To")}


def _simple_values(attribute: etree._Element, name: str) -> tuple[MatchingValue, ...]:
    return tuple(MatchingValue(value=simple_value(v, name), **_flags(v))
                 for v in attribute.findall("saml:AttributeValue", NS))


def _addresses(attribute: etree._Element, name: str) -> tuple[Address, ...]:
    addresses = []
    for value in attribute.findall("saml:AttributeValue", NS):
        for child in value:
            if not isinstance(child.tag, str):
                raise ResponseRejected(f"{name} must not contain comments")

        def one(tag: str, node: etree._Element = value) -> str | None:
            found = node.find(f"ida:{tag}", NS)
            return simple_value(found, f"{name} {tag}") or None if found is not None else None

        lines = tuple(simple_value(line, f"{name} Line")
                      for line in value.findall("ida:Line", NS))[:5]
        addresses.append(Address(lines=lines, post_code=one("PostCode"),
                                 international_post_code=one("InternationalPostCode"),
                                 uprn=one("UPRN"), **_flags(value)))
    return tuple(addresses)


def matching_dataset(assertion: etree._Element) -> MatchingDataset:
    found: dict[str, etree._Element] = {}
    for attribute in assertion.findall("saml:AttributeStatement/saml:Attribute", NS):
        name = attribute.get("Name", "")
        if name in found:
            raise ResponseRejected(f"attribute {name} appears twice")
        found[name] = attribute

    def values(name: str) -> tuple[MatchingValue, ...]:
        return _simple_values(found[name], name) if name in found else ()

    def addresses(name: str) -> tuple[Address, ...]:
        return _addresses(found[name], name) if name in found else ()

    genders = values("MDS_gender")
    return MatchingDataset(
        first_names=values("MDS_firstname"),
        middle_names=tuple(v for v in values("MDS_middlename") if v.value),
        surnames=values("MDS_surname"),
        dates_of_birth=values("MDS_dateofbirth"),
        gender=genders[0] if genders else None,
        current_addresses=addresses("MDS_currentaddress"),
        previous_addresses=addresses("MDS_previousaddress"),
    )
