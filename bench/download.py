"""Download benchmark (issue 11): photos/s against connections, on a local server with injected latency.

    python bench/download.py                 # 50 ms latency; 1, 16 and 64 connections
    python bench/download.py --latency 0.1 --connections 1,8,32 --json download.json

Fetching photos is latency-bound: one connection spends nearly all its time waiting for the server.
A fake web server (editforge.testing.fake_web) runs in its own process on 127.0.0.1, answering every
request after `--latency` seconds, with real photos (scikit-image's samples as ~30 KB JPEGs). The
benchmark fetches with editforge's Downloader at each connection count, per-host politeness off so that
the connection count is what is measured, and reports photos/s as a ratio to one connection measured in
the same run. A last row runs the highest count with the default per-host limit (UrlPolicy.per_host_rps)
to show the limit holds. Every download is checked byte for byte. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine_info
from PIL import Image

from editforge.sources.download import Downloader, Fetched
from editforge.sources.samples import sample_items
from editforge.sources.urlpolicy import UrlPolicy


def make_photos(root: Path, count: int) -> dict[str, bytes]:
    """`count` JPEGs named 0.jpg…, cycling through the sample photos at 512 px."""
    bodies: list[bytes] = []
    for item in sample_items():
        image = Image.open(item.path).convert("RGB")
        image.thumbnail((512, 512))
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=85)
        bodies.append(buf.getvalue())
    photos = {f"/{i}.jpg": bodies[i % len(bodies)] for i in range(count)}
    for path, body in photos.items():
        (root / path.lstrip("/")).write_bytes(body)
    return photos


def fetch_all(base: str, photos: dict[str, bytes], paths: list[str], connections: int, policy: UrlPolicy) -> float:
    bad: list[str] = []

    def check(result: Fetched) -> None:
        if result.data != photos[result.url[len(base) :]]:
            bad.append(f"{result.url}: {result.error}")

    async def run() -> None:
        async with Downloader(policy, connections=connections) as downloader:
            await downloader.fetch_all([base + p for p in paths], check)

    started = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - started
    if bad:
        raise SystemExit(f"{len(bad)} downloads wrong, e.g. {bad[0]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.05, help="Seconds the server waits per request.")
    parser.add_argument("--connections", default="1,16,64", help="Comma-separated connection counts.")
    parser.add_argument("--rounds", type=int, default=12, help="Photos per connection at each count (min 40).")
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args()
    counts = [int(c) for c in args.connections.split(",")]
    total = max(40, max(counts) * args.rounds)

    with tempfile.TemporaryDirectory() as tmp:
        photos = make_photos(Path(tmp), total)
        server = subprocess.Popen(
            [sys.executable, "-m", "editforge.testing.fake_web", tmp, str(args.latency)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{server.stdout.readline().strip()}"  # type: ignore[union-attr]
            unlimited = UrlPolicy(allow_private=True, per_host_rps=None)
            fetch_all(base, photos, list(photos)[:20], 4, unlimited)  # warm-up: imports, first connections
            rows = []
            for connections in counts:
                n = max(40, connections * args.rounds)
                elapsed = fetch_all(base, photos, list(photos)[:n], connections, unlimited)
                rows.append({"connections": connections, "photos": n, "seconds": elapsed, "rps": n / elapsed})
            polite = UrlPolicy(allow_private=True)
            n = max(40, max(counts) * args.rounds) // 2
            elapsed = fetch_all(base, photos, list(photos)[:n], max(counts), polite)
            rows.append({"connections": max(counts), "photos": n, "seconds": elapsed, "rps": n / elapsed,
                         "per_host_rps": polite.per_host_rps})  # fmt: skip
        finally:
            server.terminate()
            server.wait()

    baseline = rows[0]["rps"]
    print(f"latency {args.latency * 1000:.0f} ms per request; photo bodies {min(map(len, photos.values()))}–"
          f"{max(map(len, photos.values()))} bytes")  # fmt: skip
    print(f"{'connections':>11} {'limit/host':>10} {'photos':>7} {'photos/s':>9} {'× 1 conn':>9} {'× ideal':>8}")
    for row in rows:
        row["ratio_to_1"] = row["rps"] / baseline
        ideal = min(row["connections"] / args.latency, row.get("per_host_rps") or float("inf"))
        row["share_of_ideal"] = row["rps"] / ideal
        limit = f"{row['per_host_rps']:g}/s" if row.get("per_host_rps") else "off"
        print(f"{row['connections']:>11} {limit:>10} {row['photos']:>7} {row['rps']:>9.1f} "
              f"{row['ratio_to_1']:>8.2f}× {row['share_of_ideal']:>8.2f}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_info(), "latency_s": args.latency, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
