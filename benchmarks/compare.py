#!/usr/bin/env python3
"""Every workload of anchors/WORKLOADS.md, latent against PyTorch, in one run on one machine.

For each workload and thread count, latent-bench (the C++ side) and
benchmarks/torch_workloads.py (PyTorch, through /usr/bin/python3) are run one after the
other, each in a fresh process, for several rounds; the order of the two sides alternates
from round to round, so that both see the same load on a shared machine. It prints one
table and writes it, with the machine and the versions, to benchmarks/RESULTS.md:

    workload  threads  unit  latent  PyTorch  ratio  peak memory of each side

A side's figure in a round is the median over its steps (ms/step; tokens/s for
gpt_generate; GFLOP/s for gemm); the table gives the median over the rounds with the
minimum and maximum beside it. The ratio is taken round by round, from the two figures
measured next to each other, and is "> 1 means latent is faster": PyTorch's time / ours
for the *_step workloads, our throughput / PyTorch's for gpt_generate and gemm.

    benchmarks/compare.py                          # every workload, 1 and 2 threads, 3 rounds
    benchmarks/compare.py --filter 'mlp|vae' --rounds 5
    benchmarks/compare.py --filter 'threads:1$' --json
    benchmarks/compare.py --steps 3 --warmup 1 --no-write   # a quick smoke run

latent-bench is looked for in build/, build/benchmarks/ and builddir/ (CMake with
-DLATENT_BUILD_BENCHMARKS=ON, Meson with -Dbenchmarks=enabled), or given with
--latent-bench. Build it in Release with -march=native (the CMake and Meson defaults).
Python's standard library only; PyTorch runs in its own interpreter (--python).
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# The workloads in the order of WORKLOADS.md, and how each is measured.
GEMM_SHAPES = [(64, 64, 64), (256, 256, 256), (512, 512, 512), (1024, 1024, 1024),
               (64, 784, 256), (768, 128, 512), (768, 512, 128)]
STEP_WORKLOADS = ["mlp_step", "vae_step", "dcgan_step", "gpt_step", "gpt_generate",
                  "ddpm_mlp_step", "ddpm_unet_step", "gpt2_step"]
WORKLOADS = [f"gemm/{m}/{k}/{n}" for m, k, n in GEMM_SHAPES] + STEP_WORKLOADS
THROUGHPUT_UNITS = {"GFLOP/s", "tokens/s"}


def unit_of(workload):
    if workload.startswith("gemm/"):
        return "GFLOP/s"
    return "tokens/s" if workload == "gpt_generate" else "ms/step"


# ---------------------------------------------------------------------------------------
# The two sides
# ---------------------------------------------------------------------------------------


def find_latent_bench(given):
    if given:
        path = Path(given)
        if not path.is_file():
            sys.exit(f"compare.py: --latent-bench {given}: no such file")
        return path
    for candidate in ("build/latent-bench", "build/benchmarks/latent-bench", "builddir/latent-bench",
                      "build/benchmarks/Release/latent-bench"):
        path = ROOT / candidate
        if path.is_file():
            return path
    sys.exit("compare.py: latent-bench not found in build/ or builddir/; build it "
             "(cmake -B build -DCMAKE_BUILD_TYPE=Release -DLATENT_BUILD_BENCHMARKS=ON && "
             "cmake --build build --target latent-bench) or pass --latent-bench PATH")


def run_json(command, env, timeout):
    """Runs a command that prints JSON on stdout; returns (document, error message)."""
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s"
    except OSError as error:
        return None, str(error)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return None, f"exit status {done.returncode}: " + " | ".join(tail)
    try:
        return json.loads(done.stdout), None
    except json.JSONDecodeError:
        return None, "output is not JSON: " + done.stdout.strip()[:200]


def run_latent(args, bench, workload, threads):
    """One latent-bench process running one benchmark. Returns a measurement dict."""
    name = f"{workload}/threads:{threads}"
    command = [str(bench), f"--benchmark_filter=^{re.escape(name)}$", "--benchmark_format=json"]
    if workload.startswith("gemm/"):
        # Google Benchmark picks the iteration count; five repetitions of 0.1 s, median.
        command += ["--benchmark_min_time=0.1", "--benchmark_repetitions=5"]
    else:
        # One run of the workload's own warmup + steps (see workload_common.hpp).
        command += ["--benchmark_min_time=0.000001"]
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", args.omp_wait_policy)
    if args.steps is not None:
        env["LATENT_BENCH_STEPS"] = str(args.steps)
    if args.warmup is not None:
        env["LATENT_BENCH_WARMUP"] = str(args.warmup)
    document, error = run_json(command, env, args.timeout)
    if error:
        return {"error": error}
    runs = [b for b in document.get("benchmarks", []) if b.get("run_type", "iteration") == "iteration"]
    if not runs:
        return {"error": f"latent-bench has no benchmark {name}"}
    failed = [b for b in runs if b.get("error_occurred")]
    if failed:
        return {"skipped": failed[0].get("error_message", "skipped")}
    result = {"context": document.get("context", {})}
    if workload.startswith("gemm/"):
        values = [b["gflops"] for b in runs]
        result.update(value=statistics.median(values), value_min=min(values), value_max=max(values))
    else:
        run = runs[0]
        if workload == "gpt_generate":
            result["value"] = run["tokens_per_s"]
        else:
            result.update(value=run["ms_per_step"], value_min=run["ms_min"], value_max=run["ms_max"])
        result["cpu_ms"] = run.get("cpu_ms_per_step")
        result["peak_rss_mb"] = run.get("peak_rss_mb")
        result["steps"] = run.get("steps")
    return result


def run_torch(args, workload, threads):
    """One torch_workloads.py process running one workload. Returns a measurement dict."""
    command = [args.python, str(args.torch_script), "--json", "--workload", workload, "--threads", str(threads)]
    if args.steps is not None:
        command += ["--steps", str(args.steps)]
    if args.warmup is not None:
        command += ["--warmup", str(args.warmup)]
    if args.untuned:
        command.append("--untuned")
    document, error = run_json(command, dict(os.environ), args.timeout)
    if error:
        return {"error": error}
    run = document["results"][0]
    return {"value": run["value"], "value_min": run["value_min"], "value_max": run["value_max"],
            "cpu_ms": run.get("cpu_ms_median"),
            "peak_rss_mb": run.get("peak_rss_mb"), "baseline_rss_mb": run.get("baseline_rss_mb"),
            "steps": run.get("steps"), "environment": document.get("environment", {})}


def torch_available(python):
    try:
        done = subprocess.run([python, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                              text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


# ---------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------


def spread(values):
    """(median, min, max) of a list of numbers, or None when empty."""
    return (statistics.median(values), min(values), max(values)) if values else None


def summarise(row):
    """Rounds of one (workload, threads) -> the table's figures."""
    unit = unit_of(row["workload"])
    ours = [r["value"] for r in row["latent"] if "value" in r]
    theirs = [r["value"] for r in row["torch"] if "value" in r]
    ratios = []
    for a, b in zip(row["latent"], row["torch"]):
        if "value" in a and "value" in b and a["value"] > 0 and b["value"] > 0:
            ratios.append(a["value"] / b["value"] if unit in THROUGHPUT_UNITS else b["value"] / a["value"])
    # The same ratio from CPU time per step (every thread of the process): PyTorch's / ours.
    cpu_ratios = [b["cpu_ms"] / a["cpu_ms"] for a, b in zip(row["latent"], row["torch"])
                  if a.get("cpu_ms") and b.get("cpu_ms")]
    note = next((r.get("skipped") or r.get("error") for r in row["latent"] if "value" not in r), None)
    torch_note = next((r.get("error") for r in row["torch"] if "value" not in r), None)
    memory = lambda side: max((r["peak_rss_mb"] for r in row[side] if r.get("peak_rss_mb")), default=None)
    baseline = max((r["baseline_rss_mb"] for r in row["torch"] if r.get("baseline_rss_mb")), default=None)
    return {
        "workload": row["workload"], "threads": row["threads"], "unit": unit, "rounds": len(row["latent"]),
        "latent": spread(ours), "torch": spread(theirs), "ratio": spread(ratios),
        "cpu_ratio": spread(cpu_ratios),
        "latent_peak_rss_mb": memory("latent"), "torch_peak_rss_mb": memory("torch"),
        "torch_baseline_rss_mb": baseline, "latent_note": note, "torch_note": torch_note,
    }


