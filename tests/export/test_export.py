"""foveal export: ONNX and OpenVINO files of a classifier, fp32 and int8, their card files and parity gates, and
predict / val on the exported files against the checkpoint and against the runtimes called directly."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import foveal
from foveal.cli import main
from foveal.engine.checkpoint import load_model
from foveal.errors import FovealError
from foveal.export import export_checkpoint
from foveal.export.gates import Gate
from foveal.tasks import resolve_task


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    project = tmp_path_factory.mktemp("export")
    m = foveal.Model("lenet")
    m.train(data="digits", epochs=2, seed=0, project=str(project), name="lenet", progress=False)
    return m.run_dir


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory):
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("digit_files")
    d = load_digits()
    for i in range(12):
        Image.fromarray((d.images[-i - 1] * 16).astype(np.uint8)).resize((8 + i, 8)).save(folder / f"{i}.png")
    return folder


def task_of(card):
    return resolve_task(card.task, card.model)


def copy_run(run, tmp_path):
    """The run's folder copied, so that each test exports into its own."""
    return shutil.copytree(run, tmp_path / "run")


def test_onnx_fp32_gates_card_and_direct_onnxruntime(digits_run, tmp_path):
    import onnxruntime as ort

    run = copy_run(digits_run, tmp_path)
    result = export_checkpoint(run / "best.pt", task_of)
    assert result.path == run / "best.onnx" and result.card_file == run / "best.card.json"
    names = [g.name for g in result.gates]
    assert any("batch 1" in n for n in names) and any("batch 8" in n for n in names)
    assert all(g.passed and g.limit is not None for g in result.gates)
    info = json.loads(result.card_file.read_text())
    assert info["export"]["precision"] == "fp32" and len(info["export"]["gates"]) == 4
    assert info["card"]["classes"] == [str(i) for i in range(10)] and info["config"]["data"] == "digits"
    # onnxruntime itself, on inputs the export never saw, at two batch sizes
    model, card, _ = load_model(run / "best.pt")
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    for n in (1, 5):
        x = torch.randn(n, card.in_channels, *card.input_size)
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
        with torch.no_grad():
            want = model(x).numpy()
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("fmt, name", [("onnx", "best.onnx"), ("openvino", "best_openvino.xml")])
def test_predict_and_val_on_the_exported_file_equal_the_checkpoint(digits_run, digit_files, tmp_path, fmt, name):
    run = copy_run(digits_run, tmp_path)
    foveal.Model(run / "best.pt").export(format=fmt)
    want = foveal.Model(run / "best.pt").predict(digit_files)
    got = foveal.Model(run / name).predict(digit_files)
    assert [r.source for r in got] == [r.source for r in want] and len(got) == 12
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-5)
    m = foveal.Model(run / name)
    assert m.task == "classify" and m.name == "lenet"
    metrics = m.val(project=str(tmp_path / "val"))
    reference = foveal.Model(run / "best.pt").val(project=str(tmp_path / "val"))
    assert metrics["accuracy"] == reference["accuracy"]
    assert metrics["log_loss"] == pytest.approx(reference["log_loss"], abs=1e-5)


