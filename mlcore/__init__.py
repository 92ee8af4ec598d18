"""mlcore: PoseReview's framework-free ML core.

Plain numpy/torch/onnxruntime/pycocotools code that works on COCO files and
arrays. It never imports Django (or ``annotations``/``webapp``), so it runs as
``python -m mlcore ...`` on a GPU box with nothing but COCO files.
"""

__version__ = "0.1.0"
