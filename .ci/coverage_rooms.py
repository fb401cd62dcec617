"""After `coverage run -m pytest`: the total line coverage of the package and each room's (a sub-package, or the
top-level modules together), those below `LOW` marked. `make coverage` prints it."""

from __future__ import annotations

from collections import defaultdict
from pathlib import PurePath

import coverage

LOW = 70.0


def rooms(data: coverage.CoverageData, cov: coverage.Coverage) -> dict[str, list[int]]:
    """Per room: [statements, statements run]."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path in data.measured_files():
        parts = PurePath(path).parts
        if "forams_lightning" not in parts or not path.endswith(".py"):  # Jinja reports its templates too
            continue
        inside = parts[parts.index("forams_lightning") + 1:]
        room = inside[0] if len(inside) > 1 else "(top-level modules)"
        _, statements, _, missing, _ = cov.analysis2(path)
        totals[room][0] += len(statements)
        totals[room][1] += len(statements) - len(missing)
    return totals


def main() -> None:
    cov = coverage.Coverage()
    cov.load()
    totals = rooms(cov.get_data(), cov)
    statements, run = (sum(v[i] for v in totals.values()) for i in (0, 1))
    print(f"total: {100 * run / max(statements, 1):.1f}% of {statements} statements")
    for room, (n, hit) in sorted(totals.items(), key=lambda kv: kv[1][1] / max(kv[1][0], 1)):
        share = 100 * hit / max(n, 1)
        print(f"  {room:22s} {share:5.1f}% of {n:5d}{'   below ' + str(int(LOW)) + '%' if share < LOW else ''}")


if __name__ == "__main__":
    main()
