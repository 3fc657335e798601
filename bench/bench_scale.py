"""Does handling one message get slower as the store fills up? A scale curve.

For each store size N, the store is first filled with N open lighting requests, then the
time to handle the next batch of messages is measured. The baseline is the first size on
the same machine in the same run: a flat curve (ratios near 1) means no per-message work
grows with the number of stored requests.

    .venv/bin/python bench/bench_scale.py [--sizes 0 500 2000] [--batch 100]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from junbridge.testing import make_bridge, make_message

ROOT = Path(__file__).parent.parent
CONFIG = {
    "town": {"name": "Jun"},
    "departments": {
        "lighting": {
            # Two electricians on duty: assignment weighs their open requests.
            "staff": [{"name": "Paco"}, {"name": "Lola"}],
            "on_duty": [{"staff": "Paco"}, {"staff": "Lola"}],
        }
    },
}


async def per_message_ms(size: int, batch: int, progress: Progress) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        bridge = await make_bridge(
            config=CONFIG, plugins=[ROOT / "plugins" / "lighting.py"], workdir=tmp
        )
        try:
            task = progress.add_task(f"filling {size} requests", total=size)
            for n in range(size):
                await bridge.receive(make_message(f"farola {n} apagada", user=f"f{n % 300}"))
                progress.advance(task)
            progress.remove_task(task)
            start = time.perf_counter()
            for n in range(batch):
                await bridge.receive(make_message(f"farola {n} parpadea", user=f"m{n}"))
            return (time.perf_counter() - start) * 1000 / batch
        finally:
            await bridge.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 500, 2000])
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    console = Console()
    results = []
    with Progress(console=console, transient=True) as progress:
        for size in args.sizes:
            results.append((size, asyncio.run(per_message_ms(size, args.batch, progress))))
    base = results[0][1]
    table = Table(title=f"ms per message (SQLite), batches of {args.batch}")
    for column in ("requests already stored", "ms / message", f"ratio to {results[0][0]}", ""):
        table.add_column(column, justify="right")
    for size, ms in results:
        table.add_row(str(size), f"{ms:.1f}", f"{ms / base:.2f}", "█" * round(20 * ms / base))
    console.print(table)
    console.print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