def test_int8_is_static_qdq_and_its_accuracy_gate_holds_or_refuses(digits_run, digit_files, tmp_path):
    """int8 files hold quantise/dequantise pairs (ONNX Runtime's QDQ; NNCF's FakeQuantize in an OpenVINO IR); each
    export either keeps its accuracy within a point of eager's or is refused in one line by that gate (a two-epoch
    lenet sits near the limit)."""
    import onnx
    import openvino as ov

    run = copy_run(digits_run, tmp_path)
    ir = export_checkpoint(run / "best.pt", task_of, format="openvino", int8=True, check=False)
    assert "FakeQuantize" in {op.get_type_name() for op in ov.Core().read_model(str(ir.path)).get_ops()}
    assert json.loads(ir.card_file.read_text())["export"]["quantiser"] == "nncf"
    unchecked = export_checkpoint(run / "best.pt", task_of, int8=True, check=False)
    ops = {n.op_type for n in onnx.load(str(unchecked.path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # static QDQ, not a float graph
    got = foveal.Model(unchecked.path).predict(digit_files)
    want = foveal.Model(run / "best.pt").predict(digit_files)
    assert np.mean([a.probs.argmax() == b.probs.argmax() for a, b in zip(got, want)]) >= 0.75
    for fmt in ("onnx", "openvino"):
        try:
            result = export_checkpoint(run / "best.pt", task_of, format=fmt, int8=True)
        except FovealError as err:
            assert "failed its parity gate (accuracy" in str(err) and "(<= 1) FAIL" in str(err)
            continue
        accuracy = next(g for g in result.gates if g.name.startswith("accuracy"))
        assert accuracy.limit == 1.0 and accuracy.passed
        assert all(g.limit is None for g in result.gates if g.name.startswith("outputs"))  # reported, not enforced


def test_a_pretrained_photo_classifier_exports_with_its_preprocessing(shared_data, tmp_path):
    """efficientnet_lite0 on photos of many sizes (resize + centre crop on the card): predict on the ONNX file equals
    predict on the checkpoint, file by file."""
    photos = tmp_path / "photos"
    for split, src, n in (("train", "train", 12), ("val", "test", 6)):
        for c in ("airplane", "frog"):
            (photos / split / c).mkdir(parents=True)
            for i, f in enumerate(sorted((shared_data / "cifar10-jpg" / src / c).glob("*.jpg"))[:n]):
                Image.open(f).resize((40 + 3 * i, 32)).save(photos / split / c / f.name)
    m = foveal.Model("efficientnet_lite0")
    m.train(data=str(photos), pretrained=True, finetune="head", img_size=64, epochs=1, batch_size=8, seed=0,
            project=str(tmp_path), name="lite0", progress=False)
    result = m.export(format="onnx")
    assert all(g.passed for g in result.gates)
    files = sorted((photos / "val").rglob("*.jpg"))
    want = foveal.Model(m.checkpoint).predict(files)
    got = foveal.Model(result.path).predict(files)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.probs, b.probs, atol=1e-4)


def test_a_missed_gate_fails_the_export_and_keeps_no_file(digits_run, tmp_path, monkeypatch):
    from foveal.tasks.classify.task import ClassifyTask

    run = copy_run(digits_run, tmp_path)
    monkeypatch.setattr(ClassifyTask, "export_gates", lambda self, want, got, int8: [Gate("accuracy moved", 3.0, 0.2)])
    with pytest.raises(FovealError, match=r"failed its parity gate \(accuracy moved: 3 \(<= 0.2\) FAIL\); no file was kept"):
        export_checkpoint(run / "best.pt", task_of)
    assert not list(run.glob("best.onnx*")) and not list(run.glob("best.card.json")) and not list(run.glob(".*"))


def test_bad_exported_files_end_in_one_line(digits_run, digit_files, tmp_path):
    run = copy_run(digits_run, tmp_path)
    export_checkpoint(run / "best.pt", task_of)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes((run / "best.onnx").read_bytes()[:2000])
    shutil.copy(run / "best.card.json", tmp_path / "truncated.card.json")
    with pytest.raises(FovealError, match="cannot load .*truncated.onnx in onnxruntime"):
        foveal.Model(truncated).predict(digit_files)
    lonely = tmp_path / "lonely.onnx"
    shutil.copy(run / "best.onnx", lonely)
    with pytest.raises(FovealError, match="no card file beside it .*lonely.card.json"):
        foveal.Model(lonely)
    # an ONNX file of another input size under this model's card
    other = foveal.Model("lenet")
    other.train(data="digits", epochs=1, img_size=16, project=str(tmp_path), name="big", progress=False)
    other_onnx = other.export(check=False).path
    mismatched = tmp_path / "mismatched.onnx"
    shutil.copy(other_onnx, mismatched)
    shutil.copy(run / "best.card.json", tmp_path / "mismatched.card.json")
    with pytest.raises(FovealError, match=r"takes input batchx1x16x16|takes input \?x1x16x16"):
        foveal.Model(mismatched).predict(digit_files)
    with pytest.raises(FovealError, match="already exported"):
        export_checkpoint(run / "best.onnx", task_of)
    with pytest.raises(FovealError, match="--format must be one of onnx, openvino; got 'tflite'"):
        export_checkpoint(run / "best.pt", task_of, format="tflite")
    with pytest.raises(FovealError, match=r"a onnx file is named \*.onnx"):
        export_checkpoint(run / "best.pt", task_of, out=tmp_path / "x.xml")
    with pytest.raises(FovealError, match="resume"):
        foveal.Model(run / "best.onnx").train(resume=True)


def test_a_semantic_segmenter_exports_and_predicts_the_same_class_maps(tiny_runs, tiny_shapes, tmp_path):
    """The default segmenter (LR-ASPP) of the tiny shapes run: ONNX fp32 passes its gates, and its class maps on the validation images are
    eager's wherever eager runs in fp32 (eager val may run in bf16 where the CPU has it, so its maps are compared
    at the pixels the fp32 network agrees on: nearly all)."""
    from foveal.data.segmentation.dataset import shapes_semantic
    from foveal.tasks.segment.predict import SegmentPredictor

    run = shutil.copytree(tiny_runs["segment"], tmp_path / "lraspp")
    result = export_checkpoint(run / "best.pt", task_of, format="onnx")
    assert all(g.passed for g in result.gates) and any(g.name.startswith("mIoU") for g in result.gates)
    images = shapes_semantic().val.images
    eager, exported = (SegmentPredictor.from_checkpoint(p) for p in (run / "best.pt", result.path))
    want = [s.class_map for s in eager.segment(images)]
    eager_fp32 = SegmentPredictor(eager.model, eager.card)
    from foveal.tasks.segment.predict import class_maps

    fp32 = class_maps(eager_fp32.model, eager.card, images, torch.device("cpu"), amp="off")
    got = [s.class_map for s in exported.segment(images)]
    assert all(g.shape == w.shape for g, w in zip(got, want))
    same = np.mean([np.mean(g == f.numpy()) for g, f in zip(got, fp32)])
    assert same > 0.999


def test_a_detector_exports_up_to_its_raw_outputs_and_predicts_the_same_boxes(tiny_runs, tiny_shapes, tmp_path):
    """fcos of the tiny shapes run: the ONNX file ends before NMS (its outputs are per-level tensors), passes its
    gates, and its boxes on scenes of other sizes are the checkpoint's: the same boxes in the same order, to 1e-3
    pixels, with the same decoding and NMS (models/split.py)."""
    import onnx

    from foveal.data.detection.dataset import shapes_detection

    run = shutil.copytree(tiny_runs["detect"], tmp_path / "fcos")
    result = export_checkpoint(run / "best.pt", task_of, format="onnx")
    assert all(g.passed for g in result.gates) and any(g.name.startswith("mAP@.5") for g in result.gates)
    graph = onnx.load(str(result.path)).graph
    assert "NonMaxSuppression" not in {n.op_type for n in graph.node} and len(graph.output) == 20  # 5 levels x 4
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    for i, im in enumerate(shapes_detection().val.images):
        Image.fromarray(im.permute(1, 2, 0).numpy()).resize((96 + 12 * i, 96)).save(scenes / f"{i}.png")
    wide = tmp_path / "wide.png"  # alone in its batch: padded to 64 x 96, not the 96 x 96 of the export's example
    Image.fromarray(shapes_detection().val.images[0].permute(1, 2, 0).numpy()).resize((192, 96)).save(wide)
    want, got = ([*foveal.Model(m).predict(scenes, conf=0.05), *foveal.Model(m).predict(wide, conf=0.05)]
                 for m in (run / "best.pt", result.path))
    assert sum(len(d) for d in want) > 20 and got[-1].image_size == (96, 192)
    for w, g in zip(want, got):
        assert len(w) == len(g) and (w.class_id == g.class_id).all()
        np.testing.assert_allclose(g.xyxy, w.xyxy, atol=1e-3)
        np.testing.assert_allclose(g.confidence, w.confidence, atol=1e-5)


def test_cli_export_prints_the_gates(digits_run, tmp_path, capsys):
    run = copy_run(digits_run, tmp_path)
    assert main(["export", "--model", str(run / "best.pt"), "--format", "openvino"]) == 0
    out = capsys.readouterr().out
    assert f"exported {run / 'best_openvino.xml'} (openvino, fp32" in out and out.count("PASS") == 4
    assert (run / "best_openvino.bin").is_file()
    assert main(["export", "--model", str(run / "best.pt"), "--format", "tflite"]) != 0
    assert "--format must be one of onnx, openvino" in capsys.readouterr().err


def test_benchmark_measures_every_format_and_writes_its_table(digits_run, tmp_path, capsys):
    import csv

    run = copy_run(digits_run, tmp_path)
    assert main(["benchmark", "--model", str(run / "best.pt"), "--runs", "10", "--project", str(tmp_path),
                 "--name", "bench"]) == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader((tmp_path / "bench" / "benchmark.csv").open()))
    measured = [(r["format"], r["precision"]) for r in rows]
    assert measured[:2] == [("pytorch", "fp32"), ("onnx", "fp32")] and ("openvino", "fp32") in measured
    for variant in {("onnx", "int8"), ("openvino", "int8")} - set(measured):  # a missed gate is reported, not timed
        assert f"not measured: {variant[0]} {variant[1]}: export of" in out
    reference = json.loads((run / "metrics.json").read_text())["accuracy"]
    assert float(rows[0]["metric"]) == pytest.approx(reference) and float(rows[1]["metric"]) == pytest.approx(reference)
    assert all(float(r["latency_ms"]) > 0 and float(r["throughput"]) > 0 for r in rows)
    assert (tmp_path / "bench" / "benchmark.png").stat().st_size > 10_000
    assert "onnx fp32:" in out and "as fast as eager at batch 1" in out
    assert main(["benchmark", "--model", str(run / "best.pt"), "--runs", "3"]) != 0
    assert "--runs is the batch-1 timings per format, 10 or more; got 3" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["fasterrcnn", "maskrcnn"])
