"""Shared helpers: dataset pools, augmentation, metrics."""

from __future__ import annotations

import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import phantoms as P

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")
MODEL_DIR = os.path.join(HERE, "..", "models", "chest-xray-phantom")
SIZE = 128
FEAT_STRIDE = 8
CHUNK = 256
# Seeds: the train pool, the calibration split and the held-out test set never share a seed.
SEED_TRAIN, SEED_CAL, SEED_TEST, SEED_SHIP, SEED_DEMO = 1, 2, 3, 4, 5


def chunk_seed(seed: int, i: int) -> int:
    return seed * 1_000_003 + i


def make_pool(seed: int, n: int, size: int = SIZE, keep_masks: bool = False, device="cpu", log=True):
    """Generate n phantoms in chunks (deterministic for a given seed/n). Cached in training/out."""
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, f"pool_s{seed}_n{n}_{size}{'_m' if keep_masks else ''}.pt")
    if os.path.exists(path):
        return torch.load(path)
    raws, labs, masks = [], [], []
    t0 = time.time()
    for i in range(math.ceil(n / CHUNK)):
        m = min(CHUNK, n - i * CHUNK)
        b = P.generate(m, size, chunk_seed(seed, i), device=device)
        raws.append(b.raw.half().cpu())
        labs.append(b.labels.cpu())
        if keep_masks:
            masks.append(b.masks.cpu())
        if log and i % 20 == 0:
            print(f"  pool seed={seed}: {i * CHUNK + m}/{n} ({time.time() - t0:.0f}s)", flush=True)
    d = {"raw": torch.cat(raws), "labels": torch.cat(labs)}
    if keep_masks:
        d["masks"] = torch.cat(masks)
    torch.save(d, path)
    return d


def batch_percentile_window(raw: torch.Tensor, plo: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    """Per-image percentile window with per-image percentiles (linear interpolation, numpy default)."""
    n = raw.shape[0]
    flat = raw.reshape(n, -1).float()
    s = flat.sort(dim=1).values
    M = s.shape[1]

    def q(p):
        pos = (p / 100.0).clamp(0, 1) * (M - 1)
        i0 = pos.floor().long().clamp(0, M - 1)
        i1 = (i0 + 1).clamp(max=M - 1)
        w = pos - i0.float()
        return s.gather(1, i0[:, None])[:, 0] * (1 - w) + s.gather(1, i1[:, None])[:, 0] * w

    lo, hi = q(plo).view(n, 1, 1, 1), q(phi).view(n, 1, 1, 1)
    return ((raw.float() - lo) / (hi - lo).clamp_min(1e-6)).clamp(0, 1)


def infer_input(raw: torch.Tensor) -> torch.Tensor:
    """Deterministic inference preprocessing at model size: p1/p99 window, 8-bit, normalise."""
    n = raw.shape[0]
    x = batch_percentile_window(raw, torch.full((n,), P.P_LOW), torch.full((n,), P.P_HIGH))
    x = torch.round(x * 255) / 255
    return P.normalise(x)


PL_GRID = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
PH_GRID = 100.0 - PL_GRID


def percentile_table(raw: torch.Tensor, bs: int = 512) -> torch.Tensor:
    """[N,2,7] lo/hi values at the PL_GRID/PH_GRID percentiles, computed once per pool."""
    out = []
    q = torch.cat([PL_GRID, PH_GRID]) / 100.0
    for i in range(0, len(raw), bs):
        flat = raw[i:i + bs].reshape(min(bs, len(raw) - i), -1).float()
        out.append(torch.quantile(flat, q, dim=1).T.reshape(-1, 2, len(PL_GRID)))
    return torch.cat(out)


def train_input(raw: torch.Tensor, table: torch.Tensor, g: torch.Generator, shift: bool = True) -> torch.Tensor:
    """Training augmentation: jittered percentile windows (p_low 0..3, p_high 97..100; stands in for
    DICOM windows and resampling), mild gamma, 8-bit quantisation 70% of the time, shifts <= 6 px."""
    n = raw.shape[0]
    il = torch.randint(0, table.shape[2], (n,), generator=g)
    ih = torch.randint(0, table.shape[2], (n,), generator=g)
    ar = torch.arange(n)
    lo = table[ar, 0, il].view(n, 1, 1, 1)
    hi = table[ar, 1, ih].view(n, 1, 1, 1)
    x = ((raw.float() - lo) / (hi - lo).clamp_min(1e-6)).clamp(0, 1)
    gam = torch.exp((torch.rand(n, generator=g) - 0.5) * 0.3).view(n, 1, 1, 1)
    x = x ** gam
    q8 = (torch.rand(n, generator=g) < 0.7).view(n, 1, 1, 1)
    x = torch.where(q8, torch.round(x * 255) / 255, x)
    if not shift:
        return P.normalise(x)
    S = x.shape[-1]
    sh = torch.randint(-6, 7, (n, 2), generator=g).float() * 2 / S
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = 1
    theta[:, 1, 1] = 1
    theta[:, :, 2] = sh
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="nearest", padding_mode="border", align_corners=False)
    return P.normalise(x)


# ---------------- metrics ----------------

def auroc(y: np.ndarray, s: np.ndarray) -> float:
    """Mann-Whitney AUROC with tie handling."""
    from scipy.stats import rankdata

    y = y.astype(bool)
    npos, nneg = y.sum(), (~y).sum()
    if npos == 0 or nneg == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def ece(y: np.ndarray, p: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error, equal-width bins on [0,1] (bin i: [i/15,(i+1)/15), last closed)."""
    idx = np.minimum((p * bins).astype(int), bins - 1)
    e = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            e += m.sum() / len(p) * abs(y[m].mean() - p[m].mean())
    return float(e)


def youden_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """Threshold maximising Youden's J = sensitivity + specificity - 1 over all cut points between
    distinct probabilities (and 0.5); among ties (e.g. a perfectly separated label) the one
    closest to 0.5."""
    u = np.unique(p)
    cand = np.concatenate([[0.5], (u[1:] + u[:-1]) / 2, u])
    pos, neg = (y > 0).sum(), (y == 0).sum()
    ps = np.sort(p[y > 0])
    ns = np.sort(p[y == 0])
    sens = 1 - np.searchsorted(ps, cand, side="left") / pos  # P(p >= t | positive)
    spec = np.searchsorted(ns, cand, side="left") / neg  # P(p < t | negative)
    j = sens + spec - 1
    best = j.max()
    ties = cand[j >= best - 1e-12]
    return float(ties[np.argmin(np.abs(ties - 0.5))])


def sigmoid(z):
    return 1 / (1 + np.exp(-z))
