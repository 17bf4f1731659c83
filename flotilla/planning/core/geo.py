"""Great-circle distances and neighbour search.

All coordinates are WGS84 degrees; all distances are kilometres on a sphere of radius
``EARTH_RADIUS_KM`` (the haversine formula).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

EARTH_RADIUS_KM = 6371.0088

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def haversine_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> FloatArray:
    """Great-circle distance in km between points given in degrees (broadcasts)."""
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def _unit_vectors(lat: FloatArray, lon: FloatArray) -> FloatArray:
    phi = np.radians(lat)
    lam = np.radians(lon)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def pairs_within_km(
    lat: npt.ArrayLike, lon: npt.ArrayLike, radius_km: float
) -> tuple[IntArray, IntArray, FloatArray]:
    """Ordered pairs ``(i, j)``, ``i != j``, at most ``radius_km`` apart, with their distance.

    Uses a k-d tree on unit vectors (chord length is monotone in arc length), so the cost is
    close to linear in the number of pairs found rather than quadratic in the number of points.
    """
    la = np.asarray(lat, dtype=np.float64)
    lo = np.asarray(lon, dtype=np.float64)
    if la.size == 0 or radius_km <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0)
    xyz = _unit_vectors(la, lo)
    # Chord for the arc, padded a hair so the exact haversine filter below decides the edge.
    chord = 2 * np.sin(min(np.pi, radius_km / EARTH_RADIUS_KM) / 2) * (1 + 1e-9) + 1e-12
    tree = cKDTree(xyz)
    pairs = tree.query_pairs(chord, output_type="ndarray")
    if pairs.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0)
    a = pairs[:, 0].astype(np.int64)
    b = pairs[:, 1].astype(np.int64)
    d = haversine_km(la[a], lo[a], la[b], lo[b])
    keep = d <= radius_km
    a, b, d = a[keep], b[keep], d[keep]
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    dist = np.concatenate([d, d])
    order = np.lexsort((dst, src))
    return src[order], dst[order], dist[order]
