"""The ONNX top-down runner crops, decodes SimCC and maps back exactly (tiny self-made models)."""

import numpy as np
import pytest
import torch

from mlcore.onnx_export import export_onnx
from mlcore.predictors import load_predictor, simcc
from mlcore.predictors.onnx_topdown import OnnxTopDownPredictor, preprocess
from mlcore.skeletons import COCO17

W, H, R = 48, 64, 2   # model input 48 x 64, split ratio 2


class FixedPeaks(torch.nn.Module):
    """Ignores the picture: SimCC logits with one peak per keypoint at chosen bins."""

    def __init__(self, bins_x, bins_y, val_x, val_y):
        super().__init__()
        k = len(bins_x)
        bx = torch.zeros(1, k, W * R)
        by = torch.zeros(1, k, H * R)
        for i in range(k):
            bx[0, i, bins_x[i]] = val_x[i]
            by[0, i, bins_y[i]] = val_y[i]
        self.register_buffer("bx", bx)
        self.register_buffer("by", by)

    def forward(self, x):
        zero = x.mean() * 0
        return self.bx + zero, self.by + zero


class RedBlobFinder(torch.nn.Module):
    """Finds the brightest spot of input channel 0 (red): x marginal = max over rows, upsampled x2."""

    def forward(self, x):
        red = x[:, 0:1].repeat(1, 17, 1, 1)                     # (1, 17, H, W)
        mx = red.amax(dim=2).repeat_interleave(R, dim=-1)      # (1, 17, W*r)
        my = red.amax(dim=3).repeat_interleave(R, dim=-1)      # (1, 17, H*r)
        return mx, my


def export(model, tmp_path, name):
    return export_onnx(model, (torch.zeros(1, 3, H, W),), tmp_path / name, ["input"], ["simcc_x", "simcc_y"],
                       dynamic_batch=False)


def test_simcc_decode_takes_argmax_over_ratio_and_the_smaller_maximum():
    sx = np.zeros((1, 2, 10))
    sy = np.zeros((1, 2, 12))
    sx[0, 0, 7], sy[0, 0, 3] = 0.9, 0.4
    sx[0, 1, 2], sy[0, 1, 11] = -0.5, -0.1
    out = simcc.decode(sx, sy, 2.0)
    np.testing.assert_allclose(out[0, 0], [3.5, 1.5, 0.4])
    assert out[0, 1, 2] == 0.0        # negative maxima mean "not found"


def test_simcc_encode_peaks_at_the_keypoint_and_weights_only_labelled_points_inside():
    kp = np.array([[[10, 20, 2], [5, 5, 0], [60, 5, 2]]], dtype=float)
    tx, ty, w = simcc.encode(kp, (W, H), 2.0)
    assert tx.shape == (1, 3, W * 2) and ty.shape == (1, 3, H * 2)
    assert tx[0, 0].argmax() == 20 and ty[0, 0].argmax() == 40 and tx[0, 0].max() == pytest.approx(1.0)
    assert w.tolist() == [[1, 0, 0]]


def test_decode_and_map_back_match_a_hand_computed_affine(tmp_path):
    model = export(FixedPeaks([30] * 17, [100] * 17, [0.8] * 17, [0.6] * 17), tmp_path, "peaks.onnx")
    pred = OnnxTopDownPredictor(model)
    assert pred.input_size == (W, H) and pred.skeleton is COCO17
    image = np.zeros((120, 100, 3), dtype=np.uint8)
    # Box 60 x 40 at (10, 20): padded 75 x 50, widened in height to the 0.75 aspect: 75 x 100, centre (40, 40).
    # Crop pixel u maps to x = 40 + (u - 24) * 75 / 48; bin 30 -> u = 15; bin 100 -> v = 50.
    inst = pred.predict(image, [[10, 20, 60, 40]])[0]
    np.testing.assert_allclose(inst.keypoints[0], [40 + (15 - 24) * 75 / 48, 40 + (50 - 32) * 75 / 48, 0.6])
    np.testing.assert_allclose(inst.keypoint_scores, 0.6)
    np.testing.assert_allclose(inst.bbox, [10, 20, 60, 40])


def test_flip_test_mirrors_the_crop_and_swaps_left_and_right(tmp_path):
    bins_x = list(range(10, 10 + 17))
    model = export(FixedPeaks(bins_x, [100] * 17, [1.0] * 17, [1.0] * 17), tmp_path, "peaks.onnx")
    inst = OnnxTopDownPredictor(model).predict(np.zeros((120, 100, 3), np.uint8), [[10, 20, 60, 40]], flip_test=True)[0]
    flip = inst.extra["flip_keypoints"]
    # In the mirrored crop keypoint k sits at u = bins_x[k] / 2, i.e. at W - 1 - u in the real crop,
    # and it is the flip partner of k.
    for k in range(17):
        u = (W - 1) - bins_x[k] / 2
        np.testing.assert_allclose(flip[COCO17.flip_index[k], 0], 40 + (u - 24) * 75 / 48)


def test_the_crop_is_rgb_normalised_and_finds_a_red_blob(tmp_path):
    model = export(RedBlobFinder(), tmp_path, "blob.onnx")
    image = np.zeros((200, 150, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:200, 0:150]
    red = np.exp(-((xx - 97) ** 2 + (yy - 61) ** 2) / (2 * 4.0 ** 2))
    blue = np.exp(-((xx - 30) ** 2 + (yy - 150) ** 2) / (2 * 4.0 ** 2))
    image[..., 0] = (255 * red).astype(np.uint8)
    image[..., 2] = (255 * blue).astype(np.uint8)
    pred = OnnxTopDownPredictor(model)
    inst = pred.predict(image, [[20, 20, 110, 160]])[0]
    assert np.abs(inst.keypoints[:, 0] - 97).max() <= 1.6
    assert np.abs(inst.keypoints[:, 1] - 61).max() <= 1.6
    whole = pred.predict(image)[0]          # no box: the whole image is the box
    np.testing.assert_allclose(whole.bbox, [0, 0, 150, 200])
    assert np.abs(whole.keypoints[:, :2] - [97, 61]).max() <= 2.5


def test_preprocess_applies_rtmpose_mean_and_std():
    image = np.full((64, 48, 3), 255, dtype=np.uint8)
    x, m = preprocess(image, [0, 0, 48, 64], (W, H), padding=1.0)
    expected = [(255 - 123.675) / 58.395, (255 - 116.28) / 57.12, (255 - 103.53) / 57.375]
    np.testing.assert_allclose(x[:, 32, 24], expected, rtol=1e-5)
    np.testing.assert_allclose(m, [[1, 0, 0], [0, 1, 0]], atol=1e-12)


def test_load_predictor_accepts_onnx_files_and_rejects_unknown_specs(tmp_path):
    model = export(FixedPeaks([30] * 17, [100] * 17, [0.8] * 17, [0.6] * 17), tmp_path, "peaks.onnx")
    assert isinstance(load_predictor(model), OnnxTopDownPredictor)
    with pytest.raises(ValueError):
        load_predictor(tmp_path / "nothing.bin")
