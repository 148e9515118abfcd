"""Money: exact decimals for budgets, bids and prices (docs/design.md section 3, never float).

Every amount is a Decimal with at most MONEY_PLACES decimal places, matching a
DECIMAL(24, 10) column in MySQL and Hive. Prices derived by division are rounded
down, so an advertiser is never charged more than its bid.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Context, Decimal, DivisionByZero, InvalidOperation, Overflow

from servers.errors import ValidationError

MONEY_PLACES = 10
MAX_INTEGER_DIGITS = 14  # DECIMAL(24, 10): 24 digits of which 10 are decimals
MONEY_PRECISION = MAX_INTEGER_DIGITS + MONEY_PLACES  # the 24 of DECIMAL(24, 10)
MONEY_LIMIT = Decimal(10) ** MAX_INTEGER_DIGITS  # every amount is below it
ZERO = Decimal(0).quantize(Decimal(1).scaleb(-MONEY_PLACES))

_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
# Plain notation only: the wire format is "0.00073", not "7.3E-4".
_PLAIN_DECIMAL = re.compile(r"\d+(\.\d+)?", re.ASCII)  # ASCII digits only, not Arabic-Indic ones
# Wide enough that products of two amounts are exact before rounding; rounding down
# (never half-even) keeps every intermediate result at or below the true value.
MONEY_CONTEXT = Context(
    prec=60, rounding=ROUND_DOWN, traps=[InvalidOperation, DivisionByZero, Overflow]
)


def parse_money(value: str | Decimal | int, field: str) -> Decimal:
    """parse_money turns a wire or feed amount into a non-negative Decimal with 10 places."""
    # bool is an int and float is inexact: both are a caller's bug, not an amount.
    if isinstance(value, bool) or not isinstance(value, (str, Decimal, int)):
        raise ValidationError(field, f"must be a decimal string, not {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip()
        if not _PLAIN_DECIMAL.fullmatch(text):
            raise ValidationError(field, "must be a non-negative decimal like 0.00073")
        amount = Decimal(text)
    else:
        amount = Decimal(value)
    if not amount.is_finite():
        raise ValidationError(field, "must be a finite decimal")
    if amount < 0:
        raise ValidationError(field, "must be a non-negative decimal")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MONEY_PLACES:
        raise ValidationError(field, f"must have at most {MONEY_PLACES} decimal places")
    if amount >= MONEY_LIMIT:
        raise ValidationError(field, f"must be below 10^{MAX_INTEGER_DIGITS}")
    # abs() turns -0 into 0; quantize is exact here, the places were checked above.
    return abs(amount).quantize(_QUANTUM, context=MONEY_CONTEXT)


def quantize_down(amount: Decimal) -> Decimal:
    """quantize_down rounds an amount toward zero to MONEY_PLACES decimal places."""
    return amount.quantize(_QUANTUM, rounding=ROUND_DOWN, context=MONEY_CONTEXT)


def scale_down(amount: Decimal, numerator: Decimal, denominator: Decimal) -> Decimal:
    """scale_down is amount * numerator / denominator, rounded down to MONEY_PLACES."""
    product = MONEY_CONTEXT.multiply(amount, numerator)
    return quantize_down(MONEY_CONTEXT.divide(product, denominator))


def format_money(amount: Decimal) -> str:
    """format_money writes an amount in plain notation without trailing zeros ("0.0000314")."""
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
