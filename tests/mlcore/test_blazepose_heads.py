"""Keypoint heads on BlazePose's backbone: cached-feature training, a custom point, model directory, ONNX parity."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlcore import coco
from mlcore.blazepose.files import BlazePoseUnavailable, blazepose_files
from mlcore.skeletons import COCO17, COCO17_SPINE


@pytest.fixture(scope="module")
def bp_net():
    try:
        blazepose_files()
    except BlazePoseUnavailable as exc:
        pytest.skip(f"BlazePose files not found: {exc}")
    from mlcore.blazepose.predictor import BlazePosePredictor

    return BlazePosePredictor()


def _four_frames(root) -> dict:
    data = coco.load_coco(root / "annotations" / "correct_n2_3_7_100.json")
    by_clip: dict[str, list[int]] = {}
    for a in data["annotations"]:
        img = next(i for i in data["images"] if i["id"] == a["image_id"])
        by_clip.setdefault(coco.clip_id(img), []).append(a["image_id"])
    ids = [v[0] for v in list(by_clip.values())[:2]] + [v[-1] for v in list(by_clip.values())[:2]]
    return coco.subset(data, ids)


@pytest.fixture(scope="module")
def cached(bp_net, dataset):
    """4 real frames (2 clips) with a custom point (mid-wrists, no BlazePose counterpart), cropped twice each."""
    from mlcore.blazepose.crops import build_cache
    from mlcore.blazepose.head_config import HeadTrainConfig
    from mlcore.training.keypoints import load_samples

    skeleton = COCO17.with_keypoints(["bar_centre"], [0.079])
    samples = load_samples(_four_frames(dataset), dataset / "images", skeleton)
    lw, rw = COCO17.index("left_wrist"), COCO17.index("right_wrist")
    both = (samples.keypoints[:, lw, 2] > 0) & (samples.keypoints[:, rw, 2] > 0)
    samples.keypoints[:, 17, :2] = (samples.keypoints[:, lw, :2] + samples.keypoints[:, rw, :2]) / 2
    samples.keypoints[:, 17, 2] = np.where(both, 2, 0)
    cfg = HeadTrainConfig(variants=1, epochs=3, batch_size=4, lr=5e-3, patience=10, hidden=8)
    return build_cache(samples, skeleton, bp_net, cfg), samples, skeleton, cfg


def test_named_points_start_from_blazepose_and_custom_points_from_zero(bp_net):
    from mlcore.blazepose.heads import landmark_index
    from mlcore.blazepose.training import new_heads

    skeleton = COCO17_SPINE
    src = landmark_index(skeleton)
    assert src[:17].tolist() == [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
    assert (src[17:] == -1).all()
    heads = new_heads(skeleton, bp_net.net, hidden=8)
    conv = bp_net.net.graph.convs["233"]
    assert np.allclose(heads.base.weight[5].detach().numpy(), conv.weight[11].detach().numpy())
    assert float(heads.base.weight[17:].detach().abs().sum()) == 0.0


def test_mirrored_heads_start_each_left_right_point_from_its_twins_channel(bp_net):
    from mlcore.blazepose.heads import landmark_index
    from mlcore.blazepose.training import new_heads

    src = landmark_index(COCO17, mirrored=True)
    assert src.tolist() == [0, 5, 2, 8, 7, 12, 11, 14, 13, 16, 15, 24, 23, 26, 25, 28, 27]
    heads = new_heads(COCO17, bp_net.net, hidden=8, mirrored=True)
    conv = bp_net.net.graph.convs["233"]
    left_shoulder = COCO17.index("left_shoulder")
    assert np.allclose(heads.base.weight[left_shoulder].detach().numpy(), conv.weight[12].detach().numpy())


def test_the_side_convention_is_read_from_blazeposes_landmarks_against_the_labels():
    from types import SimpleNamespace

    from mlcore.blazepose.heads import landmark_index
    from mlcore.blazepose.training import side_convention

    rng = np.random.default_rng(0)
    n = 6
    landmarks = np.zeros((n, 39, 5))
    landmarks[:, :33, :2] = rng.uniform(20, 200, size=(n, 33, 2))
    cache = SimpleNamespace(sample=np.arange(n), landmarks=landmarks)
    index = landmark_index(COCO17)
    as_named = np.concatenate([landmarks[:, index, :2], np.full((n, 17, 1), 2.0)], axis=2)
    for labels, mirrored in ((as_named, False), (as_named[:, COCO17.flip_index], True)):
        samples = SimpleNamespace(keypoints=labels + rng.normal(0, 1, labels.shape) * [1, 1, 0],
                                  areas=np.full(n, 150.0 * 150.0))
        got = side_convention(cache, np.arange(n), samples, COCO17)
        assert got["mirrored"] is mirrored and got["frames"] == n
        better, worse = ((got["blazepose_mirrored_mean_oks"], got["blazepose_as_named_mean_oks"]) if mirrored
                         else (got["blazepose_as_named_mean_oks"], got["blazepose_mirrored_mean_oks"]))
        assert better > 0.9 > worse


def test_a_tiny_fine_tune_lowers_the_loss_and_learns_the_custom_point(cached, bp_net):
    import torch

    from mlcore.blazepose.heads import gaussian_targets, heatmap_loss
    from mlcore.blazepose.training import new_heads, train_heads

    cache, samples, skeleton, cfg = cached
    assert cache.features.shape[1:] == (48, 64, 64) and cache.points.shape[1:] == (18, 3)
    rows = cache.rows(np.arange(4))
    target, weight = gaussian_targets(cache.points[rows], cfg.sigma)
    x = torch.from_numpy(cache.features[rows].astype(np.float32))

    def loss(h, k=slice(None)):
        with torch.no_grad():
            return float(heatmap_loss(h(x)[:, k], torch.from_numpy(target[:, k]), torch.from_numpy(weight[:, k])))

    start = new_heads(skeleton, bp_net.net, cfg.hidden)
    heads, history, _ = train_heads(cache, samples, np.arange(4), None, skeleton, bp_net.net, cfg)
    assert len(history) == cfg.epochs
    assert loss(heads) < loss(start)
    assert loss(heads, slice(17, 18)) < loss(start, slice(17, 18))   # the point BlazePose does not have


def test_early_stopping_keeps_the_start_when_no_epoch_beats_it(cached, bp_net):
    from mlcore.blazepose.head_config import HeadTrainConfig
    from mlcore.blazepose.training import train_heads

    cache, samples, skeleton, _ = cached
    cfg = HeadTrainConfig(epochs=1, lr=0.0, batch_size=4, variants=1, patience=1)
    _, history, stopper = train_heads(cache, samples, np.arange(2), np.arange(2, 4), skeleton, bp_net.net, cfg)
    assert history[0]["epoch"] == -1 and "val_mean_oks" in history[0]
    assert stopper.best_epoch == -1          # lr 0: nothing changes, the start is kept


def test_the_weight_average_is_an_exponential_moving_average_of_the_updates():
    import torch

    from mlcore.blazepose.training import averaged_module, weight_average

    model = torch.nn.Linear(2, 1, bias=False)
    assert weight_average(model, 0.5) is model            # under one step: no averaging
    avg = weight_average(model, 2.0)                      # decay 1 - 1/2
    for value in (4.0, 8.0, 0.0):
        with torch.no_grad():
            model.weight.fill_(value)
        avg.update_parameters(model)
    # first update copies (4), then 0.5 * 4 + 0.5 * 8 = 6, then 0.5 * 6 + 0.5 * 0 = 3
    assert torch.allclose(averaged_module(avg).weight, torch.full((1, 2), 3.0))
    assert torch.allclose(model.weight, torch.zeros(1, 2))


def test_a_training_with_weight_averaging_keeps_the_average_not_the_last_weights(cached, bp_net):
    from mlcore.blazepose.head_config import HeadTrainConfig
    from mlcore.blazepose.training import train_heads

    cache, samples, skeleton, _ = cached
    plain_cfg = HeadTrainConfig(epochs=2, batch_size=2, variants=1, hidden=8, seed=3)
    ema_cfg = HeadTrainConfig(**{**plain_cfg.to_dict(), "scale": plain_cfg.scale, "ema_epochs": 1.0})
    plain, plain_history, _ = train_heads(cache, samples, np.arange(4), None, skeleton, bp_net.net, plain_cfg)
    ema, ema_history, _ = train_heads(cache, samples, np.arange(4), None, skeleton, bp_net.net, ema_cfg)
    # Same seed, same batches: the trained weights follow the same path, so the losses match ...
    assert [h["loss"] for h in ema_history] == pytest.approx([h["loss"] for h in plain_history], rel=1e-5)
    # ... but the kept weights are their average, which lags behind the last ones.
    diffs = [float((a - b).abs().max()) for a, b in zip(ema.state_dict().values(), plain.state_dict().values(),
                                                          strict=True)]
    assert max(diffs) > 1e-6


def _tiny_heads_model(dataset, out, skeleton=None):
    """(model directory, report, COCO dict): one epoch of tiny heads on four real frames of two clips."""
    from mlcore.blazepose.head_config import HeadTrainConfig
    from mlcore.training.keypoints import KeypointTrainConfig, train_keypoints

    data = _four_frames(dataset)
    cfg = KeypointTrainConfig(backbone="blazepose",
                              head=HeadTrainConfig(epochs=1, variants=0, batch_size=4, hidden=8, inner_val_folds=2,
                                                   temporal_smoothing=True, members=1))
    report = train_keypoints(data, dataset / "images", out, skeleton=skeleton, config=cfg)
    return out, report, data


@pytest.fixture(scope="module")
def model_dir(bp_net, dataset, tmp_path_factory):
    return _tiny_heads_model(dataset, tmp_path_factory.mktemp("heads_model"))


def test_training_writes_a_model_directory_with_the_usual_report(model_dir):
    out, report, _ = model_dir
    for name in ("model.json", "model.pt", "model.onnx", "history.json"):
        assert (out / name).is_file()
    meta = json.loads((out / "model.json").read_text())
    assert meta["kind"] == "keypoints" and meta["backbone"] == "blazepose"
    assert meta["config"]["backbone"] == "blazepose" and meta["config"]["head"]["hidden"] == 8
    assert {"train_frames", "epochs_run", "onnx_max_abs_diff", "train", "val", "side_convention"} <= set(report)
    assert report["side_convention"]["heads_start_mirrored"] is report["side_convention"]["mirrored"]
    assert 0.0 <= report["train"]["mean_oks"] <= 1.0


def test_the_saved_model_loads_as_a_predictor_and_predicts_the_right_shapes(model_dir, dataset):
    from mlcore.images import load_rgb
    from mlcore.predictors import load_predictor

    out, _, data = model_dir
    pred = load_predictor(out)
    assert pred.skeleton.num_keypoints == 17
    ann = data["annotations"][0]
    img = next(i for i in data["images"] if i["id"] == ann["image_id"])
    image = load_rgb(coco.ImageIndex(dataset / "images").find(img["file_name"]))
    found = pred.predict(image, np.asarray([ann["bbox"]]), flip_test=True)
    assert len(found) == 1
    inst = found[0]
    assert inst.keypoints.shape == (17, 3) and inst.extra["flip_keypoints"].shape == (17, 3)
    assert ((inst.keypoints[:, 2] >= 0) & (inst.keypoints[:, 2] <= 1)).all()
    x, y, w, h = ann["bbox"]
    inside = (inst.keypoints[:, 0] > x - w) & (inst.keypoints[:, 0] < x + 2 * w)
    assert inside.all()
    whole = pred.predict(image)
    assert len(whole) <= 1 and all(i.keypoints.shape == (17, 3) for i in whole)


def _with_meta(out, tmp_path, name: str, **changes):
    """A copy of the model directory ``out`` whose model.json has ``changes``."""
    import shutil

    copy = tmp_path / name
    shutil.copytree(out, copy)
    meta = json.loads((copy / "model.json").read_text())
    (copy / "model.json").write_text(json.dumps({**meta, **changes}))
    return copy


def _frame_and_box(data, dataset, index: int = 0):
    from mlcore.images import load_rgb

    ann = data["annotations"][index]
    img = next(i for i in data["images"] if i["id"] == ann["image_id"])
    return load_rgb(coco.ImageIndex(dataset / "images").find(img["file_name"])), np.asarray([ann["bbox"]])


def test_a_flip_average_model_answers_the_mean_of_the_plain_and_the_mirrored_pass(model_dir, dataset, tmp_path):
    from mlcore.predictors import load_predictor

    out, _, data = model_dir
    meta = json.loads((out / "model.json").read_text())
    assert meta["flip_average"] is False or meta["flip_average"] is True
    image, box = _frame_and_box(data, dataset)
    # a model written before the test-time rules says only flip_average
    averaged_dir = _with_meta(out, tmp_path, "averaged", flip_average=True, test_views=None)
    plain_dir = _with_meta(out, tmp_path, "plain", flip_average=False, test_views="plain")
    plain = load_predictor(plain_dir).predict(image, box, flip_test=True)[0]
    averaged = load_predictor(averaged_dir).predict(image, box, flip_test=False)[0]
    np.testing.assert_allclose(averaged.keypoints, (plain.keypoints + plain.extra["flip_keypoints"]) / 2,
                               atol=1e-6)
    assert "flip_keypoints" not in averaged.extra
    assert not np.allclose(averaged.keypoints[:, :2], plain.keypoints[:, :2])


@pytest.mark.parametrize("rule", ["flip_maps", "zoom", "zoom_flip_maps"])
def test_a_model_reading_views_on_the_heatmaps_answers_its_rule_on_the_cache_paths_views(model_dir, dataset,
                                                                                         tmp_path, rule):
    """The predictor's views are the crops the training's choice scored (``crops.view_features``), combined
    by ``test_views.rule_keypoints``."""
    from types import SimpleNamespace

    import torch

    from mlcore.blazepose.crops import view_features
    from mlcore.blazepose.roi import roi_matrix
    from mlcore.blazepose.test_views import RULES, VIEWS, rule_keypoints, view_keypoints
    from mlcore.predictors import load_predictor

    out, _, data = model_dir
    image, box = _frame_and_box(data, dataset, 1)
    pred = load_predictor(_with_meta(out, tmp_path, rule, test_views=rule))
    inst = pred.predict(image, box, flip_test=True)[0]
    m = roi_matrix(inst.extra["roi"], 256)[None]
    cache = SimpleNamespace(sample=np.array([0]), matrices=m, features=np.zeros((0, 48, 64, 64), np.float16))
    with torch.no_grad():
        logits = {v: pred.heatmap_model(torch.from_numpy(view_features(pred.net, cache, np.array([0]), [image],
                                                                       VIEWS[v], dtype=np.float32)))
                  for v in (*RULES[rule], "mirror")}
    want = rule_keypoints(rule, logits, m, pred.heads_skeleton.flip_index, pred.window)[0]
    np.testing.assert_allclose(inst.keypoints[:, :2], want[:, :2], atol=1e-3)
    np.testing.assert_allclose(inst.keypoints[:, 2], want[:, 2], atol=1e-4)
    flipped = view_keypoints("mirror", logits["mirror"], m, pred.heads_skeleton.flip_index, pred.window)[0]
    np.testing.assert_allclose(inst.extra["flip_keypoints"][:, :2], flipped[:, :2], atol=1e-3)
    plain = load_predictor(_with_meta(out, tmp_path, "plain", test_views="plain")).predict(image, box)[0]
    assert np.abs(inst.keypoints[:, :2] - plain.keypoints[:, :2]).max() > 0.1   # the views change the answer


def test_training_chooses_how_to_read_each_crop_on_its_held_out_clips_and_writes_the_choice(model_dir):
    from mlcore.blazepose.test_views import RULES

    out, report, _ = model_dir
    choice = report["test_views_choice"]
    assert choice["frames"] == report["val"]["n"] > 0 and set(choice["mean_oks"]) == set(RULES)
    assert choice["mean_oks"]["plain"] == round(report["val"]["mean_oks"], 4)
    best = max(RULES, key=lambda r: (choice["mean_oks"][r], -list(RULES).index(r)))
    assert choice["test_views"] == report["test_views"] == best
    flip = report["flip_test"]
    assert flip["flip_average"] == (flip["averaged_mean_oks"] > flip["plain_mean_oks"])
    meta = json.loads((out / "model.json").read_text())
    assert meta["test_views"] == best and meta["config"]["head"]["test_views"] is None
    assert meta["flip_average"] is ("mirror" in RULES[best]) and meta["config"]["head"]["flip_average"] is None


def test_training_chooses_each_points_smoothing_radius_on_its_held_out_clips(model_dir):
    from mlcore.predictors import load_predictor

    out, report, _ = model_dir
    choice = report["temporal_smoothing"]
    assert list(choice["radius"]) == list(COCO17.keypoints) and choice["frames"] == report["val"]["n"]
    for name, radius in choice["radius"].items():   # the best mean OKS term on the held-out frames, ties to 0
        k = COCO17.index(name)
        terms = {r: v[k] for r, v in choice["mean_oks_term"].items() if v[k] is not None}
        assert radius == 0 if not terms else terms[str(radius)] == max(terms.values())
    meta = json.loads((out / "model.json").read_text())
    assert meta["smoothing_radius"] == choice["radius"]
    pred = load_predictor(out)
    assert pred.smoothing_radius.tolist() == [choice["radius"][n] for n in pred.skeleton.keypoints]


def test_the_training_flip_pass_is_the_predictors_mirrored_pass(model_dir, dataset):
    from types import SimpleNamespace

    from mlcore.blazepose.crops import mirrored_features
    from mlcore.blazepose.flip_test import flip_rows
    from mlcore.blazepose.roi import roi_matrix
    from mlcore.images import load_rgb
    from mlcore.predictors import load_predictor

    out, _, data = model_dir
    pred = load_predictor(out)
    ann = data["annotations"][1]
    img = next(i for i in data["images"] if i["id"] == ann["image_id"])
    image = load_rgb(coco.ImageIndex(dataset / "images").find(img["file_name"]))
    inst = pred.predict(image, np.asarray([ann["bbox"]]), flip_test=True)[0]
    m = roi_matrix(inst.extra["roi"], 256)[None]
    cache = SimpleNamespace(sample=np.array([0]), matrices=m, features=np.zeros((0, 48, 64, 64), np.float16))
    features = mirrored_features(pred.net, cache, np.array([0]), [image], dtype=np.float32)
    got = flip_rows(pred.heads, features, m, pred.heads_skeleton.flip_index, pred.window)[0]
    # The predictor mirrors the frame and its ROI, the cache path mirrors the crop: the same pixels. (In
    # the cache's float16 a flat heatmap's peak can move a cell.)
    np.testing.assert_allclose(got[:, :2], inst.extra["flip_keypoints"][:, :2], atol=0.01)
    assert np.abs(got[:, :2] - inst.keypoints[:, :2]).max() > 0.5   # it is not the plain pass


def test_onnx_matches_torch_on_a_real_crop(model_dir, dataset, bp_net):
    import onnxruntime as ort
    import torch

    from mlcore.blazepose.finetuned import BlazePoseHeadsPredictor
    from mlcore.blazepose.heads import PoseNetWithHeads, decode_heatmaps
    from mlcore.blazepose.roi import crop_roi, roi_from_box
    from mlcore.images import load_rgb

    out, report, data = model_dir
    pred = BlazePoseHeadsPredictor(out)
    ann = data["annotations"][0]
    img = next(i for i in data["images"] if i["id"] == ann["image_id"])
    image = load_rgb(coco.ImageIndex(dataset / "images").find(img["file_name"]))
    crop, _ = crop_roi(image, roi_from_box(np.asarray(ann["bbox"])))
    x = np.ascontiguousarray(crop.transpose(2, 0, 1))[None]
    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape == [1, 3, 256, 256]
    got = sess.run(None, {"input": x})
    with torch.no_grad():
        want = [t.numpy() for t in PoseNetWithHeads(pred.net, pred.heads).eval()(torch.from_numpy(x))]
    for a, b in zip(got, want, strict=True):
        assert a.shape == b.shape
        assert np.abs(a - b).max() <= 1e-4 * max(1.0, float(np.abs(b).max()))
    assert np.abs(decode_heatmaps(got[0])[..., :2] - decode_heatmaps(want[0])[..., :2]).max() < 0.01
    assert report["onnx_max_abs_diff"] < 1e-2


def test_auto_backbone_falls_back_to_scratch_without_the_files(monkeypatch):
    import mlcore.blazepose.files as files
    from mlcore.training.keypoints import resolve_backbone

    def missing(*args, **kwargs):
        raise BlazePoseUnavailable("not here")

    monkeypatch.setattr(files, "blazepose_files", missing)
    assert resolve_backbone("auto") == "scratch"
    assert resolve_backbone("blazepose") == "blazepose"
    with pytest.raises(ValueError):
        resolve_backbone("resnet")


def test_cli_passes_the_backbone_and_head_settings_to_training(monkeypatch, tmp_path):
    import mlcore.training.keypoints as kp
    from mlcore.cli import main

    seen = {}

    def fake_train(train, images, out, val=None, skeleton=None, config=None, **kwargs):
        seen["config"] = config
        return {"ok": True}

    monkeypatch.setattr(kp, "train_keypoints", fake_train)
    coco_file = tmp_path / "train.json"
    coco_file.write_text(json.dumps({"images": [], "annotations": [], "categories": [COCO17.coco_category()]}))
    args = ["train", "keypoints", "--coco", str(coco_file), "--images", str(tmp_path), "--out", str(tmp_path / "m")]
    assert main([*args, "--backbone", "blazepose", "--epochs", "7", "--patience", "5"]) == 0
    cfg = seen["config"]
    assert cfg.backbone == "blazepose" and cfg.head.epochs == 7 and cfg.head.patience == 5
    assert cfg.head.flip_average is None and cfg.head.temporal_smoothing is False   # the defaults
    assert main([*args, "--backbone", "blazepose", "--flip-average", "off", "--temporal-smoothing"]) == 0
    assert seen["config"].head.flip_average is False and seen["config"].head.temporal_smoothing is True
    assert seen["config"].head.test_views is None                              # choose, unless forced
    assert main([*args, "--backbone", "blazepose", "--test-views", "flip_maps"]) == 0
    assert seen["config"].head.test_views == "flip_maps"
    assert main([*args, "--backbone", "blazepose", "--test-views", "plain,flip_maps"]) == 0
    assert seen["config"].head.test_views == ["plain", "flip_maps"]
    with pytest.raises(SystemExit, match="zoom3"):
        main([*args, "--backbone", "blazepose", "--test-views", "plain,zoom3"])
    default_ema = seen["config"].head.ema_epochs
    assert main([*args, "--backbone", "blazepose", "--ema-epochs", "2.5"]) == 0
    assert seen["config"].head.ema_epochs == 2.5 != default_ema
    assert seen["config"].head.members == 3                                    # the default
    assert main([*args, "--backbone", "blazepose", "--members", "1"]) == 0 and seen["config"].head.members == 1
    assert main([*args, "--backbone", "scratch"]) == 0 and seen["config"].backbone == "scratch"
    # Without --backbone: BlazePose wherever its files are found, else the from-scratch network.
    assert main(args) == 0 and seen["config"].backbone == "blazepose"
    import mlcore.blazepose.files as files

    def unavailable():
        raise files.BlazePoseUnavailable("no mediapipe wheel here")

    monkeypatch.setattr(files, "blazepose_files", unavailable)
    assert main(args) == 0 and seen["config"].backbone == "scratch"
    with pytest.raises(SystemExit):
        main([*args, "--backbone", "blazepose", "--input-size", "64x96"])


def test_a_frame_without_a_detection_falls_back_to_the_whole_frame(model_dir):
    from mlcore.blazepose.finetuned import BlazePoseHeadsPredictor

    out, _, _ = model_dir
    pred = BlazePoseHeadsPredictor(out)
    blank = np.zeros((240, 180, 3), dtype=np.uint8)
    assert pred.detector.detect(blank) == []
    found = pred.predict(blank)
    assert len(found) == 1 and found[0].extra["frame_fallback"] is True
    assert found[0].keypoints.shape == (17, 3)
    pred.frame_fallback = False
    assert pred.predict(blank) == []


@pytest.fixture(scope="module")
def spine_model_dir(bp_net, dataset, tmp_path_factory):
    """Heads for COCO-17 + spine trained on frames whose spine points nobody labelled (as in the demo)."""
    return _tiny_heads_model(dataset, tmp_path_factory.mktemp("spine_heads_model"), skeleton=COCO17_SPINE)


def _first_frame(data, dataset):
    from mlcore.images import load_rgb

    ann = data["annotations"][0]
    img = next(i for i in data["images"] if i["id"] == ann["image_id"])
    return load_rgb(coco.ImageIndex(dataset / "images").find(img["file_name"])), ann


def test_spine_points_nobody_labelled_are_placed_along_the_back_not_read_from_flat_heatmaps(spine_model_dir,
                                                                                             dataset):
    from mlcore.blazepose.finetuned import BlazePoseHeadsPredictor
    from mlcore.spine_contour import PLACED

    out, report, data = spine_model_dir
    assert report["labelled_frames"]["spine_03"] == 0 and report["labelled_frames"]["left_hip"] > 0
    pred = BlazePoseHeadsPredictor(out)
    spine = [COCO17_SPINE.index(n) for n in PLACED]
    assert sorted(pred.unlearned.tolist()) == sorted(spine)
    image, ann = _first_frame(data, dataset)
    inst = pred.predict(image, np.asarray([ann["bbox"]]), flip_test=True)[0]
    assert sorted(inst.extra["heuristic_keypoints"]) == sorted(spine)
    assert inst.extra["unpredicted_keypoints"] == []
    assert inst.extra["spine_method"] in ("contour", "heuristic")
    kp = inst.keypoints
    assert (kp[spine, 2] == 0).all() and (kp[:17, 2] > 0).all()
    # On the torso: inside the box spanned by the predicted shoulders and hips (grown by half the torso),
    # where a flat heatmap's arg-max would put them at a corner of the crop instead.
    torso = kp[[COCO17_SPINE.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")], :2]
    lo, hi = torso.min(0), torso.max(0)
    grow = 0.5 * np.linalg.norm(torso[:2].mean(0) - torso[2:].mean(0))
    trunk = [COCO17_SPINE.index(n) for n in ("spine_01", "spine_02", "spine_03", "spine_04", "spine_05")]
    assert ((kp[trunk, :2] >= lo - grow) & (kp[trunk, :2] <= hi + grow)).all()
    assert np.isnan(inst.extra["flip_keypoints"][spine]).all()
    assert not np.isnan(inst.extra["flip_keypoints"][:17]).any()


def test_models_without_label_counts_find_the_unlearned_points_from_their_weights(spine_model_dir, tmp_path):
    import shutil

    from mlcore.blazepose.finetuned import BlazePoseHeadsPredictor

    out, _, _ = spine_model_dir
    old = tmp_path / "old"
    shutil.copytree(out, old)
    meta = json.loads((old / "model.json").read_text())
    del meta["metrics"]["labelled_frames"]
    (old / "model.json").write_text(json.dumps(meta))
    assert BlazePoseHeadsPredictor(old).unlearned.tolist() == BlazePoseHeadsPredictor(out).unlearned.tolist()


def test_a_custom_point_labelled_on_too_few_frames_is_not_offered_as_a_prediction(cached, bp_net, tmp_path):
    from mlcore.blazepose.finetuned import MIN_LABELLED_FRAMES, BlazePoseHeadsPredictor
    from mlcore.blazepose.training import save_heads_model, train_heads, write_meta
    from mlcore.training.keypoints import KeypointTrainConfig

    cache, samples, skeleton, cfg = cached
    heads, _, _ = train_heads(cache, samples, np.arange(len(samples.images)), None, skeleton, bp_net.net, cfg)
    assert heads.learned()[17]                  # training moved the custom point's weights off zero ...
    labelled = int((samples.keypoints[:, 17, 2] > 0).sum())
    assert 0 < labelled < MIN_LABELLED_FRAMES   # ... but from a handful of frames
    kcfg = KeypointTrainConfig(backbone="blazepose", head=cfg)
    save_heads_model(tmp_path, heads, bp_net.net, skeleton, kcfg)
    write_meta(tmp_path, skeleton, kcfg, {"labelled_frames": {n: labelled if n == "bar_centre" else 4
                                                              for n in skeleton.keypoints}})
    pred = BlazePoseHeadsPredictor(tmp_path)
    assert pred.unlearned.tolist() == [17]
    image = samples.images[0]
    inst = pred.predict(image, samples.bboxes[:1])[0]
    assert inst.extra["unpredicted_keypoints"] == [17] and inst.extra["heuristic_keypoints"] == []
    assert inst.keypoints[17].tolist() == [0.0, 0.0, 0.0]


def test_a_body_model_answers_in_a_spine_skeleton_and_the_pipeline_keeps_the_guesses_out_of_the_signals(
        model_dir, dataset):
    from mlcore import pipeline
    from mlcore.predictors import load_predictor

    out, _, data = model_dir
    pred = load_predictor(out, spine_skeleton=COCO17_SPINE)
    assert pred.skeleton == COCO17_SPINE and pred.unlearned.tolist() == list(range(17, 24))
    one = coco.subset(data, [data["annotations"][0]["image_id"]])
    one["categories"] = [COCO17_SPINE.coco_category()]
    for a in one["annotations"]:        # the project's file: 24 points, spine placed by the importer's heuristic
        a["keypoints"] = a["keypoints"] + [0, 0, 0] * 7
    res = pipeline.predict_coco(one, dataset / "images", pred, boxes="auto", flip_test=True)
    assert len(res) == 1
    r = res[0]
    assert r["heuristic_keypoints"] == list(range(17, 24))
    assert len(r["keypoints"]) == 3 * 24 and all(s == 0 for s in r["keypoint_scores"][17:])
    assert all(s > 0 for s in r["keypoint_scores"][:17])
    for name in ("confidence", "flip"):
        per_point = r["keypoint_signals"][name]
        assert all(v is None for v in per_point[17:]) and all(v is not None for v in per_point[:17])
        assert r["signals"][name] == pytest.approx(np.mean(per_point[:17]), abs=1e-3)


def test_the_spine_depth_is_fitted_on_verified_spine_points(bp_net, dataset):
    """Spine points a person placed 0.4 torso widths inside the back contour give back a depth near 0.4;
    a file without verified spine points keeps the default."""
    from mlcore.blazepose.spine_depth import fit_spine_depth
    from mlcore.spine_contour import DEFAULT_DEPTH, place_spine

    data = _four_frames(dataset)
    assert fit_spine_depth(data, dataset / "images", bp_net) == {"depth": DEFAULT_DEPTH, "frames": 0,
                                                                  "fitted": False}
    data["categories"] = [COCO17_SPINE.coco_category()]
    index = coco.ImageIndex(dataset / "images")
    files = {i["id"]: i["file_name"] for i in data["images"]}
    from mlcore.images import load_rgb

    traced = 0
    for a in data["annotations"]:
        kp = np.asarray(a["keypoints"] + [0, 0, 0] * 7, dtype=np.float64).reshape(-1, 3)
        image = load_rgb(index.find(files[a["image_id"]]))
        roi = bp_net.rois(image, np.asarray([a["bbox"]]))[0][0]
        mask = bp_net.segmentation(bp_net.run_roi(image, roi), *image.shape[:2])
        placement = place_spine(mask, kp, COCO17_SPINE, depth=0.4)
        if placement.method == "contour":
            traced += 1
            kp[placement.placed, :2] = placement.keypoints[placement.placed, :2]
            kp[placement.placed, 2] = 2
        a["keypoints"] = kp.ravel().tolist()
    assert traced >= 2
    fitted = fit_spine_depth(data, dataset / "images", bp_net)
    assert fitted["fitted"] and fitted["frames"] == traced
    assert fitted["depth"] == pytest.approx(0.4, abs=0.05)
