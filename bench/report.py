"""docs/benchmarks.md and its charts, from one run's figures (bench/run_all.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

Section = tuple[list[str], list[str]]  # (markdown lines, verdict lines)


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def n0(x: float) -> str:
    return f"{x:,.0f}"


def n1(x: float) -> str:
    return f"{x:,.1f}"


def chart(path: Path) -> list[str]:
    return [f"![{path.stem}](images/{path.name})", ""]


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# -- 1. pipeline ------------------------------------------------------------------------------


def why_not_three_times(dialects: dict[str, dict[str, Any]]) -> list[str]:
    """The ≤ 3× bar against what this run's own rows say a durable message costs at least."""
    lines = []
    for name, d in dialects.items():
        budget = 3 * d["ptb"]
        lines.append(
            f"- {name}: 3× the floor is {n0(budget)} µs a message. One durable transaction "
            f"of a single statement (`Store.accept`, nothing decided) costs {n0(d['insert'])} µs "
            f"({d['insert'] / d['ptb']:.1f}× the floor): a message committed before the next "
            f"cannot meet the bar, whatever junbridge's own code costs. Arriving together, the "
            f"commit is shared and the message costs {n0(d['mixed_burst'])} µs, "
            f"{d['mixed_burst_cpu']:,.0f} µs of it CPU: parsing, routing, deciding, the reply "
            f"text and the rows of a request, its history and its reply."
        )
    return [
        "Why ≤ 3× is out of reach here: the floor parses an update and builds a reply in "
        "memory; it stores nothing. In this run's own rows:",
        "",
        *lines,
        "",
    ]


