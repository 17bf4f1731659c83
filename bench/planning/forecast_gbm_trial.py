"""Trial (not yet the product's forecaster): one global quantile gradient-boosted model per
quantile over every trust's series, scored like bench/planning/forecast_backtest.py.

Needs LightGBM, which is not in the lock file yet (`pip install lightgbm` into a scratch
environment); adopting it needs an ADR. Features at an origin: the log level, its change
over 1-27 days, recent volatility, the measure, the horizon, the days of week of origin and
target, the day of the winter and how many of the last seven days were reported. Target: the
log change to the target day. Trained on the winters named first, scored on those named
second (rolling origins from day 21, the same targets as the backtest). Each forecast is
scored as the model made it and again after a causal widening of its intervals (`widen`): at
each origin, per horizon, each interval is widened by the quantile at its level of the errors
of forecasts from the last 14 origins whose targets are already known, pooled over every
series of the winter (nothing before 500 such errors; never narrowed). Those settings were
chosen on 2019-20 alone (trained on 2015-16 to 2018-19):

    .venv/bin/python bench/planning/forecast_gbm_trial.py 1516,1617,1718,1819 1920 200
    .venv/bin/python bench/planning/forecast_gbm_trial.py 1516,1617,1718,1819,1920 2021,2122 200 11
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import lightgbm as lgb
import numpy as np
from _data import sitrep_matrix

from flotilla.planning.core.backtest import rolling_backtest
from flotilla.planning.core.forecast import ForecastConfig, fill_gaps
from flotilla.planning.core.scoring import QUANTILES, coverage, wis

H = 14
LAGS = [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 21, 27]
MIN_TRAIN = 21


def features(values, groups, winter_start_dow):
    """Rows for every (series, origin from day 21, horizon): features, target, index."""
    y, obs = fill_gaps(values)
    S, T = y.shape
    ly = np.log1p(np.maximum(y, 0))
    scale = np.abs(np.diff(ly, axis=1))
    origins = np.arange(MIN_TRAIN - 1, T - 1)
    rows = []
    for o in origins:
        base = ly[:, o]
        lagf = [base - ly[:, max(o - k, 0)] for k in LAGS]
        vol = np.nanmean(scale[:, max(o - 14, 0) : o], axis=1) if o > 0 else np.zeros(S)
        # how many of the last 7 days were observed
        nobs = obs[:, max(o - 6, 0) : o + 1].sum(axis=1)
        for h in range(1, H + 1):
            t = o + h
            tgt = np.full(S, np.nan)
            if t < T:
                tgt = np.where(obs[:, t], ly[:, t] - base, np.nan)
            X = np.column_stack(
                [
                    *lagf,
                    vol,
                    base,
                    groups,
                    np.full(S, h),
                    np.full(S, (winter_start_dow + o) % 7),
                    np.full(S, (winter_start_dow + t) % 7),
                    np.full(S, o),
                    nobs,
                ]
            )
            rows.append((X, tgt, np.full(S, o), np.arange(S), np.full(S, h)))
    X = np.concatenate([r[0] for r in rows])
    tg = np.concatenate([r[1] for r in rows])
    oo = np.concatenate([r[2] for r in rows])
    ss = np.concatenate([r[3] for r in rows])
    hh = np.concatenate([r[4] for r in rows])
    return X, tg, oo, ss, hh, y


import pandas as pd  # noqa: E402 (after the path set-up)

#: (lower, upper, level): the quantile pairs of QUANTILES that bound each interval.
PAIRS = ((0, 6, 0.95), (1, 5, 0.8), (2, 4, 0.5))
WINDOW, MIN_ERRORS = 14, 500
#: Days after the target day before an error joins the pool (a fourth argument; 0 by default):
#: 11 is the worst case for errors taken from weekly published files.
LAG = int(sys.argv[4]) if len(sys.argv) > 4 else 0


def widen(p, known, oo, hh):
    """Log-space quantiles `p` (rows, K), each interval widened by the conformal quantile of
    the errors (how far outside the interval the outcome fell, negative inside) of the same
    horizon's forecasts from the last WINDOW origins whose target day is already past."""
    out = p.copy()
    for h in range(1, H + 1):
        rows = np.where(hh == h)[0]
        o_h = oo[rows]
        for lo, hi, level in PAIRS:
            err = np.maximum(p[rows, lo] - known[rows], known[rows] - p[rows, hi])
            for o in np.unique(o_h):
                past = (o_h <= o - h - LAG) & (o_h > o - h - LAG - WINDOW) & np.isfinite(err)
                e = err[past]
                if e.size < MIN_ERRORS:
                    continue
                k = min(e.size - 1, int(np.ceil((e.size + 1) * level)) - 1)
                q = max(float(np.partition(e, k)[k]), 0.0)
                here = rows[o_h == o]
                out[here, lo] -= q
                out[here, hi] += q
    return np.sort(out, axis=1)


