"""Import benchmark (issue 14): `editforge import picobanana` against a local fake CDN.

    python bench/import.py                       # images/s at 1, 16, 64 connections; 400K rows vs a 1.7M-row CSV
    python bench/import.py --quick               # fewer images, 40K rows vs a 170K-row CSV
    python bench/import.py --parts fetch --json import.json

1. **fetch**: a release of sft rows whose edited PNGs (256 px, from scikit-image's photos) sit on a fake
   CDN (editforge.testing.fake_web, its own process on 127.0.0.1) that answers each request after 50 ms.
   The whole import runs — Open Images source from a tar, edits fetched, decoded in full, stored by
   content, ledger rows — at 1, 16 and 64 connections; images/s as a ratio to 1 connection.
2. **resolve**: 400K synthetic manifest rows (300K distinct photos, 5 % not in Open Images) against a
   1.7M-row synthetic Open Images CSV of the real one's columns; each step runs in a fresh process, so
   its peak RSS is its own. Baseline in the same run: a bare `csv.reader` pass over the same CSV.
Seconds are context; the ratios are the results. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine_info
from PIL import Image

from editforge.sources.samples import sample_items

CSV_COLUMNS = ("ImageID,Subset,OriginalURL,OriginalLandingURL,License,AuthorProfileURL,Author,Title,"
               "OriginalSize,OriginalMD5,Thumbnail300KURL,Rotation")  # fmt: skip


# -- 1. fetch ------------------------------------------------------------------------------------------
def make_release(root: Path, rows: int) -> None:
    """`rows` sft rows of one Open Images photo, each with its own 256 px edit, served from root/cdn."""
    photos = []
    for item in sample_items():
        image = Image.open(item.path).convert("RGB")
        image.thumbnail((256, 256))
        photos.append(image)
    (root / "cdn" / "images").mkdir(parents=True)
    (root / "manifests").mkdir()
    image_id, url = "00aa11bb22cc33dd", "https://farm1.staticflickr.com/1/00aa11bb22cc33dd_s_o.jpg"
    buf = io.BytesIO()
    photos[0].save(buf, "JPEG")
    import tarfile

    with tarfile.open(root / "train_0.tar", "w") as tar:
        info = tarfile.TarInfo(f"{image_id}.jpg")
        info.size = len(buf.getvalue())
        tar.addfile(info, io.BytesIO(buf.getvalue()))
    (root / "oi.csv").write_text(f"ImageID,OriginalURL\n{image_id},{url}\n")
    lines = []
    for i in range(rows):
        edit = photos[i % len(photos)].rotate((i * 7.3) % 360 + 1, expand=True)  # every edit distinct
        edit.save(root / "cdn" / "images" / f"{i}.png", compress_level=1)
        row = {"open_image_input_url": url, "text": f"edit {i}", "output_image": f"images/{i}.png",
               "edit_type": "Add film grain or vintage filter", "summarized_text": f"e{i}"}  # fmt: skip
        lines.append(json.dumps(row))
    (root / "manifests" / "sft.jsonl").write_text("\n".join(lines) + "\n")


def time_import(root: Path, base_url: str, rows: int, connections: int) -> float:
    from editforge.importers.picobanana import ImportOptions, import_picobanana

    out = Path(tempfile.mkdtemp(dir=root))
    options = ImportOptions(
        out=out, splits=["sft"], base_url=base_url, manifest_dir=root / "manifests", openimages=[root / "train_0.tar"],
        openimages_csv=root / "oi.csv", limit=rows, allow_private_urls=True, connections=connections,
        per_host_rps=None, exports=[],
    )  # fmt: skip
    started = time.perf_counter()
    summary = import_picobanana(options)
    elapsed = time.perf_counter() - started
    if summary.imported != rows or summary.problems:
        raise SystemExit(f"{connections} connections: {summary.imported}/{rows} imported, {summary.problems[:2]}")
    return elapsed


def bench_fetch(counts: list[int], latency: float, per_connection: int) -> list[dict]:
    rows_needed = max(40, max(counts) * per_connection)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_release(root, rows_needed)
        server = subprocess.Popen([sys.executable, "-m", "editforge.testing.fake_web", str(root / "cdn"), str(latency)],
                                  stdout=subprocess.PIPE, text=True)  # fmt: skip
        try:
            base_url = f"http://127.0.0.1:{server.stdout.readline().strip()}/"  # type: ignore[union-attr]
            time_import(root, base_url, 20, 4)  # warm-up: imports, first connections
            rows = []
            for connections in counts:
                n = max(40, connections * per_connection)
                elapsed = time_import(root, base_url, n, connections)
                rows.append({"connections": connections, "images": n + 1, "seconds": elapsed,
                             "images_per_s": (n + 1) / elapsed})  # fmt: skip
        finally:
            server.terminate()
            server.wait()
    for row in rows:
        row["ratio_to_1"] = row["images_per_s"] / rows[0]["images_per_s"]
    return rows


# -- 2. resolve ----------------------------------------------------------------------------------------
def _flickr(n: int) -> str:
    return f"https://c{n % 9 + 1}.staticflickr.com/{n % 8000}/{10_000_000_000 + n}_{n * 2654435761 % 16**10:010x}_o.jpg"


def make_resolve_inputs(root: Path, csv_rows: int, manifest_rows: int, photos: int) -> None:
    rng = random.Random(0)
    with open(root / "oi.csv", "w") as fh:
        fh.write(CSV_COLUMNS + "\n")
        for n in range(csv_rows):
            fh.write(
                f"{n * 7919 % 16**16:016x},train,{_flickr(n)},https://www.flickr.com/photos/u/{n}/,"
                f"https://creativecommons.org/licenses/by/2.0/,https://www.flickr.com/people/u{n}/,Author {n},"
                f"Title of photo {n},{n % 5_000_000},{n:032x},https://c1.staticflickr.com/x/{n}_z.jpg,0.0\n"
            )
    in_csv = int(photos * 0.95)
    chosen = rng.sample(range(csv_rows), in_csv) + [csv_rows + i for i in range(photos - in_csv)]
    with open(root / "sft.jsonl", "w") as fh:
        for i in range(manifest_rows):
            url = _flickr(chosen[i % len(chosen)]).replace("https://c", "http://farm")
            row = {"open_image_input_url": url, "text": f"Edit instruction number {i}, in some detail.",
                   "output_image": f"images/positive-edit/{i}.png", "edit_type": "Add film grain or vintage filter",
                   "summarized_text": f"edit {i}"}  # fmt: skip
            fh.write(json.dumps(row) + "\n")


def _child(step: str, root: str) -> None:
    """Run one step in this (fresh) process; print its time and peak RSS as JSON."""
    import csv

    from editforge.importers.picobanana.manifest import read_manifests, source_urls
    from editforge.importers.picobanana.openimages import resolve_image_ids

    started = time.perf_counter()
    result: dict = {}
    if step == "scan":
        with open(Path(root) / "oi.csv", newline="") as fh:
            result["csv_rows"] = sum(1 for _ in csv.reader(fh)) - 1
    else:
        manifest = read_manifests(Path(root), ["sft"])
        urls = list(source_urls(manifest))
        found = resolve_image_ids(Path(root) / "oi.csv", urls)
        result.update(rows=len(manifest.singles), photos=len(urls), resolved=len(found))
    result["seconds"] = time.perf_counter() - started
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def bench_resolve(csv_rows: int, manifest_rows: int, photos: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        make_resolve_inputs(Path(tmp), csv_rows, manifest_rows, photos)
        made = time.perf_counter() - started
        steps = {}
        for step in ("scan", "resolve"):
            out = subprocess.run([sys.executable, __file__, "--child", step, tmp], capture_output=True, text=True,
                                 check=True)  # fmt: skip
            steps[step] = json.loads(out.stdout.strip().splitlines()[-1])
        csv_mib = (Path(tmp) / "oi.csv").stat().st_size / 2**20
    resolve, scan = steps["resolve"], steps["scan"]
    return {"csv_rows": scan["csv_rows"], "csv_mib": csv_mib, "generate_s": made, **{f"scan_{k}": v for k, v in
            scan.items()}, **resolve, "time_ratio_to_scan": resolve["seconds"] / scan["seconds"],
            "rss_ratio_to_scan": resolve["peak_rss_mib"] / scan["peak_rss_mib"]}  # fmt: skip


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        return _child(sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="fetch,resolve")
    parser.add_argument("--quick", action="store_true", help="A tenth of the resolve sizes, fewer images.")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    parts = args.parts.split(",")
    results: dict = {"machine": machine_info()}
    if "fetch" in parts:
        results["fetch"] = bench_fetch([1, 16, 64], args.latency, 4 if args.quick else 8)
        print(f"fetch: {args.latency * 1000:.0f} ms per request, 256 px PNG edits, the whole import")
        print(f"{'connections':>11} {'images':>7} {'images/s':>9} {'× 1 conn':>9}")
        for row in results["fetch"]:
            print(f"{row['connections']:>11} {row['images']:>7} {row['images_per_s']:>9.1f} {row['ratio_to_1']:>8.2f}×")
    if "resolve" in parts:
        scale = 10 if args.quick else 1
        r = results["resolve"] = bench_resolve(1_700_000 // scale, 400_000 // scale, 300_000 // scale)
        print(f"resolve: {r['rows']} manifest rows ({r['photos']} photos) against {r['csv_rows']} CSV rows "
              f"({r['csv_mib']:.0f} MiB): {r['resolved']} resolved")  # fmt: skip
        print(f"  time {r['seconds']:.1f} s = {r['time_ratio_to_scan']:.2f}× a bare csv.reader pass "
              f"({r['scan_seconds']:.1f} s)")  # fmt: skip
        print(f"  peak RSS {r['peak_rss_mib']:.0f} MiB = {r['rss_ratio_to_scan']:.2f}× the bare pass's "
              f"({r['scan_peak_rss_mib']:.0f} MiB)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
