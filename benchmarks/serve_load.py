"""Issue 28's load and fault benchmark: `foveal serve` on loopback with a classifier and a detector, 50 clients for
60 seconds, 200 bad uploads interleaved with the good ones, /healthz polled throughout.

    python benchmarks/serve_load.py --classifier RUN/best.pt --detector RUN/best.pt [--clients 50 --seconds 60]

The checkpoints: a classifier that takes cifar10-jpg photos and a detector of coco128's classes (docs/benchmarks.md,
"Serving under load and faults", gives the two short trainings measured).
Good uploads are 32 cifar10-jpg test photos (to the classifier) and 16 coco128 photos (to the detector). Each good
answer is compared with `foveal predict --format json` on the same photo alone: the same labels, classes and object
counts, probabilities and confidences within 1e-3 and boxes within 0.5 px (a batch of other size may differ in the
last bits). Bad uploads cycle through: zero bytes, a truncated JPEG, text named .jpg, a decompression bomb (a 100
megapixel PNG of a few kB), 50 MB, and the wrong multipart field. Prints the summary as JSON and writes it to
--out (benchmarks/results/serve_load.json).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from plain_loop import default_data_root, hardware  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bad_uploads(photo: Path) -> list[tuple[str, dict]]:
    """(kind, httpx `files`) of each kind of bad upload."""
    from PIL import Image

    bomb = io.BytesIO()
    Image.new("1", (10000, 10000)).save(bomb, format="PNG")
    data = photo.read_bytes()
    return [
        ("zero bytes", {"image": ("empty.jpg", b"")}),
        ("truncated", {"image": ("cut.jpg", data[: len(data) // 2])}),
        ("not an image", {"image": ("notes.jpg", b"a text file named like a photo\n" * 20)}),
        ("bomb", {"image": ("bomb.png", bomb.getvalue())}),
        ("50 MB", {"image": ("big.jpg", random.Random(0).randbytes(50 * 2**20))}),
        ("wrong field", {"file": (photo.name, data)}),
    ]


def close(a, b, key: str = "") -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(close(a[k], b[k], k) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(close(x, y, key) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= (0.5 if key == "box" else 1e-3)
    return a == b


def references(model: str, photos: list[Path]) -> dict[Path, dict]:
    """`foveal predict --format json` of each photo alone, with the source as the server names it (its file name;
    cifar10-jpg repeats names across class folders, so they are keyed by path)."""
    import foveal

    m = foveal.Model(model)
    return {p: {**m.predict_run([str(p)]).to_json()[0], "source": p.name} for p in photos}


async def load(url: str, goods: list[tuple[str, Path]], bads: list[tuple[str, dict]], expected: dict, clients: int,
               seconds: float, n_bad: int) -> dict:
    import httpx

    records: list[dict] = []
    health: list[bool] = []
    end = time.perf_counter() + seconds

    async def send(http: httpx.AsyncClient, kind: str, query: str, files: dict, photo: Path | None = None) -> None:
        start = time.perf_counter()
        try:
            r = await http.post(f"{url}/v1/predict?model={query}", files=files)
            rec = {"kind": kind, "model": query, "status": r.status_code, "ms": 1000 * (time.perf_counter() - start)}
            if photo is not None and r.status_code == 200:
                rec["equal"] = close(r.json()[0], expected[query][photo])
            if r.status_code == 429:
                await asyncio.sleep(float(r.headers.get("retry-after", 1)))
        except httpx.HTTPError as err:
            rec = {"kind": kind, "model": query, "status": None, "error": repr(err)}
        records.append(rec)

    async def client(i: int, http: httpx.AsyncClient) -> None:
        rng = random.Random(i)
        while time.perf_counter() < end:
            query, photo = rng.choice(goods)
            await send(http, "good", query, {"image": (photo.name, photo.read_bytes())}, photo)

    async def bad_sender(http: httpx.AsyncClient) -> None:
        """n_bad bad uploads spread evenly over the run, each sent without waiting for the one before."""
        sent = []
        for k in range(n_bad):
            kind, files = bads[k % len(bads)]
            sent.append(asyncio.create_task(send(http, kind, "cls", files)))
            await asyncio.sleep(0.9 * seconds / n_bad)
        await asyncio.gather(*sent)

    async def poll(http: httpx.AsyncClient) -> None:
        while time.perf_counter() < end:
            try:
                health.append((await http.get(f"{url}/healthz", timeout=5)).status_code == 200)
            except httpx.HTTPError:
                health.append(False)
            await asyncio.sleep(0.5)

    limits = httpx.Limits(max_connections=clients + 32, max_keepalive_connections=clients + 32)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        await asyncio.gather(poll(http), bad_sender(http), *(client(i, http) for i in range(clients)))
    return {"records": records, "health": health}


def summarise(out: dict, seconds: float) -> dict:
    recs = out["records"]
    good = [r for r in recs if r["kind"] == "good"]
    bad = [r for r in recs if r["kind"] != "good"]
    summary = {"requests": len(recs), "5xx": sum(1 for r in recs if (r["status"] or 0) >= 500),
               "dropped": sum(1 for r in recs if r["status"] is None),
               "429": sum(1 for r in recs if r["status"] == 429),
               "health_checks": len(out["health"]), "health_failed": out["health"].count(False),
               "bad_sent": len(bad), "bad_4xx": sum(1 for r in bad if r["status"] and 400 <= r["status"] < 500),
               "bad_by_kind": {}, "models": {}}
    for r in bad:
        summary["bad_by_kind"].setdefault(r["kind"], {}).setdefault(str(r["status"]), 0)
        summary["bad_by_kind"][r["kind"]][str(r["status"])] += 1
    for model in sorted({r["model"] for r in good}):
        ok = [r for r in good if r["model"] == model and r["status"] == 200]
        ms = sorted(r["ms"] for r in ok)
        summary["models"][model] = {
            "answered": len(ok), "req_per_s": len(ok) / seconds, "p50_ms": statistics.median(ms) if ms else None,
            "p99_ms": ms[min(len(ms) - 1, int(0.99 * len(ms)))] if ms else None,
            "equal_to_predict": sum(1 for r in ok if r.get("equal")), "different": sum(1 for r in ok if not r.get("equal"))}
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classifier", required=True)
    ap.add_argument("--detector", required=True)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--bad", type=int, default=200)
    ap.add_argument("--batch", type=int, default=16, help="foveal serve --batch (1: no micro-batching)")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default=str(HERE / "results" / "serve_load.json"))
    args = ap.parse_args(argv)
    root = Path(args.data_root or default_data_root())
    cifar = sorted((root / "cifar10-jpg" / "test").rglob("*.jpg"))[::250][:32]
    coco = sorted((root / "coco128" / "images").rglob("*.jpg"))[:16]
    print(f"hardware: {hardware()}", flush=True)
    expected = {"cls": references(args.classifier, cifar), "det": references(args.detector, coco)}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile("w", prefix="foveal-serve-", suffix=".log", delete=False)  # kept: its path is printed
    server = subprocess.Popen(["foveal", "serve", "--model", f"cls={args.classifier}", "--model",
                               f"det={args.detector}", "--port", str(port), "--batch", str(args.batch)],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        import httpx

        for _ in range(600):
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        goods = [("cls", p) for p in cifar] + [("det", p) for p in coco]
        out = asyncio.run(load(url, goods, bad_uploads(coco[0]), expected, args.clients, args.seconds, args.bad))
        alive = httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    finally:
        server.terminate()
        server.wait(30)
    print(f"server log: {log.name}")
    summary = {"hardware": hardware(), "clients": args.clients, "seconds": args.seconds, "batch": args.batch,
               **summarise(out, args.seconds), "alive_after": alive,
               "errors": sorted({r["error"] for r in out["records"] if "error" in r})[:5]}
    Path(args.out).parent.mkdir(exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
