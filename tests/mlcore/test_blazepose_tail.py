"""BlazePose's last backbone stage on cached inputs (mlcore.blazepose.tail): exact parity, training, weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlcore import coco
from mlcore.blazepose.files import BlazePoseUnavailable, blazepose_files
from mlcore.images import load_rgb
from mlcore.skeletons import COCO17


@pytest.fixture(scope="module")
def net():
    try:
        blazepose_files()
    except BlazePoseUnavailable as exc:
        pytest.skip(f"BlazePose files not found: {exc}")
    from mlcore.blazepose.models import load_landmark_net

    return load_landmark_net().eval()


@pytest.fixture(scope="module")
def batch(net):
    """Two crops with structure (smooth blobs, not noise) and the net's outputs and packed frontier for them."""
    from mlcore.blazepose.tail import FrontierNet

    yy, xx = np.mgrid[0:256, 0:256] / 256.0
    crops = np.stack([np.stack([np.sin(6 * xx + k), np.cos(5 * yy - k), xx * yy], 0) * 0.5 + 0.5
                      for k in (0.0, 1.3)]).astype(np.float32)
    x = torch.from_numpy(crops)
    with torch.no_grad():
        return x, net.run(x), FrontierNet(net).run(x)


def _train(model, features, steps: int) -> list[float]:
    """``steps`` AdamW steps (lr 1e-3) of ``model`` on ``features`` towards every point at cell (32, 32);
    returns the losses."""
    from mlcore.blazepose.heads import gaussian_targets, heatmap_loss

    points = np.full((len(features), 17, 3), 32.0)
    points[..., 2] = 1.0
    target, weight = (torch.from_numpy(a) for a in gaussian_targets(points, 2.0))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        loss = heatmap_loss(model(features), target, weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def test_the_tail_from_the_cached_frontier_reproduces_the_backbone_features_exactly(net, batch):
    from mlcore.blazepose.tail import BackboneTail

    _, full, frontier = batch
    tail = BackboneTail(net)
    assert frontier.features.shape == (2, tail.packed_size)
    with torch.no_grad():
        features = tail(frontier.features)
    assert features.shape == full.features.shape == (2, 48, 64, 64)
    assert float((features - full.features).abs().max()) == 0.0
    # The frontier net changes nothing else the predictor reads.
    for name in ("landmarks", "presence", "heatmaps", "embedding"):
        assert torch.equal(getattr(frontier, name), getattr(full, name)), name


def test_training_the_stage_lowers_the_loss_and_leaves_the_network_untouched(net, batch):
    from mlcore.blazepose.tail import BackboneTail, TailHeads
    from mlcore.blazepose.training import new_heads

    _, full, frontier = batch
    before = {k: v.clone() for k, v in net.graph.convs.state_dict().items()}
    torch.manual_seed(0)
    model = TailHeads(BackboneTail(net, scale=1.0), new_heads(COCO17, net, 8))
    heads_params = {id(p) for p in model.heads.parameters()}
    stage = [p for p in model.parameters() if id(p) not in heads_params]
    assert stage and all(p.requires_grad for p in stage)
    losses = _train(model, frontier.features, 8)
    assert losses[-1] < losses[0]
    assert any(float(p.detach().abs().max()) > 0 for p in stage)  # the stage itself moved
    for k, v in net.graph.convs.state_dict().items():  # the shared network did not
        assert torch.equal(v, before[k]), k
    # The tuned weights, loaded into a copy of the whole network, give the tail's features from the image.
    import copy

    tuned = copy.deepcopy(net)
    tuned.graph.convs.load_state_dict(model.tail.tuned_weights(), strict=False)
    x = batch[0]
    with torch.no_grad():
        assert torch.allclose(tuned.run(x).features, model.tail(frontier.features), atol=1e-5)
        assert not torch.allclose(full.features, model.tail(frontier.features), atol=1e-5)


def test_a_frozen_stage_has_nothing_to_train(net, batch):
    from mlcore.blazepose.tail import BackboneTail, TailHeads
    from mlcore.blazepose.training import new_heads

    model = TailHeads(BackboneTail(net), new_heads(COCO17, net, 8), frozen=True)
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in model.heads.parameters()}


