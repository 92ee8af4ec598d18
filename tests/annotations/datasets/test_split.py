"""Clip-grouped, stratified, deterministic splits that stay stable as clips are added."""

import random
from collections import Counter

import pytest

from annotations.datasets.splitting import assign_clips, create_split, target_counts
from annotations.models import Clip, ClipSplit, Frame


def synthetic_clips(n, seed=0):
    rng = random.Random(seed)
    return {f"v{i}_{i % 7}": rng.choice(["correct", "lumbar_error", None]) for i in range(n)}


@pytest.mark.parametrize("seed", range(25))
def test_no_clip_is_ever_in_two_subsets_and_every_clip_is_placed(seed):
    clips = synthetic_clips(60, seed)
    out = assign_clips(clips, {"train": 0.7, "val": 0.15, "test": 0.15}, seed)
    assert set(out) == set(clips)
    assert set(out.values()) <= {"train", "val", "test"}


def test_it_is_deterministic_for_a_seed_and_differs_across_seeds():
    clips = synthetic_clips(80)
    ratios = {"train": 0.7, "val": 0.15, "test": 0.15}
    assert assign_clips(clips, ratios, 42) == assign_clips(dict(reversed(list(clips.items()))), ratios, 42)
    assert assign_clips(clips, ratios, 42) != assign_clips(clips, ratios, 43)


def test_each_form_label_is_spread_over_the_subsets_by_the_ratios():
    clips = {f"c{i}": ("correct" if i < 40 else "lumbar_error") for i in range(80)}
    out = assign_clips(clips, {"train": 0.7, "val": 0.15, "test": 0.15}, 7)
    for label in ("correct", "lumbar_error"):
        counts = Counter(s for k, s in out.items() if clips[k] == label)
        assert counts == Counter(target_counts(40, {"train": 0.7, "val": 0.15, "test": 0.15}))
        assert counts["train"] == 28 and counts["val"] + counts["test"] == 12


def test_adding_clips_keeps_every_old_assignment():
    ratios = {"train": 0.7, "val": 0.15, "test": 0.15}
    first = synthetic_clips(50, 1)
    old = assign_clips(first, ratios, 42)
    more = {**first, **{f"new{i}_1": "correct" for i in range(20)}}
    new = assign_clips(more, ratios, 42, existing=old)
    assert all(new[k] == v for k, v in old.items())
    assert set(new) == set(more)


def test_the_real_dataset_splits_by_whole_clips_with_both_labels_in_each_subset(imported):
    version = create_split(imported)
    frames = Frame.objects.filter(project=imported).values_list("clip__key", "split")
    per_clip = {}
    for clip, split in frames:
        per_clip.setdefault(clip, set()).add(split)
    assert all(len(s) == 1 and s != {""} for s in per_clip.values())
    for subset in ("train", "val", "test"):
        labels = version.summary["subsets"][subset]["annotations_by_label"]
        assert labels.get("correct", 0) > 0 and labels.get("lumbar_error", 0) > 0, subset
    total = sum(version.summary["subsets"][s]["annotations"] for s in ("train", "val", "test"))
    assert total == 210


def test_a_new_version_after_new_clips_keeps_the_old_assignments(imported):
    from annotations.datasets.importing import import_coco_data

    v1 = create_split(imported)
    old = dict(ClipSplit.objects.filter(version=v1).values_list("clip__key", "subset"))
    extra = {
        "images": [{"id": i, "file_name": f"99999_{i}_1.jpg", "width": 300, "height": 400} for i in range(1, 6)],
        "annotations": [{"id": i, "image_id": i, "category_id": 1, "keypoints": [10, 10, 2] * 17,
                         "bbox": [0, 0, 50, 50], "area": 2500} for i in range(1, 6)],
        "categories": [{"id": 1, "name": "person", "keypoints": imported.skeleton["keypoints"][:17]}],
    }
    import_coco_data(imported, extra, source_name="extra.json", image_files={}, form_label="correct")
    v2 = create_split(imported)
    new = dict(ClipSplit.objects.filter(version=v2).values_list("clip__key", "subset"))
    assert v2.parent == v1 and v2.number == 2
    assert {k: new[k] for k in old} == old
    assert set(new) - set(old) == {f"99999_{i}" for i in range(1, 6)}
    assert Clip.objects.filter(project=imported).count() == len(new)


def test_no_clip_of_the_real_dataset_is_split_across_subsets_for_many_seeds(imported):
    for seed in range(12):
        version = create_split(imported, seed=seed, fresh=True)
        subsets_per_clip = {}
        for clip, subset in ClipSplit.objects.filter(version=version).values_list("clip__key", "subset"):
            subsets_per_clip.setdefault(clip, set()).add(subset)
        assert all(len(s) == 1 for s in subsets_per_clip.values())
        frames = Frame.objects.filter(project=imported).values_list("clip__key", "split")
        assert all(split in subsets_per_clip[clip] for clip, split in frames)
