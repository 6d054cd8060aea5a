"""Official identifiers and their check keys."""

from __future__ import annotations

import re

LA_POSTE = "356000000"  # La Poste's SIREN breaks the Luhn rule: INSEE documents the exception


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def siren_ok(siren: str) -> bool:
    """SIREN: 9 digits with a valid Luhn key, La Poste excepted."""
    return bool(re.fullmatch(r"\d{9}", siren)) and (siren == LA_POSTE or luhn_ok(siren))


def siret_ok(siret: str) -> bool:
    """SIRET: 14 digits with a valid Luhn key; La Poste's establishments instead have a digit sum
    that is a multiple of 5 (the documented exception)."""
    if not re.fullmatch(r"\d{14}", siret):
        return False
    if siret.startswith(LA_POSTE):
        return luhn_ok(siret) or sum(int(c) for c in siret) % 5 == 0
    return luhn_ok(siret)
