"""The mapping file: line-precise errors at start, and pure record → field conversion."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.crm.mapping import (
    MappingError,
    company_fields,
    contact_role,
    load_mapping,
    normalise_domain,
    parse_mapping,
)


def test_shipped_mapping_is_valid_for_both_vendors() -> None:
    mapping = load_mapping()
    assert mapping.config.hubspot is not None and mapping.config.salesforce is not None
    assert mapping.config.hubspot.company.properties()["csm"] == "hubspot_owner_id"
    assert mapping.config.salesforce.account.renewal_opportunity_type == "Renewal"


def _problems(text: str) -> list[str]:
    with pytest.raises(MappingError) as exc:
        parse_mapping(text, "mine.yaml")
    return [str(p) for p in exc.value.problems]


def test_unknown_field_is_reported_at_its_line_with_a_suggestion() -> None:
    text = "hubspot:\n  company:\n    name: name\n    renewl_date: renewal\n  external_id: ft\n"
    problems = _problems(text)
    assert problems == [
        "mine.yaml:4:5: unknown field 'hubspot.company.renewl_date'; did you mean 'renewal_date'?"
    ]


def test_missing_required_field_and_wrong_type_are_located() -> None:
    text = "salesforce:\n  account:\n    domain: Website\n  external_id: [a, b]\n"
    problems = _problems(text)
    assert any(p.startswith("mine.yaml:3:") and "account.name" in p for p in problems), problems
    assert any(p.startswith("mine.yaml:4:16:") and "external_id" in p for p in problems), problems


def test_renewal_needs_exactly_one_source() -> None:
    text = (
        "salesforce:\n  account:\n    name: Name\n    renewal_date:\n"
        "      opportunity_type: Renewal\n      field: Renewal__c\n  external_id: X__c\n"
    )
    (problem,) = _problems(text)
    assert problem.startswith("mine.yaml:5:") and "either opportunity_type or field" in problem


def test_bad_yaml_and_duplicate_keys() -> None:
    assert _problems("hubspot:\n  company: [\n")[0].startswith("mine.yaml:3:1: invalid YAML")
    dup = "hubspot:\n  company:\n    name: a\n    name: b\n  external_id: x\n"
    assert "given twice" in _problems(dup)[0] and _problems(dup)[0].startswith("mine.yaml:4:5")


def test_unreadable_file_says_so(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MappingError, match="cannot read the mapping file"):
        load_mapping(tmp_path / "nope.yaml")


def test_company_fields_types_and_problems() -> None:
    cmap = load_mapping().config.hubspot.company  # type: ignore[union-attr]
    got = company_fields(
        cmap,
        {
            "name": "Acme",
            "domain": "HTTPS://www.Acme.com/about",
            "arr": "$120,000",
            "renewal_date": "1798675200000",
            "hubspot_owner_id": "77001",
            "tier": "",
        },
        dt.date(2026, 11, 2),
    )
    assert got.values == {
        "name": "Acme",
        "domain": "acme.com",
        "csm": "77001",
        "arr": 120000.0,
        "renewal_date": dt.date(2026, 12, 31),
        "tier": None,
    }
    assert got.problems == []
    bad = company_fields(
        cmap, {"name": "Globex", "arr": "lots", "renewal_date": "2025-01-31"}, dt.date(2026, 11, 2)
    )
    assert "arr" not in bad.values  # a value that does not parse keeps what we had
    assert bad.values["renewal_date"] == dt.date(2025, 1, 31)  # a past renewal is still a fact
    assert any("'lots' is not a number" in p for p in bad.problems)
    assert any("in the past" in p for p in bad.problems)


def test_domains_and_roles() -> None:
    assert normalise_domain("acme.com:443/x") == "acme.com"
    assert normalise_domain("not a domain") is None and normalise_domain(None) is None
    cmap = load_mapping().config.hubspot.contact  # type: ignore[union-attr]
    assert contact_role(cmap, {"hs_buying_role": "END_USER;CHAMPION"}) == "champion"
    assert contact_role(cmap, {"hs_buying_role": "BUDGET_HOLDER"}) == "economic_buyer"
    assert contact_role(cmap, {"hs_buying_role": "Blocker"}) == "blocker"
    assert contact_role(cmap, {}) is None
