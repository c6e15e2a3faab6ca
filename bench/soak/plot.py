#!/usr/bin/env python3
"""Draws a soak run: one panel per resource, the warm-up shaded, and the fitted trend after it
(slope per hour, from the run's JSON summary, which the Rust driver computed).

    python3 bench/soak/plot.py soak-sqlite-DATE.csv soak-sqlite-DATE.json soak-sqlite-DATE.png
"""
import csv
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = [
    ("Resident memory (MiB)", ["rss_mib", "rss_anon_mib"]),
    ("Open file descriptors", ["fds"]),
    ("Threads", ["threads"]),
    ("Tokio tasks", ["tasks"]),
    ("Database connections", ["pool_open", "pool_in_use", "pg_backends"]),
    ("TCP connections", ["http_conns", "close_wait"]),
    ("Sessions", ["realtime_sessions", "signaling_sessions", "sfu_peers"]),
    ("Driver progress", ["joins", "rt_sessions_opened"]),
]


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    cols = {}
    for name in rows[0].keys() if rows else []:
        cols[name] = [float(r[name]) if r[name] not in ("", None) else float("nan") for r in rows]
    return cols


def main(csv_path, json_path, png_path):
    cols = read_csv(csv_path)
    with open(json_path) as f:
        summary = json.load(f)
    trends = summary.get("trends", {})
    warmup = summary.get("warmup_s", 0)
    end = summary.get("duration_s", 0)
    t_min = [t / 60 for t in cols.get("t_s", [])]
    fig, axes = plt.subplots(4, 2, figsize=(13, 13), sharex=True)
    verdict = "pass" if summary.get("verdict", {}).get("ok") else "FAIL"
    fig.suptitle(
        f"openchatd soak on {summary.get('db')} ({summary.get('date')}): "
        f"{end / 60:.0f} min, sampled every {summary.get('sample_period_s')} s; "
        f"trend after {warmup / 60:.0f} min warm-up; verdict: {verdict}"
    )
    for ax, (title, series) in zip(axes.flat, PANELS):
        ax.axvspan(0, warmup / 60, color="0.9", label="warm-up")
        notes = []
        for name in series:
            ys = cols.get(name)
            if not ys or all(y != y for y in ys):
                continue
            (line,) = ax.plot(t_min, ys, label=name, linewidth=1)
            trend = trends.get(name)
            if trend and trend.get("slope_per_hour") is not None:
                slope = trend["slope_per_hour"]
                xs = [warmup, end]
                ax.plot(
                    [x / 60 for x in xs],
                    [trend["intercept"] + slope * x / 3600 for x in xs],
                    linestyle="--",
                    color=line.get_color(),
                    linewidth=1,
                )
                pct = trend.get("percent_of_mean_per_hour")
                pct = f" ({pct:+.1f}%)" if pct is not None else ""
                notes.append(f"{name}: {slope:+.2f}/h{pct}{' GROWS' if trend.get('grows') else ''}")
        ax.set_title(title, fontsize=10)
        if notes:
            ax.text(0.01, 0.02, "\n".join(notes), transform=ax.transAxes, fontsize=7, va="bottom")
        ax.legend(fontsize=7, loc="upper right")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("minutes")
    fig.tight_layout()
    fig.savefig(png_path, dpi=80)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
