"""Isotretinoin products: strengths, dose ranges, maxima and excipients (RULES §8 products table)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.vocab import Jurisdiction, Product, Verification


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductInfo:
    """What the dosing arithmetic and the excipient rules know of a product.

    Attributes:
        product: The product code.
        markets: Jurisdictions where it is sold.
        strengths_mg: Built-in capsule strengths; ``()`` when the caller must send them.
        strengths_verification: How far the built-in strengths are verified.
        range_mg_per_kg: The labelled daily range (low, high) in mg/kg/day.
        higher_maximum: US: maximum for adults with very severe, scarring or truncal acne.
        lower_maximum: The maximum otherwise (EU/UK: the only maximum, ``unverified``).
        soybean_oil: Contains soybean oil: ``True``, ``False``, or ``None`` (not retrieved).
        parabens: Contains parabens: ``True``, ``False``, or ``None`` (not known).
        tartrazine_strength_mg: The one strength that contains tartrazine (Absorica 25 mg).
        micronized: Absorica LD: not interchangeable mg for mg; cumulative progress is reported
            in conventional-equivalent mg (LD mg ÷ 0.8, ``unverified``).
        with_food: Must be taken with food (every product except Absorica and Absorica LD).
    """

    product: Product
    markets: frozenset[Jurisdiction]
    strengths_mg: tuple[int, ...]
    strengths_verification: Verification
    range_mg_per_kg: tuple[float, float]
    higher_maximum: float
    lower_maximum: float
    soybean_oil: bool | None
    parabens: bool | None
    tartrazine_strength_mg: int | None = None
    micronized: bool = False
    with_food: bool = True


_US = frozenset({Jurisdiction.US})
_EU_UK = frozenset({Jurisdiction.EU, Jurisdiction.UK})
_P, _U = Verification.PRIMARY, Verification.UNVERIFIED
CONVENTIONAL_RANGE = (0.5, 1.0)
LD_TO_CONVENTIONAL = 0.8  # Absorica LD mg ÷ 0.8 = conventional-equivalent mg (unverified)

PRODUCTS: dict[Product, ProductInfo] = {
    p.product: p
    for p in (
        ProductInfo(
            product=Product.ABSORICA,
            markets=_US,
            strengths_mg=(10, 20, 25, 30, 35, 40),
            strengths_verification=_P,
            range_mg_per_kg=CONVENTIONAL_RANGE,
            higher_maximum=2.0,
            lower_maximum=1.0,
            soybean_oil=True,
            parabens=False,
            tartrazine_strength_mg=25,
            with_food=False,
        ),
        ProductInfo(
            product=Product.ABSORICA_LD,
            markets=_US,
            strengths_mg=(8, 16, 20, 24, 28, 32),
            strengths_verification=_P,
            range_mg_per_kg=(0.4, 0.8),
            higher_maximum=1.6,
            lower_maximum=0.8,
            soybean_oil=None,
            parabens=None,
            micronized=True,
            with_food=False,
        ),
        ProductInfo(
            product=Product.CLARAVIS,
            markets=_US,
            strengths_mg=(10, 20, 30, 40),
            strengths_verification=_P,
            range_mg_per_kg=CONVENTIONAL_RANGE,
            higher_maximum=2.0,
            lower_maximum=1.0,
            soybean_oil=True,
            parabens=False,
        ),
        ProductInfo(
            product=Product.AMNESTEEM,
            markets=_US,
            strengths_mg=(10, 20, 40),
            strengths_verification=_P,
            range_mg_per_kg=CONVENTIONAL_RANGE,
            higher_maximum=2.0,
            lower_maximum=1.0,
            soybean_oil=True,
            parabens=False,
        ),
        ProductInfo(
            product=Product.MYORISAN,
            markets=_US,
            strengths_mg=(10, 20, 30, 40),
            strengths_verification=_P,
            range_mg_per_kg=CONVENTIONAL_RANGE,
            higher_maximum=2.0,
            lower_maximum=1.0,
            soybean_oil=True,
            parabens=False,
        ),
        ProductInfo(
            product=Product.ZENATANE,
            markets=_US,
            strengths_mg=(),
            strengths_verification=_U,
            range_mg_per_kg=CONVENTIONAL_RANGE,
            higher_maximum=2.0,
            lower_maximum=1.0,
            soybean_oil=None,
            parabens=True,
        ),
        ProductInfo(
            product=Product.GENERIC,
            markets=_US,
            strengths_mg=(10, 20, 25, 30, 35, 40),
            strengths_verification=_U,
            range_mg_per_kg=CONVENTIONAL_RANGE,
            higher_maximum=2.0,
            lower_maximum=1.0,
            soybean_oil=True,
            parabens=None,
        ),
        ProductInfo(
            product=Product.EU_UK_GENERIC,
            markets=_EU_UK,
            strengths_mg=(),
            strengths_verification=_U,
            range_mg_per_kg=CONVENTIONAL_RANGE,
            higher_maximum=1.0,
            lower_maximum=1.0,
            soybean_oil=None,
            parabens=None,
        ),
    )
}
