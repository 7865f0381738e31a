"""Durations as written in `meta.skewless`: `90s`, `15m`, `12h`, `30d`, `2w`, or a sum like `1d12h`."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["MAX_DURATION", "format_duration", "parse_duration"]

#: The longest duration accepted (a ttl, freshness or lag beyond a century is a typo; omit
#: `ttl` for "no limit"). Past it, datetime arithmetic on serving and load times overflows.
MAX_DURATION = timedelta(days=36_525)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"^(?:\d+[smhdw])+$")


def parse_duration(text: object) -> timedelta:
    """Parse `30d`, `12h`, `15m`, `90s`, `2w` or sums such as `1h30m` into a timedelta.

    Raises:
        ValueError: with the accepted forms, when `text` is not one of them.
    """
    if (
        isinstance(text, bool)
        or not isinstance(text, str)
        or len(text) > 100
        or not _WHOLE.match(text.strip())
    ):
        from skewless.errors import brief

        raise ValueError(
            f"{brief(text)} is not a duration; write a whole number and a unit: "
            "90s, 15m, 12h, 30d, 2w (or a sum such as 1h30m)"
        )
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(text.strip()))
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(
            f"{text!r} is longer than the longest duration accepted, 36525d (100 years, "
            "MAX_DURATION); omit the key for no limit"
        )
    return timedelta(seconds=seconds)


def format_duration(value: timedelta | None) -> str:
    """The shortest `parse_duration` form of `value` (`-` for None)."""
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out)
