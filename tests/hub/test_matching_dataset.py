"""The Matching Dataset read into the typed model, from messy but real-shaped attribute values."""

from __future__ import annotations

from datetime import date

import pytest
from lxml import etree

from broker.hub.matching_dataset import matching_dataset
from broker.hub.outcomes import ResponseRejected
from broker.identity import MatchingDataset, MatchingValue

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
IDA = "http://www.cabinetoffice.gov.uk/resource-library/ida/attributes"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def dataset(*attributes: str) -> MatchingDataset:
    xml = (f'<saml:Assertion xmlns:saml="{SAML}" xmlns:ida="{IDA}" xmlns:xsi="{XSI}">'
           f"<saml:AttributeStatement>{''.join(attributes)}</saml:AttributeStatement>"
           "</saml:Assertion>")
    return matching_dataset(etree.fromstring(xml.encode()))


def attribute(name: str, *values: str) -> str:
    return f'<saml:Attribute Name="{name}">{"".join(values)}</saml:Attribute>'


def value(text: str = "", **flags: str) -> str:
    attrs = "".join(f' ida:{k}="{v}"' for k, v in flags.items())
    return f"<saml:AttributeValue{attrs}>{text}</saml:AttributeValue>"


def address(*parts: str, **flags: str) -> str:
    attrs = "".join(f' ida:{k}="{v}"' for k, v in flags.items())
    return f"<saml:AttributeValue{attrs}>{''.join(parts)}</saml:AttributeValue>"


def test_values_without_dates_have_no_from_or_to():
    parsed = dataset(attribute("MDS_firstname", value("Jane", Verified="true")))
    assert parsed.first_names == (MatchingValue("Jane", True, None, None),)


def test_verified_defaults_to_false_when_absent():
    parsed = dataset(attribute("MDS_surname", value("Doe")))
    assert parsed.surnames[0].verified is False


def test_from_and_to_are_read_as_dates_including_date_times():
    parsed = dataset(attribute("MDS_surname", value("Smith", From="1980-05-01",
                                                     To="2010-06-30T00:00:00Z")))
    assert parsed.surnames[0].valid_from == date(1980, 5, 1)
    assert parsed.surnames[0].valid_to == date(2010, 6, 30)


def test_an_empty_middle_name_is_dropped():
    parsed = dataset(attribute("MDS_middlename", value("", Verified="false")))
    assert parsed.middle_names == ()


def test_a_missing_date_of_birth_gives_no_values():
    parsed = dataset(attribute("MDS_firstname", value("Jane")))
    assert parsed.dates_of_birth == ()


def test_name_history_keeps_every_value_in_order():
    parsed = dataset(attribute("MDS_surname",
                               value("Smith", Verified="true", From="1980-05-01", To="2010-06-30"),
                               value("Doe", Verified="true", From="2010-07-01")))
    assert [v.value for v in parsed.surnames] == ["Smith", "Doe"]
    assert MatchingDataset.current(parsed.surnames).value == "Doe"


def test_with_several_current_values_the_verified_one_is_current():
    parsed = dataset(attribute("MDS_surname",
                               value("Newname", Verified="false", From="2026-01-01"),
                               value("Doe", Verified="true", From="2010-07-01")))
    assert MatchingDataset.current(parsed.surnames).value == "Doe"


def test_with_several_current_verified_values_the_newest_is_current():
    parsed = dataset(attribute("MDS_firstname",
                               value("Janet", Verified="true", From="1990-01-01"),
                               value("Jane", Verified="true", From="2001-01-01")))
    assert MatchingDataset.current(parsed.first_names).value == "Jane"


def test_addresses_have_lines_post_code_international_post_code_and_uprn():
    parsed = dataset(attribute("MDS_currentaddress", address(
        "<ida:Line>1 Council Street</ida:Line>", "<ida:Line>Borough</ida:Line>",
        "<ida:PostCode>AB1 2CD</ida:PostCode>",
        "<ida:InternationalPostCode>AB12CD</ida:InternationalPostCode>",
        "<ida:UPRN>100023336956</ida:UPRN>", Verified="true", From="2015-06-01")))
    (home,) = parsed.current_addresses
    assert home.lines == ("1 Council Street", "Borough")
    assert (home.post_code, home.international_post_code, home.uprn) == (
        "AB1 2CD", "AB12CD", "100023336956")
    assert home.verified and home.valid_from == date(2015, 6, 1)


def test_the_newest_address_is_current_even_when_not_yet_verified():
    parsed = dataset(attribute("MDS_currentaddress",
                               address("<ida:Line>3 Former Lane</ida:Line>", Verified="true",
                                       From="2001-03-03"),
                               address("<ida:Line>9 New Close</ida:Line>", Verified="false",
                                       From="2026-09-01")))
    current = parsed.current_address()
    assert current.lines == ("9 New Close",) and current.verified is False


def test_an_address_without_post_code_or_dates_is_kept():
    parsed = dataset(attribute("MDS_previousaddress", address("<ida:Line>Somewhere</ida:Line>")))
    (old,) = parsed.previous_addresses
    assert old.post_code is None and old.valid_from is None and old.valid_to is None


def test_more_than_five_address_lines_keeps_the_first_five():
    lines = [f"<ida:Line>line {n}</ida:Line>" for n in range(7)]
    parsed = dataset(attribute("MDS_currentaddress", address(*lines)))
    assert len(parsed.current_addresses[0].lines) == 5


@pytest.mark.parametrize("gender", ["Male", "Female", "Not Specified"])
def test_gender_is_read(gender):
    assert dataset(attribute("MDS_gender", value(gender, Verified="true"))).gender.value == gender


def test_attribute_values_with_an_ida_xsi_type_are_read():
    parsed = dataset(attribute("MDS_firstname",
                               '<saml:AttributeValue xsi:type="ida:PersonNameType" '
                               'ida:Verified="true">Jane</saml:AttributeValue>'))
    assert parsed.first_names[0].value == "Jane"


def test_a_date_that_is_not_a_date_is_rejected_without_repeating_the_value():
    with pytest.raises(ResponseRejected, match="not a date") as rejected:
        dataset(attribute("MDS_firstname", value("Jane", From="1980-13-45")))
    assert "1980-13-45" not in str(rejected.value)


def test_an_attribute_sent_twice_is_rejected():
    with pytest.raises(ResponseRejected, match="appears twice"):
        dataset(attribute("MDS_firstname", value("Jane")), attribute("MDS_firstname", value("X")))


def test_unknown_attributes_are_ignored():
    parsed = dataset(attribute("SOMETHING_ELSE", value("x")),
                     attribute("MDS_firstname", value("Jane")))
    assert [v.value for v in parsed.first_names] == ["Jane"]
