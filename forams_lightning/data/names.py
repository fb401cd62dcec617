"""Names users give (species, samples): text a reader sees as it is stored. A name with invisible bidirectional
control characters displays as another name (a right-to-left override turns "abc" into "cba" on screen), so it is
refused where it enters, naming where it came from."""

from __future__ import annotations

import unicodedata

# Unicode's bidirectional formatting characters (embeddings, overrides, isolates, marks).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def checked_name(name: str, where: str) -> str:
    """`name` unchanged where it displays as stored; a ValueError naming `where` where it holds bidirectional or
    other control characters."""
    hidden = sorted({f"U+{ord(c):04X}" for c in name if c in BIDI_CONTROLS or unicodedata.category(c) == "Cc"})
    if hidden:
        raise ValueError(f"{where}: the name {name.encode('unicode_escape').decode()!r} holds invisible control "
                         f"characters ({', '.join(hidden)}) that make it display as another name; rename it")
    return name
