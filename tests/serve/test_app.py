"""The HTTP API through FastAPI's TestClient: answers equal to `foveal predict --format json`, every bad request a
4xx with one line of JSON, the API key, the runs browser's files kept under --runs, and the queue's 429."""

import io
import json
import threading

import pytest
from fastapi.testclient import TestClient
from PIL import Image

import foveal
from foveal.serve import Limits, create_app


def post(client, files, query="", field="image"):
    parts = [(field, (p.name, p.read_bytes(), "application/octet-stream")) for p in files]
    return client.post(f"/v1/predict{query}", files=parts)


def close(a, b, tol=1e-5) -> bool:
    """The same JSON but for floats within `tol` (a batch of other size may differ in the last bits)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(close(a[k], b[k], tol) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= tol
    return a == b


def predicted(model, files, **options):
    """`foveal predict --format json`'s list for these files, with each source as the server names it."""
    run = foveal.Model(model).predict_run([str(p) for p in files], **options)
    return [{**d, "source": f.name} for d, f in zip(run.to_json(), files)]


@pytest.fixture(scope="module")
def client(served_runs):
    app = create_app([f"digits={served_runs['digits']}", f"digits_onnx={served_runs['digits_onnx']}",
                      f"det={served_runs['detect']}", f"seg={served_runs['segment']}"], runs=served_runs["root"],
                     limits=Limits(max_bytes=2 * 2**20, max_pixels=4_000_000, max_images=8))
    with TestClient(app) as c:
        yield c


def test_models_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["models"] == ["digits", "digits_onnx", "det", "seg"]
    models = {m["name"]: m for m in client.get("/v1/models").json()}
    assert models["digits"]["task"] == "classify" and models["digits"]["format"] == "pytorch"
    assert models["digits_onnx"]["format"] == "onnx" and models["digits"]["classes"] == [str(i) for i in range(10)]
    assert set(models["det"]["options"]) == {"conf", "iou", "classes", "max_det", "agnostic_nms"}
    assert models["seg"]["task"] == "segment" and "pixel_size" in models["seg"]["options"]
    assert "/v1/predict" in client.get("/openapi.json").json()["paths"]


def test_classifier_answers_as_predict_json(client, served_runs, digit_files):
    r = post(client, digit_files, "?model=digits&top_k=2")
    assert r.status_code == 200
    assert r.json() == predicted(served_runs["digits"], digit_files, top_k=2)
    onnx = post(client, digit_files[:2], "?model=digits_onnx")
    assert onnx.json() == predicted(served_runs["digits_onnx"], digit_files[:2])


def test_detector_and_segmenter_answer_as_predict_json(client, served_runs, scene_files):
    r = post(client, scene_files, "?model=det&conf=0.05&max_det=20")
    assert r.status_code == 200
    assert r.json() == predicted(served_runs["detect"], scene_files, conf=0.05, max_det=20)
    assert any(d["objects"] for d in r.json())  # the comparison covers boxes
    seg = post(client, scene_files[:1], "?model=seg&pixel_size=0.5")
    assert seg.json() == predicted(served_runs["segment"], scene_files[:1], pixel_size=0.5)


def test_draw_returns_the_picture_of_predict_save(client, served_runs, scene_files):
    r = post(client, scene_files[:1], "?model=det&conf=0.05&draw=true")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    drawn = foveal.Model(served_runs["detect"]).predict(str(scene_files[0]), conf=0.05)[0].plot()
    assert Image.open(io.BytesIO(r.content)).convert("RGB").tobytes() == drawn.convert("RGB").tobytes()
    assert post(client, scene_files, "?model=det&draw=true").status_code == 400  # one PNG, one image


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(client, served_runs, digit_files):
    worker = client.app.state.worker
    before = (worker.batches, worker.jobs)
    answers = [None] * len(digit_files)

    def one(i):
        answers[i] = post(client, [digit_files[i]], "?model=digits").json()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(digit_files))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert close([a[0] for a in answers], predicted(served_runs["digits"], digit_files))
    assert worker.jobs - before[1] == len(digit_files) and worker.batches - before[0] <= len(digit_files)


