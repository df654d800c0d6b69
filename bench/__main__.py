"""`make bench`: every benchmark, one run, figures printed as the README reports them."""

from __future__ import annotations

import platform
import sys

from bench import cold_start, fleet_eval, plan_large


def main() -> int:
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    cs = cold_start.run(samples=31)
    ok_cs = cs["ratio"] <= 1.15
    print(
        f"cold start: handler module {cs['handler_ms']:.0f} ms vs boto3 + 4 clients {cs['baseline_ms']:.0f} ms wall, "
        f"ratio {cs['ratio']:.3f} (target ≤ 1.15) {'OK' if ok_cs else 'MISSED'}; CPU time {cs['handler_cpu_ms']:.0f} "
        f"vs {cs['baseline_cpu_ms']:.0f} ms, ratio {cs['ratio_cpu']:.3f} (median of {cs['samples']:.0f} fresh "
        f"processes each)"
    )
    print(
        f"  for comparison, the handler reading streams.yaml at import (pydantic + YAML): "
        f"{cs['handler_yaml_ms']:.0f} ms, ratio {cs['ratio_yaml']:.3f}"
    )
    ins = cold_start.run_instructions()
    if ins is not None:
        print(
            f"  instructions (valgrind callgrind, start-up subtracted): handler {ins['handler_minstr']:.0f} M vs "
            f"boto3 + 4 clients {ins['baseline_minstr']:.0f} M, ratio {ins['ratio']:.3f}"
        )
    ok_plan = True
    for name, r in plan_large.run().items():
        ok = r["median_ms"] <= 50
        ok_plan &= ok
        print(
            f"plan scale-up, 10,000 shards [{name}]: median {r['median_ms']:.2f} ms, max {r['max_ms']:.2f} ms, "
            f"{r['ops']:.0f} ops → {r['target']:.0f} shards (target ≤ 50 ms) " + ("OK" if ok else "MISSED")
        )
    fleet = fleet_eval.run()
    fleet_eval.report(fleet)
    five_hundred = next(r for r in fleet if r["streams"] == 500)
    ok_fleet = five_hundred["get_metric_data"] - 1 <= 2  # the throttling read of the candidates is the extra one
    print(
        f"  500 streams: {five_hundred['get_metric_data'] - 1} GetMetricData calls for bytes+records (target ≤ 2) "
        + ("OK" if ok_fleet else "MISSED")
        + f"; {five_hundred['seconds']:.1f} s (target ≤ 5 s) "
        + ("OK" if five_hundred["seconds"] <= 5 else "MISSED")
    )
    return 0 if ok_cs and ok_plan and ok_fleet else 1


if __name__ == "__main__":
    sys.exit(main())
