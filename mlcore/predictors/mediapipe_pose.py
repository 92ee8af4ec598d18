"""MediaPipe BlazePose (full model, static-image mode) as an optional pre-annotator.

Only ``mediapipe==0.10.14`` works offline: its wheel ships
pose_landmark_full.tflite; later releases download models at run time. It is
an extra (requirements-mediapipe.txt), imported only when this predictor is
built. That release pins protobuf < 5, which breaks onnx >= 1.17 (its
generated code needs protobuf's ``runtime_version``), so it usually lives in a
separate virtualenv: point ``MLCORE_MEDIAPIPE_PYTHON`` (or ``python=``) at that
interpreter and the predictor runs MediaPipe in a child process of it
(``python -m mlcore.predictors.mediapipe_pose``), exchanging one JSON line per
image. In-process use is preferred when ``import mediapipe`` works.

Output: COCO-17 keypoints (landmarks 0, 2, 5, 7, 8, 11-16, 23-28, by name via
``remap``) in pixels, keypoint score = landmark visibility; the box is the
one around the 17 points. MediaPipe finds at most one person per image and
ignores boxes. Landmarks outside the image keep their extrapolated position.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

import numpy as np

from ..skeletons import COCO17, MEDIAPIPE33, remap
from .base import Instance, Predictor

ENV_PYTHON = "MLCORE_MEDIAPIPE_PYTHON"


def mediapipe_available() -> bool:
    """True when this interpreter can import mediapipe or a separate one is configured."""
    try:
        import mediapipe  # noqa: F401

        return True
    except Exception:
        return bool(os.environ.get(ENV_PYTHON))


def landmarks_to_instance(landmarks: np.ndarray, width: int, height: int) -> Instance:
    """landmarks (33, 4) normalised [x, y, z, visibility] -> COCO-17 Instance in pixels."""
    lm = np.asarray(landmarks, dtype=np.float64)
    mp33 = np.stack([lm[:, 0] * width, lm[:, 1] * height, np.clip(lm[:, 3], 0, 1)], axis=1)
    kp = remap(mp33, MEDIAPIPE33, COCO17)
    lo, hi = kp[:, :2].min(axis=0), kp[:, :2].max(axis=0)
    return Instance(keypoints=kp, bbox=np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]]),
                    score=float(kp[:, 2].mean()), extra={"landmarks33": mp33})


class _InProcess:
    def __init__(self, model_complexity: int, min_detection_confidence: float) -> None:
        import mediapipe as mp

        self.pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=model_complexity,
                                           min_detection_confidence=min_detection_confidence)

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        res = self.pose.process(np.ascontiguousarray(image, dtype=np.uint8))
        if res.pose_landmarks is None:
            return None
        return np.array([[p.x, p.y, p.z, p.visibility] for p in res.pose_landmarks.landmark])

    def close(self) -> None:
        self.pose.close()


class _Child:
    """MediaPipe in another interpreter: one JSON request/response line per image."""

    def __init__(self, python: str, model_complexity: int, min_detection_confidence: float) -> None:
        repo = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": repo + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen(
            [python, "-m", "mlcore.predictors.mediapipe_pose", str(model_complexity), str(min_detection_confidence)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both are pipes
        self._to_child: IO[str] = self.proc.stdin
        self._from_child: IO[str] = self.proc.stdout
        self.tmp = tempfile.TemporaryDirectory(prefix="mlcore-mp-")

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        path = os.path.join(self.tmp.name, "frame.npy")
        np.save(path, np.ascontiguousarray(image, dtype=np.uint8))
        self._to_child.write(json.dumps({"npy": path}) + "\n")
        self._to_child.flush()
        line = self._from_child.readline()
        if not line:
            raise RuntimeError("the MediaPipe worker process died; run it by hand to see why")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"MediaPipe worker: {reply['error']}")
        return None if reply["landmarks"] is None else np.asarray(reply["landmarks"], dtype=np.float64)

    def close(self) -> None:
        if self.proc.poll() is None:
            self._to_child.close()
            self.proc.wait(timeout=30)
        self.tmp.cleanup()


class MediaPipePredictor(Predictor):
    """BlazePose full (model_complexity=1) on whole images; returns 0 or 1 COCO-17 instance.

    python: interpreter that has mediapipe (default: this one if it can import
    it, else $MLCORE_MEDIAPIPE_PYTHON). flip_test mirrors the image and runs
    MediaPipe again, for the flip-disagreement signal.
    """

    skeleton = COCO17

    def __init__(self, model_complexity: int = 1, min_detection_confidence: float = 0.5, python: str | None = None):
        self.version = f"mediapipe-0.10.14-blazepose-{['lite', 'full', 'heavy'][model_complexity]}"
        backend: _InProcess | _Child | None = None
        if python is None:
            try:
                backend = _InProcess(model_complexity, min_detection_confidence)
            except ImportError:
                python = os.environ.get(ENV_PYTHON)
                if not python:
                    raise ImportError("mediapipe is not installed: pip install -r requirements-mediapipe.txt "
                                      f"(in its own virtualenv, then set {ENV_PYTHON} to its python)") from None
        if backend is None:
            assert python is not None  # set above whenever the in-process backend was not built
            backend = _Child(python, model_complexity, min_detection_confidence)
        self._backend = backend

    def predict(self, image: np.ndarray, boxes: np.ndarray | None = None, flip_test: bool = False) -> list[Instance]:
        h, w = image.shape[:2]
        lm = self._backend.landmarks(image)
        if lm is None:
            return []
        inst = landmarks_to_instance(lm, w, h)
        if flip_test:
            flm = self._backend.landmarks(np.ascontiguousarray(image[:, ::-1]))
            if flm is not None:
                flipped = landmarks_to_instance(flm, w, h).keypoints
                flipped[:, 0] = w - flipped[:, 0]   # landmarks are continuous 0..1 of the width
                inst.extra["flip_keypoints"] = flipped[COCO17.flip_index]
        return [inst]

    def close(self) -> None:
        self._backend.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def _worker(argv: list[str]) -> None:
    """Child-process loop: read {"npy": path} lines, answer {"landmarks": [[x, y, z, vis]...] | null}."""
    backend = _InProcess(int(argv[0]), float(argv[1]))
    for line in sys.stdin:
        try:
            image = np.load(json.loads(line)["npy"])
            lm = backend.landmarks(image)
            reply = {"landmarks": None if lm is None else lm.tolist()}
        except Exception as exc:  # report, keep serving
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    _worker(sys.argv[1:])
