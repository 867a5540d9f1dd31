"""`make bench-readme`: the README's performance table, rewritten from the last `make bench` (bench-results.json).

The table sits between two markers in README.md; everything else in the section is prose and stays as written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tests.bench.figures import markdown_table

REPO = Path(__file__).resolve().parents[2]
START = "<!-- bench table: make bench-readme writes what follows -->"
END = "<!-- end of bench table -->"


def rewritten(readme: str, table: str, machine: str) -> str:
    """`readme` with the text between the markers replaced by `table`; unchanged markers are required."""
    before, found, rest = readme.partition(START)
    if not found or END not in rest:
        raise SystemExit(f"README.md has no bench table markers ({START} ... {END})")
    after = rest.partition(END)[2]
    return f"{before}{START}\n{machine}\n\n{table}\n{END}{after}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench-readme", description=__doc__)
    parser.add_argument("--results", type=Path, default=REPO / "bench-results.json")
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    args = parser.parse_args()
    results = json.loads(args.results.read_text())
    machine = results["machine"]
    said = f"Measured on {machine['cpus']} cores, Python {machine['python']} ({machine['platform']})."
    args.readme.write_text(rewritten(args.readme.read_text(), markdown_table(results["table"]), said))
    print(f"{args.readme}: performance table rewritten from {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