def test_a_model_directory_carries_its_trained_stage_to_the_predictor(net, dataset, tmp_path):
    from mlcore.blazepose.finetuned import BlazePoseHeadsPredictor
    from mlcore.blazepose.tail import tail_operators
    from tests.mlcore.test_blazepose_heads import _tiny_heads_model

    out, report, _ = _tiny_heads_model(dataset, tmp_path / "model")
    state = torch.load(out / "model.pt", map_location="cpu", weights_only=False)
    stage_ops = {str(op.index) for op in tail_operators(net)[0] if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D")}
    assert state["stage"] and {k.split(".")[0] for k in state["stage"]} == stage_ops
    assert report["onnx_max_abs_diff"] < 1e-2  # the ONNX file holds the same stage as model.pt
    # A stage moved by hand is what the predictor runs; the rest of the backbone is BlazePose's.
    name = sorted(state["stage"])[0]
    state["stage"][name] = state["stage"][name] + 0.05
    torch.save(state, out / "model.pt")
    loaded = BlazePoseHeadsPredictor(out).net.graph.convs.state_dict()
    assert torch.equal(loaded[name], state["stage"][name])
    untouched = next(k for k in loaded if k.split(".")[0] not in stage_ops)
    assert torch.equal(loaded[untouched], net.graph.convs.state_dict()[untouched])


def test_two_stages_reproduce_the_features_from_their_smaller_frontier_and_train_the_16x16_stage(net, batch):
    from mlcore.blazepose.tail import STAGE_STARTS, FrontierNet, tail_operators
    from mlcore.blazepose.training import new_stage_heads

    x, full, _ = batch
    with torch.no_grad():
        frontier = FrontierNet(net, STAGE_STARTS[2]).run(x)
    torch.manual_seed(0)
    model = new_stage_heads(COCO17, net, 8, 1.0, stages=2)
    assert frontier.features.shape == (2, model.tail.packed_size) and model.tail.packed_size == 262_144
    with torch.no_grad():
        assert float((model.tail(frontier.features) - full.features).abs().max()) < 1e-5
    ops16 = {op.index for op in tail_operators(net, STAGE_STARTS[2])[0]
             if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D") and op.index < STAGE_STARTS[1]}
    assert ops16 and {f"w{i}" for i in ops16} <= set(model.tail.delta)
    _train(model, frontier.features, 3)
    moved = {k.split(".")[0] for k, v in model.tail.tuned_weights().items()
             if not torch.equal(v, net.graph.convs.state_dict()[k])}
    assert {str(i) for i in ops16} & moved  # the 16 x 16 stage itself trained


def test_one_stage_trains_from_the_deeper_cache_with_the_16x16_stage_kept_as_blazepose_s(net, batch):
    from mlcore.blazepose.tail import STAGE_STARTS, FrontierNet
    from mlcore.blazepose.training import new_stage_heads

    x, full, _ = batch
    with torch.no_grad():
        frontier = FrontierNet(net, STAGE_STARTS[2]).run(x)
    model = new_stage_heads(COCO17, net, 8, 1.0, stages=1, first=STAGE_STARTS[2])
    assert all(int(k[1:]) >= STAGE_STARTS[1] for k in model.tail.delta)
    features = model.tail(frontier.features)
    assert float((features.detach() - full.features).abs().max()) < 1e-5
    features.sum().backward()
    assert all(p.grad is not None for p in model.tail.parameters())
    assert all(p.grad is None for p in net.parameters())  # nothing flowed into the frozen 16 x 16 stage


def test_the_whole_backbone_trains_from_the_crops_themselves(net, batch):
    from mlcore.blazepose.head_config import WHOLE_BACKBONE
    from mlcore.blazepose.tail import STAGE_STARTS, FrontierNet, tail_operators
    from mlcore.blazepose.training import new_stage_heads

    x, full, _ = batch
    with torch.no_grad():
        frontier = FrontierNet(net, STAGE_STARTS[WHOLE_BACKBONE]).run(x)
    assert torch.equal(frontier.features, x.reshape(2, -1))  # the frontier of the whole backbone is the crop
    for name in ("landmarks", "presence", "heatmaps"):
        assert torch.equal(getattr(frontier, name), getattr(full, name)), name
    torch.manual_seed(0)
    model = new_stage_heads(COCO17, net, 8, 0.1, stages=WHOLE_BACKBONE)  # the default scale: 1 overshoots
    assert model.tail.packed_size == 3 * 256 * 256
    stem = min((k for k in net.graph.convs.state_dict() if k.endswith(".weight")), key=lambda k: int(k.split(".")[0]))
    features_path = {f"w{op.index}" for op in tail_operators(net, 0)[0] if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D")}
    assert f"w{stem.split('.')[0]}" in features_path  # every convolution the features depend on trains, the stem too
    assert {k for k in model.tail.delta if k.startswith("w")} == features_path
    with torch.no_grad():
        assert float((model.tail(frontier.features) - full.features).abs().max()) < 1e-5
    losses = _train(model, frontier.features, 4)
    assert losses[-1] < losses[0]
    assert not torch.equal(model.tail.tuned_weights()[stem], net.graph.convs.state_dict()[stem])  # ... the stem too


def test_a_whole_backbone_model_directory_predicts_as_it_trained(net, dataset, tmp_path):
    from mlcore.blazepose.finetuned import BlazePoseHeadsPredictor
    from mlcore.blazepose.head_config import WHOLE_BACKBONE, HeadTrainConfig
    from mlcore.training.keypoints import KeypointTrainConfig, train_keypoints
    from tests.mlcore.test_blazepose_heads import _four_frames

    data = _four_frames(dataset)
    head = HeadTrainConfig(epochs=1, variants=0, batch_size=4, hidden=8, inner_val_folds=2, members=2,
                           stages=WHOLE_BACKBONE, flip_average=False)
    report = train_keypoints(data, dataset / "images", tmp_path, config=KeypointTrainConfig(backbone="blazepose",
                                                                                          head=head))
    state = torch.load(tmp_path / "model.pt", map_location="cpu", weights_only=False)
    assert len(state["members"]) == 1 and state["config"]["head"]["stages"] == WHOLE_BACKBONE
    stem = min(state["stage"], key=lambda k: int(k.split(".")[0]))
    assert int(stem.split(".")[0]) < 10  # the members carry the whole backbone, stem included
    assert report["onnx_max_abs_diff"] < 1e-2
    predictor = BlazePoseHeadsPredictor(tmp_path)
    image = load_rgb(coco.ImageIndex(dataset / "images").find(data["images"][0]["file_name"]))
    box = np.asarray(data["annotations"][0]["bbox"], dtype=np.float64)[None]
    (inst,) = predictor.predict(image, box)
    assert inst.keypoints.shape == (17, 3) and np.isfinite(inst.keypoints).all()
    # The ensemble reads the crop itself and runs each member's own backbone on it.
    result = predictor.run_roi(image, inst.extra["roi"])
    assert result.output.features.shape == (1, 3 * 256 * 256)
    assert np.allclose(result.keypoints[:, :2], inst.keypoints[:, :2])
