"""One registry of export formats, by name and version (CVAT's dataset_manager idea)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from annotations.datasets.formats import coco, cvat, mmpose, yolo_pose


@dataclass(frozen=True)
class ExportFormat:
    name: str
    version: str
    extension: str  # of the produced file
    description: str
    write: Callable  # write(datasets: dict[subset, DatasetRecord], out_path, include_images) -> dict summary
    raw_json: bool = False  # the writer takes annotations as stored JSON text (AnnotationRecord.raw)


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("coco", "1.0", ".json", "COCO person-keypoints JSON (zip with images when asked)",
                     coco.write_export, raw_json=True),
        ExportFormat("yolo_pose", "1.0", ".zip", "Ultralytics YOLO-pose labels and dataset YAML",
                     yolo_pose.write_export),
        ExportFormat("mmpose", "1.0", ".zip", "MMPose COCO files, metainfo and an RTMPose training config",
                     mmpose.write_export),
        ExportFormat("cvat_coco", "1.0", ".zip", "CVAT 'COCO Keypoints 1.0' (CVAT's names, form label attribute)",
                     cvat.write_cvat_coco),
        ExportFormat("cvat_xml", "1.1", ".zip", "CVAT for images 1.1 XML with skeletons and the form label",
                     cvat.write_cvat_xml),
    )
}


def get_format(name: str) -> ExportFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise KeyError(f"unknown export format {name!r}; choose one of {sorted(FORMATS)}") from None