def number(x, unit=None):
    if x is None:
        return "-"
    if unit == "ratio":
        return f"{x:.2f}"
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def cell(s, unit=None):
    if s is None:
        return "-"
    median, low, high = s
    return f"{number(median, unit)} ({number(low, unit)}-{number(high, unit)})"


def table_rows(summaries):
    rows = []
    for s in summaries:
        latent = cell(s["latent"]) if s["latent"] else ("skipped" if s["latent_note"] else "-")
        torch = cell(s["torch"]) if s["torch"] else ("failed" if s["torch_note"] else "-")
        rows.append([s["workload"], str(s["threads"]), s["unit"], latent, torch, cell(s["ratio"], "ratio"),
                     cell(s["cpu_ratio"], "ratio"), number(s["latent_peak_rss_mb"]), number(s["torch_peak_rss_mb"])])
    return rows


HEADER = ["workload", "threads", "unit", "latent", "PyTorch", "ratio", "CPU-time ratio", "latent MiB", "PyTorch MiB"]


def text_table(summaries):
    rows = [HEADER] + table_rows(summaries)
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = notes_of(summaries)
    return "\n".join(lines + ([""] + notes if notes else []))


def markdown_table(summaries):
    lines = ["| " + " | ".join(HEADER) + " |",
             "| " + " | ".join("---" if i < 3 else "---:" for i in range(len(HEADER))) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(summaries)]
    notes = notes_of(summaries)
    return "\n".join(lines + ([""] + [f"- {n}" for n in notes] if notes else []))