def pipeline(data: dict[str, Any], images: Path) -> Section:
    md: list[str] = []
    verdicts: list[str] = []
    dialects = data["dialects"]
    errbot = data.get("errbot", {})
    md += [
        f"{data['messages']} messages per pass after 30 untimed, median of {data['rounds']} "
        "round(s); microseconds per message (wall) unless said. *Telegram only*: the captured "
        "Telegram text update, a new resident each (the same input as the ptb floor). *Town's "
        "morning*: Telegram, Slack and X payloads derived from the captured fixtures, four "
        "departments, triage, follow-ups and duplicates (bench/payloads.py). *One at a time*: "
        "`Bridge.receive`, each committed before the next; *arriving together*: all "
        "`Bridge.submit`ted at once, as webhooks under load, handled in batches (group commit).",
        "",
    ]
    rows = []
    names = [
        ("ptb", "ptb floor: bare python-telegram-bot Application, no network"),
        ("insert", "store bare insert (`Store.accept`)"),
        ("pipeline", "junbridge, Telegram only, one at a time"),
        ("burst", "junbridge, Telegram only, arriving together"),
        ("mixed", "junbridge, town's morning, one at a time"),
        ("mixed_burst", "junbridge, town's morning, arriving together"),
    ]
    for key, label in names:
        cells = [label]
        for d in dialects.values():
            cells += [n0(d[key]), f"{d[key] / d['ptb']:.1f}×", n0(1e6 / d[key])]
        rows.append(cells)
    if "serial_us" in errbot:
        for key, label in (("serial", "one at a time"), ("together", "arriving together")):
            us = errbot[f"{key}_us"]
            cells = [f"Errbot {errbot['errbot']} test backend, one command, {label}"]
            if key == "together" and errbot.get("together_failed"):
                cells[0] += f" ({errbot['together_failed']} of {errbot['messages']} replies failed)"
            for d in dialects.values():
                cells += [n0(us), f"{us / d['ptb']:.1f}×", n0(1e6 / us)]
            rows.append(cells)
    header = ["µs per message"]
    for name in dialects:
        header += [f"{name} µs", "× ptb floor", "messages/s"]
    md += table(header, rows)
    cpu_rows = [
        ["ptb floor", *(n0(d["ptb_cpu"]) for d in dialects.values())],
        ["town's morning, one at a time", *(n0(d["mixed_cpu"]) for d in dialects.values())],
        [
            "town's morning, arriving together",
            *(n0(d["mixed_burst_cpu"]) for d in dialects.values()),
        ],
        [
            "latency p50, town's morning, one at a time",
            *(n0(d["mixed_p50"]) for d in dialects.values()),
        ],
        [
            "latency p99, town's morning, one at a time",
            *(n0(d["mixed_p99"]) for d in dialects.values()),
        ],
    ]
    if "serial_cpu_us" in errbot:
        cpu_rows.insert(
            1, ["Errbot, one at a time", *([n0(errbot["serial_cpu_us"])] * len(dialects))]
        )
        cpu_rows.insert(
            2,
            [
                "Errbot latency p50 / p99 (one at a time)",
                *([f"{n0(errbot['p50_us'])} / {n0(errbot['p99_us'])}"] * len(dialects)),
            ],
        )
    md += [
        "CPU microseconds per message (`time.process_time`, every thread of the process) "
        "and latency (µs):",
        "",
    ]
    md += table(["", *dialects], cpu_rows)
    bars = []
    for name, d in dialects.items():
        best = min(d["mixed_burst"], d["burst"])
        ratio = best / d["ptb"]
        serial_ratio = d["mixed"] / d["ptb"]
        ok = ratio <= 3
        bars.append(
            [
                f"≤ 3× the ptb floor ({name})",
                f"{serial_ratio:.1f}× one at a time, {ratio:.1f}× arriving together",
                met(ok),
            ]
        )
        verdicts.append(
            f"pipeline {name}: {ratio:.1f}× ptb floor arriving together "
            f"({serial_ratio:.1f}× one at a time): {met(ok)}"
        )
        if "serial_per_second" in errbot:
            ours, theirs = 1e6 / d["mixed"], errbot["serial_per_second"]
            ours_t, theirs_t = 1e6 / d["mixed_burst"], errbot["together_per_second"]
            ok = ours >= theirs and ours_t >= theirs_t
            bars.append(
                [
                    f"≥ Errbot's throughput ({name})",
                    f"{ours:,.0f} vs {theirs:,.0f}/s one at a time; "
                    f"{ours_t:,.0f} vs {theirs_t:,.0f}/s together",
                    met(ok),
                ]
            )
            verdicts.append(
                f"pipeline {name}: {ours_t:,.0f}/s vs Errbot {theirs_t:,.0f}/s: {met(ok)}"
            )
    if "error" in errbot:
        bars.append(["≥ Errbot's throughput", f"Errbot not measured: {errbot['error']}", "—"])
    md += ["Bars:", "", *table(["bar", "measured", ""], bars)]
    md += why_not_three_times(dialects)
    sql = []
    for name, d in dialects.items():
        for kind, counted in d.get("sql", {}).items():
            sql.append([kind, name, *counted["counts"]])
    md += ["SQL per message (counted untimed):", ""]
    md += table(["message", "store", "statements", "BEGIN", "COMMIT", "ROLLBACK", "checkouts"], sql)
    checked = "; ".join(f"{n}: {d.get('morning_checked', '')}" for n, d in dialects.items())
    md += [f"Checked after each town's morning: {checked}.", ""]
    profile = data.get("profile")
    if profile:
        total = profile["total_seconds"][0][0]
        md += [
            f"Profile of the town's morning on SQLite, one at a time (cProfile, {total:.2f} s "
            "in all under the profiler), top 15 by cumulative time:",
            "",
        ]
        md += table(["function", "calls", "own s", "cumulative s"], profile["cumulative"])
        md += ["Top 15 by own time:", ""]
        md += table(["function", "calls", "own s", "cumulative s"], profile["own"])
    fig, ax = plt.subplots(figsize=(8, 4))
    labels = [label.split(":")[0].replace("junbridge, ", "") for _, label in names]
    width = 0.8 / max(1, len(dialects))
    for i, (name, d) in enumerate(dialects.items()):
        ax.barh(
            [k + i * width for k in range(len(names))],
            [d[key] for key, _ in names],
            height=width,
            label=name,
        )
    if "serial_us" in errbot:
        ax.axvline(errbot["serial_us"], color="grey", linestyle="--", label="Errbot, one at a time")
        ax.axvline(errbot["together_us"], color="black", linestyle=":", label="Errbot, together")
    ax.set_yticks([k + width / 2 for k in range(len(names))], labels, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("µs per message (log)")
    ax.set_title("Pipeline cost per message, same run")
    ax.legend(fontsize=7)
    path = images / "bench_pipeline.png"
    _save(fig, path)
    return md + chart(path), verdicts


# -- 2. webhook -------------------------------------------------------------------------------


def webhook(data: dict[str, Any], images: Path) -> Section:
    md: list[str] = []
    verdicts: list[str] = []
    runs = data["runs"]
    throughput = data.get("throughput", {})
    busy = data.get("busy", {})
    md += [
        f"Open-loop load for {data['seconds']:g} s at each rate (each request leaves at its "
        "time, answered or not) from a load generator over keep-alive HTTP/1.1; the time to "
        "the HTTP answer. One `junbridge run` process takes Telegram updates by webhook "
        "(derived from the captured fixture, a new resident each, with the secret-token "
        "header) and signed Slack events (built from the Slack emulator's payloads, a "
        "different member each, a member before the bridge started: their profiles are read "
        "at the start with `users.list`; the workspace holds at most the 10,000 profiles a bridge "
        "keeps), it answers once "
        "the message is stored. The Telegram Bot API "
        "and Slack Web API it replies through are the emulators, each in a process of its own. "
        "The anchors, each in its own process, get the same load: python-telegram-bot's own "
        "webhook server (`Updater.start_webhook`, a no-op MessageHandler; it answers once the "
        "update is queued and keeps nothing) the Telegram updates, a bare Starlette endpoint "
        "in uvicorn (it reads the body) the Slack events. *Backlog drained*: after the load "
        "stopped, until every message junbridge accepted was handled."
        + (
            f" Profiles the bridge had to ask for with `users.info` in this run: "
            f"{data['users_info']}."
            if data.get("users_info") is not None
            else ""
        ),
        "",
    ]
    rows = []
    for r in runs:
        rows.append(
            [
                r["server"],
                r["rate"],
                n1(r["p50_ms"]),
                n1(r["p99_ms"]),
                n0(r["max_ms"]),
                r["over_3s"],
                r["statuses"],
                r.get("drain", "-"),
            ]
        )
    md += table(
        [
            "server",
            "requests/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "> 3 s",
            "statuses",
            "backlog drained",
        ],
        rows,
    )
    if busy:
        md += [
            f"Throughput: {data['connections']} keep-alive connections kept busy for "
            f"{data['busy_seconds']:g} s per server, each posting the next request once the "
            "previous is answered (closed loop); requests answered per second. *Handled/s*: "
            "answered over the loop and the drain that followed. *Server CPU*: the server "
            "process's CPU per request, junbridge's until drained (handling included). "
            "*Generator CPU*: the load generator's own share of a core (near 100 %, the "
            "generator, not the server, was the limit).",
            "",
        ]
        rows = [
            [
                name,
                n0(b["per_s"]) + (" (ran out of requests)" if b["ran_out"] else ""),
                n1(b["p50_ms"]),
                n1(b["p99_ms"]),
                b["statuses"],
                "-" if b["drain_s"] is None else f"{b['drain_s']:.1f} s",
                "-" if b["handled_per_s"] is None else n0(b["handled_per_s"]),
                f"{b['server_cpu_ms_per_request']:.2f}",
                f"{b['generator_cpu_share']:.0%}",
            ]
            for name, b in busy.items()
        ]
        md += table(
            [
                "server",
                "answered/s",
                "p50 ms",
                "p99 ms",
                "statuses",
                "backlog drained",
                "handled/s",
                "server CPU ms/request",
                "generator CPU",
            ],
            rows,
        )
    elif throughput:
        md += table(
            ["server", "throughput, requests/s"], [[k, n0(v)] for k, v in throughput.items()]
        )
    else:
        md += [
            '**Not measured in this run:** closed-loop throughput, so the bar "≥ half the raw '
            "SDK server's throughput\" has no verdict here.",
            "",
        ]
    bars = []
    top = max(r["rate"] for r in runs)
    for r in runs:
        if r["rate"] == top and r["server"].startswith("junbridge"):
            ok = r["p99_ms"] < 20
            bars.append(
                [f"p99 < 20 ms at {top}/s ({r['server']})", f"{r['p99_ms']:.1f} ms", met(ok)]
            )
            verdicts.append(
                f"webhook {r['server']}: p99 {r['p99_ms']:.1f} ms at {top}/s: {met(ok)}"
            )
    ours = throughput.get("junbridge run, Telegram")
    theirs = throughput.get("python-telegram-bot webhook server")
    if ours and theirs:
        ok = ours >= theirs / 2
        bars.append(
            [
                "≥ half the raw SDK server's throughput (Telegram)",
                f"{ours:,.0f} vs {theirs:,.0f}/s ({ours / theirs:.0%})",
                met(ok),
            ]
        )
        verdicts.append(f"webhook throughput {ours / theirs:.0%} of ptb's server: {met(ok)}")
    md += ["Bars:", "", *table(["bar", "measured", ""], bars)]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    servers = sorted({r["server"] for r in runs})
    for server in servers:
        mine = [r for r in runs if r["server"] == server]
        axes[0].plot(
            [r["rate"] for r in mine], [r["p99_ms"] for r in mine], marker="o", label=server
        )
    axes[0].axhline(20, color="red", linestyle="--", linewidth=1, label="bar: 20 ms")
    axes[0].set_xlabel("requests/s offered")
    axes[0].set_ylabel("p99 ms to the answer")
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=6)
    if throughput:
        axes[1].barh(list(throughput), list(throughput.values()))
        axes[1].set_xlabel("requests/s, connections kept busy")
        axes[1].tick_params(axis="y", labelsize=7)
    fig.suptitle("Webhook ingest, same run")
    path = images / "bench_webhook.png"
    _save(fig, path)
    return md + chart(path), verdicts


