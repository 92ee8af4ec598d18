"""The COCO writer's text fast path writes exactly what the dict path writes."""

import json

from annotations.datasets.exporting import build_dataset
from annotations.datasets.formats.coco import coco_text, to_coco_dict
from annotations.datasets.splitting import create_split
from annotations.models import Annotation


def without_date(doc):
    doc["info"].pop("date_created")
    return doc


def test_the_raw_json_export_equals_the_parsed_export(imported):
    create_split(imported)
    # one annotation from before the skeleton grew (shorter keypoint list) takes the parsed path
    short = Annotation.objects.filter(project=imported).first()
    Annotation.objects.filter(pk=short.pk).update(keypoints=short.keypoints[:51],
                                                  keypoint_states=short.keypoint_states[:17])
    for subset in ("train", "test", "all"):
        version = imported.split_versions.first()
        raw = build_dataset(imported, subset, version, raw_json=True)
        parsed = build_dataset(imported, subset, version, raw_json=False)
        assert any(a.raw for a in raw.annotations) and not any(a.raw for a in parsed.annotations)
        assert without_date(json.loads(coco_text(raw))) == without_date(json.loads(json.dumps(to_coco_dict(parsed))))


def test_visibility_flags_are_written_as_integers(imported):
    doc = json.loads(coco_text(build_dataset(imported, "all", raw_json=True)))
    flags = {v for a in doc["annotations"] for v in a["keypoints"][2::3]}
    assert flags <= {0, 1, 2} and all(isinstance(v, int) for v in flags)
    assert all(a["num_keypoints"] == sum(v > 0 for v in a["keypoints"][2::3]) for a in doc["annotations"])
