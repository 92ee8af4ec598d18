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


def array_block(raws: list[bytes], dtype: str, n: int) -> np.ndarray:
    """(len(raws), n) float64 values of binary arrays that all have `array_head(dtype, n)`: one
    structured view of the joined bytes, one byte-swapping copy."""
    layout = np.dtype([("head", "V20"), ("cells", [("length", ">i4"), ("value", dtype)], (n,))])
    return np.frombuffer(b"".join(raws), layout)["cells"]["value"].astype(np.float64)


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


def decoded_chunk(chunk, K: int, verified_only: bool) -> dict[int, tuple[bytes, int]]:
    """{row position: (keypoint JSON list body, labelled count)} for the chunk's rows whose arrays hold
    the full skeleton, decoded and masked by numpy together; the others are left out."""
    kp_head, states_head = array_head(">f8", 3 * K), array_head(">i2", K)
    kp_width, states_width = 20 + 12 * 3 * K, 20 + 6 * K
    regular = [n for n, r in enumerate(chunk) if len(r[1]) == kp_width and len(r[2]) == states_width
               and r[1][:20] == kp_head and r[2][:20] == states_head]
    if not regular:
        return {}
    kp = array_block([chunk[n][1] for n in regular], ">f8", 3 * K)
    labelled = np.fromiter((chunk[n][3] for n in regular), np.int64, len(regular))
    if verified_only:
        unconfirmed = array_block([chunk[n][2] for n in regular], ">i2", K) != VERIFIED_CODE
        if unconfirmed.any():
            points = kp.reshape(len(regular), K, 3)
            points[unconfirmed] = 0.0
            labelled = np.where(unconfirmed.any(axis=1), (points[:, :, 2] > 0).sum(axis=1), labelled)
    return dict(zip(regular, zip(json_rows(kp), labelled.tolist())))


def odd_row(row, K: int, verified_only: bool) -> tuple[bytes, int]:
    """One row the chunk path could not take: decoded in Python, padded to K points, masked."""
    kp = [0 if v is None else v for v in decode_array(row[1], ">f8")]
    codes = [0 if c is None else int(c) for c in decode_array(row[2], ">i2")]
    labelled = row[3]
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
