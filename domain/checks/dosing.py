"""Dosing checks (RULES §8): range, maximum, below range, cumulative target, food, regimen.

``dosing.above-maximum`` and ``dosing.below-range`` judge a *planned* dose: without one there is
nothing to judge and they yield no finding (as ``prescription.supply-limit`` does without a planned
supply). A regimen that is not stated is read as daily, and the dosing plan says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.context import Context
from domain.dosing import dosing_plan, maximum_for, product_info
from domain.products import PRODUCTS
from domain.rules import FALSE, Outcome, applies, unknown
from domain.vocab import Product, Regimen


def _weight_unknown(ctx: Context) -> Outcome:
    notes = tuple(n for n in dosing_plan(ctx).notes if "weight" in n)
    return unknown("weight", notes=notes)


@dataclass(frozen=True, slots=True)
class DailyRange:
    """``dosing.daily-range``: the labelled range for this weight and product."""

    def run(self, ctx: Context) -> Outcome:
        """Applies (info) with the range in mg/day when the weight is known."""
        plan = dosing_plan(ctx)
        if plan.weight_kg is None or plan.range_mg_per_day is None:
            return _weight_unknown(ctx)
        lo, hi = plan.range_mg_per_kg_day
        mlo, mhi = plan.range_mg_per_day
        return applies(
            f"weight {plan.weight_kg:g} kg",
            notes=(f"{mlo:g}–{mhi:g} mg/day ({lo:g}–{hi:g} mg/kg/day)",),
            data=(("range_mg_per_day", [mlo, mhi]), ("range_mg_per_kg_day", [lo, hi])),
        )


@dataclass(frozen=True, slots=True)
class AboveMaximum:
    """``dosing.above-maximum``: planned mg/kg/day above the applicable maximum."""

    def run(self, ctx: Context) -> Outcome:
        """Applies above the maximum.

        With no product: applies above the conventional maximum, is unknown between the Absorica
        LD and conventional maxima, and is false below the LD maximum.
        """
        planned = ctx.facts.plan.planned_mg_per_day
        if planned is None:
            return FALSE
        plan = dosing_plan(ctx)
        if plan.weight_kg is None:
            return _weight_unknown(ctx)
        per_kg = planned / plan.weight_kg
        data = (("planned_mg_per_kg_day", round(per_kg, 2)),)
        if ctx.product is None:
            conventional = maximum_for(ctx, PRODUCTS[Product.GENERIC]).mg_per_kg_day
            ld = maximum_for(ctx, PRODUCTS[Product.ABSORICA_LD]).mg_per_kg_day
            if per_kg > conventional:
                return applies(
                    f"planned {planned:g} mg/day = {per_kg:.2f} mg/kg/day > {conventional:g} "
                    "(conventional maximum; product not identified)",
                    data=(*data, ("maximum_mg_per_kg_day", conventional)),
                )
            if per_kg > ld:
                return unknown(
                    "plan.product",
                    notes=(f"{per_kg:.2f} mg/kg/day is above the Absorica LD maximum {ld:g}",),
                )
            return FALSE
        m = plan.maximum
        if per_kg <= m.mg_per_kg_day + 1e-9:
            return FALSE
        notes: tuple[str, ...] = ()
        if m.would_raise:
            notes = (
                "the lower maximum applies; these facts could raise it: "
                + ", ".join(m.would_raise),
            )
        return applies(
            f"planned {planned:g} mg/day = {per_kg:.2f} mg/kg/day > maximum {m.mg_per_kg_day:g} "
            f"mg/kg/day ({m.tier})",
            notes=notes,
            data=(*data, ("maximum_mg_per_kg_day", m.mg_per_kg_day), ("maximum_tier", m.tier)),
        )


@dataclass(frozen=True, slots=True)
class BelowRange:
    """``dosing.below-range``: planned mg/kg/day below the range (low-dose regimens are allowed)."""

    def run(self, ctx: Context) -> Outcome:
        """Applies below the product's range; unknown product: judged against both ranges."""
        planned = ctx.facts.plan.planned_mg_per_day
        if planned is None:
            return FALSE
        plan = dosing_plan(ctx)
        if plan.weight_kg is None:
            return _weight_unknown(ctx)
        per_kg = planned / plan.weight_kg
        if ctx.product is None:
            ld_low = PRODUCTS[Product.ABSORICA_LD].range_mg_per_kg[0]
            conv_low = PRODUCTS[Product.GENERIC].range_mg_per_kg[0]
            if per_kg < ld_low:
                return applies(f"planned {per_kg:.2f} mg/kg/day < {ld_low:g}")
            if per_kg < conv_low:
                return unknown("plan.product")
            return FALSE
        low = product_info(ctx.product).range_mg_per_kg[0]
        if per_kg < low - 1e-9:
            return applies(
                f"planned {planned:g} mg/day = {per_kg:.2f} mg/kg/day < {low:g} mg/kg/day"
            )
        return FALSE


@dataclass(frozen=True, slots=True)
class CumulativeTarget:
    """``dosing.cumulative-target``: progress towards 120–150 mg/kg; never a hard stop."""

    def run(self, ctx: Context) -> Outcome:
        """Applies (info) with the progress when a weight is known."""
        c = dosing_plan(ctx).cumulative
        if c is None:
            return _weight_unknown(ctx)
        unit = "mg (conventional-equivalent)" if c.conventional_equivalent else "mg"
        text = (
            f"cumulative {c.mg:g} {unit} = {c.mg_per_kg:g} mg/kg of {c.target_mg_per_kg[0]:g}–"
            f"{c.target_mg_per_kg[1]:g} mg/kg ({c.target_mg[0]:,.0f}–{c.target_mg[1]:,.0f} mg)"
        )
        return applies(text, data=(("cumulative_mg", c.mg), ("cumulative_mg_per_kg", c.mg_per_kg)))


@dataclass(frozen=True, slots=True)
class TakeWithFood:
    """``dosing.take-with-food``: every product except Absorica and Absorica LD."""

    def run(self, ctx: Context) -> Outcome:
        """Applies for products taken with food; unknown when the product is not identified."""
        if ctx.product is None:
            return unknown("plan.product")
        return applies(f"product {ctx.product.value}") if PRODUCTS[ctx.product].with_food else FALSE


@dataclass(frozen=True, slots=True)
class Intermittent:
    """``dosing.intermittent``: an intermittent regimen is planned."""

    def run(self, ctx: Context) -> Outcome:
        """Applies when the plan says intermittent."""
        if ctx.facts.plan.regimen is Regimen.INTERMITTENT:
            return applies("intermittent regimen planned")
        return FALSE
