"""How long does ``junbridge requests list`` take with 100,000 requests stored?

A store is filled directly in SQL as bench_scale.py fills it (lighting requests, all but the
newest 500 closed, each with its history, timers, inbound message and delivered reply) and
counted; a channels.yaml points at it. Each command is then timed twice: in this process
through click's CliRunner (the command's own work: starting a bridge on the store, its
queries, the table), and as an admin runs it, a new ``junbridge`` process timed from start
to exit, with its peak memory. The same commands on a store of 100 requests are the
baseline: what starting costs (for a new process, Python and its imports too) whatever the
store holds. Compare the two columns of each.

    .venv/bin/python bench/bench_list.py [--size 100000] [--baseline 100] [--repeat 3]
        [--no-postgres] [--no-sqlite] [--plain]

``--plain`` runs ``requests list`` alone, with no option an older junbridge would refuse.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import yaml
from bench_scale import CONFIG, fill, template_rows
from click.testing import CliRunner
from rich.console import Console
from rich.table import Table
from stores import DIALECTS, command_line, fresh_store_url

from junbridge.cli import cli
from junbridge.store import Store

JUNBRIDGE = Path(sys.executable).parent / "junbridge"


def commands(size: int) -> list[list[str]]:
    """The first page, the next one, and each filter: what an admin looks at."""
    return [
        ["requests", "list"],
        ["requests", "list", "--before", f"JUN-{max(1, size - 49):04d}"],
        ["requests", "list", "--open"],
        ["requests", "list", "--department", "lighting", "--open"],
        ["requests", "list", "--status", "closed", "--limit", "20"],
    ]


def town(folder: Path, url: str) -> Path:
    """A channels.yaml for the benchmark's town, its store at ``url``, lighting only."""
    path = folder / "channels.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "store": {"url": url}}))
    return path


def in_process(config: Path, command: list[str]) -> float:
    """Seconds for ``command`` through click's CliRunner, in this process."""
    start = time.perf_counter()
    result = CliRunner().invoke(cli, [*command, "--config", str(config)])
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, (
        f"{command} exited {result.exit_code}:\n{result.output}{result.exception!r}"
    )
    return elapsed


def new_process(config: Path, command: list[str]) -> tuple[float, int, str]:
    """Seconds from start to exit, peak memory (KiB) and output of one ``junbridge`` process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(JUNBRIDGE), *command, "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert process.stdout is not None
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    assert code == 0, f"{command} exited {code}:\n{output}"
    return elapsed, usage.ru_maxrss, output


async def prepare(dialect: str, folder: Path, sizes: list[int], stack: ExitStack) -> list[Path]:
    """A migrated store of ``dialect`` per size, filled and counted; their channels.yaml."""
    (folder / "template").mkdir()
    template = await template_rows(folder / "template")
    towns = []
    for size in sizes:
        url = stack.enter_context(fresh_store_url(dialect, folder, f"list{size}"))
        await (await Store.open(url)).close()
        counted = await asyncio.to_thread(fill, url, size, template, open_count=500)
        assert counted["requests"] == size, counted
        workdir = folder / f"{dialect}{size}"
        workdir.mkdir()
        towns.append(town(workdir, url))
    return towns


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=100, help="requests in the small store")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command, median")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--plain", action="store_true", help="only 'requests list'")
    args = parser.parse_args()
    sizes = [args.baseline, args.size]
    kinds = range(1 if args.plain else len(commands(args.size)))
    console = Console(width=120)
    skipped = {"sqlite": args.no_sqlite, "postgresql": args.no_postgres}
    for dialect in [d for d in DIALECTS if not skipped[d]]:
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            start = time.perf_counter()
            towns = asyncio.run(prepare(dialect, Path(tmp), sizes, stack))
            console.print(
                f"{dialect}: stores of {args.baseline:,} and {args.size:,} requests filled and "
                f"counted in {time.perf_counter() - start:.0f} s"
            )
            table = Table(
                title=f"{dialect}: seconds per command, median of {args.repeat}; peak memory "
                "of the new process"
            )
            table.add_column("command (--before: the 50th newest)", max_width=44)
            for column in ("in-process", "", "new process", "", "memory", "lines"):
                table.add_column(column, justify="right")
            labels = [f"{size:,}" for size in sizes]
            table.add_row("", *labels, *labels, labels[-1], "out")
            first_page = ""
            for kind in kinds:
                inside: list[list[float]] = [[] for _ in sizes]
                outside: list[list[float]] = [[] for _ in sizes]
                memory, lines = 0, 0
                for _ in range(args.repeat):
                    for number, (size, config) in enumerate(zip(sizes, towns, strict=True)):
                        command = commands(size)[kind]
                        inside[number].append(in_process(config, command))
                        elapsed, peak, output = new_process(config, command)
                        outside[number].append(elapsed)
                        if size == args.size:
                            memory, lines = max(memory, peak), len(output.splitlines())
                            first_page = first_page or (output if kind == 0 else "")
                table.add_row(
                    " ".join(["junbridge", *commands(args.size)[kind]]),
                    *(f"{statistics.median(runs):.2f}" for runs in (*inside, *outside)),
                    f"{memory / 1024:,.0f} MiB",
                    str(lines),
                )
            console.print(table)
            tail = "\n".join(first_page.splitlines()[-3:])
            console.print(f"The first page of {args.size:,} ends:\n{tail}", markup=False)
    console.print("command: " + command_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
