"""BlazePose's .tflite files as torch modules: finding the files, the builder, parity with LiteRT and ONNX Runtime.

The reference outputs (fixtures/blazepose_reference.npz) come from the LiteRT
interpreter (bench/blazepose_reference.py): two person crops of barbell-row
frames and one synthetic image for the landmark network, a letterboxed frame
and the synthetic image for the detector. Tests that need the model files
skip when mediapipe==0.10.14's wheel is not found.

Tolerances. float32 reference and float32 torch sum in different orders, and
this network's outputs are large (landmark x/y up to ~600 crop pixels on the
synthetic image): torch in float64 differs from LiteRT by 6.4e-3 px, so the
issue's 1e-4 px cannot hold for landmarks. Measured torch vs LiteRT: 7.4e-4 px
on the person crops, 1.8e-3 px on the synthetic image; torch vs ONNX Runtime:
3.8e-4 and 3.7e-3 px. The bounds sit just above these. Presence and world
landmarks hold 1e-4; heatmap logits 2.0e-4 (bound 5e-4); mask probabilities
3.4e-5 on the crops (bound 1e-4), 3.3e-4 on the synthetic image (bound 1e-3).
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from mlcore.blazepose.files import BlazePoseUnavailable, blazepose_files
from mlcore.blazepose.tflite_graph import Graph, Operator, Tensor
from mlcore.blazepose.torch_builder import TFLiteModule, UnsupportedOperator, load_module

FIXTURE = Path(__file__).parent / "fixtures" / "blazepose_reference.npz"
REAL = slice(0, 2)          # the two person crops; index 2 is the synthetic image
LANDMARK_TOL_REAL, LANDMARK_TOL_SYNTHETIC = 1.5e-3, 5e-3


@pytest.fixture(scope="module")
def files():
    try:
        return blazepose_files()
    except BlazePoseUnavailable as exc:
        pytest.skip(f"BlazePose files not found: {exc}")


@pytest.fixture(scope="module")
def reference(files):
    ref = np.load(FIXTURE)
    from mlcore.blazepose.tflite_graph import file_sha256

    if str(ref["sha256_landmark"]) != file_sha256(files.landmark):
        pytest.skip("the reference fixture was made from another pose_landmark_full.tflite")
    return ref


@pytest.fixture(scope="module")
def landmark_net(files):
    from mlcore.blazepose.models import load_landmark_net

    return load_landmark_net(files.landmark)


def _landmark_input(ref) -> torch.Tensor:
    return torch.from_numpy(ref["landmark_input"].astype(np.float32).transpose(0, 3, 1, 2) / 255.0)


def test_missing_files_raise_a_clear_file_not_found_error(tmp_path):
    env = {"MLCORE_BLAZEPOSE_DIR": str(tmp_path / "nowhere"), "MLCORE_MEDIAPIPE_PYTHON": str(tmp_path / "bin/python")}
    with pytest.raises(BlazePoseUnavailable) as info:
        blazepose_files(environ=env, project_root=tmp_path)
    assert isinstance(info.value, FileNotFoundError)
    assert "mediapipe==0.10.14" in str(info.value) and "nowhere" in str(info.value)


def test_files_are_found_in_the_mediapipe_interpreters_virtualenv_or_a_flat_folder(tmp_path):
    site = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "mediapipe" / "modules"
    for sub, name in (("pose_landmark", "pose_landmark_full.tflite"), ("pose_detection", "pose_detection.tflite")):
        (site / sub).mkdir(parents=True)
        (site / sub / name).write_bytes(b"")
    env = {"MLCORE_MEDIAPIPE_PYTHON": str(tmp_path / "venv/bin/python")}
    found = blazepose_files(environ=env, project_root=tmp_path)
    assert found.landmark == site / "pose_landmark" / "pose_landmark_full.tflite"
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "pose_landmark_full.tflite").write_bytes(b"")
    (flat / "pose_detection.tflite").write_bytes(b"")
    assert blazepose_files(environ={"MLCORE_BLAZEPOSE_DIR": str(flat)}, project_root=tmp_path).detector.parent == flat


def test_an_unknown_operator_is_named_in_the_error():
    f32 = np.dtype(np.float32)
    tensors = (Tensor(0, "in", (1, 4, 4, 3), f32), Tensor(1, "out", (1, 4, 4, 3), f32))
    graph = Graph(tensors=tensors, operators=(Operator(0, "SQUARED_DIFFERENCE", (0, 0), (1,), {}),),
                  inputs=(0,), outputs=(1,), sha256="0")
    with pytest.raises(UnsupportedOperator, match="SQUARED_DIFFERENCE"):
        TFLiteModule(graph)


def test_the_landmark_network_matches_the_litert_interpreter(landmark_net, reference):
    with torch.no_grad():
        lm, presence, seg, heat, world = (t.numpy() for t in landmark_net(_landmark_input(reference)))
    diff = np.abs(lm - reference["landmarks"]).max(axis=1)
    assert diff[REAL].max() <= LANDMARK_TOL_REAL
    assert diff[2] <= LANDMARK_TOL_SYNTHETIC
    assert np.abs(presence - reference["presence"]).max() <= 1e-4
    assert np.abs(world - reference["world"]).max() <= 1e-4
    assert np.abs(heat.transpose(0, 2, 3, 1)[:, ::4, ::4] - reference["heatmaps_s4"]).max() <= 5e-4
    # segmentation logits reach -1500; compare the mask probabilities
    prob = 1 / (1 + np.exp(-np.clip(seg[:, 0, ::8, ::8], -50, 50)))
    ref_prob = 1 / (1 + np.exp(-np.clip(reference["segmentation_s8"], -50, 50)))
    mask_diff = np.abs(prob - ref_prob).max(axis=(1, 2))                # measured 3.4e-5 real, 3.3e-4 synthetic
    assert mask_diff[REAL].max() <= 1e-4 and mask_diff[2] <= 1e-3


def test_the_detector_network_matches_the_litert_interpreter(files, reference):
    net = load_module(files.detector)
    x = torch.from_numpy(reference["detector_input"].astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1.0)
    with torch.no_grad():
        regressors, scores = (t.numpy() for t in net(x))
    assert np.abs(regressors - reference["regressors"]).max() <= 2e-3     # 224-pixel units; measured 7.3e-4
    assert np.abs(scores - reference["scores"]).max() <= 1e-3             # logits; measured 3.4e-4


def test_the_network_has_3_17_million_trainable_float32_parameters(landmark_net):
    params = list(landmark_net.parameters())
    assert sum(p.numel() for p in params) == 3_169_489
    assert all(p.dtype == torch.float32 and p.requires_grad for p in params)


def test_backbone_features_and_embedding_have_the_documented_shapes(landmark_net):
    with torch.no_grad():
        out = landmark_net.run(torch.rand(2, 3, 256, 256))
    assert out.features.shape == (2, 48, 64, 64)
    assert out.embedding.shape == (2, 288, 2, 2)
    assert out.landmarks.shape == (2, 39, 5) and out.heatmaps.shape == (2, 39, 64, 64)


def test_the_onnx_export_matches_onnx_runtime(landmark_net, reference, tmp_path):
    import onnxruntime as ort

    from mlcore.onnx_export import export_onnx

    x = _landmark_input(reference)
    names = ["landmarks", "presence", "segmentation", "heatmaps", "world"]
    path = export_onnx(landmark_net, (x[:1],), tmp_path / "blazepose.onnx", ["image"], names)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    got = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"]).run(None, {"image": x.numpy()})
    with torch.no_grad():
        want = [t.numpy() for t in landmark_net(x)]
    diff = np.abs(got[0] - want[0]).max(axis=1)
    assert diff[REAL].max() <= 1e-3 and diff[2] <= LANDMARK_TOL_SYNTHETIC
    for k in (1, 3, 4):   # presence, heatmaps, world
        assert np.abs(got[k] - want[k]).max() <= 1e-4


def test_the_detector_exports_to_onnx_too(files, reference, tmp_path):
    import onnxruntime as ort

    from mlcore.onnx_export import export_onnx

    net = load_module(files.detector)
    x = torch.from_numpy(reference["detector_input"].astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1.0)
    path = export_onnx(net, (x[:1],), tmp_path / "detector.onnx", ["image"], ["regressors", "scores"])
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": x.numpy()})
    with torch.no_grad():
        want = [t.numpy() for t in net(x)]
    assert np.abs(got[0] - want[0]).max() <= 2e-3     # 224-pixel units, as against LiteRT
    assert np.abs(got[1] - want[1]).max() <= 1e-3


def test_a_second_load_reads_the_cached_state_dict(files, tmp_path, monkeypatch):
    monkeypatch.setenv("MLCORE_CACHE_DIR", str(tmp_path))
    first = load_module(files.landmark)
    cached = list(tmp_path.glob("tflite-*.pt"))
    assert len(cached) == 1 and len(cached[0].stem) == len("tflite-") + 64
    second = load_module(files.landmark)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name
