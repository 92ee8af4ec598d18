"""Keypoints and states of streamed annotation rows: PostgreSQL's binary arrays decoded a chunk at a time
by numpy, masked there (unconfirmed points unlabelled), and written as JSON by one orjson call per chunk.
Rows whose arrays do not hold the full skeleton (made before it gained keypoints, NULL elements) take a
one-by-one path with the same result.
"""

from __future__ import annotations

import struct

import numpy as np
import orjson

from annotations.models.point_fields import STATE_CODES, STATE_NAMES, VERIFIED_CODE

ELEMENT_OIDS = {">f8": 701, ">i2": 21}  # float8, int2
_ARRAY_HEAD = struct.Struct("!iiiii")  # ndim, has nulls, element oid, length, lower bound


def decode_array(raw: bytes, dtype: str) -> list:
    """One binary 1-D array -> list (None for NULL elements); the general path for odd rows."""
    if len(raw) < 20:  # no dimensions: an empty array
        return []
    _, _, _, n, _ = _ARRAY_HEAD.unpack_from(raw)
    out: list = []
    pos, size = 20, np.dtype(dtype).itemsize
    for _ in range(n):
        (length,) = struct.unpack_from("!i", raw, pos)
        pos += 4
        if length < 0:
            out.append(None)
            continue
        out.append(np.frombuffer(raw, dtype, 1, pos)[0].item())
        pos += size
    return out


def array_head(dtype: str, n: int) -> bytes:
    """The 20-byte header of a binary 1-D array of n non-NULL elements."""
    return _ARRAY_HEAD.pack(1, 0, ELEMENT_OIDS[dtype], n, 1)


def array_width(dtype: str, n: int) -> int:
    """Bytes of a binary 1-D array of n non-NULL elements: the header, then a length before each value."""
    return 20 + (4 + np.dtype(dtype).itemsize) * n


def _arrays_view(joined: bytes, dtype: str, n: int) -> np.ndarray:
    """Joined binary arrays of n elements each as a structured view: "head" (5,) and "cells" (length, value)."""
    layout = np.dtype([("head", ">i4", (5,)), ("cells", [("length", ">i4"), ("value", dtype)], (n,))])
    return np.frombuffer(joined, layout)


def array_block(raws: list[bytes], dtype: str, n: int) -> np.ndarray:
    """(len(raws), n) float64 values of binary arrays that all have `array_head(dtype, n)`: one
    structured view of the joined bytes, one byte-swapping copy."""
    return _arrays_view(b"".join(raws), dtype, n)["cells"]["value"].astype(np.float64)


def _whole_as_integers(text: bytes) -> bytes:
    """orjson's number text with every ".0" that ends a number (before "," or "]") dropped: whole numbers
    written as integers. Shortest float repr never ends in a zero other than ".0", and never has ".0"
    before its exponent. One numpy mask over the bytes (bytes.replace of the many hits took twice as long)."""
    b = np.frombuffer(text, np.uint8)
    ends = np.flatnonzero((b[:-2] == ord(".")) & (b[1:-1] == ord("0")) & ((b[2:] == ord(",")) | (b[2:] == ord("]"))))
    if len(ends) == 0:
        return text
    keep = np.ones(len(b), bool)
    keep[ends] = keep[ends + 1] = False
    return b[keep].tobytes()


def json_rows(values: np.ndarray) -> list[bytes]:
    """(N, D) numbers -> N JSON list bodies (no brackets), exactly as stored; whole numbers without ".0"
    (integers), -0.0 as 0. One orjson call formats the chunk; the rows split where one ends and the next
    begins."""
    if len(values) == 0:
        return []
    flat = np.ascontiguousarray(values.reshape(len(values), -1), dtype=np.float64)
    flat += 0.0  # turns -0.0 into 0.0 (in place: no copy of the chunk)
    return _whole_as_integers(orjson.dumps(flat, option=orjson.OPT_SERIALIZE_NUMPY))[2:-2].split(b"],[")


class States:
    """Per distinct stored state array (there are few): `[names],"verified":[flags]` as JSON."""

    def __init__(self, K: int) -> None:
        self.K = K
        self.known: dict[bytes, bytes] = {}

    def text(self, raw: bytes) -> bytes:
        hit = self.known.get(raw)
        if hit is None:  # NULL codes read as unverified, missing points unverified
            codes = [0 if c is None else int(c) for c in decode_array(raw, ">i2")]
            codes += [STATE_CODES["unverified"]] * (self.K - len(codes))
            hit = self.known[raw] = (orjson.dumps([STATE_NAMES[c] for c in codes]) + b',"verified":'
                                     + orjson.dumps([c == VERIFIED_CODE for c in codes]))
        return hit

    def texts(self, raws: tuple[bytes, ...]) -> list[bytes]:
        """text() of each of a chunk's state arrays (one dict lookup each once the few are known)."""
        for raw in set(raws) - self.known.keys():
            self.text(raw)
        return list(map(self.known.__getitem__, raws))


