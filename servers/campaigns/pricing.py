"""Pricing: a campaign's auction bid, its CPM (docs/design.md rule 1).

cpm = 0.0075 * cpc + 0.0005 * cpa, weights configurable (settings cpm_cpc_weight and
cpm_cpa_weight). Compute it once per campaign when the ad index is built, not per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from servers.errors import ValidationError
from servers.money import MONEY_CONTEXT, quantize_down

_MAX_WEIGHT_PLACES = 10


@dataclass(frozen=True, slots=True)
class Weights:
    """Weights are the CPM's multipliers for a campaign's cpc and cpa."""

    cpc: Decimal = Decimal("0.0075")
    cpa: Decimal = Decimal("0.0005")

    @classmethod
    def parse(cls, cpc: str, cpa: str) -> Weights:
        """Weights.parse reads configured weights, which are non-negative decimal strings."""
        return cls(cpc=_weight(cpc, "cpm_cpc_weight"), cpa=_weight(cpa, "cpm_cpa_weight"))


def _weight(text: str, field: str) -> Decimal:
    try:
        weight = Decimal(text.strip())
    except ArithmeticError:
        raise ValidationError(field, "must be a decimal") from None
    exponent = weight.as_tuple().exponent
    if not weight.is_finite() or weight < 0:
        raise ValidationError(field, "must be a non-negative decimal")
    if isinstance(exponent, int) and exponent < -_MAX_WEIGHT_PLACES:
        raise ValidationError(field, f"must have at most {_MAX_WEIGHT_PLACES} decimal places")
    return weight


DEFAULT_WEIGHTS = Weights()


def cpm(cpc: Decimal, cpa: Decimal, weights: Weights = DEFAULT_WEIGHTS) -> Decimal:
    """cpm is the campaign's bid: weights.cpc * cpc + weights.cpa * cpa, rounded down."""
    exact = MONEY_CONTEXT.add(
        MONEY_CONTEXT.multiply(weights.cpc, cpc), MONEY_CONTEXT.multiply(weights.cpa, cpa)
    )
    # 10 places so the cpm stored in a DECIMAL(24, 10) column is the one the auction compared.
    return quantize_down(exact)
