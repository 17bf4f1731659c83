"""Trial (not yet the product's forecaster): one global quantile gradient-boosted model per
quantile over every trust's series, scored like bench/planning/forecast_backtest.py.

Needs LightGBM, which is not in the lock file yet (`pip install lightgbm` into a scratch
environment); adopting it needs an ADR. Features at an origin: the log level, its change
over 1-27 days, recent volatility, the measure, the horizon, the days of week of origin and
target, the day of the winter and how many of the last seven days were reported. Target: the
log change to the target day. Trained on the winters named first, scored on those named
second (rolling origins from day 21, the same targets as the backtest):

    .venv/bin/python bench/planning/forecast_gbm_trial.py 1516,1617,1718,1819 1920 200
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
    qs = np.sort(qs, axis=1)
    pred = np.expm1(base[:, None] + qs)
    T = v.shape[1]
    target = np.array(
        [v[s, o + h] if o + h < T else np.nan for s, o, h in zip(ss, oo, hh, strict=False)]
    )
    ok = np.isfinite(target)
    sums = rolling_backtest(v, g, H, config=ForecastConfig())
    for h in range(1, H + 1):
        sel = ok & (hh == h)
        wg = wis(pred[sel][:, None, :], target[sel][:, None])[:, 0].sum()
        c95 = coverage(pred[sel][:, None, :], target[sel][:, None], 0.95).sum()
        a = tot.setdefault(h, [0, 0, 0, 0, 0])
        a[0] += wg
        a[1] += sel.sum()
        a[3] += c95
    for h in range(1, H + 1):
        tot[h][2] += sums.wis_baseline[h - 1]
        tot[h][4] += sums.wis[h - 1]
rel = []
rel_e = []
for h in range(1, H + 1):
    a = tot[h]
    rel.append(a[0] / a[2])
    rel_e.append(a[4] / a[2])
    print(
        h,
        int(a[1]),
        f"gbm rel {a[0] / a[2]:.3f} ens rel {a[4] / a[2]:.3f} cover95 {a[3] / a[1]:.3f}",
    )
print(f"mean rel gbm {np.mean(rel):.3f} ens {np.mean(rel_e):.3f}")