def start_dow(winter):
    from _data import sitrep_long

    d = pd.to_datetime(sitrep_long(winter)["date"]).min()
    return d.day_of_week


train_w = sys.argv[1].split(",")
eval_w = sys.argv[2].split(",")
Xs, ts = [], []
t0 = time.time()
for w in train_w:
    v, g, k = sitrep_matrix(w)
    X, tg, *_ = features(v, g, start_dow(w))
    ok = np.isfinite(tg)
    Xs.append(X[ok])
    ts.append(tg[ok])
X = np.concatenate(Xs)
tg = np.concatenate(ts)
print("train rows", X.shape, f"{time.time() - t0:.0f}s", flush=True)
models = {}
for q in QUANTILES:
    params = dict(
        objective="quantile",
        alpha=q,
        learning_rate=0.05,
        num_leaves=63,
        min_data_in_leaf=200,
        bagging_fraction=0.5,
        bagging_freq=1,
        feature_fraction=0.8,
        verbose=-1,
        num_threads=2,
        seed=1,
    )
    ds = lgb.Dataset(X, tg, categorical_feature=[len(LAGS) + 2], free_raw_data=False)
    m = lgb.train(params, ds, num_boost_round=int(sys.argv[3]) if len(sys.argv) > 3 else 300)
    models[q] = m
    print("fit", q, f"{time.time() - t0:.0f}s", flush=True)

tot = {}
for w in eval_w:
    v, g, k = sitrep_matrix(w)
    X, tg, oo, ss, hh, y = features(v, g, start_dow(w))
    base = np.log1p(np.maximum(y[ss, oo], 0))
    qs = np.column_stack([models[q].predict(X) for q in QUANTILES])
    log_q = base[:, None] + np.sort(qs, axis=1)
    T = v.shape[1]
    target = np.array(
        [v[s, o + h] if o + h < T else np.nan for s, o, h in zip(ss, oo, hh, strict=False)]
    )
    variants = {
        "raw": np.expm1(log_q),
        "widened": np.expm1(widen(log_q, np.log1p(np.maximum(target, 0)), oo, hh)),
    }
    ok = np.isfinite(target)
    sums = rolling_backtest(v, g, H, config=ForecastConfig())
    for h in range(1, H + 1):
        sel = ok & (hh == h)
        a = tot.setdefault(h, {"n": 0, "base": 0.0, "ens": 0.0})
        a["n"] += sel.sum()
        a["base"] += sums.wis_baseline[h - 1]
        a["ens"] += sums.wis[h - 1]
        for name, pred in variants.items():
            w_ = wis(pred[sel][:, None, :], target[sel][:, None])[:, 0].sum()
            c95 = coverage(pred[sel][:, None, :], target[sel][:, None], 0.95).sum()
            a[name] = a.get(name, 0.0) + w_
            a[name + " cover"] = a.get(name + " cover", 0.0) + c95
for name in ("raw", "widened"):
    rel = [tot[h][name] / tot[h]["base"] for h in range(1, H + 1)]
    cover = [tot[h][name + " cover"] / tot[h]["n"] for h in range(1, H + 1)]
    print(
        name,
        " ".join(
            f"h{h}: {r:.3f}/{c:.3f}" for h, r, c in zip(range(1, H + 1), rel, cover, strict=True)
        ),
    )
    print(
        f"{name}: mean relative WIS {np.mean(rel):.3f}, worst horizon {max(rel):.3f}, "
        f"95% coverage {min(cover):.3f}-{max(cover):.3f}"
    )
ens = [tot[h]["ens"] / tot[h]["base"] for h in range(1, H + 1)]
print(f"the ensemble on the same targets: mean relative WIS {np.mean(ens):.3f}")
