"""Print the options of MediaPipe's pose graph, subgraphs expanded, as JSON (run with mediapipe's interpreter).

    .venv-mediapipe/bin/python bench/blazepose_graph_options.py [graph.binarypb]

The default graph is the wheel's modules/pose_landmark/pose_landmark_cpu.binarypb
(PoseLandmarkCpu: PoseDetectionCpu, PoseDetectionToRoi, PoseLandmarkByRoiCpu, ...).
Output: one JSON list, ``[{"name", "calculator", "options"}]`` per node, options as
protobuf's JSON form (camelCase fields, extension names in brackets). This is
where mlcore.blazepose's detector and ROI constants come from; a test compares them.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path


def main() -> None:
    import mediapipe
    import mediapipe.calculators as calculators
    from google.protobuf import json_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.python._framework_bindings import validated_graph_config

    # Register every calculator options extension the wheel ships so they print with their fields.
    for pkg in pkgutil.walk_packages(calculators.__path__, calculators.__name__ + "."):
        if pkg.name.endswith("_pb2"):
            try:
                importlib.import_module(pkg.name)
            except Exception:  # noqa: BLE001 - an options module that fails to import just prints as unknown
                pass
    default = Path(mediapipe.__file__).parent / "modules" / "pose_landmark" / "pose_landmark_cpu.binarypb"
    graph_path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    validated = validated_graph_config.ValidatedGraphConfig()
    validated.initialize(binary_graph_path=str(graph_path))
    graph = calculator_pb2.CalculatorGraphConfig()
    graph.ParseFromString(validated.binary_config)
    nodes = [{"name": n.name, "calculator": n.calculator, "options": json_format.MessageToDict(n.options)}
             for n in graph.node]
    print(json.dumps(nodes))


if __name__ == "__main__":
    main()
