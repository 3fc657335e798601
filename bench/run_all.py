"""Every benchmark, anchors included, in one run: docs/benchmarks.md and its charts.

Each benchmark runs as its own process with its own command line (as it would alone) and
``--json``; its output goes to ``var/bench/NAME.log``. Then docs/benchmarks.md is written
from this run alone: the machine, the versions, the command, a table per benchmark with
the ratio to each anchor and whether each bar is met, and a chart per benchmark
(docs/images/bench_NAME.png, matplotlib from requirements-bench.txt). Benchmarks are not
tests: nothing here runs under pytest. The machine is shared: every figure that matters
is a ratio to an anchor measured in the same run.

    .venv/bin/python bench/run_all.py [--quick] [--only NAME ...] [--render-only]
    .venv/bin/python -m bench [--quick]

``--quick`` is a smaller run (minutes): fewer messages and rounds, stores up to 100,000
requests. ``--render-only`` writes the doc again from the last run's var/bench/*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = ROOT / "var" / "bench"
DOC = ROOT / "docs" / "benchmarks.md"
IMAGES = ROOT / "docs" / "images"
ERRBOT_VENV = ROOT / ".venv-errbot"
PACKAGES = (
    "python-telegram-bot",
    "slack-bolt",
    "slack-sdk",
    "tweepy",
    "SQLAlchemy",
    "alembic",
    "aiosqlite",
    "psycopg",
    "starlette",
    "uvicorn",
    "tornado",
    "httpx",
    "aiohttp",
    "pydantic",
    "pluggy",
    "matplotlib",
)


@dataclass(frozen=True)
class Benchmark:
    """One benchmark script and its arguments in a full and in a quick run."""

    name: str
    title: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]


BENCHMARKS = (
    Benchmark(
        "pipeline",
        "1. Pipeline cost",
        "bench_pipeline.py",
        ("--messages", "300", "--rounds", "3", "--profile"),
        ("--messages", "150", "--rounds", "1", "--profile"),
    ),
    Benchmark(
        "webhook",
        "2. Webhook ingest under load",
        "bench_webhook_load.py",
        ("--rates", "50", "200", "500", "--seconds", "6"),
        ("--rates", "50", "200", "500", "--seconds", "3"),
    ),
    Benchmark(
        "outbound",
        "3. Outbound at the platforms' limits",
        "bench_outbound.py",
        ("--replies", "3000"),
        ("--replies", "1000"),
    ),
    Benchmark(
        "scale",
        "4. Scale curve",
        "bench_scale.py",
        ("--town", "--sizes", "10000", "100000", "1000000", "--rounds", "3", "--batch", "40"),
        (
            "--town",
            "--sizes",
            "10000",
            "100000",
            "--rounds",
            "2",
            "--batch",
            "30",
            "--repeat",
            "20",
        ),
    ),
    Benchmark(
        "footprint",
        "5. Footprint",
        "bench_footprint.py",
        ("--size", "1000000", "--seconds", "30"),
        ("--size", "100000", "--seconds", "15"),
    ),
    Benchmark(
        "workers",
        "6. Scale-out",
        "bench_workers.py",
        ("--reports", "600"),
        ("--reports", "300"),
    ),
)


def errbot_ready(console: Console) -> None:
    """Errbot's own virtualenv, from its lock, the first time (bench_pipeline's anchor)."""
    python = ERRBOT_VENV / "bin" / "python"
    if python.exists():
        return
    console.print("creating .venv-errbot from requirements-errbot.txt (once)")
    subprocess.run([sys.executable, "-m", "venv", str(ERRBOT_VENV)], check=True)
    subprocess.run(
        [
            str(ERRBOT_VENV / "bin" / "pip"),
            "install",
            "-q",
            "--require-hashes",
            "-r",
            str(ROOT / "requirements-errbot.txt"),
        ],
        check=True,
    )


def run(bench: Benchmark, quick: bool, progress: Progress) -> dict[str, Any]:
    """Run one benchmark in its own process; its figures (or the error that stopped it)."""
    OUT.mkdir(parents=True, exist_ok=True)
    result, log = OUT / f"{bench.name}.json", OUT / f"{bench.name}.log"
    result.unlink(missing_ok=True)
    args = [sys.executable, str(BENCH / bench.script), *(bench.quick if quick else bench.full)]
    command = shlex.join(
        [str(Path(a).relative_to(ROOT)) if a.startswith(str(ROOT)) else a for a in args]
    )
    task = progress.add_task(bench.title, total=None, status="starting")
    began = time.perf_counter()
    env = {**os.environ, "COLUMNS": "130", "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        process = subprocess.Popen(
            [*args, "--json", str(result)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert process.stdout is not None
        for line in process.stdout:
            out.write(line)
            shown = line.strip()
            if shown and shown[0] not in "┏┃┡│└━╇┳":
                progress.update(task, status=shown[:70])
        code = process.wait()
    seconds = time.perf_counter() - began
    progress.update(task, total=1, completed=1, status=f"exit {code}, {seconds:.0f} s")
    figures: dict[str, Any] = json.loads(result.read_text()) if result.exists() else {}
    if code != 0 or not figures:
        tail = log.read_text().strip().splitlines()[-3:]
        figures["error"] = f"exit {code}: " + " / ".join(tail)
    figures["_command"] = command
    figures["_seconds"] = seconds
    result.write_text(json.dumps(figures, indent=1, default=str))
    return figures


def machine() -> dict[str, str]:
    """Cores, CPU, memory, load, Python, SQLite and PostgreSQL versions."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = "unknown"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test") as db:
            row = db.execute("SHOW server_version").fetchone()
            postgres = str(row[0]) if row else "?"
    except Exception as exc:  # the doc says so rather than failing
        postgres = f"not reachable ({type(exc).__name__})"
    return {
        "cores": str(os.cpu_count()),
        "CPU": cpu,
        "memory": memory,
        "load average (1, 5, 15 min) at the start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        "PostgreSQL": postgres,
    }


