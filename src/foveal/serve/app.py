"""The routes of `foveal serve`. Every answer that is not a success is JSON `{"error": one line}` with a 4xx status
(a 5xx only for a fault of the server itself, whose traceback is logged and never sent); an API key, when set, is
asked of everything but /healthz and the page's own files (the page asks the user for it)."""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any, Hashable

from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from foveal.errors import FovealError
from foveal.serve.limits import Limits
from foveal.serve.models import ServedModel
from foveal.serve.pool import Busy, Worker
from foveal.serve.runs import NotFound, compare, list_runs, run_detail, run_file
from foveal.serve.uploads import UploadError, check_length, save_upload

log = logging.getLogger("foveal")
STATIC = Path(__file__).with_name("static")
DRAINED = 256 * 2**20  # a refused body up to this size is read before the 413 (larger ones: the connection closes)
OPEN = ("/healthz", "/", "/static/", "/favicon.ico", "/docs", "/openapi.json")  # no API key asked


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def build_app(models: dict[str, ServedModel], runs: str | Path | None, *, api_key: str | None = None,
              limits: Limits = Limits()) -> FastAPI:
    from foveal import __version__

    app = FastAPI(title="foveal", version=__version__, description="Predictions of foveal models, and their runs.")
    root = Path(runs).resolve() if runs is not None else None
    worker = Worker(lambda key, jobs: run_batch(models, key, jobs), limits.max_queue, limits.max_batch)
    app.state.worker = worker

    @app.middleware("http")
    async def guard(request: Request, call_next):
        path = request.url.path
        if api_key and not (path in OPEN or path.startswith("/static/")) and not hmac.compare_digest(
                request.headers.get("x-api-key", "").encode(), api_key.encode()):
            return error(401, "this server needs its API key in the X-API-Key header")
        if request.method == "POST":
            try:
                check_length(request.headers.get("content-length"), limits.max_bytes)
            except UploadError as err:
                if err.status == 413 and int(request.headers["content-length"]) <= DRAINED:
                    async for _ in request.stream():  # read to the end, so that the client reads the answer
                        pass
                return error(err.status, str(err), {"Connection": "close"})
        try:
            return await call_next(request)
        except Exception:  # never a traceback to the client
            log.exception("serving %s %s", request.method, path)
            return error(500, "the server failed on this request (its log says why)")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{where}: {e.get('msg', 'invalid')}" + (" (the images go in multipart field 'image')"
                                                                 if where == "image" else ""))
        return error(422, "; ".join(parts))

    @app.exception_handler(FovealError)
    async def foveal_error(request: Request, exc: FovealError):
        return error(getattr(exc, "status", 404 if isinstance(exc, NotFound) else 400), str(exc))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> dict[str, Any]:
        return {"ready": True, "models": list(models), "waiting": worker.waiting, "queue_limit": limits.max_queue}

    @app.get("/v1/models")
    def list_models() -> list[dict[str, Any]]:
        return [m.info() for m in models.values()]

    @app.post("/v1/predict")
    async def predict(request: Request, image: list[UploadFile] = File(..., description="one or more images"),
                      model: str | None = None, draw: bool = False):
        """The JSON of `foveal predict --format json` for each image (a list), or with draw=true the one image drawn
        as a PNG. Query options as predict's: conf, iou, classes, max_det (detectors), top_k, tta (classifiers),
        pixel_size (segmenters)."""
        served = pick_model(models, model)
        options = served.parse_options({k: v for k, v in request.query_params.items() if k not in ("model", "draw")})
        if len(image) > limits.max_images:
            raise UploadError(413, f"{len(image)} images in one request; this server takes up to {limits.max_images}")
        if draw and len(image) != 1:
            raise UploadError(400, f"draw=true returns one PNG: send one image; got {len(image)}")
        folder = Path(tempfile.mkdtemp(prefix="foveal-serve-"))
        try:
            names = [up.filename or f"image {i + 1}" for i, up in enumerate(image)]
            saved = [save_upload(await up.read(), n, folder, i, limits.max_pixels) for i, (up, n) in
                     enumerate(zip(image, names))]
            files = [(path, n) for (path, _), n in zip(saved, names)]
            # requests join one batch only with the same model, options and image sizes: a detector pads a batch to
            # its largest image, which would make an answer depend on its neighbours
            key = (served.name, tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items())),
                   draw, tuple(size for _, size in saved))
            try:
                future = worker.submit(key, files)
            except Busy as busy:
                return error(429, str(busy), {"Retry-After": str(busy.retry_after)})
            answer = await asyncio.wrap_future(future)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if draw:
            return Response(answer, media_type="image/png")
        return answer

    def runs_root() -> Path:
        if root is None:
            raise NotFound("this server shows no runs: start it with --runs <folder>")
        return root

    @app.get("/v1/runs")
    def runs_list() -> list[dict[str, Any]]:
        return list_runs(runs_root())

    @app.get("/v1/runs/{name:path}")
    def run_info(name: str) -> dict[str, Any]:
        return run_detail(runs_root(), name)

    @app.get("/v1/compare")
    def runs_compare(run: list[str] = Query(default=[], description="a run's name; two or more")) -> dict[str, Any]:
        return compare(runs_root(), run)

    @app.get("/files/{relative:path}")
    def files(relative: str) -> FileResponse:
        return FileResponse(run_file(runs_root(), relative))

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def pick_model(models: dict[str, ServedModel], name: str | None) -> ServedModel:
    if name is None:
        if len(models) == 1:
            return next(iter(models.values()))
        raise FovealError(f"this server holds {len(models)} models: say which with ?model= ({', '.join(models)})")
    if name not in models:
        raise NotFound(f"no model {name!r}; this server holds {', '.join(models)}")
    return models[name]


def run_batch(models: dict[str, ServedModel], key: Hashable, jobs: list[list[tuple[Path, str]]]) -> list[Any]:
    """One batch of the inference thread: every job's files predicted together; each job gets its JSON (the upload's
    name as the source) or, drawn, its PNG, or the UploadError of a file that could not be decoded."""
    name, options, draw, _ = key  # options: (name, value) pairs, lists as tuples
    served = models[name]
    files = [path for job in jobs for path, _ in job]
    run, images = served.predict(files, {k: list(v) if isinstance(v, tuple) else v for k, v in options}, draw=draw)
    by_source = {r.source: (r, image) for r, image in zip(run.images, images)}
    failed = dict(run.failed)
    out: list[Any] = []
    for job in jobs:
        bad = [(upload, failed[str(path)]) for path, upload in job if str(path) in failed]
        if bad:
            out.append(UploadError(415, "; ".join(f"{u}: cannot be decoded ({why.split(': ', 1)[-1]})"
                                                        for u, why in bad)))
            continue
        if draw:
            result, image = by_source[str(job[0][0])]
            buffer = io.BytesIO()
            result.plot(image).save(buffer, format="PNG")
            out.append(buffer.getvalue())
        else:
            out.append([{**by_source[str(path)][0].to_dict(**run.options), "source": upload} for path, upload in job])
    return out