# -- 3. outbound ------------------------------------------------------------------------------


def outbound(data: dict[str, Any], images: Path) -> Section:
    md: list[str] = []
    verdicts: list[str] = []
    platforms = data["platforms"]
    md += [
        "Replies queued in the store, delivered by the real `Outbox.run` through "
        "python-telegram-bot and slack-sdk to emulators that enforce the documented limits "
        "with a sliding one-second window (Telegram: 1/s per chat and 30/s per bot; Slack "
        "`chat.postMessage`: 1/s per channel). Allowed rate: `min(bot rate, sum of the rates of "
        "the conversations that still have replies)` over time. The outbox process used "
        f"{data['cpu_seconds']:.1f} s of CPU in {data['wall_seconds']:.1f} s.",
        "",
    ]
    rows = [
        [
            p["platform"],
            p["conversations"],
            p["replies"],
            p["delivered"],
            p["duplicates"],
            p["missing"],
            "yes" if p["order_kept"] else "no",
            p["too_many_requests"],
            f"{p['refused_by_bot_limit']} / {p['refused_by_conversation_limit']}",
            n1(p["seconds"]),
            n1(p["allowed_seconds"]),
            n1(p["achieved_rate"]),
            n1(p["allowed_rate"]),
            f"{p['share_of_allowed']:.1%}",
        ]
        for p in platforms
    ]
    md += table(
        [
            "platform",
            "conversations",
            "replies",
            "delivered",
            "duplicates",
            "missing",
            "order kept",
            "429s",
            "429s by bot / chat limit",
            "seconds",
            "allowed s",
            "achieved/s",
            "allowed/s",
            "share",
        ],
        rows,
    )
    bars = []
    for p in platforms:
        share_ok = p["share_of_allowed"] >= 0.95
        once = p["duplicates"] == 0 and p["missing"] == 0 and p["order_kept"]
        bars += [
            [
                f"≥ 95% of the allowed rate ({p['platform']})",
                f"{p['share_of_allowed']:.1%}",
                met(share_ok),
            ],
            [
                f"zero 429s ({p['platform']})",
                str(p["too_many_requests"]),
                met(p["too_many_requests"] == 0),
            ],
            [
                f"every reply once, order kept ({p['platform']})",
                f"{p['delivered']} delivered of {p['replies']}, {p['duplicates']} twice, "
                f"order {'kept' if p['order_kept'] else 'broken'}",
                met(once),
            ],
        ]
        every = share_ok and p["too_many_requests"] == 0 and once
        verdicts.append(
            f"outbound {p['platform']}: {p['share_of_allowed']:.1%} of allowed, "
            f"{p['too_many_requests']} 429s, once+order: {met(every)}"
        )
        early = [t for t in p.get("refused_at", []) if t < 1.0]
        if p["too_many_requests"]:
            md += [
                f"{p['platform']}: {len(early)} of the {p['too_many_requests']} 429s came in "
                "the first second of sending, the rest at "
                + ", ".join(f"{t:.1f}" for t in p["refused_at"] if t >= 1.0)[:400]
                + " s.",
                "",
            ]
    md += ["Bars:", "", *table(["bar", "measured", ""], bars)]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for p in platforms:
        curve = p["curve"]
        ax.plot(curve, range(1, len(curve) + 1), label=f"{p['platform']} delivered")
        ax.plot(
            [0, p["allowed_seconds"]],
            [1, p["replies"]],
            linestyle="--",
            label=f"{p['platform']} allowed",
        )
        for t in p.get("refused_at", []):
            ax.axvline(t, color="red", alpha=0.15, linewidth=0.8)
    ax.set_xlabel("seconds from the first delivery (red: a 429)")
    ax.set_ylabel("replies delivered")
    ax.legend(fontsize=7)
    ax.set_title("Outbound at the platforms' limits, same run")
    path = images / "bench_outbound.png"
    _save(fig, path)
    return md + chart(path), verdicts


