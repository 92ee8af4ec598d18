"""Predictors: one interface from images (and optional person boxes) to keypoint instances.

- ``OnnxTopDownPredictor``: RTMPose/SpinePose-style SimCC ONNX models, and the
  built-in keypoint model once exported.
- ``MediaPipePredictor``: BlazePose from the optional ``mediapipe==0.10.14``
  extra (imported only when used).
- ``load_predictor(spec)``: "mediapipe", a .onnx file or a model directory.
"""

from .base import Instance, Predictor, full_image_box
from .loader import load_predictor

__all__ = ["Instance", "Predictor", "full_image_box", "load_predictor"]
