"""Helpers that make numpy arrays read-only for the frozen input dataclasses."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def frozen(values: Any, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """Return a read-only copy of ``values`` as an array of ``dtype``."""
    arr = np.array(values, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr
