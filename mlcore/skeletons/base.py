"""The Skeleton record: keypoint names, links, flip pairs, OKS sigmas, colours."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


def normalise_name(name: str) -> str:
    """Canonical keypoint name: case-, space- and dash-insensitive.

    >>> normalise_name("Left Shoulder")
    'left_shoulder'
    """
    return re.sub(r"[\s\-_]+", "_", name.strip().lower())


@dataclass(frozen=True)
class Skeleton:
    """A keypoint skeleton as data.

    keypoints: K names, in storage order.
    links: 0-based index pairs drawn as bones.
    flip_pairs: 0-based (left, right) pairs swapped by a horizontal flip.
    sigmas: K OKS sigmas.
    colours: K hex colours (left, right, centre and spine points differ).
    """

    name: str
    keypoints: tuple[str, ...]
    links: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...]
    sigmas: tuple[float, ...]
    colours: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        k = len(self.keypoints)
        if len(set(self.keypoints)) != k:
            raise ValueError(f"{self.name}: duplicate keypoint names")
        if len(self.sigmas) != k:
            raise ValueError(f"{self.name}: {len(self.sigmas)} sigmas for {k} keypoints")
        for a, b in (*self.links, *self.flip_pairs):
            if not (0 <= a < k and 0 <= b < k):
                raise ValueError(f"{self.name}: index pair ({a}, {b}) out of range 0..{k - 1}")
        if not self.colours:
            object.__setattr__(self, "colours", tuple(default_colour(n) for n in self.keypoints))
        elif len(self.colours) != k:
            raise ValueError(f"{self.name}: {len(self.colours)} colours for {k} keypoints")

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    def index(self, name: str) -> int:
        """Index of a keypoint by (normalised) name; KeyError if absent."""
        return self.keypoints.index(normalise_name(name))

    @property
    def flip_index(self) -> list[int]:
        """Permutation p with p[i] = partner of i under a horizontal flip (i itself if none)."""
        perm = list(range(self.num_keypoints))
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    @property
    def sigma_array(self) -> npt.NDArray[np.float64]:
        """OKS sigmas, shape (K,), float64."""
        return np.asarray(self.sigmas, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (links and flip pairs 0-based)."""
        return {
            "name": self.name,
            "keypoints": list(self.keypoints),
            "links": [list(p) for p in self.links],
            "flip_pairs": [list(p) for p in self.flip_pairs],
            "sigmas": list(self.sigmas),
            "colours": list(self.colours),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Skeleton:
        return cls(
            name=data.get("name", "custom"),
            keypoints=tuple(normalise_name(n) for n in data["keypoints"]),
            links=tuple(tuple(p) for p in data.get("links", [])),
            flip_pairs=tuple(tuple(p) for p in data.get("flip_pairs", [])),
            sigmas=tuple(float(s) for s in data["sigmas"]),
            colours=tuple(data.get("colours") or ()),
        )

    def coco_category(self, category_id: int = 1, category_name: str = "person") -> dict[str, Any]:
        """COCO category record: names and 1-based skeleton links."""
        return {
            "id": category_id,
            "name": category_name,
            "supercategory": "person",
            "keypoints": list(self.keypoints),
            "skeleton": [[a + 1, b + 1] for a, b in self.links],
        }

    def with_keypoints(self, extra: Skeleton | list[str], sigmas: list[float] | None = None) -> Skeleton:
        """A copy with keypoints appended at the end (stored K-vectors stay valid as a prefix).

        New left_/right_ points are paired for flipping with each other or with existing points.
        """
        if isinstance(extra, Skeleton):
            names, sig = list(extra.keypoints), list(extra.sigmas)
        else:
            names = [normalise_name(n) for n in extra]
            sig = list(sigmas) if sigmas is not None else [0.079] * len(names)
        keypoints = self.keypoints + tuple(names)
        index = {n: i for i, n in enumerate(keypoints)}
        paired = {i for pair in self.flip_pairs for i in pair}
        new_pairs = tuple(
            (index[n], index["right_" + n[len("left_"):]])
            for n in names
            if n.startswith("left_") and "right_" + n[len("left_"):] in index
            and not {index[n], index["right_" + n[len("left_"):]]} & paired
        )
        return Skeleton(
            name=self.name,
            keypoints=keypoints,
            links=self.links,
            flip_pairs=self.flip_pairs + new_pairs,
            sigmas=self.sigmas + tuple(sig),
            colours=self.colours + tuple(default_colour(n) for n in names),
        )


# Left points blue, right points orange, centre points green, spine chain magenta.
LEFT_COLOUR, RIGHT_COLOUR, CENTRE_COLOUR, SPINE_COLOUR = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62fd6"


def default_colour(name: str) -> str:
    if name.startswith("spine_") or name in ("neck", "hip", "neck_02", "neck_03"):
        return SPINE_COLOUR
    if name.startswith("left_"):
        return LEFT_COLOUR
    if name.startswith("right_"):
        return RIGHT_COLOUR
    return CENTRE_COLOUR


def build(name: str, keypoints: list[str], links_by_name: list[tuple[str, str]], sigmas: list[float]) -> Skeleton:
    """Build a skeleton from names; flip pairs come from left_/right_ name pairs."""
    index = {n: i for i, n in enumerate(keypoints)}
    flip_pairs = tuple(
        (i, index["right_" + n[len("left_"):]])
        for i, n in enumerate(keypoints)
        if n.startswith("left_") and "right_" + n[len("left_"):] in index
    )
    return Skeleton(
        name=name,
        keypoints=tuple(keypoints),
        links=tuple((index[a], index[b]) for a, b in links_by_name),
        flip_pairs=flip_pairs,
        sigmas=tuple(sigmas),
    )