def versions() -> dict[str, str]:
    found = {}
    for name in ("junbridge", *PACKAGES):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    errbot = ERRBOT_VENV / "bin" / "python"
    if errbot.exists():
        done = subprocess.run(
            [str(errbot), "-c", "import importlib.metadata as m; print(m.version('errbot'))"],
            capture_output=True,
            text=True,
        )
        found["errbot (.venv-errbot)"] = done.stdout.strip() or "?"
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run, in minutes")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHMARKS])
    parser.add_argument("--render-only", action="store_true", help="the doc from var/bench")
    args = parser.parse_args()
    console = Console()
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    results: dict[str, dict[str, Any]] = {}
    info_path = OUT / "run.json"
    if args.render_only:
        info = json.loads(info_path.read_text())
        for bench in BENCHMARKS:
            path = OUT / f"{bench.name}.json"
            if path.exists():
                results[bench.name] = json.loads(path.read_text())
    else:
        errbot_ready(console)
        info = {
            "machine": machine(),
            "versions": versions(),
            "command": shlex.join(
                [
                    str(Path(sys.executable).relative_to(ROOT))
                    if str(ROOT) in sys.executable
                    else sys.executable,
                    "bench/run_all.py",
                    *sys.argv[1:],
                ]
            ),
            "quick": args.quick,
            "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        }
        began = time.perf_counter()
        with Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=10),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
        ) as progress:
            for bench in chosen:
                results[bench.name] = run(bench, args.quick, progress)
        # With --only, the others keep their figures from the last run.
        for bench in BENCHMARKS:
            path = OUT / f"{bench.name}.json"
            if bench.name not in results and path.exists():
                results[bench.name] = json.loads(path.read_text())
        info["minutes"] = round((time.perf_counter() - began) / 60, 1)
        info["machine"]["load average (1, 5, 15 min) at the end"] = " ".join(
            f"{x:.2f}" for x in os.getloadavg()
        )
        OUT.mkdir(parents=True, exist_ok=True)
        info_path.write_text(json.dumps(info, indent=1))
    from report import render  # matplotlib is imported only once the figures are in

    verdicts = render(info, results, DOC, IMAGES)
    for line in verdicts:
        console.print(line)
    console.print(f"wrote {DOC.relative_to(ROOT)} and its charts in {IMAGES.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    sys.exit(main())
