"""The built-in keypoint model run from its torch checkpoint, for MC-dropout samples.

Same crop, decode and map-back as ``OnnxTopDownPredictor`` (it reuses
``preprocess``); the ONNX file is what normal prediction uses, this exists
because dropout can only be switched on at inference in torch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..skeletons import Skeleton
from ..transforms import apply_affine, invert_affine
from . import simcc
from .base import Instance, Predictor, full_image_box
from .onnx_topdown import preprocess


class TorchTopDownPredictor(Predictor):
    """model_dir: a keypoint model directory (model.pt). mc_samples: dropout passes per crop (0 = off)."""

    def __init__(self, model_dir: str | os.PathLike[str], mc_samples: int = 0, seed: int = 0) -> None:
        import torch

        from ..nets.keypoint_net import KeypointNet

        state = torch.load(Path(model_dir) / "model.pt", map_location="cpu", weights_only=False)
        net = state["net"]
        self.model = KeypointNet(net["num_keypoints"], tuple(net["input_size"]), net["split_ratio"], net["width"],
                                 net["hidden"], net["dropout"])
        self.model.load_state_dict(state["model"])
        self.model.eval()
        self.skeleton = Skeleton.from_dict(state["skeleton"])
        self.input_size = tuple(net["input_size"])
        self.split_ratio = net["split_ratio"]
        self.padding = state["config"]["augment"]["padding"]
        self.mc_samples = mc_samples
        self.version = f"{Path(model_dir).name}-torch"
        self._gen = torch.Generator().manual_seed(seed)

    def _decode(self, x: npt.NDArray[np.float32], mats: Sequence[npt.NDArray[np.float64]],
                flips: Sequence[bool]) -> npt.NDArray[np.float64]:
        import torch

        with torch.no_grad():
            sx, sy = self.model(torch.from_numpy(x))
        dec = simcc.decode(sx.numpy(), sy.numpy(), self.split_ratio)
        for i, m in enumerate(mats):
            dec[i, :, :2] = apply_affine(dec[i, :, :2], invert_affine(m))
            if flips[i]:
                dec[i] = dec[i][self.skeleton.flip_index]
        return dec

    def predict(self, image: np.ndarray, boxes: np.ndarray | None = None, flip_test: bool = False) -> list[Instance]:
        import torch

        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if boxes is not None else full_image_box(image)[None]
        out: list[Instance] = []
        for box in boxes:
            flips = [False, True] if flip_test else [False]
            xs, mats = zip(*(preprocess(image, box, self.input_size, self.padding, f) for f in flips), strict=True)
            self.model.eval()
            dec = self._decode(np.stack(xs), mats, flips)
            inst = Instance(keypoints=dec[0], bbox=np.asarray(box, dtype=np.float64), score=float(dec[0][:, 2].mean()))
            if flip_test:
                inst.extra["flip_keypoints"] = dec[1]
            if self.mc_samples:
                # Dropout on, BatchNorm still in eval mode: only the dropout masks vary between passes.
                for mod in self.model.modules():
                    if isinstance(mod, torch.nn.Dropout):
                        mod.train()
                torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=self._gen)))
                x = np.repeat(xs[0][None], self.mc_samples, axis=0)
                inst.extra["mc_keypoints"] = self._decode(x, [mats[0]] * self.mc_samples, [False] * self.mc_samples)
                self.model.eval()
            out.append(inst)
        return out
