"""BlazePose GHUM (MediaPipe 0.10.14's pretrained pose network) as torch modules, and its top-down pipeline.

Modules, one concept each:

- ``files``: find ``pose_landmark_full.tflite`` and ``pose_detection.tflite`` without importing mediapipe.
- ``tflite_graph``: read a .tflite flatbuffer into plain tensors and operators.
- ``torch_builder``: turn such a graph into a trainable ``torch.nn.Module`` (NCHW, float32), cached by sha256.
- ``models``: the two networks with named outputs (landmarks, heatmaps, segmentation, backbone features).
- ``detector``: the SSD person detector (anchors, decoding, weighted NMS) on a whole frame.
- ``roi``: MediaPipe's rotated square region of interest, the 256 x 256 crop and its exact inverse.
- ``predictor``: detector -> ROI -> landmark network as an mlcore ``Predictor`` (COCO-17 out).
"""

from .files import BlazePoseUnavailable, blazepose_files

__all__ = ["BlazePoseUnavailable", "blazepose_files"]