def test_a_two_stage_detector_exports_whole_and_predicts_the_same_objects(tiny_two_stage_runs, tiny_shapes, tmp_path, name):
    """Faster R-CNN and Mask R-CNN export whole (NMS inside, one image per call) to ONNX and OpenVINO, pass their
    gates, and predict the checkpoint's boxes (and masks) on scenes of other sizes, including ones with no object
    found: OpenVINO's answer to an NMS of no boxes is kept from inventing one (models/split.never_empty_nms). The
    untrained tiny Mask R-CNN finds boxes under a pixel wide at the image's edge, whose masks OpenVINO pastes
    otherwise than torchvision: they are left out of the mask comparison, as in the gates."""
    import onnx

    from foveal.data.detection.dataset import shapes_detection

    run = shutil.copytree(tiny_two_stage_runs[name], tmp_path / name)
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    for i, im in enumerate(shapes_detection().val.images):
        Image.fromarray(im.permute(1, 2, 0).numpy()).resize((96 + 12 * i, 96)).save(scenes / f"{i}.png")
    Image.new("RGB", (80, 64), (128, 128, 128)).save(scenes / "blank.png")
    # the tiny model's scores are low, and how low depends on the CPU's float kernels: on an AVX2-only EPYC Zen 3 the
    # Faster R-CNN finds nothing at 0.01 on these scenes, and then the comparison keeps everything down to 0.001
    conf = 0.01
    want = foveal.Model(run / "best.pt").predict(scenes, conf=conf)
    if not any(len(d) for d in want):
        conf = 0.001
        want = foveal.Model(run / "best.pt").predict(scenes, conf=conf)
    assert sum(len(d) for d in want) > 0 and any(len(d) == 0 for d in want)
    for fmt in ("onnx", "openvino"):
        result = export_checkpoint(run / "best.pt", task_of, format=fmt)
        assert all(g.passed for g in result.gates)
        assert sum(g.name.startswith(("mAP@.5", "mask mAP@.5")) for g in result.gates) == (2 if name == "maskrcnn" else 1)
        got = foveal.Model(result.path).predict(scenes, conf=conf)
        for w, g in zip(want, got):
            assert len(w) == len(g) and (w.class_id == g.class_id).all()
            np.testing.assert_allclose(g.xyxy, w.xyxy, atol=1e-2)
            np.testing.assert_allclose(g.confidence, w.confidence, atol=1e-4)
            if name == "maskrcnn":  # the masks of boxes a pixel wide and high or more (export.gates.tensor_gates)
                sized = ((w.xyxy[:, 2:] - w.xyxy[:, :2]) >= 1).all(1)
                assert g.mask.shape == w.mask.shape
                assert (g.mask[sized] != w.mask[sized]).sum() <= 1e-3 * max(g.mask[sized].size, 1)
    graph = onnx.load(str(run / "best.onnx")).graph
    inside = {m.op_type for n in graph.node for a in n.attribute for m in a.g.node}  # the branches of its If nodes
    assert "NonMaxSuppression" in inside and "RoiAlign" in {n.op_type for n in graph.node}
    assert [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim[:2]] == [1, 3]
