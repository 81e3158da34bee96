"""Byte-reproducible .npz files.

``np.savez_compressed`` stamps each zip member with the current time, so two
builds of the same arrays differ. This writer fixes every piece of zip metadata
(date 1980-01-01, Unix attributes, deflate level 9, sorted member order) so the
same arrays always give the same bytes; ``np.load`` reads the result as usual.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

_DATE = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The .npz file for ``arrays`` (name -> array), the same bytes every time."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(arrays):
            arr = np.asarray(arrays[name])
            if arr.dtype == object:
                raise ValueError(f"array {name!r} has dtype object; store numbers or str")
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compress_type=zipfile.ZIP_DEFLATED,
                        compresslevel=9)
    return buf.getvalue()


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> bytes:
    data = npz_bytes(arrays)
    Path(path).write_bytes(data)
    return data


def read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}
