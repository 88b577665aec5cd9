"""``docs/rules.md`` is the catalogue's own document: current, complete and generated from the code."""

from __future__ import annotations

import difflib
import re
from dataclasses import fields
from functools import cache
from pathlib import Path

import pytest

from api.catalogue_doc import SETTING_VARIABLES, attribute_docs, main, render
from api.settings import Settings
from domain.catalog import RULESET_VERSION, build_catalog
from domain.codes import CONDITION_VALUE_SETS, medication_vocabulary
from domain.settings import EvaluationSettings, LocalPolicy
from domain.sources import SOURCES

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
CATALOG = build_catalog(EvaluationSettings())


@cache
def _doc() -> str:
    return render()


def _section(text: str, heading: str) -> str:
    """From the heading that starts with ``heading`` to the next one of its level or higher."""
    level = len(heading) - len(heading.lstrip("#"))
    start = text.index(f"\n{heading}") + 1
    body = text.index("\n", start)
    end = re.search(rf"^#{{1,{level}}} ", text[body:], re.M)
    return text[start : body + end.start()] if end else text[start:]


def test_committed_document_is_current() -> None:
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.is_file() else ""
    generated = _doc()
    if committed != generated:
        diff = "".join(
            list(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    generated.splitlines(keepends=True),
                    "docs/rules.md (committed)",
                    "generated",
                    n=0,
                )
            )[:20]
        )
        pytest.fail(
            "docs/rules.md is stale: the catalogue, the medication data or the local-policy "
            f"defaults changed. Run `make docs` and commit the result.\n{diff}"
        )


def test_the_document_is_deterministic() -> None:
    assert render() == _doc()
    assert not re.search(r"generated (on|at) \d{4}", _doc(), re.I)


def test_every_rule_id_is_a_heading_with_its_version_and_variants() -> None:
    headings = set(re.findall(r"^#{2,4} `([a-z0-9.\-]+)`: ", _doc(), re.M))
    assert {r.id for r in CATALOG.rules} <= headings
    for r in CATALOG.rules:
        section = _section(_doc(), f"#### `{r.id}`: ")
        assert f"version {r.version}" in section
        assert section.count("- **Variant ") == len(r.variants), r.id
        for v in r.variants:
            for c in v.citations:
                assert f"`{c.source}`" in section, (r.id, c.source)
                if c.url:
                    assert c.url in section


def test_version_hash_and_settings_are_stated() -> None:
    assert f"`{RULESET_VERSION}`" in _doc()
    assert f"`{CATALOG.hash}`" in _doc()
    for variable in SETTING_VARIABLES.values():
        assert f"`{variable}`" in _doc()


def test_setting_variables_are_the_service_settings() -> None:
    names = {f.name for f in fields(EvaluationSettings)}
    assert set(SETTING_VARIABLES) == names
    for name, variable in SETTING_VARIABLES.items():
        field = variable.removeprefix("ISOCDS_").lower()
        assert field in Settings.model_fields, (name, variable)


def test_every_local_policy_key_is_listed_with_its_description() -> None:
    section = _section(_doc(), "## Local policy")
    docs = attribute_docs(LocalPolicy)
    for f in fields(LocalPolicy):
        assert f"| `{f.name}` |" in section
        assert docs.get(f.name), f"{f.name}: no description in the LocalPolicy docstring"
    assert "| `tg_severe_mg_dl` | `800` |" in section


def test_every_source_is_listed_with_its_address() -> None:
    section = _section(_doc(), "## Source register")
    for s in SOURCES:
        assert f"| `{s.id}` |" in section
        if s.url:
            assert f"<{s.url}>" in section


def test_brand_names_sit_under_their_ingredient() -> None:
    tetracyclines = _section(_doc(), "### `tetracyclines`: ")
    row = next(
        line for line in tetracyclines.splitlines() if line.startswith("| oxytetracycline |")
    )
    assert "Terramycin" in row
    for v in medication_vocabulary().value_sets:
        section = _section(_doc(), f"### `{v.name}`: ")
        for i in v.ingredients:
            row = next(line for line in section.splitlines() if line.startswith(f"| {i.name} |"))
            assert all(b in row for b in i.brands), (v.name, i.name)
            assert all(s in row for s in i.synonyms), (v.name, i.name)
        for e in v.entries:
            assert f"| `{e.system}` | `{e.code}` |" in section


def test_progestin_only_products_and_route_exclusion_are_listed() -> None:
    vocabulary = medication_vocabulary()
    pop = next(v for v in vocabulary.value_sets if v.products)
    section = _section(_doc(), f"### `{pop.name}`: ")
    for p in pop.products:
        assert f"| {p.ingredient} |" in section
    assert all(n in section for n in pop.combined_with)
    route = _section(_doc(), "### Route exclusion")
    assert all(w in route for w in (*vocabulary.route_words, *vocabulary.route_products))


def test_every_condition_value_set_is_listed() -> None:
    section = _section(_doc(), "## Condition value sets")
    for v in CONDITION_VALUE_SETS:
        assert f"\n### `{v.name}`" in section
        for e in v.entries:
            assert f"| `{e.system}` | `{e.code}` |" in section


def test_main_writes_the_path_given(tmp_path: Path) -> None:
    target = tmp_path / "out" / "rules.md"
    assert main([str(target)]) == 0
    assert target.read_text(encoding="utf-8") == _doc()
    assert main(["a", "b"]) == 2