# -- 4. scale ---------------------------------------------------------------------------------


def scale(data: dict[str, Any], images: Path) -> Section:
    md: list[str] = []
    verdicts: list[str] = []
    md += [
        "Stores of a town's year made in SQL (bench/town_fill.py), counted; lamp reports from "
        "new residents timed in batches going round the sizes (least-loaded assignment on "
        "every report); the public page (its aggregates read from the store on every view) "
        "and Open311 `GET requests.json?service_code=lighting&start_date&end_date` (the last "
        "day) over HTTP.",
        "",
    ]
    rows = []
    for dialect, points in data["dialects"].items():
        for p in points:
            pages = p["pages"]
            rows.append(
                [
                    dialect,
                    f"{p['counted']['requests']:,}",
                    n0(p["fill_seconds"]),
                    f"{p['ingest_ms']:.2f}",
                    f"{p['ingest_ratio']:.2f}",
                    *(f"{pages[k]['p50_ms']:.1f} / {pages[k]['p95_ms']:.1f}" for k in pages),
                    p["counted"].get("open311 answered", "-"),
                ]
            )
    md += table(
        [
            "store",
            "requests (COUNT)",
            "fill s",
            "ingest ms/report",
            "× smallest",
            "public page p50 / p95 ms",
            "Open311 p50 / p95 ms",
            "Open311 answered",
        ],
        rows,
    )
    bars = []
    for dialect, points in data["dialects"].items():
        last = points[-1]
        ok = last["ingest_ratio"] <= 1.2
        bars.append(
            [
                f"ingest at {last['size']:,} within 1.2× of {points[0]['size']:,} ({dialect})",
                f"{last['ingest_ratio']:.2f}×",
                met(ok),
            ]
        )
        verdicts.append(
            f"scale {dialect}: ingest {last['ingest_ratio']:.2f}× at {last['size']:,}: {met(ok)}"
        )
        for name, page in last["pages"].items():
            ok = page["p95_ms"] < 50
            bars.append(
                [
                    f"{name} p95 < 50 ms at {last['size']:,} ({dialect})",
                    f"{page['p95_ms']:.1f} ms",
                    met(ok),
                ]
            )
            verdicts.append(f"scale {dialect}: {name} p95 {page['p95_ms']:.1f} ms: {met(ok)}")
    if max(data["sizes"]) < 1_000_000:
        bars.append(
            [
                "the bars at 1,000,000",
                f"this run stopped at {max(data['sizes']):,} (--quick)",
                "not measured",
            ]
        )
    md += ["Bars:", "", *table(["bar", "measured", ""], bars)]
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.5))
    for dialect, points in data["dialects"].items():
        sizes = [p["size"] for p in points]
        axes[0].plot(sizes, [p["ingest_ratio"] for p in points], marker="o", label=dialect)
        for k, name in enumerate(points[0]["pages"]):
            axes[1 + k].plot(
                sizes, [p["pages"][name]["p95_ms"] for p in points], marker="o", label=dialect
            )
            axes[1 + k].set_title(f"{name}: p95 ms", fontsize=9)
    axes[0].axhline(1.2, color="red", linestyle="--", linewidth=1)
    axes[0].set_title("ingest, × smallest store", fontsize=9)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("requests stored")
        ax.legend(fontsize=7)
    for ax in axes[1:]:
        ax.axhline(50, color="red", linestyle="--", linewidth=1)
    fig.suptitle("Scale curve, same run")
    path = images / "bench_scale.png"
    _save(fig, path)
    return md + chart(path), verdicts