def notes_of(summaries):
    notes = []
    for s in summaries:
        name = f"{s['workload']}/threads:{s['threads']}"
        if s["latent_note"]:
            notes.append(f"{name}: latent: {s['latent_note']}")
        if s["torch_note"]:
            notes.append(f"{name}: PyTorch: {s['torch_note']}")
    return notes


# ---------------------------------------------------------------------------------------
# The machine, for RESULTS.md
# ---------------------------------------------------------------------------------------


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average():
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def write_results(path, summaries, machine):
    torch_env = machine.get("torch_environment", {})
    context = machine.get("latent_context", {})
    compiler = context.get("latent_compiler", "unknown")
    lines = [
        "# latent against PyTorch: every workload",
        "",
        "Written by `benchmarks/compare.py`; regenerate it with the command below. Ratio > 1 means",
        "latent is faster: PyTorch's time per step / ours for the `*_step` workloads, our",
        "throughput / PyTorch's for `gpt_generate` (tokens/s) and `gemm` (GFLOP/s). Each cell is",
        "the median over the rounds (min-max in brackets); a round's figure is the median over",
        "the workload's steps, and the ratio is taken round by round. The CPU-time ratio is the",
        "same from the CPU time of each process per step (all threads; not for gemm): on a busy",
        "machine the wall clock measures the scheduler as much as the code, CPU time much less.",
        "Memory: each side's peak resident set (MiB), one process per workload (PyTorch's",
        f"includes torch itself, about {number(machine.get('torch_baseline_rss_mb'))} MiB before any workload "
        "is built; gemm.cpp reports none).",
        "",
        f"- Date: {machine['started'][:16].replace('T', ' ')} UTC; {machine['rounds']} round(s), "
        f"{machine['elapsed_s'] / 60:.0f} min in all",
        f"- Machine: {machine['cpu']}, {machine['cores']} logical cores, {machine['system']}; load average "
        f"{machine['load_before']} before, {machine['load_after']} after",
        f"- latent: {compiler}, SIMD {context.get('latent_simd', '?')}, OpenMP {context.get('latent_openmp', '?')}, "
        f"NDEBUG {context.get('latent_ndebug', '?')}; `{machine['latent_bench']}`; "
        f"OMP_WAIT_POLICY={machine['latent_omp_wait_policy']}",
        f"- PyTorch: {torch_env.get('torch', 'not run')} (Python {torch_env.get('python', '?')}, ATen CPU "
        f"{torch_env.get('aten_cpu_capability', '?')}, OpenBLAS core {torch_env.get('openblas_core', '?')}, "
        f"{'untuned' if machine['untuned'] else 'tuned'}: OMP_WAIT_POLICY={torch_env.get('OMP_WAIT_POLICY')}, "
        f"malloc {torch_env.get('malloc', '?')})",
        f"- Command: `{machine['command']}`",
        "",
        markdown_table(summaries),
        "",
    ]
    Path(path).write_text("\n".join(lines))


