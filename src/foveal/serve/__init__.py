"""`foveal serve`: models behind an HTTP API (FastAPI on uvicorn) and a web page for predictions and runs.

`models.py` loads each model once and answers as `foveal predict --format json`; `pool.py` is the bounded queue and
the one inference thread that batches waiting requests; `uploads.py` checks what is uploaded; `runs.py` reads the run
folders under --runs; `app.py` makes the routes; `static/` is the page (plain HTML and JavaScript, offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from foveal.serve.limits import Limits

__all__ = ["Limits", "create_app", "serve"]


def create_app(models: Sequence[str], runs: str | Path | None = None, *, api_key: str | None = None,
               limits: Limits | None = None, device: str = "cpu"):
    """The FastAPI app serving `models` (checkpoints, run folders or exported files, each `path` or `name=path`) and
    the run folders under `runs`."""
    from foveal.serve.app import build_app
    from foveal.serve.models import load_models

    return build_app(load_models(models, device=device), runs, api_key=api_key, limits=limits or Limits())


def serve(models: Sequence[str], runs: str | Path | None = None, *, host: str = "127.0.0.1", port: int = 8000,
          api_key: str | None = None, limits: Limits | None = None, device: str = "cpu") -> None:
    """Run the app with uvicorn until interrupted."""
    import uvicorn

    app = create_app(models, runs, api_key=api_key, limits=limits, device=device)
    uvicorn.run(app, host=host, port=port, log_level="warning")
