"""Cold start of the scale-up handler: importing its module (clients and config built at import, as in Lambda)
against the floor — importing boto3 and building the same four clients bare. Fresh interpreter per sample,
the three alternated so drift hits all; median of N. Target: ratio ≤ 1.15.

The handler is measured as deployed (AUTOSCALER_CONFIG = the compiled JSON snapshot the build writes) and, for
comparison, reading streams.yaml directly (pydantic + YAML at import)."""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    **os.environ,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "COOLDOWN_TABLE": "bench-cooldown",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "PYTHONDONTWRITEBYTECODE": "1",
}
# Wall time and CPU time of the import, printed by the child. CPU time is what the import costs; wall time adds
# whatever else the (shared, 2-core) machine was doing, so its medians wander more from run to run.
TIMER = (
    "import time; _t0_, _c0_ = time.perf_counter(), time.process_time()\n{body}\n"
    "print(time.perf_counter() - _t0_, time.process_time() - _c0_)"
)
BASELINE = """
import boto3
_s = boto3.session.Session()
_c = [_s.client(n) for n in ("kinesis", "cloudwatch", "dynamodb", "lambda")]
"""
HANDLER = "import autoscaler.handlers.scale_up"


def sample(body: str, config: str | None = None) -> tuple[float, float]:
    env = {**ENV, "AUTOSCALER_CONFIG": config} if config else ENV
    out = subprocess.run(
        [sys.executable, "-c", TIMER.format(body=body)], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def compiled_config() -> str:
    """Compile config/streams.yaml as the Lambda build does; returns the snapshot's path."""
    from autoscaler.config import load_config, snapshot

    source = ROOT / "config" / "streams.yaml"
    target = Path(tempfile.mkdtemp()) / "streams.json"
    target.write_text(json.dumps(snapshot(load_config(source), source.read_text())))
    return str(target)


def run(samples: int = 11) -> dict[str, float]:
    # As deployed: the Lambda build ships bytecode for the package (Makefile build-ScaleUpFunction); pip already
    # compiled the dependencies in the venv. Without this, PYTHONDONTWRITEBYTECODE would make every sample compile.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "autoscaler")], check=True)
    snap = compiled_config()
    yaml_cfg = str(ROOT / "config" / "streams.yaml")
    sample(BASELINE), sample(HANDLER, snap), sample(HANDLER, yaml_cfg)  # warm the OS file cache; not counted
    base: list[tuple[float, float]] = []
    handler: list[tuple[float, float]] = []
    handler_yaml: list[tuple[float, float]] = []
    order = random.Random(2026)
    for _ in range(samples):  # each round in a shuffled order: no variant always runs right after another
        jobs = [(base, BASELINE, None), (handler, HANDLER, snap), (handler_yaml, HANDLER, yaml_cfg)]
        order.shuffle(jobs)
        for into, body, config in jobs:
            into.append(sample(body, config))

    def med(values: list[tuple[float, float]], i: int) -> float:
        return statistics.median(v[i] for v in values) * 1000

    return {
        "samples": samples,
        "baseline_ms": med(base, 0),
        "handler_ms": med(handler, 0),
        "ratio": med(handler, 0) / med(base, 0),
        "baseline_cpu_ms": med(base, 1),
        "handler_cpu_ms": med(handler, 1),
        "ratio_cpu": med(handler, 1) / med(base, 1),
        "handler_yaml_ms": med(handler_yaml, 0),
        "ratio_yaml": med(handler_yaml, 0) / med(base, 0),
    }


def instructions(body: str, config: str | None = None) -> int | None:
    """Instructions executed by `python -c body` under valgrind's callgrind (deterministic), or None without it."""
    if shutil.which("valgrind") is None:
        return None
    env = {**ENV, "AUTOSCALER_CONFIG": config} if config else ENV
    out_file = Path(tempfile.mkdtemp()) / "callgrind.out"
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", sys.executable, "-c", body],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    for line in done.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1].strip())
    return None


def run_instructions() -> dict[str, float] | None:
    """The same comparison in instructions (interpreter start-up subtracted): repeatable to the instruction,
    whatever else the machine is doing — a check on the wall-clock medians, which wander ±10% here."""
    empty = instructions("pass")
    base = instructions(BASELINE)
    handler = instructions(HANDLER, compiled_config())
    if empty is None or base is None or handler is None:
        return None
    return {
        "baseline_minstr": (base - empty) / 1e6,
        "handler_minstr": (handler - empty) / 1e6,
        "ratio": (handler - empty) / (base - empty),
    }


if __name__ == "__main__":
    r = run()
    print(
        f"cold start: handler {r['handler_ms']:.0f} ms vs boto3 + 4 clients {r['baseline_ms']:.0f} ms wall "
        f"(ratio {r['ratio']:.3f}); CPU {r['handler_cpu_ms']:.0f} vs {r['baseline_cpu_ms']:.0f} ms "
        f"(ratio {r['ratio_cpu']:.3f}); median of {r['samples']}; target ≤ 1.15"
    )