# ---------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both sides (default 3)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    parser.add_argument("--filter", default="", help="regex on '<workload>/threads:<n>' (re.search)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--latent-bench", help="path of latent-bench (default: looked for in build/)")
    parser.add_argument("--python", default="/usr/bin/python3", help="interpreter with torch (default /usr/bin/python3)")
    parser.add_argument("--torch-script", default=str(HERE / "torch_workloads.py"), help="the PyTorch side")
    parser.add_argument("--steps", type=int, help="timed steps for every workload, both sides (default: each one's)")
    parser.add_argument("--warmup", type=int, help="untimed steps for every workload, both sides")
    parser.add_argument("--untuned", action="store_true", help="run torch_workloads.py with --untuned")
    parser.add_argument("--omp-wait-policy", default="passive",
                        help="OMP_WAIT_POLICY for latent-bench unless already set (default passive, as "
                             "torch_workloads.py sets it for PyTorch)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed to one process (default 1800)")
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"), help="where to write the Markdown table")
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--from-json", metavar="FILE",
                        help="run nothing: summarise, print and write the run saved by --json in FILE")
    args = parser.parse_args(argv)
    if args.rounds < 1 or any(t < 1 for t in args.threads):
        parser.error("--rounds and --threads must be >= 1")
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        report(args, saved["raw"], saved["machine"])
        return 0

    bench = find_latent_bench(args.latent_bench)
    torch_version = torch_available(args.python)
    if torch_version is None:
        print(f"compare.py: torch is not importable by {args.python}: PyTorch columns stay empty", file=sys.stderr)
    pattern = re.compile(args.filter)
    rows = [{"workload": w, "threads": t, "latent": [], "torch": []}
            for w in WORKLOADS for t in args.threads if pattern.search(f"{w}/threads:{t}")]
    if not rows:
        parser.error(f"--filter {args.filter!r} matches no workload")

    clock = time.monotonic()
    machine = {
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(["benchmarks/compare.py"] + (argv if argv is not None else sys.argv[1:])),
        "rounds": args.rounds, "cpu": cpu_model(), "cores": os.cpu_count(),
        "system": f"{platform.system()} {platform.release()}", "load_before": load_average(),
        "latent_bench": os.path.relpath(bench, ROOT) if bench.is_relative_to(ROOT) else str(bench),
        "latent_omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", args.omp_wait_policy),
        "untuned": args.untuned,
    }
    for round_index in range(args.rounds):
        for row in rows:
            sides = ["latent", "torch"] if round_index % 2 == 0 else ["torch", "latent"]
            for side in sides:
                if side == "latent":
                    result = run_latent(args, bench, row["workload"], row["threads"])
                    if "context" in result:
                        machine["latent_context"] = result.pop("context")
                elif torch_version is not None:
                    result = run_torch(args, row["workload"], row["threads"])
                    if "environment" in result:
                        machine["torch_environment"] = result.pop("environment")
                else:
                    result = {"error": f"torch is not importable by {args.python}"}
                row[side].append(result)
                shown = result.get("value", result.get("skipped") or result.get("error"))
                shown = f"{shown:.4g}" if isinstance(shown, float) else shown
                print(f"[round {round_index + 1}/{args.rounds}] {row['workload']}/threads:{row['threads']} "
                      f"{side}: {shown}", file=sys.stderr, flush=True)
    machine["load_after"] = load_average()
    machine["elapsed_s"] = time.monotonic() - clock
    report(args, rows, machine)
    return 0


def report(args, rows, machine):
    """Prints the table (or JSON) of the measured rows and writes RESULTS.md."""
    summaries = [summarise(row) for row in rows]
    baselines = [s["torch_baseline_rss_mb"] for s in summaries if s["torch_baseline_rss_mb"]]
    machine["torch_baseline_rss_mb"] = min(baselines) if baselines else None

    if args.json:
        as_dict = lambda s: None if s is None else {"median": s[0], "min": s[1], "max": s[2]}
        results = [{k: as_dict(v) if k in ("latent", "torch", "ratio", "cpu_ratio") else v for k, v in s.items()}
                   for s in summaries]
        json.dump({"machine": machine, "rounds": args.rounds, "results": results, "raw": rows},
                  sys.stdout, indent=1)
        print()
    else:
        print(text_table(summaries))
    if not args.no_write:
        write_results(args.results, summaries, machine)
        print(f"compare.py: wrote {args.results}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
