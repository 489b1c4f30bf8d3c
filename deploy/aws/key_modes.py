"""Write one copy of each CloudFormation template per KeyMode, for checkov.

checkov evaluates a resource's `Condition` with the parameters' defaults, so it scans only
the resources of the default KeyMode and silently skips the others (the fixed key, its
policy). `make deploy-check` scans these copies instead: each has another KeyMode default,
and together they cover every resource.

Usage: python deploy/aws/key_modes.py OUTDIR
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The KeyMode parameter's block: its Default line and its AllowedValues list.
_KEY_MODE = re.compile(r"(?m)^  KeyMode:\n(?:    .*\n)*?    Default: (\w+)\n(?:    .*\n)*?"
                       r"    AllowedValues: \[([\w, ]+)\]\n")


def key_mode_variants(text: str) -> dict[str, str]:
    match = _KEY_MODE.search(text)
    if match is None:
        raise ValueError("no KeyMode parameter with a Default and an AllowedValues list")
    modes = [mode.strip() for mode in match[2].split(",")]
    start, end = match.span(1)
    return {mode: text[:start] + mode + text[end:] for mode in modes}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.yaml"):
        stale.unlink()
    for template in sorted(HERE.glob("*.yaml")):
        for mode, text in key_mode_variants(template.read_text()).items():
            (out / f"{template.stem}.{mode}.yaml").write_text(text)
            print(f"{out / f'{template.stem}.{mode}.yaml'}: KeyMode={mode}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