def bomb() -> bytes:
    """A 6000x6000 PNG of one colour: a few kilobytes that decode to 36 megapixels."""
    buffer = io.BytesIO()
    Image.new("1", (6000, 6000)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("name, data, status, says", [
    ("empty.jpg", b"", 400, "empty file"),
    ("notes.jpg", b"this is text, not a picture", 415, "not an image"),
    ("bomb.png", None, 413, "megapixels"),
    ("huge.jpg", b"\xff" * (3 * 2**20), 413, "MB"),
])
def test_bad_uploads_get_a_4xx_with_one_line(client, name, data, status, says):
    r = client.post("/v1/predict?model=digits", files={"image": (name, bomb() if data is None else data)})
    assert r.status_code == status and says in r.json()["error"]
    assert "\n" not in r.json()["error"] and "Traceback" not in r.text
    assert client.get("/healthz").status_code == 200


def test_a_truncated_image_is_refused_by_decoding(client, digit_files, tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.effect_noise((256, 256), 60).convert("RGB").save(photo, quality=90)
    cut = photo.read_bytes()[: photo.stat().st_size // 2]
    r = client.post("/v1/predict?model=digits", files={"image": ("cut.jpg", cut)})
    assert r.status_code == 415 and "cut.jpg: cannot be decoded" in r.json()["error"]
    ok = post(client, digit_files[:1], "?model=digits")  # the next request is answered
    assert ok.status_code == 200


@pytest.mark.parametrize("query, field, status, says", [
    ("?model=digits", "file", 422, "multipart field 'image'"),
    ("?model=digits&conf=0.5", "image", 400, "conf: not an option of digits"),
    ("?model=det&conf=high", "image", 400, "conf: expected a number"),
    ("?model=det&classes=zebra", "image", 400, "not a class of this model"),
    ("?model=nope", "image", 404, "no model 'nope'"),
    ("", "image", 400, "say which with ?model="),
])
def test_bad_requests_say_what_was_expected(client, digit_files, query, field, status, says):
    r = post(client, digit_files[:1], query, field=field)
    assert r.status_code == status and says in r.json()["error"], r.text


def test_a_fault_in_the_model_is_a_500_without_traceback_and_the_server_stays_up(served_runs, digit_files, monkeypatch):
    app = create_app([str(served_runs["digits"])])
    import foveal.serve.models as models

    def broken(self, *a, **k):
        raise RuntimeError("a secret path /home/x in a traceback")

    monkeypatch.setattr(models.ServedModel, "predict", broken)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = post(c, digit_files[:1])
        assert r.status_code == 500 and "secret" not in r.text and r.json()["error"]
        assert c.get("/healthz").json() == {"status": "ok"}


def test_a_full_queue_answers_429_with_retry_after(served_runs, digit_files):
    app = create_app([str(served_runs["digits"])], limits=Limits(max_queue=1))
    worker, gate = app.state.worker, threading.Event()
    run = worker.run
    worker.run = lambda key, jobs: (gate.wait(30), run(key, jobs))[1]
    with TestClient(app) as c:
        waiting = [threading.Thread(target=post, args=(c, digit_files[:1])) for _ in range(2)]
        for t in waiting:  # one runs (held at the gate), one waits in the queue
            t.start()
        for _ in range(100):
            if worker.waiting == 1:
                break
            threading.Event().wait(0.05)
        r = post(c, digit_files[:1])
        gate.set()
        for t in waiting:
            t.join()
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 and "busy" in r.json()["error"]


def test_the_api_key_guards_all_but_health(served_runs, digit_files):
    with TestClient(create_app([str(served_runs["digits"])], api_key="s3cret")) as c:
        assert c.get("/healthz").status_code == 200 and c.get("/").status_code == 200
        assert c.get("/v1/models").status_code == 401 and "X-API-Key" in c.get("/v1/models").json()["error"]
        assert post(c, digit_files[:1]).status_code == 401
        assert c.get("/v1/models", headers={"X-API-Key": "s3cret"}).status_code == 200


def test_the_runs_browser_serves_runs_and_nothing_outside(client, served_runs):
    runs = {r["name"]: r for r in client.get("/v1/runs").json()}
    assert {"digits", "digits_short"} <= set(runs) and runs["digits"]["metric"] == "accuracy"
    detail = client.get("/v1/runs/digits").json()
    saved = json.loads((served_runs["digits"] / "metrics.json").read_text())
    assert detail["metrics"]["accuracy"] == saved["accuracy"] and "digits/curves.png" in detail["pictures"]
    picture = client.get("/files/digits/curves.png")
    assert picture.status_code == 200 and picture.content == (served_runs["digits"] / "curves.png").read_bytes()
    for bad in ("../digits/metrics.json", "%2e%2e/%2e%2e/etc/passwd", "digits/../../x", "/etc/passwd"):
        assert client.get(f"/files/{bad}").status_code == 404
    (served_runs["root"] / "outside").symlink_to("/etc", target_is_directory=True)
    assert client.get("/files/outside/passwd").status_code == 404
    compared = client.get("/v1/compare?run=digits&run=digits_short").json()
    assert [r["name"] for r in compared["rows"]] == ["digits", "digits_short"] and "accuracy" in compared["columns"]
    assert client.get("/v1/runs/nope").status_code == 404