# -- 5. footprint -----------------------------------------------------------------------------


def footprint(data: dict[str, Any], images: Path) -> Section:
    md: list[str] = []
    verdicts: list[str] = []
    md += [
        "Resident memory (VmRSS) of one `junbridge run` process with Telegram (polling), Slack "
        "(events) and X (polling) connected to their emulators (in another process), sampled "
        f"every second for {data['seconds']:g} s after it answered `/healthz`, idle; then the "
        "same with the store filled as in the scale curve. Python's own floor: "
        f"{data.get('python_floor_mb', 0):.0f} MB (an interpreter that imported nothing).",
        "",
    ]
    rows = [
        [
            r["store"],
            f"{r['requests']:,}",
            n1(r["first_mb"]),
            n1(r["last_mb"]),
            n1(r["peak_mb"]),
            f"{r['last_mb'] - r['first_mb']:+.1f}",
        ]
        for r in data["runs"]
    ]
    md += table(["store", "requests", "RSS first MB", "RSS last MB", "peak MB", "growth MB"], rows)
    bars = []
    peak = max(r["peak_mb"] for r in data["runs"])
    ok = peak < 150
    bars.append(["< 150 MB", f"peak {peak:.1f} MB", met(ok)])
    verdicts.append(f"footprint: peak {peak:.1f} MB: {met(ok)}")
    if len(data["runs"]) > 1:
        small, large = data["runs"][0], data["runs"][-1]
        grew = large["peak_mb"] - small["peak_mb"]
        ok = grew < 0.1 * small["peak_mb"]
        bars.append(
            [
                f"not growing with the store ({large['requests']:,} vs empty)",
                f"{grew:+.1f} MB",
                met(ok),
            ]
        )
        verdicts.append(f"footprint: {grew:+.1f} MB with the store: {met(ok)}")
    md += ["Bars:", "", *table(["bar", "measured", ""], bars)]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for r in data["runs"]:
        ax.plot(r["seconds"], r["rss_mb"], label=f"{r['store']} ({r['requests']:,} requests)")
    ax.axhline(150, color="red", linestyle="--", linewidth=1, label="bar: 150 MB")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("seconds idle")
    ax.set_ylabel("RSS MB")
    ax.legend(fontsize=7)
    ax.set_title("junbridge run, all channels, idle")
    path = images / "bench_footprint.png"
    _save(fig, path)
    return md + chart(path), verdicts


