"""Errbot 6.2.1's test backend with a one-command plugin: the pipeline's peer anchor.

Run by ``bench/bench_pipeline.py`` with ``.venv-errbot/bin/python`` (Errbot's pins clash with
junbridge's lock, so it lives in a virtualenv of its own). The bot runs in its thread as
Errbot's own tests run it (``errbot.backends.test.TestBot``, in-memory storage); each
message is ``!report`` and a resident's text, the reply is popped from the bot's queue.

- one at a time: push, wait for the reply, next (latency per message);
- arriving together: all pushed at once, then every reply popped (replies Errbot itself
  garbled under its threads are counted in ``together_failed``).

Prints one JSON object: messages a second, wall and CPU microseconds per message, p50/p99.

    .venv-errbot/bin/python bench/errbot/anchor.py [--messages 300] [--warmup 30]
"""

import argparse
import json
import logging
import sys
import time
from importlib import metadata
from pathlib import Path

from errbot.backends.test import TestBot

PLUGINS = Path(__file__).parent / "plugins"
TEXT = "!report La farola {n} de la calle Real no funciona"


def percentile(samples, share):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()
    bot = TestBot(extra_plugin_dir=str(PLUGINS), loglevel=logging.ERROR)
    bot.start(timeout=10)  # a shared, busy machine may take more than the default 2 s
    try:
        for n in range(args.warmup):
            bot.push_message(TEXT.format(n=n))
            assert "Gracias" in bot.pop_message(timeout=10)
        latencies = []
        wall, cpu = time.perf_counter(), time.process_time()
        for n in range(args.messages):
            begun = time.perf_counter()
            bot.push_message(TEXT.format(n=n))
            reply = bot.pop_message(timeout=10)
            latencies.append(time.perf_counter() - begun)
            assert f"farola {n} " in reply, reply
        serial_wall, serial_cpu = time.perf_counter() - wall, time.process_time() - cpu
        wall, cpu = time.perf_counter(), time.process_time()
        for n in range(args.messages):
            bot.push_message(TEXT.format(n=n))
        replies = [bot.pop_message(timeout=10) for _ in range(args.messages)]
        together_wall, together_cpu = time.perf_counter() - wall, time.process_time() - cpu
        # Errbot's test backend renders every reply through one shared Markdown converter from
        # its pool of 10 threads; messages arriving together sometimes race in it and come back
        # empty or as "Computer says nooo" (seen 0-2 in 300). They are counted, not hidden.
        failed = sum("Gracias" not in r for r in replies)
    finally:
        bot.stop()
    n = args.messages
    print(
        json.dumps(
            {
                "errbot": metadata.version("errbot"),
                "python": sys.version.split()[0],
                "messages": n,
                "serial_per_second": n / serial_wall,
                "serial_us": serial_wall / n * 1e6,
                "serial_cpu_us": serial_cpu / n * 1e6,
                "p50_us": percentile(latencies, 0.5) * 1e6,
                "p99_us": percentile(latencies, 0.99) * 1e6,
                "together_per_second": n / together_wall,
                "together_us": together_wall / n * 1e6,
                "together_cpu_us": together_cpu / n * 1e6,
                "together_failed": failed,
            }
        )
    )


if __name__ == "__main__":
    main()
