"""Instructions per sign-in step, counted by valgrind: `python -m benchmarks.instructions`.

CPU time on a shared virtual machine moves by 15 % between two runs of the same tree, more than
most changes to the broker's own code; the instructions a step executes hardly move at all,
whatever else the machine does. This runs `benchmarks.steps` under callgrind once per step, with
that step's requests made through `operator.call` and callgrind counting only inside it
(`--toggle-collect=_operator_call`), after the usual warm-up; everything else in the process (the
stub hub building Responses, the driver, imports) is not counted. Instructions are not time (a
cache miss or an RSA multiplication costs more than a move), so read them beside
`benchmarks.steps`' CPU, and compare trees on the same machine and Python.

`--tree DIR` measures another checkout (a `git worktree` of an older commit) with this driver:
copy this `benchmarks/` directory into it first. Each step takes one to three minutes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.steps import STEPS

ROOT = Path(__file__).resolve().parent.parent


def count(tree: Path, step: str, signins: int, redis_url: str) -> int:
    command = ["valgrind", "--tool=callgrind", "--toggle-collect=_operator_call",
               "--callgrind-out-file=/dev/null", sys.executable, "-m", "benchmarks.steps",
               "--signins", str(signins), "--counted", step, "--redis-url", redis_url]
    done = subprocess.run(command, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
                          capture_output=True, text=True, timeout=1800)
    found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
    if done.returncode or not found:
        raise SystemExit(f"valgrind on {step} in {tree} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signins", type=int, default=30)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    per_step = {step: count(args.tree.resolve(), step, args.signins, args.redis_url)
                / args.signins for step in args.steps}
    print(f"Instructions per sign-in ({args.tree}): " + ", ".join(
        f"{step} {per_step[step] / 1e6:.3f} M" for step in args.steps)
        + f"; total {sum(per_step.values()) / 1e6:.3f} M")
    return 0


if __name__ == "__main__":
    sys.exit(main())