# -- 6. workers -------------------------------------------------------------------------------


def workers(data: dict[str, Any], images: Path) -> Section:
    md: list[str] = []
    verdicts: list[str] = []
    md += [
        f"{data['reports']} signed Slack reports, each POSTed to every worker (as Slack's "
        "retries or a load balancer that sends twice would), at most "
        f"{data['in_flight']} in flight; `junbridge run` workers sharing one PostgreSQL, "
        "against one process on SQLite. Time from the first POST until every report has its "
        "request and its answer posted (Slack emulator in its own process; `pace: off`, as in "
        "tests/test_workers.py, so the platform's pace does not hide the workers').",
        "",
    ]
    base = data["runs"][0]["per_second"]
    rows = [
        [
            r["label"],
            r["reports"],
            n1(r["seconds"]),
            n1(r["per_second"]),
            f"{r['per_second'] / base:.2f}×",
            r["requests"],
            r["answers"],
            r["duplicates"],
            met(r["exactly_once"]).replace("**", ""),
        ]
        for r in data["runs"]
    ]
    md += table(
        [
            "workers",
            "reports",
            "seconds",
            "reports/s",
            "× 1 SQLite",
            "requests",
            "answers",
            "repeated answers",
            "exactly once",
        ],
        rows,
    )
    for r in data["runs"]:
        verdicts.append(
            f"workers {r['label']}: {r['per_second']:.1f}/s, exactly once {met(r['exactly_once'])}"
        )
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar([r["label"] for r in data["runs"]], [r["per_second"] for r in data["runs"]])
    ax.set_ylabel("reports/s to request and answer")
    ax.set_title(f"Scale-out on {data.get('cores', '?')} cores, same run")
    ax.tick_params(axis="x", labelsize=8)
    path = images / "bench_workers.png"
    _save(fig, path)
    return md + chart(path), verdicts


