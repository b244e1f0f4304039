"""The EU Transparency Database's rules for a statement of reasons, written from its public
source (repository digital-services-act/transparency-database) independently of ntd's exporter,
so the tests can hold every exported statement against them. docs/transparency.md lists each
rule with the file it comes from:

- app/Services/GroupedSubmissionsService.php (`multi_rules`, the batch endpoint's validation)
  and app/Http/Requests/StatementsStoreRequest.php: fields, enums, required combinations,
  lengths, date formats and bounds, the puid's characters;
- app/Models/Statement.php: the enum values (visibility, monetary, provision, account, account
  type, ground, content type, source type, automated decision/detection);
- resources/markdown/api-documentation-two.md (API v2, from 1 July 2025): the categories and
  keywords, content_id, territorial_scope required, end dates on or after the application date;
- app/Services/EuropeanCountriesService.php: the countries;
- app/Http/Controllers/Api/v1/StatementMultipleAPIController.php and
  app/Services/PlatformUniqueIdService.php: batches of 1 to 100, puids unique in a call.

Strings are trimmed first, as Laravel's TrimStrings middleware does, and an empty string is
absent (ConvertEmptyStringsToNull). Fields the API does not know are reported: it would
silently drop them, which for an exporter is a mistake.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

DECISION_VISIBILITIES = frozenset(
    {
        "DECISION_VISIBILITY_CONTENT_REMOVED",
        "DECISION_VISIBILITY_CONTENT_DISABLED",
        "DECISION_VISIBILITY_CONTENT_DEMOTED",
        "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
        "DECISION_VISIBILITY_CONTENT_LABELLED",
        "DECISION_VISIBILITY_OTHER",
    }
)
DECISION_MONETARIES = frozenset(
    {"DECISION_MONETARY_SUSPENSION", "DECISION_MONETARY_TERMINATION", "DECISION_MONETARY_OTHER"}
)
DECISION_PROVISIONS = frozenset(
    {
        "DECISION_PROVISION_PARTIAL_SUSPENSION",
        "DECISION_PROVISION_TOTAL_SUSPENSION",
        "DECISION_PROVISION_PARTIAL_TERMINATION",
        "DECISION_PROVISION_TOTAL_TERMINATION",
    }
)
DECISION_ACCOUNTS = frozenset({"DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED"})
ACCOUNT_TYPES = frozenset({"ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE"})
DECISION_GROUNDS = frozenset(
    {"DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT"}
)
CONTENT_TYPES = frozenset(
    {
        "CONTENT_TYPE_APP",
        "CONTENT_TYPE_AUDIO",
        "CONTENT_TYPE_IMAGE",
        "CONTENT_TYPE_PRODUCT",
        "CONTENT_TYPE_SYNTHETIC_MEDIA",
        "CONTENT_TYPE_TEXT",
        "CONTENT_TYPE_VIDEO",
        "CONTENT_TYPE_OTHER",
    }
)
CATEGORIES = frozenset(
    {
        "STATEMENT_CATEGORY_ANIMAL_WELFARE",
        "STATEMENT_CATEGORY_CONSUMER_INFORMATION",
        "STATEMENT_CATEGORY_CYBER_VIOLENCE",
        "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN",
        "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
        "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
        "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
        "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
        "STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE",
        "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
        "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
        "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
        "STATEMENT_CATEGORY_SELF_HARM",
        "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
        "STATEMENT_CATEGORY_VIOLENCE",
    }
)
KEYWORDS = frozenset(
    "KEYWORD_" + k
    for k in [
        "ANIMAL_HARM",
        "ADULT_SEXUAL_MATERIAL",
        "AGE_SPECIFIC_RESTRICTIONS",
        "AGE_SPECIFIC_RESTRICTIONS_MINORS",
        "BIOMETRIC_DATA_BREACH",
        "BULLYING_AGAINST_GIRLS",
        "CHILD_SEXUAL_ABUSE_MATERIAL",
        "CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE",
        "CONTENT_PROMOTING_EATING_DISORDERS",
        "COORDINATED_HARM",
        "COPYRIGHT_INFRINGEMENT",
        "CYBER_BULLYING_INTIMIDATION",
        "CYBER_HARASSMENT",
        "CYBER_HARASSMENT_AGAINST_WOMEN",
        "CYBER_INCITEMENT",
        "CYBER_STALKING",
        "CYBER_STALKING_AGAINST_WOMEN",
        "DATA_FALSIFICATION",
        "DEFAMATION",
        "DESIGN_INFRINGEMENT",
        "DISCRIMINATION",
        "MISINFORMATION_DISINFORMATION",
        "FEMALE_GENDERED_DISINFORMATION",
        "GEOGRAPHIC_INDICATIONS_INFRINGEMENT",
        "GEOGRAPHICAL_REQUIREMENTS",
        "GOODS_SERVICES_NOT_PERMITTED",
        "GROOMING_SEXUAL_ENTICEMENT_MINORS",
        "HATE_SPEECH",
        "HIDDEN_ADVERTISEMENT",
        "HUMAN_EXPLOITATION",
        "HUMAN_TRAFFICKING",
        "ILLEGAL_ORGANIZATIONS",
        "IMPERSONATION_ACCOUNT_HIJACKING",
        "INAUTHENTIC_ACCOUNTS",
        "INAUTHENTIC_LISTINGS",
        "INAUTHENTIC_USER_REVIEWS",
        "INCITEMENT_AGAINST_WOMEN",
        "INCITEMENT_VIOLENCE_HATRED",
        "INSUFFICIENT_INFORMATION_ON_TRADERS",
        "LANGUAGE_REQUIREMENTS",
        "MISLEADING_INFO_CONSUMER_RIGHTS",
        "MISLEADING_INFO_GOODS_SERVICES",
        "MISSING_PROCESSING_GROUND",
        "NON_CONSENSUAL_IMAGE_SHARING",
        "NON_CONSENSUAL_IMAGE_SHARING_AGAINST_WOMEN",
        "NON_CONSENSUAL_MATERIAL_DEEPFAKE",
        "NON_CONSENSUAL_MATERIAL_DEEPFAKE_AGAINST_WOMEN",
        "NONCOMPLIANCE_PRICING",
        "NUDITY",
        "PATENT_INFRINGEMENT",
        "PHISHING",
        "PROHIBITED_PRODUCTS",
        "PYRAMID_SCHEMES",
        "RIGHT_TO_BE_FORGOTTEN",
        "RISK_ENVIRONMENTAL_DAMAGE",
        "RISK_PUBLIC_HEALTH",
        "SELF_MUTILATION",
        "STALKING",
        "SUICIDE",
        "TERRORIST_CONTENT",
        "TRADE_SECRET_INFRINGEMENT",
        "TRADEMARK_INFRINGEMENT",
        "TRAFFICKING_WOMEN_GIRLS",
        "UNLAWFUL_SALE_ANIMALS",
        "UNSAFE_CHALLENGES",
        "UNSAFE_PRODUCTS",
        "VIOLATION_EU_LAW",
        "VIOLATION_NATIONAL_LAW",
        "OTHER",
    ]
)
SOURCE_TYPES = frozenset(
    {
        "SOURCE_ARTICLE_16",
        "SOURCE_TRUSTED_FLAGGER",
        "SOURCE_TYPE_OTHER_NOTIFICATION",
        "SOURCE_VOLUNTARY",
    }
)
YES_NO = frozenset({"Yes", "No"})
AUTOMATED_DECISIONS = frozenset(
    {
        "AUTOMATED_DECISION_FULLY",
        "AUTOMATED_DECISION_PARTIALLY",
        "AUTOMATED_DECISION_NOT_AUTOMATED",
    }
)
COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IS",
        "IT",
        "LI",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "NO",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)
"""EUROPEAN_COUNTRY_CODES: the EU and the EEA."""

TEXT_LIMITS = {
    "decision_visibility_other": 500,
    "decision_monetary_other": 500,
    "category_specification_other": 500,
    "decision_ground_reference_url": 500,
    "illegal_content_legal_ground": 500,
    "illegal_content_explanation": 2000,
    "incompatible_content_ground": 500,
    "incompatible_content_explanation": 2000,
    "content_type_other": 500,
    "decision_facts": 5000,
    "source_identity": 500,
    "puid": 500,
}
"""`max:N` of each free text: characters (Laravel counts with mb_strlen)."""
SINGLE_CHOICES = {
    "decision_monetary": DECISION_MONETARIES,
    "decision_provision": DECISION_PROVISIONS,
    "decision_account": DECISION_ACCOUNTS,
    "account_type": ACCOUNT_TYPES,
    "decision_ground": DECISION_GROUNDS,
    "category": CATEGORIES,
    "incompatible_content_illegal": YES_NO,
    "source_type": SOURCE_TYPES,
    "automated_detection": YES_NO,
    "automated_decision": AUTOMATED_DECISIONS,
}
ARRAY_CHOICES = {
    "decision_visibility": DECISION_VISIBILITIES,
    "content_type": CONTENT_TYPES,
    "category_addition": CATEGORIES,
    "category_specification": KEYWORDS,
    "territorial_scope": COUNTRIES,
}
REQUIRED = (
    "decision_ground",
    "content_type",
    "category",
    "territorial_scope",
    "content_date",
    "application_date",
    "decision_facts",
    "source_type",
    "automated_detection",
    "automated_decision",
    "puid",
)
DECISIONS = ("decision_visibility", "decision_monetary", "decision_provision", "decision_account")
"""At least one is required (`required_without_all` of the other three)."""
GROUND_TEXTS = {
    "DECISION_GROUND_ILLEGAL_CONTENT": (
        "illegal_content_legal_ground",
        "illegal_content_explanation",
    ),
    "DECISION_GROUND_INCOMPATIBLE_CONTENT": (
        "incompatible_content_ground",
        "incompatible_content_explanation",
    ),
}
"""`required_if:decision_ground,...` (and `exclude_unless` for the other ground's texts)."""
OTHERS = (
    ("decision_visibility", "DECISION_VISIBILITY_OTHER", "decision_visibility_other"),
    ("content_type", "CONTENT_TYPE_OTHER", "content_type_other"),
    ("decision_monetary", "DECISION_MONETARY_OTHER", "decision_monetary_other"),
)
"""A choice of OTHER requires its text."""
DATES = {
    "content_date": date(2000, 1, 1),
    "application_date": date(2020, 1, 1),
    "end_date_account_restriction": None,
    "end_date_monetary_restriction": None,
    "end_date_service_restriction": None,
    "end_date_visibility_restriction": None,
}
"""`date_format:Y-m-d`, on or after this day (None: on or after the application date),
`before_or_equal:2038-01-01`."""
LAST_DAY = date(2038, 1, 1)
PUID = re.compile(r"^[a-zA-Z0-9-_]+$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LANGUAGE = re.compile(r"^[A-Z]{2}$")
EAN_13 = re.compile(r"^\d{13}$")
FIELDS = frozenset(
    {
        *TEXT_LIMITS,
        *SINGLE_CHOICES,
        *ARRAY_CHOICES,
        *DATES,
        "content_language",
        "content_id",
    }
)
BATCH_MAX = 100


def _present(value: Any) -> bool:
    """Laravel's `required`: not null, not an empty (trimmed) string, not an empty array."""
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, list | tuple):
        return len(value) > 0
    return True


def problems(statement: Mapping[str, Any]) -> list[str]:
    """Every rule the statement breaks, as `field: what`; empty when the API would take it."""
    found: list[str] = []
    found += [f"{name}: not a field of the API" for name in statement if name not in FIELDS]
    given = {k: v for k, v in statement.items() if _present(v)}
    found += [f"{name}: required" for name in REQUIRED if name not in given]
    if not any(name in given for name in DECISIONS):
        found.append(f"{'/'.join(DECISIONS)}: one is required")
    found += _texts(given) + _choices(given) + _combinations(given) + _dates(given)
    if "puid" in given and not PUID.match(str(given["puid"]).strip()):
        found.append("puid: only a-z, A-Z, 0-9, '-' and '_'")
    if "content_language" in given and not LANGUAGE.match(str(given["content_language"])):
        found.append("content_language: not an upper-case ISO 639-1 code")
    if "content_id" in given:
        found += _content_id(given["content_id"])
    return found


def _texts(given: Mapping[str, Any]) -> list[str]:
    found = []
    for name, limit in TEXT_LIMITS.items():
        if name in given:
            if not isinstance(given[name], str):
                found.append(f"{name}: not a string")
            elif len(given[name].strip()) > limit:
                found.append(f"{name}: longer than {limit} characters")
    return found


def _choices(given: Mapping[str, Any]) -> list[str]:
    found = []
    for name, allowed in SINGLE_CHOICES.items():
        if name in given and given[name] not in allowed:
            found.append(f"{name}: {given[name]!r} is not one of the API's values")
    for name, allowed in ARRAY_CHOICES.items():
        if name not in given:
            continue
        if not isinstance(given[name], list | tuple):
            found.append(f"{name}: not an array")
            continue
        wrong = [v for v in given[name] if v not in allowed]
        if wrong:
            found.append(f"{name}: {wrong!r} not among the API's values")
    return found


def _combinations(given: Mapping[str, Any]) -> list[str]:
    found = []
    ground = str(given.get("decision_ground"))
    texts: tuple[str, ...] = GROUND_TEXTS.get(ground, ())
    for name in texts:
        if name not in given:
            found.append(f"{name}: required when decision_ground is {ground}")
    for field, other, text in OTHERS:
        value = given.get(field)
        chosen = other in value if isinstance(value, list | tuple) else value == other
        if chosen and text not in given:
            found.append(f"{text}: required when {field} is {other}")
    return found


def _dates(given: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    days: dict[str, date] = {}
    for name in DATES:
        if name not in given:
            continue
        text = str(given[name])
        try:
            if not DAY.match(text):
                raise ValueError
            days[name] = date.fromisoformat(text)
        except ValueError:
            found.append(f"{name}: {text!r} is not YYYY-MM-DD")
    application = days.get("application_date")
    for name, moment in days.items():
        first = DATES[name] or application
        if first is not None and moment < first:
            found.append(f"{name}: before {first}")
        if moment > LAST_DAY:
            found.append(f"{name}: after {LAST_DAY}")
    return found


def _content_id(value: Any) -> list[str]:
    if not isinstance(value, Mapping):
        return ["content_id: not a key-value object"]
    found = [f"content_id: {key!r} is not a known identifier" for key in value if key != "EAN-13"]
    if "EAN-13" in value and not EAN_13.match(str(value["EAN-13"])):
        found.append("content_id: EAN-13 is not 13 digits")
    return found


def batch_problems(body: Any) -> list[str]:
    """What the batch endpoint refuses in a request body: `statements`, 1 to 100 of them, puids
    unique in the call, and each statement's own problems (as `statement_N.field: what`)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("statements"), list):
        return ["statements: required, an array"]
    statements: Sequence[Any] = body["statements"]
    found = []
    if not 1 <= len(statements) <= BATCH_MAX:
        found.append(f"statements: {len(statements)} given, 1 to {BATCH_MAX} allowed")
    puids = [s.get("puid") for s in statements if isinstance(s, Mapping)]
    if len(set(puids)) != len(puids):
        found.append("puid: the platform identifier(s) are not all unique within this call")
    for number, statement in enumerate(statements):
        if not isinstance(statement, Mapping):
            found.append(f"statement_{number}: not an object")
            continue
        found += [f"statement_{number}.{p}" for p in problems(statement)]
    return found