def _full_block(raws: tuple[bytes, ...], dtype: str, n: int) -> np.ndarray | None:
    """(len(raws), n) float64 values when every array is a 1-D array of n non-NULL elements, else None.
    Checked on the joined bytes: the first array that is not starts where the previous one ended, at a
    row of the view, and its own header there (dimensions, NULL flag, length) differs."""
    joined = b"".join(raws)
    if len(joined) != array_width(dtype, n) * len(raws):
        return None
    view = _arrays_view(joined, dtype, n)
    if (view["head"] != np.frombuffer(array_head(dtype, n), ">i4")).any():
        return None
    return view["cells"]["value"].astype(np.float64)


def _masked_rows(kp: np.ndarray, codes: np.ndarray, labelled: np.ndarray, K: int,
                 verified_only: bool) -> tuple[list[bytes], list[int]]:
    """kp (N, 3K), codes (N, K), labelled (N,) -> the rows' keypoint JSON list bodies and labelled counts,
    points not verified unlabelled (0, 0, 0) when verified_only."""
    if verified_only:
        unconfirmed = codes != VERIFIED_CODE
        if unconfirmed.any():
            points = kp.reshape(len(kp), K, 3)
            points[unconfirmed] = 0.0
            labelled = np.where(unconfirmed.any(axis=1), (points[:, :, 2] > 0).sum(axis=1), labelled)
    return json_rows(kp), labelled.tolist()


def decoded_chunk(kps: tuple[bytes, ...], states: tuple[bytes, ...], counts: tuple[int, ...], K: int,
                  verified_only: bool) -> tuple[list[bytes], list[int]]:
    """A chunk's keypoint JSON list bodies and labelled counts, row for row, from its binary keypoint and
    state arrays and stored counts. Rows that all hold the full skeleton are decoded and masked by numpy
    together; a chunk with other rows takes them one by one."""
    kp = _full_block(kps, ">f8", 3 * K)
    codes = _full_block(states, ">i2", K) if kp is not None else None
    if kp is None or codes is None:
        return _mixed_chunk(kps, states, counts, K, verified_only)
    return _masked_rows(kp, codes, np.asarray(counts, np.int64), K, verified_only)


def _mixed_chunk(kps, states, counts, K: int, verified_only: bool) -> tuple[list[bytes], list[int]]:
    """decoded_chunk for a chunk with rows that do not hold the full skeleton (or hold NULLs)."""
    kp_head, states_head = array_head(">f8", 3 * K), array_head(">i2", K)
    kp_width, states_width = array_width(">f8", 3 * K), array_width(">i2", K)
    regular = [n for n in range(len(kps)) if len(kps[n]) == kp_width and len(states[n]) == states_width
               and kps[n][:20] == kp_head and states[n][:20] == states_head]
    points: list[bytes] = [b""] * len(kps)
    labelled: list[int] = [0] * len(kps)
    if regular:
        rows = _masked_rows(array_block([kps[n] for n in regular], ">f8", 3 * K),
                            array_block([states[n] for n in regular], ">i2", K),
                            np.asarray([counts[n] for n in regular], np.int64), K, verified_only)
        for n, text, count in zip(regular, *rows):
            points[n], labelled[n] = text, count
    for n in sorted(set(range(len(kps))) - set(regular)):
        points[n], labelled[n] = odd_row(kps[n], states[n], counts[n], K, verified_only)
    return points, labelled


def odd_row(kp_raw: bytes, states_raw: bytes, labelled: int | None, K: int, verified_only: bool) -> tuple[bytes, int]:
    """One row the chunk path could not take: decoded in Python, padded to K points, masked."""
    kp = [0 if v is None else v for v in decode_array(kp_raw, ">f8")]
    codes = [0 if c is None else int(c) for c in decode_array(states_raw, ">i2")]
    missing = K - len(kp) // 3
    if missing > 0:
        kp, codes = kp + [0.0, 0.0, 0.0] * missing, codes + [STATE_CODES["unverified"]] * missing
        labelled = None
    if verified_only and any(c != VERIFIED_CODE for c in codes):
        kp = [0.0 if codes[i // 3] != VERIFIED_CODE else v for i, v in enumerate(kp)]
        labelled = None
    if labelled is None:
        labelled = sum(1 for v in kp[2::3] if v > 0)
    return json_rows(np.asarray([kp], dtype=np.float64))[0], labelled