SECTIONS: dict[str, tuple[str, Callable[[dict[str, Any], Path], Section]]] = {
    "pipeline": ("1. Pipeline cost", pipeline),
    "webhook": ("2. Webhook ingest under load", webhook),
    "outbound": ("3. Outbound at the platforms' limits", outbound),
    "scale": ("4. Scale curve", scale),
    "footprint": ("5. Footprint", footprint),
    "workers": ("6. Scale-out", workers),
}


def render(
    info: dict[str, Any], results: dict[str, dict[str, Any]], doc: Path, images: Path
) -> list[str]:
    """Write ``doc`` and the charts; the verdict of every bar, one line each."""
    images.mkdir(parents=True, exist_ok=True)
    kind = "quick" if info.get("quick") else "full"
    md = [
        "# Benchmarks",
        "",
        "Written by `bench/run_all.py` from one run of every benchmark: the tables, the "
        "verdicts and the charts below all come from that run, anchors included. **These "
        "numbers came from a shared machine** (other work ran beside it), so absolute times "
        "wander from run to run: read the ratios to the anchors measured in the same run. "
        "Benchmarks are not tests; none runs in CI (bench/ is linted there).",
        "",
        "## Run them",
        "",
        "```sh",
        ".venv/bin/pip install -r requirements-bench.txt   # the test lock plus matplotlib",
        ".venv/bin/python bench/run_all.py --quick         # minutes: stores up to 100,000",
        ".venv/bin/python bench/run_all.py                 # the full run: up to 1,000,000",
        "```",
        "",
        "`python -m bench` is the same command. PostgreSQL must listen on 127.0.0.1:5432 "
        "(trust, database `test`), as for the tests. The first run creates `.venv-errbot` "
        "from `requirements-errbot.txt` for the Errbot anchor (see below). Each benchmark "
        "keeps its own command line (`bench/bench_*.py --help`); `--render-only` writes this "
        "page again from the last run's `var/bench/*.json`, and `var/bench/*.log` holds each "
        "benchmark's own output.",
        "",
        f"## This run ({kind})",
        "",
        f"Command: `{info['command']}`, started {info['started']}, "
        f"{info.get('minutes', '?')} minutes.",
        "",
    ]
    md += table(["machine", ""], [[k, v] for k, v in info["machine"].items()])
    md += table(["package", "version"], [[k, v] for k, v in info["versions"].items()])
    md += [
        "Errbot 6.2.1 installs and runs on this Python (3.11), but not beside junbridge's "
        "lock: it pins `requests==2.32.5` and `Pygments==2.20.0`, where requirements-test.txt "
        "has 2.34.2 and 2.21.0, so it cannot be part of the `bench` extra, which is locked on "
        "top of the test lock. `scripts/lock` says:",
        "",
        "```",
        "Because errbot>=6.2.1 depends on requests==2.32.5 and requests==2.34.2, we can "
        "conclude that errbot>=6.2.1 cannot be used.",
        "```",
        "",
        "So it has a lock of its own (`requirements-errbot.txt`, from "
        "`bench/errbot/requirements.in`, with pytest, which its test backend imports without "
        "declaring it) and a virtualenv of its own, and is measured in a process of its own "
        "(`bench/errbot/anchor.py`).",
        "",
    ]
    verdicts: list[str] = []
    summary: list[list[str]] = []
    for name, (title, section) in SECTIONS.items():
        data = results.get(name)
        md += [f"## {title}", ""]
        if data is None:
            md += ["Not run.", ""]
            continue
        md += [f"Command: `{data.get('_command', '?')}` ({data.get('_seconds', 0):.0f} s).", ""]
        if "error" in data and len(data) <= 3:
            md += [f"**The benchmark failed**: {data['error']}", ""]
            verdicts.append(f"{name}: failed")
            continue
        try:
            lines, found = section(data, images)
        except (KeyError, ValueError, TypeError, ZeroDivisionError) as exc:
            lines, found = [f"**Could not render**: {type(exc).__name__}: {exc}", ""], []
        md += lines
        verdicts += found
        summary += [[title, v] for v in found]
    md[md.index(f"## This run ({kind})") + 4 : md.index(f"## This run ({kind})") + 4] = [
        "Every bar of the issue, as measured in this run (details in each section):",
        "",
        *table(["benchmark", "verdict"], summary),
    ]
    doc.write_text("\n".join(md).rstrip() + "\n")
    return verdicts
