"""``python -m api.catalogue_doc [PATH]``: the rule catalogue as markdown (``make docs``).

The document is built from the code's catalogue alone: :func:`domain.catalog.build_catalog` with
the default :class:`~domain.settings.EvaluationSettings`, the source register, the medication
vocabulary (:func:`domain.codes.medication_vocabulary`), the condition value sets and the
local-policy numbers with the descriptions of their docstrings. Nothing is written by hand and
nothing depends on the day it runs, so the output is the same for the same code; a test compares
it with the committed ``docs/rules.md``.

Without ``PATH`` the markdown goes to stdout.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields, replace
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from domain.catalog import RULESET_VERSION, build_catalog
from domain.codes import (
    CONDITION_VALUE_SETS,
    CodeEntry,
    Ingredient,
    MedicationVocabulary,
    StrengthProduct,
    ValueSet,
    medication_vocabulary,
)
from domain.errors import PolicyError
from domain.rules import Catalog, Citation, Rule, Tier, Variant
from domain.settings import EvaluationSettings, LocalPolicy
from domain.sources import SOURCES

DOC_PATH = Path("docs") / "rules.md"
MAKE_TARGET = "make docs"

# EvaluationSettings field → the ISOCDS_* variable that sets it (api/settings.py reads them).
SETTING_VARIABLES: dict[str, str] = {
    "ipledge_2026_effective": "ISOCDS_IPLEDGE_2026_EFFECTIVE",
    "lab_profile_us": "ISOCDS_LAB_PROFILE_US",
    "eu_post_therapy_test": "ISOCDS_EU_POST_THERAPY_TEST",
    "local_policy": "ISOCDS_LOCAL_POLICY_FILE",
}


# --- markdown helpers ---------------------------------------------------------------------------

_PROSE_SPECIALS = re.compile(r"([\\`*_<\[\]|])")


def _text(value: str) -> str:
    """Free text made literal in markdown (table cells included)."""
    return _PROSE_SPECIALS.sub(r"\\\1", " ".join(value.split()))


def _code(value: object) -> str:
    """An inline code span."""
    text = str(value)
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _codes(values: Iterable[object], empty: str = "none") -> str:
    items = [_code(v) for v in values]
    return ", ".join(items) if items else empty


def _words(values: Iterable[str], empty: str = "—") -> str:
    items = [_text(v) for v in values]
    return ", ".join(items) if items else empty


def _row(*cells: str) -> str:
    return "| " + " | ".join(c.replace("\n", " ") for c in cells) + " |"


def _table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> list[str]:
    return [_row(*header), _row(*("---" for _ in header)), *(_row(*r) for r in rows)]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


_RST_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")
_RST_LITERAL = re.compile(r"``([^`]+)``")


def _docstring_text(value: str) -> str:
    """A docstring fragment in markdown: ``x`` and :role:`x` become `x`."""
    text = " ".join(value.split())
    text = _RST_ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text)
    return _RST_LITERAL.sub(r"`\1`", text).replace("|", "\\|")


def attribute_docs(cls: type) -> dict[str, str]:
    """The ``Attributes:`` section of a Google-style class docstring, name → markdown text."""
    lines = (inspect.getdoc(cls) or "").splitlines()
    if "Attributes:" not in lines:
        return {}
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    item = re.compile(r"^ {4}(\w+): ?(.*)$")
    for line in lines[lines.index("Attributes:") + 1 :]:
        if not line.startswith("    "):
            break
        match = item.match(line)
        if match:
            current = out.setdefault(match.group(1), [])
            current.append(match.group(2))
        elif current is not None:
            current.append(line.strip())
    return {name: _docstring_text(" ".join(parts)) for name, parts in out.items()}


# --- the document -------------------------------------------------------------------------------


def render(settings: EvaluationSettings | None = None) -> str:
    """The markdown document of the catalogue built with ``settings`` (default: the defaults)."""
    settings = settings if settings is not None else EvaluationSettings()
    catalog = build_catalog(settings)
    vocabulary = medication_vocabulary()
    parts: list[list[str]] = [
        _header(catalog, settings),
        _settings_section(catalog, settings),
        _local_policy_section(settings.local_policy, vocabulary),
        _rules_section(catalog),
        _sources_section(catalog),
        _medication_section(vocabulary),
        _conditions_section(),
    ]
    return "\n\n".join("\n".join(p) for p in parts) + "\n"


def _header(catalog: Catalog, settings: EvaluationSettings) -> list[str]:
    kinds: dict[str, int] = {}
    for r in catalog.rules:
        kinds[r.kind.value] = kinds.get(r.kind.value, 0) + 1
    lines = [
        "# The rule catalogue",
        "",
        "<!-- Generated by `python -m api.catalogue_doc docs/rules.md` (`make docs`) from the code's",
        "     catalogue; do not edit by hand. A test fails when this file is stale. -->",
        "",
        "Generated from the code: the rules of `domain/catalog/` (their checks in `domain/checks/`),",
        "the source register of `domain/sources.py`, the medication vocabulary of",
        "`domain/data/medications.json`, the condition value sets of `domain/codes.py` and the",
        "local-policy defaults of `domain/settings.py`. The running service serves the same",
        "catalogue, for the settings in force, at `GET /v1/rules` and `GET /v1/sources`. Code",
        'comments and docstrings cite the sections of the clinical contract as "RULES §N".',
        "",
        f"- Rule-set version (`RULESET_VERSION`, `domain/catalog/__init__.py`): {_code(RULESET_VERSION)}",
        f"- Catalogue hash with the default settings: {_code(catalog.hash)}",
        "  (it covers every rule, variant, check and value set and the settings below: a deployment",
        "  with other settings or another local policy has another hash)",
        f"- Rules: {len(catalog.rules)} ("
        + ", ".join(f"{n} {_code(k)}" for k, n in kinds.items())
        + ")",
        f"- Default settings: {_settings_summary(settings)}",
        "",
        "Contents: [Settings that change the catalogue](#settings-that-change-the-catalogue) ·",
        "[Local policy](#local-policy) · [Rules](#rules) · [Source register](#source-register) ·",
        "[Medication vocabulary](#medication-vocabulary) ·",
        "[Condition value sets](#condition-value-sets)",
    ]
    return lines


def _settings_summary(settings: EvaluationSettings) -> str:
    out = []
    for f in fields(settings):
        if f.name == "local_policy":
            continue
        out.append(
            f"{_code(SETTING_VARIABLES[f.name])}={_code(_setting_value(getattr(settings, f.name)))}"
        )
    out.append(f"no {_code(SETTING_VARIABLES['local_policy'])}")
    return ", ".join(out)


def _setting_value(value: object) -> str:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# --- settings -----------------------------------------------------------------------------------


def _alternatives(settings: EvaluationSettings, name: str) -> list[tuple[str, EvaluationSettings]]:
    """Other values of the setting ``name`` that the settings accept, with the settings."""
    value = getattr(settings, name)
    candidates: list[Any]
    if isinstance(value, StrEnum):
        candidates = [v for v in type(value) if v is not value]
    elif isinstance(value, date):
        candidates = [value + timedelta(days=1)]
    else:
        return []
    out = []
    for candidate in candidates:
        try:
            other = replace(settings, **{name: candidate})
        except PolicyError:
            continue  # a value of the enum this setting refuses
        out.append((_setting_value(candidate), other))
    return out


def _accepted_values(settings: EvaluationSettings, name: str) -> list[str]:
    value = getattr(settings, name)
    if not isinstance(value, StrEnum):
        return []
    return [_setting_value(value), *(v for v, _ in _alternatives(settings, name))]


def _changed_rules(a: Catalog, b: Catalog) -> list[str]:
    return [r.id for r in a.rules if r.id not in b or b.rule(r.id) != r]


def _settings_section(catalog: Catalog, settings: EvaluationSettings) -> list[str]:
    docs = attribute_docs(EvaluationSettings)
    lines = [
        "## Settings that change the catalogue",
        "",
        "Environment variables read at start-up (see the README, Configuration). The catalogue hash",
        "covers each of them. The last column lists the rules whose catalogue entry (variants, dates,",
        "texts) differs when the catalogue is built with another value, as computed by the",
        "generator; the checks may also read a setting when they evaluate.",
        "",
    ]
    rows = []
    for f in fields(settings):
        variable = SETTING_VARIABLES[f.name]
        description = docs.get(f.name, "")
        if f.name == "local_policy":
            rows.append(
                (
                    _code(variable),
                    "none (the defaults below)",
                    "a JSON file",
                    description,
                    "see [Local policy](#local-policy)",
                )
            )
            continue
        value = getattr(settings, f.name)
        accepted = _accepted_values(settings, f.name)
        changes = []
        for label, other in _alternatives(settings, f.name):
            changed = _changed_rules(catalog, build_catalog(other))
            if isinstance(value, date):
                label = "another date"
            changes.append(f"{_code(label)}: {_codes(changed)}")
        rows.append(
            (
                _code(variable),
                _code(_setting_value(value)),
                _codes(accepted) if accepted else "a date (`YYYY-MM-DD`)",
                description,
                "; ".join(changes),
            )
        )
    lines += _table(("variable", "default", "values", "what it is", "rules it changes"), rows)
    return lines


# --- local policy -------------------------------------------------------------------------------


def _policy_default(value: object) -> str:
    if value is None:
        return "`null` (none)"
    if isinstance(value, tuple) and not value:
        return "none"
    return _code(_number(value))


def _local_policy_section(policy: LocalPolicy, vocabulary: MedicationVocabulary) -> list[str]:
    docs = attribute_docs(LocalPolicy)
    summary = (inspect.getdoc(LocalPolicy) or "").split("\n\n", 1)
    lines = [
        "## Local policy",
        "",
        _docstring_text(summary[0]),
    ]
    if len(summary) > 1 and not summary[1].startswith("Attributes:"):
        lines += ["", _docstring_text(summary[1].split("\n\nAttributes:", 1)[0])]
    lines += [
        "",
        f"{_code(SETTING_VARIABLES['local_policy'])} names a JSON object whose keys are those",
        "below; keys left out keep their defaults.",
        "",
    ]
    rows = [
        (_code(f.name), _policy_default(getattr(policy, f.name)), docs.get(f.name, ""))
        for f in fields(policy)
    ]
    lines += _table(("key", "default", "what it is"), rows)
    medication = [v.name for v in vocabulary.value_sets]
    conditions = [v.name for v in CONDITION_VALUE_SETS]
    lines += [
        "",
        f"Value set names: the medication value sets {_codes(medication)}; the condition value"
        f" sets {_codes(conditions)}.",
    ]
    return lines


# --- rules --------------------------------------------------------------------------------------


def _window(v: Variant) -> str:
    start, end = v.effective_from, v.effective_to
    if start and end:
        return f"in force from {start.isoformat()} to {end.isoformat()} (inclusive)"
    if start:
        return f"in force from {start.isoformat()}"
    if end:
        return f"in force until {end.isoformat()} (inclusive)"
    return "no date limits"


def _citation(c: Citation) -> str:
    name = f"[{_code(c.source)}]({c.url})" if c.url else _code(c.source)
    return f"{name} {_text(c.section)}".rstrip()


def _jurisdictions(v: Variant) -> str:
    return ", ".join(sorted(j.value for j in v.jurisdictions))


def _last_day(rule: Rule) -> date | None:
    ends = [v.effective_to for v in rule.variants]
    if not ends or any(e is None for e in ends):
        return None
    return max(e for e in ends if e is not None)


def _variant_name(v: Variant) -> str:
    """The label, with the jurisdictions when the label does not name them (``EU`` for the UK)."""
    named = {j for j in v.jurisdictions if j.value in v.label.split("/")}
    if named == v.jurisdictions:
        return _code(v.label)
    return f"{_code(v.label)} ({_jurisdictions(v)})"


def _variant_lines(v: Variant) -> list[str]:
    lines = [
        f"- **Variant {_code(v.label)}**: jurisdictions {_jurisdictions(v)}; {_window(v)}",
        f"  - Severity {_code(v.severity.value)}; decision effect {_code(v.effect.value)};"
        f" gates when unknown: {_yes(v.gates_when_unknown)}",
    ]
    if v.category is not None:
        lines.append(f"  - Checklist item category: {_code(v.category.value)}")
    lines += [
        f"  - Text: {_text(v.text)}",
        f"  - Sources: {'; '.join(_citation(c) for c in v.citations)}",
        f"  - Basis {_code(v.basis.value)}; verification {_code(v.verification.value)}",
    ]
    lines += [_tier_line(t) for t in v.tiers]
    return lines


def _tier_line(t: Tier) -> str:
    return (
        f"  - Tier {_code(t.name)}: severity {_code(t.severity.value)}; decision effect"
        f" {_code(t.effect.value)}; gates when unknown: {_yes(t.gates_when_unknown)}; basis"
        f" {_code(t.basis.value)}; verification {_code(t.verification.value)}. Text:"
        f" {_text(t.text)}"
    )


def _rule_lines(rule: Rule) -> list[str]:
    last = _last_day(rule)
    if rule.retired:
        status = "retired: yes (never evaluated; the ID stays out of use)"
    elif last is not None:
        status = (
            f"retired: no · expired after {last.isoformat()} (its last variant's last day; still"
            " evaluated for dates up to then)"
        )
    else:
        status = "retired: no · expires: never (a variant is open-ended)"
    lines = [
        f"#### {_code(rule.id)}: {_text(rule.title)}",
        "",
        f"Kind {_code(rule.kind.value)} · version {rule.version} · {status} ·"
        f" checklist rule: {_yes(rule.is_checklist)} · weakest verification"
        f" {_code(rule.verification.value)}",
        "",
    ]
    for v in rule.variants:
        lines += _variant_lines(v)
    return lines


def _rules_section(catalog: Catalog) -> list[str]:
    doc = attribute_docs(Variant)
    glossary_fields = (
        "label",
        "severity",
        "effect",
        "gates_when_unknown",
        "basis",
        "verification",
        "tiers",
        "category",
    )
    lines = [
        "## Rules",
        "",
        "Sorted by ID, grouped by kind. A rule has one stable ID, a version (+1 on any change to",
        "the rule or its variants) and one or more variants; for an evaluation the variant in force",
        "for the jurisdiction and date is selected, or none (then the rule is not evaluated).",
        "Variant fields:",
        "",
    ]
    lines += [f"- {_code(name)}: {doc[name]}" for name in glossary_fields if name in doc]
    lines += ["", "Index:", ""]
    lines += _table(
        ("rule", "title", "version", "variants", "weakest verification"),
        (
            (
                _code(r.id),
                _text(r.title),
                str(r.version),
                ", ".join(_variant_name(v) for v in r.variants),
                _code(r.verification.value),
            )
            for r in catalog.rules
        ),
    )
    kind: str | None = None
    for r in catalog.rules:
        if r.kind.value != kind:
            kind = r.kind.value
            lines += ["", f"### Kind {_code(kind)}"]
        lines += ["", *_rule_lines(r)]
    return lines


# --- sources ------------------------------------------------------------------------------------


def _sources_section(catalog: Catalog) -> list[str]:
    cited_by: dict[str, list[str]] = {s.id: [] for s in SOURCES}
    for r in catalog.rules:
        for source in r.sources:
            cited_by[source].append(r.id)
    doc = attribute_docs(type(SOURCES[0]))
    lines = [
        "## Source register",
        "",
        "Every citation of a variant names one of these IDs. "
        + " ".join(
            f"{_code(name)}: {doc[name]}" for name in ("citation", "notes", "basis") if name in doc
        ),
        "",
    ]
    rows = []
    for s in SOURCES:
        rows.append(
            (
                _code(s.id),
                _text(s.citation),
                _text(s.notes) if s.notes else "—",
                _code(s.basis.value),
                f"<{s.url}>" if s.url else "—",
                _codes(cited_by[s.id], empty="—"),
            )
        )
    lines += _table(("source", "citation", "notes", "basis", "address", "cited by"), rows)
    return lines


# --- value sets ---------------------------------------------------------------------------------


def _entry_rows(entries: Iterable[CodeEntry]) -> Iterator[tuple[str, ...]]:
    for e in entries:
        yield (
            _code(e.system),
            _code(e.code),
            "prefix" if e.prefix else "exact",
            _code(e.verification.value),
        )


def _codes_table(entries: tuple[CodeEntry, ...]) -> list[str]:
    if not entries:
        return ["Codes: none (matched by name only)."]
    return _table(("system", "code", "match", "verification"), _entry_rows(entries))


def _ingredient_rows(ingredients: Iterable[Ingredient]) -> Iterator[tuple[str, ...]]:
    for i in ingredients:
        yield (_text(i.name), _words(i.synonyms), _words(i.brands))


def _product_rows(products: Iterable[StrengthProduct]) -> Iterator[tuple[str, ...]]:
    for p in products:
        yield (
            _text(p.ingredient),
            _words(p.synonyms),
            ", ".join(_number(s) for s in p.strengths_mg),
        )


def _medication_set_lines(v: ValueSet, describe: Callable[[str], str]) -> list[str]:
    lines = [
        f"### {_code(v.name)}: {_text(v.title or v.name)}",
        "",
        f"Rules that read it: {_codes(v.rules, empty='none listed in the data file')}.",
        "",
        *_codes_table(v.entries),
        "",
    ]
    if v.ingredients:
        lines += _table(("ingredient", "synonyms", "brand names"), _ingredient_rows(v.ingredients))
    else:
        lines.append(f"Names: {_words(v.names)}; brand names: {_words(v.brands)}.")
    if v.products:
        lines += [
            "",
            f"{describe('products')[:1].upper()}{describe('products')[1:]}:",
            "",
            *_table(("ingredient", "synonyms", "strengths (mg)"), _product_rows(v.products)),
        ]
    if v.combined_with:
        lines += ["", f"Combined with ({describe('combined_with')}): {_words(v.combined_with)}."]
    return lines


def _medication_section(vocabulary: MedicationVocabulary) -> list[str]:
    value_set_doc = attribute_docs(ValueSet)
    vocabulary_doc = attribute_docs(MedicationVocabulary)

    def describe(name: str) -> str:
        return _lower_first(value_set_doc.get(name, name).rstrip("."))

    lines = [
        "## Medication vocabulary",
        "",
        "From `domain/data/medications.json` (read through `domain.codes.medication_vocabulary()`).",
        "Codes match on (system, code), never on a code alone; names, synonyms and brand names",
        "match as whole words, case-insensitively, after normalisation. A deployment extends the",
        "vocabulary through the local policy file (see [Local policy](#local-policy)).",
        "",
        "### Route exclusion",
        "",
        f"- Words ({_lower_first(vocabulary_doc.get('route_words', '').rstrip('.'))}):"
        f" {_words(vocabulary.route_words)}",
        f"- Products ({_lower_first(vocabulary_doc.get('route_products', '').rstrip('.'))}):"
        f" {_words(vocabulary.route_products)}",
    ]
    for v in vocabulary.value_sets:
        lines += ["", *_medication_set_lines(v, describe)]
    return lines


def _conditions_section() -> list[str]:
    lines = [
        "## Condition value sets",
        "",
        "From `domain/codes.py` (`CONDITION_VALUE_SETS`). Codes match on (system, code); names as",
        "whole words.",
    ]
    for v in CONDITION_VALUE_SETS:
        lines += [
            "",
            f"### {_code(v.name)}"
            + (f": {_text(v.title)}" if v.title and v.title != v.name else ""),
            "",
        ]
        if v.rules:
            lines += [f"Rules that read it: {_codes(v.rules)}.", ""]
        lines += [*_codes_table(v.entries), "", f"Names: {_words(v.names, empty='none')}."]
    return lines


# --- command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Write the document to the path given, or to stdout."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        sys.stderr.write("usage: python -m api.catalogue_doc [PATH]\n")
        return 2
    text = render()
    if args:
        path = Path(args[0])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    else:
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
