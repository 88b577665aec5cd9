"""The part of the service's settings the domain needs, handed in as a value (style.md §9).

The domain never reads the environment or a file. The API reads ``ISOCDS_*`` settings once at
start-up, parses the local-policy JSON and passes an :class:`EvaluationSettings` in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from typing import Any

from domain.errors import PolicyError
from domain.vocab import LabProfile, PostTherapyTest


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalPolicy:
    """Numbers that are the service's own choice (``basis: local-policy``, RULES §0.2).

    The clinical owner confirms each before clinical use; a deployment may override them with
    ``ISOCDS_LOCAL_POLICY_FILE``. The values in force are part of the catalogue hash.

    Attributes:
        tg_elevated_mg_dl: ``lab.triglycerides.elevated`` applies above this (strict >).
        tg_severe_mg_dl: ``lab.triglycerides.severe`` applies above this (strict >); also the
            baseline trigger of ``contraindication.hyperlipidaemia``.
        liver_elevated_uln: ``lab.liver.elevated`` applies above this multiple of the ULN.
        liver_severe_uln: ``lab.liver.severe`` applies above this multiple of the ULN.
        uln_alt_u_l: A configured ALT ULN (U/L) for results that carry none; ``None``: no default.
        uln_ast_u_l: A configured AST ULN (U/L) for results that carry none; ``None``: no default.
        phq9_positive_total: A PHQ-9 total at or above this is a positive screen.
        phqa_positive_total: A PHQ-A total at or above this is a positive screen.
        phq2_positive_total: A PHQ-2 total at or above this is a positive screen.
        suicidal_ideation_lookback_days: ``precaution.suicidal-ideation-now`` applies on item
            9 > 0 on any PHQ-9 or PHQ-A dated within this many days up to ``as_of``, even when a
            later screen is negative (RULES §7; default 30).
        weight_max_age_days: Dosing uses a weight at most this many days old.
        baseline_lookback_days: At baseline, a record counts when dated within this many days up
            to the prescription date (RULES §0.3 default item window).
        pregnancy_recency_days: ``contraindication.pregnancy`` is ``unknown`` without a negative
            test or ``not-pregnant`` status within this many days up to ``as_of``.
        contraception_lead_days: Methods must start this many days before the first dose.
        follow_up_interval_days: Default distance to the previous visit at follow-ups.
        label_lab_overdue_days: ``label`` profile: overdue when the latest result is older.
        evidence_lab_due_from_day: ``evidence`` profile: follow-up due from this treatment day.
        evidence_lab_due_to_day: ``evidence`` profile: last day of the window (overdue after).
        smpc_first_due_from_day: ``smpc`` profile: first follow-up due from this day.
        smpc_first_due_to_day: ``smpc`` profile: last day of the first window.
        smpc_repeat_due_from_days: ``smpc``: next result due this many days after the previous.
        smpc_repeat_due_to_days: ``smpc``: last day of that window, counted the same way.
        us_higher_maximum_min_age: US: the higher maximum needs at least this age ("adults").
        labelled_min_nodule_count: US labelled indication: "multiple" nodules read as this many.
        exposure_lookback_days: CDS Hooks: an isotretinoin order or dispense this recent counts
            as exposure.
        course_ended_lookback_days: CDS Hooks: a course ended this recently counts as exposure.
        value_set_additions: Extra (system, code) pairs per value set name (RULES §13).
        brand_additions: Extra brand names per medication value set name (RULES §13 (b)),
            matched as whole words like the shipped brands (match basis ``brand``).
        unrelated_medication_names: Names of medications the deployment knows to be unrelated
            to every rule; they are not listed as ``unrecognised_medications``.
    """

    tg_elevated_mg_dl: float = 500.0
    tg_severe_mg_dl: float = 800.0
    liver_elevated_uln: float = 3.0
    liver_severe_uln: float = 5.0
    uln_alt_u_l: float | None = None
    uln_ast_u_l: float | None = None
    phq9_positive_total: int = 10
    phqa_positive_total: int = 10
    phq2_positive_total: int = 3
    suicidal_ideation_lookback_days: int = 30
    weight_max_age_days: int = 30
    baseline_lookback_days: int = 30
    pregnancy_recency_days: int = 30
    contraception_lead_days: int = 30
    follow_up_interval_days: int = 30
    label_lab_overdue_days: int = 35
    evidence_lab_due_from_day: int = 49
    evidence_lab_due_to_day: int = 70
    smpc_first_due_from_day: int = 21
    smpc_first_due_to_day: int = 35
    smpc_repeat_due_from_days: int = 77
    smpc_repeat_due_to_days: int = 105
    us_higher_maximum_min_age: int = 18
    labelled_min_nodule_count: int = 2
    exposure_lookback_days: int = 90
    course_ended_lookback_days: int = 60
    value_set_additions: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    brand_additions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    unrelated_medication_names: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> LocalPolicy:
        """Build a policy from a JSON object, overriding only the keys given.

        Raises:
            PolicyError: An unknown key, a value of the wrong type, or an inconsistent band
                (e.g. the elevated threshold above the severe one). The message names the key.
        """
        if not isinstance(data, Mapping):
            raise PolicyError("the local policy must be a JSON object")
        known = {f.name: f for f in fields(cls)}
        changes: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise PolicyError(f"{key}: not a local-policy setting")
            if key == "value_set_additions":
                changes[key] = _value_sets(value)
                continue
            if key == "brand_additions":
                changes[key] = _brands(value)
                continue
            if key == "unrelated_medication_names":
                changes[key] = _names(key, value)
                continue
            default = getattr(cls(), key)
            changes[key] = _number(key, value, default)
        policy = replace(cls(), **changes)
        policy.check()
        return policy

    def check(self) -> None:
        """Refuse inconsistent numbers (raises :class:`PolicyError`)."""
        if not 0 < self.tg_elevated_mg_dl < self.tg_severe_mg_dl:
            raise PolicyError("tg_elevated_mg_dl: must be positive and below tg_severe_mg_dl")
        if not 1 <= self.liver_elevated_uln < self.liver_severe_uln:
            raise PolicyError("liver_elevated_uln: must be ≥ 1 and below liver_severe_uln")
        for name in ("uln_alt_u_l", "uln_ast_u_l"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise PolicyError(f"{name}: must be positive")
        if self.evidence_lab_due_from_day > self.evidence_lab_due_to_day:
            raise PolicyError(
                "evidence_lab_due_from_day: must not be after evidence_lab_due_to_day"
            )
        if self.smpc_first_due_from_day > self.smpc_first_due_to_day:
            raise PolicyError("smpc_first_due_from_day: must not be after smpc_first_due_to_day")
        if self.smpc_repeat_due_from_days > self.smpc_repeat_due_to_days:
            raise PolicyError(
                "smpc_repeat_due_from_days: must not be after smpc_repeat_due_to_days"
            )

    def brands(self, value_set: str) -> tuple[str, ...]:
        """The brand names a deployment added to the medication value set ``value_set``."""
        for name, brands in self.brand_additions:
            if name == value_set:
                return brands
        return ()

    def additions(self, value_set: str) -> tuple[tuple[str, str], ...]:
        """The (system, code) pairs a deployment added to ``value_set``."""
        for name, codes in self.value_set_additions:
            if name == value_set:
                return codes
        return ()


def _number(key: str, value: Any, default: Any) -> Any:
    if isinstance(value, bool):
        raise PolicyError(f"{key}: must be a number")
    if default is None:
        if value is None:
            return None
        if not isinstance(value, int | float) or value <= 0:
            raise PolicyError(f"{key}: must be a positive number or null")
        return float(value)
    if isinstance(default, int):
        if not isinstance(value, int) or value < 0:
            raise PolicyError(f"{key}: must be a non-negative integer")
        return value
    if not isinstance(value, int | float) or value <= 0:
        raise PolicyError(f"{key}: must be a positive number")
    return float(value)


def _value_sets(value: Any) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    from domain.codes import value_set_names  # the names are data of the codes module

    known = value_set_names()

    if not isinstance(value, Mapping):
        raise PolicyError("value_set_additions: must be an object of value set name → codes")
    out: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    for name in sorted(value):
        if name not in known:
            raise PolicyError(
                f"value_set_additions.{name}: unknown value set (known: {', '.join(sorted(known))})"
            )
        codes = value[name]
        if not isinstance(codes, list):
            raise PolicyError(f"value_set_additions.{name}: must be a list of {{system, code}}")
        pairs: list[tuple[str, str]] = []
        for i, entry in enumerate(codes):
            if (
                not isinstance(entry, Mapping)
                or not isinstance(entry.get("system"), str)
                or not isinstance(entry.get("code"), str)
                or not entry["system"]
                or not entry["code"]
            ):
                raise PolicyError(f"value_set_additions.{name}[{i}]: needs a system and a code")
            pairs.append((entry["system"], entry["code"]))
        out.append((name, tuple(sorted(set(pairs)))))
    return tuple(out)


def _names(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(n, str) and n.strip() for n in value):
        raise PolicyError(f"{key}: must be a list of non-empty names")
    return tuple(sorted({n.strip() for n in value}))


def _brands(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    from domain.codes import medication_set_names  # the names are data of the codes module

    known = medication_set_names()
    if not isinstance(value, Mapping):
        raise PolicyError("brand_additions: must be an object of medication value set → names")
    out: list[tuple[str, tuple[str, ...]]] = []
    for name in sorted(value):
        if name not in known:
            raise PolicyError(
                f"brand_additions.{name}: unknown medication value set (known: "
                f"{', '.join(sorted(known))})"
            )
        out.append((name, _names(f"brand_additions.{name}", value[name])))
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluationSettings:
    """Clinical settings of a deployment.

    Attributes:
        ipledge_2026_effective: First day of the ``US/ipledge-2026`` epoch
            (``ISOCDS_IPLEDGE_2026_EFFECTIVE``, RULES §2).
        lab_profile_us: ``label`` or ``evidence`` (``ISOCDS_LAB_PROFILE_US``, RULES §9.3).
        eu_post_therapy_test: ``1-month`` or ``5-weeks`` (``ISOCDS_EU_POST_THERAPY_TEST``).
        local_policy: The local-policy numbers in force (``ISOCDS_LOCAL_POLICY_FILE``).
    """

    ipledge_2026_effective: date = date(2026, 8, 8)
    lab_profile_us: LabProfile = LabProfile.LABEL
    eu_post_therapy_test: PostTherapyTest = PostTherapyTest.ONE_MONTH
    local_policy: LocalPolicy = field(default_factory=LocalPolicy)

    def __post_init__(self) -> None:
        if self.lab_profile_us not in (LabProfile.LABEL, LabProfile.EVIDENCE):
            raise PolicyError("lab_profile_us: must be 'label' or 'evidence'")
