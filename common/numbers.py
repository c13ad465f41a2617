"""Reading a number back as charts and answers print it (full-width digits, thousands separators, 万/億, U+2212):
the one parser the verifier and the evaluation share."""

from __future__ import annotations

import re
import unicodedata

SCALES = (("億", 1e8), ("万", 1e4))


_NUMBER = re.compile(r"([-+]?\d+(?:\.\d+)?)(億|万)?")


def parse_number(text: str) -> tuple[float, float] | None:
    """The first number in `text` and the resolution it is written to (0.1 for "1.5", 100 for "1.23万").

    Full-width digits, thousands separators and 万/億 are understood.
    """
    normal = unicodedata.normalize("NFKC", text).replace(",", "").replace("−", "-")
    match = _NUMBER.search(normal)
    if match is None:
        return None
    digits, word = match.groups()
    scale = dict(SCALES)[word] if word else 1.0
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return float(digits) * scale, 10.0**-decimals * scale
