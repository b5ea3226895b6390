"""Run each atheris target for a fixed time and print what it did as JSON (``make fuzz``).

``python tests/fuzz/run.py --seconds 100 --out build/fuzz [target ...]`` runs
``tests/fuzz/fuzz_<target>.py`` in turn, each from its checked-in seeds (``corpus/<target>/``,
read only) and the inputs earlier runs found (``<out>/<target>/corpus/``, kept between runs),
with its dictionary (``dict/<target>.dict``). libFuzzer stops a target at its first crash and
writes the input to ``<out>/<target>/crash-*``; replay it with
``python tests/fuzz/fuzz_<target>.py <that file>``. The exit status is 1 if any target crashed.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = ("units", "requests", "binance")
# libFuzzer's status lines ("#4096 pulse cov: 110 ft: 312 corp: 43/355b ... exec/s: 11726")
_STATUS = re.compile(r"#(\d+)\s+(INITED|pulse|DONE)\s+cov: (\d+) ft: (\d+) corp: (\d+)\S*.*?exec/s: (\d+)")
_STAT = re.compile(r"stat::(\w+):\s+(\d+)")
_ARTIFACT = re.compile(r"Test unit written to (\S+)")
# -print_final_stats=1's totals, under the names the summary gives them
_FINAL = {"number_of_executed_units": "runs", "average_exec_per_sec": "execs_per_sec",
          "new_units_added": "new_inputs", "peak_rss_mb": "peak_rss_mb"}  # fmt: skip


def fuzz(target: str, seconds: int, out: Path, runs: int = -1) -> dict[str, object]:
    """``seconds`` of ``target``, or ``runs`` inputs if that comes first (-1: no such limit)."""
    work = out / target
    (work / "corpus").mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(HERE / f"fuzz_{target}.py"), f"-max_total_time={seconds}", f"-runs={runs}",
           f"-artifact_prefix={work}/", "-print_final_stats=1", f"-dict={HERE / 'dict' / f'{target}.dict'}",
           str(work / "corpus"), str(HERE / "corpus" / target)]  # fmt: skip
    found: dict[str, object] = {"target": target, "crashes": []}
    error: list[str] = []
    started = time.monotonic()
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            _read(line, found, error)
    found["seconds"] = round(time.monotonic() - started, 1)
    found["exit_status"] = proc.returncode
    if proc.returncode != 0 and not found["crashes"]:
        found["crashes"] = [{"artifact": None, "error": "".join(error[-20:]) or f"exit {proc.returncode}"}]
    return found


def _read(line: str, found: dict[str, object], error: list[str]) -> None:
    """Fold one line of libFuzzer's output into ``found``; echo progress as it comes."""
    if m := _STATUS.search(line):
        runs, _kind, cov, ft, corp, rate = m.groups()
        found.update(
            runs=int(runs), coverage=int(cov), features=int(ft), corpus=int(corp), execs_per_sec=int(rate)
        )
        print(f"[{found['target']}] {line.strip()}", flush=True)
    elif (m := _STAT.match(line)) and m.group(1) in _FINAL:
        found[_FINAL[m.group(1)]] = int(m.group(2))
    elif m := _ARTIFACT.search(line):
        crashes = found["crashes"]
        assert isinstance(crashes, list)
        crashes.append({"artifact": m.group(1), "error": "".join(error).strip()})
        print(f"[{found['target']}] CRASH: {m.group(1)}", flush=True)
    elif "Uncaught Python exception" in line or error:
        error.append(line)
        print(f"[{found['target']}] {line.rstrip()}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=100, help="budget per target")
    parser.add_argument("--runs", type=int, default=-1, help="stop a target after this many inputs")
    parser.add_argument("--out", type=Path, default=Path("build/fuzz"), help="crashes and found inputs")
    parser.add_argument("targets", nargs="*", default=list(TARGETS), help=f"any of {', '.join(TARGETS)}")
    args = parser.parse_args()
    if unknown := set(args.targets) - set(TARGETS):
        parser.error(f"no such target: {', '.join(sorted(unknown))}")
    summary = [fuzz(target, args.seconds, args.out, args.runs) for target in args.targets]
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 1 if any(s["crashes"] for s in summary) else 0


if __name__ == "__main__":
    sys.exit(main())
