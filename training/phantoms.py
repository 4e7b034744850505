"""Synthetic frontal (PA) chest-radiograph phantoms with ground-truth finding masks.

Deterministic: the same (n, size, seed) always gives the same images on the same
PyTorch build. Everything is vectorised over the batch with torch (CPU or GPU).

Geometry is defined in normalised patient coordinates (x, y in [-1, 1], x to the
image right = patient's left as on a PA film, y downwards), so the same phantom can
be rendered at any resolution (the model uses 128 px, the demo scans 1024 px).

Image formation: attenuation map A (soft tissue, air in the lungs, bone, findings)
-> detector blur -> transmission exp(-mu*A) -> quantum (Poisson-like) noise ->
log -> contrast / gamma "processing" -> raw detector value in [0, 1]
(dense = bright, as displayed).  The model's preprocessing (percentile window,
resize, normalisation) is in `preprocess` and is what the server must replicate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

LABELS = ["nodule", "consolidation", "pleural_effusion", "pneumothorax", "cardiomegaly"]
DISPLAY = ["Nodule", "Consolidation", "Pleural effusion", "Pneumothorax", "Cardiomegaly"]
NL = len(LABELS)
PREVALENCE = 0.25  # each finding independently; ~24% of phantoms are normal
MIN_AREA = 0.0015  # consolidation/effusion/pneumothorax masks smaller than this are not positives

# Preprocessing shared by training, evaluation and the server (see manifest.json).
P_LOW, P_HIGH = 1.0, 99.0
NORM_MEAN, NORM_STD = 0.5, 0.25


@dataclass
class Batch:
    raw: torch.Tensor  # [N,1,S,S] float32 raw detector image in [0,1]
    masks: torch.Tensor  # [N,5,S,S] bool finding masks
    labels: torch.Tensor  # [N,5] float32 0/1


def _u(g, n, lo, hi, dev):
    return lo + (hi - lo) * torch.rand(n, generator=g, device=dev)


def _v(t):  # [N] -> [N,1,1] for broadcasting against [N,S,S]
    return t.view(-1, 1, 1)


def _sig(t, soft):
    return torch.sigmoid(t / soft)


def _smooth_noise(g, n, gh, gw, size, dev, mode="bicubic"):
    """Random field: gh x gw grid of N(0,1) values upsampled to size x size."""
    z = torch.randn(n, 1, gh, gw, generator=g, device=dev)
    return F.interpolate(z, size=(size, size), mode=mode, align_corners=False)[:, 0]


def _sample_grid(tex, u, v):
    """Sample texture tex [N,1,h,w] at normalised coords u (x), v (y) in [-1,1], [N,S,S]."""
    grid = torch.stack([u, v], dim=-1)
    return F.grid_sample(tex, grid, mode="bilinear", padding_mode="border", align_corners=False)[:, 0]


def _gauss_blur(img, sigma_px):
    """Separable Gaussian blur, per-image sigma (pixels), img [N,S,S]."""
    n = img.shape[0]
    smax = float(sigma_px.max())
    r = max(1, int(math.ceil(3 * smax)))
    xs = torch.arange(-r, r + 1, device=img.device, dtype=img.dtype)
    k = torch.exp(-0.5 * (xs.view(1, -1) / sigma_px.view(-1, 1).clamp_min(1e-3)) ** 2)
    k = k / k.sum(1, keepdim=True)  # [N,K]
    x = img.unsqueeze(0)  # [1,N,S,S] grouped conv, one kernel per image
    x = F.pad(x, (r, r, r, r), mode="replicate")
    x = F.conv2d(x, k.view(n, 1, 1, -1), groups=n)
    x = F.conv2d(x, k.view(n, 1, -1, 1), groups=n)
    return x[0]


def _dilate(mask, px):
    if px <= 0:
        return mask
    m = mask.float().unsqueeze(1)
    return (F.max_pool2d(m, 2 * px + 1, stride=1, padding=px)[:, 0] > 0.5)


def generate(n: int, size: int = 128, seed: int = 0, force: torch.Tensor | None = None,
             device: str = "cpu", difficulty: float = 1.0) -> Batch:
    """Draw n phantoms at size x size. force: optional [n,5] 0/1 tensor of labels to draw."""
    dev = torch.device(device)
    g = torch.Generator(device=dev)
    g.manual_seed(int(seed))
    S = size
    U = lambda lo, hi: _u(g, n, lo, hi, dev)  # noqa: E731
    px = 2.0 / S  # one pixel in normalised units
    soft = 0.006 + 0.5 * px  # edge softness, roughly resolution independent

    if force is None:
        labels = (torch.rand(n, NL, generator=g, device=dev) < PREVALENCE).float()
    else:
        labels = force.to(dev).float()
        torch.rand(n, NL, generator=g, device=dev)  # keep the stream aligned
    has = [labels[:, i] > 0.5 for i in range(NL)]

    # ---- pixel grid and per-patient pose (rotation, shift, scale, aspect) ----
    c = (torch.arange(S, device=dev, dtype=torch.float32) + 0.5) / S * 2 - 1
    gy, gx = torch.meshgrid(c, c, indexing="ij")
    gx = gx.expand(n, S, S)
    gy = gy.expand(n, S, S)
    th = U(-6, 6) * math.pi / 180
    tx, ty = U(-0.07, 0.07), U(-0.06, 0.08)
    sc = U(0.80, 0.92)
    asp = U(0.92, 1.08)
    ct, st = _v(torch.cos(th)), _v(torch.sin(th))
    dx, dy = gx - _v(tx), gy - _v(ty)
    x = (ct * dx + st * dy) / _v(sc * asp)
    y = (-st * dx + ct * dy) / _v(sc)
    ax = x.abs()

    # ---- body outline, shoulders, neck ----
    bw = _v(U(0.86, 0.98))
    pwr = _v(U(2.6, 4.0))
    body_r = (ax / bw) ** pwr + ((y - 0.25) / 1.45).abs() ** pwr
    body = _sig(1 - body_r, 0.04)
    thick = torch.sqrt((1 - (ax / bw) ** 2).clamp_min(0) + 1e-4) * body
    shx = _v(U(0.72, 0.86))
    shoulder = _sig(1 - ((ax - shx) / 0.30) ** 2 - ((y + 0.86) / 0.22) ** 2, 0.05)
    A = 1.0 * thick + 0.55 * shoulder
    humerus = _sig(1 - ((ax - shx - 0.1) / 0.11) ** 2 - ((y + 0.82) / 0.13) ** 2, 0.02)
    A = A + 0.45 * humerus

    # ---- lungs: ellipse-ish, medial border, diaphragm domes ----
    lat = _v(U(0.70, 0.80))  # lateral extent of lungs (|x|)
    apex = _v(U(-0.82, -0.70))
    dome_r = _v(U(0.42, 0.58))  # right hemidiaphragm top (image left)
    dome_l = dome_r + _v(U(0.02, 0.08))  # left is lower
    cxl = (lat + 0.12) / 2
    axl = (lat - 0.12) / 2 + 0.04
    cyl = (apex + dome_r + 0.25) / 2
    ayl = (dome_r + 0.25 - apex) / 2
    ell = ((ax - cxl) / axl) ** 2 + ((y - cyl) / ayl) ** 2
    right_side = x < 0  # image left = patient's right
    dome_y = torch.where(right_side, dome_r, dome_l)
    dome = dome_y - 0.15 * (1 - ((ax - cxl) / (axl * 1.05)) ** 2).clamp_min(0)
    lung_f = torch.minimum(1 - ell, (dome - y) * 3.0)
    lung_f = torch.minimum(lung_f, (ax - 0.11) * 4.0)
    lung = _sig(lung_f, soft * 2)

    # heart (tilted ellipse, left of midline on the patient = image right)
    ctr = torch.where(has[4], U(0.55, 0.68), U(0.37, 0.49))  # cardiothoracic ratio
    ha = ctr * lat.view(-1)  # half width
    hb = ha * U(0.72, 0.88)
    hcx = 0.30 * ha + U(-0.03, 0.03)  # shifts to patient's left as it grows
    hcy = dome_r.view(-1) - 0.10 - 0.45 * hb + U(-0.03, 0.03)
    hth = U(-0.45, -0.25)  # tilt
    hx, hy = x - _v(hcx), y - _v(hcy)
    hu = _v(torch.cos(hth)) * hx + _v(torch.sin(hth)) * hy
    hv = -_v(torch.sin(hth)) * hx + _v(torch.cos(hth)) * hy
    hr2 = (hu / _v(ha)) ** 2 + (hv / _v(hb)) ** 2
    heart = _sig(1 - hr2, soft * 4)
    heart_mask = (hr2 < 1) & (y < dome + 0.02)

    # mediastinum, trachea, aortic knob
    med_w = 0.10 + 0.06 * _sig(y + 0.15, 0.08)
    medi = _sig(med_w - ax, soft * 2) * _sig(dome - y + 0.1, 0.03)
    trachea = _sig(0.035 - (x - 0.01 * y).abs(), soft) * _sig(-0.15 - y, 0.03)
    aorta = _sig(1 - ((x - 0.13) / 0.07) ** 2 - ((y + 0.38) / 0.06) ** 2, soft * 2)

    lung_air = lung * (1 - heart) * (1 - aorta)
    lung_depth = torch.sqrt(lung_f.clamp(0, 1) + 1e-4)
    A = A + 0.30 * medi * (1 - heart) + 0.20 * aorta - 0.20 * trachea

    # vascular markings: radial streaks from each hilum, fading to the periphery
    hil_x = torch.where(right_side, _v(-U(0.14, 0.2)), _v(U(0.16, 0.22)))
    hil_y = _v(U(-0.12, 0.0))
    rx, ry = x - hil_x, y - hil_y
    rad = torch.sqrt(rx ** 2 + ry ** 2 + 1e-6)
    ang = torch.atan2(ry, rx) / math.pi
    vtex = torch.randn(n, 1, 96, 10, generator=g, device=dev)
    streak = _sample_grid(vtex, (rad * 2.2 - 1).clamp(-1, 1), ang)
    vess = F.relu(streak - 0.6) * torch.exp(-rad / 0.45)
    blot = _smooth_noise(g, n, 24, 24, S, dev)
    markings = 0.24 * vess + 0.03 * blot
    hilum = 0.18 * torch.exp(-(rad / 0.1) ** 2)

    # ---- findings ----
    masks = torch.zeros(n, NL, S, S, dtype=torch.bool, device=dev)
    lung_core = lung_f > 0.05  # inside the lung, away from its edge

    # pneumothorax: apical/lateral rim of one lung, no markings, extra lucency, pleural line
    side_ptx = torch.rand(n, generator=g, device=dev) < 0.5
    ptx_side = torch.where(_v(side_ptx), x < 0, x > 0)
    depth = U(0.22, 0.40)
    rho = torch.sqrt(ell)
    upper = _sig(_v(U(0.0, 0.25)) - y, 0.05)
    ptx_region = (rho > 1 - _v(depth)) & (lung_f > 0) & ptx_side & (upper > 0.5) & _v(has[3])
    ptx = _sig(rho - (1 - _v(depth)), soft) * lung * ptx_side.float() * upper * _v(has[3].float())
    pleural_line = torch.exp(-((rho - (1 - _v(depth))) / (0.6 * soft + 0.006)) ** 2) * ptx_side.float() \
        * upper * lung * _v(has[3].float())
    masks[:, 3] = ptx_region

    # pleural effusion: fluid at the base with a meniscus, one or both sides
    eff_lvl_r = dome_r - _v(U(0.14, 0.45))
    eff_lvl_l = dome_l - _v(U(0.14, 0.45))
    both = torch.rand(n, generator=g, device=dev) < 0.35
    eside_r = torch.rand(n, generator=g, device=dev) < 0.5
    use_r = _v(has[2] & (both | eside_r))
    use_l = _v(has[2] & (both | ~eside_r))
    lvl = torch.where(right_side, eff_lvl_r, eff_lvl_l)
    meniscus = 0.25 * ((ax - 0.12) / (lat - 0.12)).clamp(0, 1) ** 2  # rises laterally
    eff_on = torch.where(right_side, use_r, use_l).float()
    eff_f = (y - (lvl - meniscus))
    effusion = _sig(eff_f, soft * 3 + 0.02) * eff_on * _sig(lung_f + 0.15, soft * 3) * _sig(ax - 0.11, soft * 2)
    masks[:, 2] = (eff_f > 0) & (eff_on > 0) & (lung_f > -0.02) & (ax > 0.11)

    # consolidation: irregular patch inside one lung
    cside = torch.rand(n, generator=g, device=dev) < 0.5
    ccx = torch.where(cside, -1.0, 1.0) * (0.25 + U(0.0, 1.0) * (lat.view(-1) - 0.4))
    ccy = U(-0.5, 0.3)
    cr = U(0.12, 0.24)
    cn = _smooth_noise(g, n, 10, 10, S, dev)
    cd = torch.sqrt(((x - _v(ccx)) / _v(cr)) ** 2 + ((y - _v(ccy)) / _v(cr * U(0.7, 1.3))) ** 2)
    cons_f = 1 - cd + 0.35 * cn
    cons = _sig(cons_f, 0.06) * lung * (1 - heart) * _v(has[1].float())
    cons_amp = _v(U(0.35, 0.65))
    masks[:, 1] = (cons_f > 0) & (lung_f > 0) & ~heart_mask & _v(has[1])
    bronch = F.relu(streak - 0.9) * 0.5  # air bronchograms inside the patch

    # nodules: 1-2 small faint round opacities anywhere in the lungs (ribs, hila, behind heart)
    nod = torch.zeros_like(x)
    nod_mask = torch.zeros_like(masks[:, 0])
    for k in range(2):
        on = has[0] if k == 0 else has[0] & (torch.rand(n, generator=g, device=dev) < 0.3)
        # rejection-free placement: sample inside the lung ellipse, then clamp above the dome
        side = torch.where(torch.rand(n, generator=g, device=dev) < 0.5, -1.0, 1.0)
        t_ang = U(0, 2 * math.pi)
        t_r = torch.sqrt(U(0, 1)) * 0.85
        nx = side * (cxl.view(-1) + axl.view(-1) * t_r * torch.cos(t_ang))
        nx = side * nx.abs().clamp_min(0.2)
        ny = cyl.view(-1) + ayl.view(-1) * t_r * torch.sin(t_ang)
        ny = torch.minimum(ny, dome_r.view(-1) - 0.25)
        nr = U(0.05, 0.09)
        amp = U(0.25, 0.55) * on.float()
        d2 = ((x - _v(nx)) ** 2 + (y - _v(ny)) ** 2) / _v(nr) ** 2
        nod = nod + _v(amp) * torch.sqrt((1 - d2).clamp_min(0)) * (1 + 0.15 * blot).clamp_min(0)
        nod_mask = nod_mask | ((d2 < 1) & _v(on))
    masks[:, 0] = nod_mask
    masks[:, 4] = heart_mask & _v(has[4])

    # ---- assemble lung air and markings with findings ----
    air = 0.95 * lung_depth * lung_air
    air_mod = air * (1 - effusion).clamp(0, 1) * (1 - cons_amp * cons / 0.65 * 0.9).clamp(0, 1)
    A = A - air_mod
    A = A - _v(U(0.12, 0.22)) * ptx * (1 - effusion)  # extra lucency of the pleural space
    A = A + (markings + hilum) * lung_air * (1 - ptx) * (1 - effusion)
    A = A - bronch * cons * 0.25
    A = A + 0.12 * pleural_line * (1 - effusion)
    A = A + heart * (0.28 + 0.15 * torch.sqrt((1 - hr2).clamp_min(0) + 0.01)) * _sig(dome - y + 0.02, 0.03)
    A = A + nod * (0.5 + 0.5 * lung)
    # gastric bubble under the left hemidiaphragm
    gb = (torch.rand(n, generator=g, device=dev) < 0.6).float()
    bub = _sig(1 - ((x - 0.35) / 0.12) ** 2 - ((y - dome_l - 0.13) / 0.07) ** 2, soft * 2)
    A = A - 0.35 * _v(gb) * bub * (1 - effusion)
    # breast / pectoral soft tissue
    br = _v(U(0.0, 0.25) * (torch.rand(n, generator=g, device=dev) < 0.5).float())
    breast = _sig(1 - ((ax - 0.55) / 0.35) ** 2 - ((y - dome_r - 0.1) / 0.3) ** 2, 0.08)
    A = A + br * breast

    # ---- bones: spine, posterior & anterior ribs, clavicles ----
    spine = _sig(0.075 - ax, soft) * body
    vert = 0.5 + 0.5 * torch.cos((y - _v(U(0, 1))) * 2 * math.pi / 0.11)
    A = A + spine * (0.12 + 0.06 * vert) + 0.06 * _sig(0.012 - (ax - 0.065).abs(), soft)
    rib_amp = _v(U(0.13, 0.22))
    rib_sp = _v(U(0.125, 0.145))
    rib_w = _v(U(0.040, 0.050))
    t = ax - 0.06
    lat_fade = _sig(lat + 0.08 - ax, 0.03) * _sig(t, 0.02) * (0.35 + 0.65 * _sig(dome_y + 0.1 - y, 0.06))
    bones = torch.zeros_like(x)
    y0 = apex - 0.06
    for k in range(11):
        # posterior rib: rises slightly off the spine then curves down laterally
        yc = y0 + k * rib_sp - 0.14 * t + 0.85 * t ** 2 * (1 + 0.03 * k)
        d = (y - yc).abs()
        band = _sig(rib_w / 2 - d, soft)
        cortex = torch.exp(-((d - rib_w / 2) / (soft + 0.004)) ** 2)
        bones = bones + rib_amp * (0.7 * band + 0.5 * cortex) * lat_fade
        # anterior rib: from the lateral wall sloping down to the sternum, fainter
        ya = y0 + 0.05 + k * rib_sp * 1.1 + 0.55 * (lat - 0.06 - t) - 0.2 * (lat - 0.06 - t) ** 2
        da = (y - ya).abs()
        aband = _sig(rib_w * 0.75 - da, soft * 2) * _sig(t - 0.15, 0.05)
        bones = bones + 0.5 * rib_amp * aband * lat_fade
    # clavicles: S-shaped bars from the sternal notch to the shoulder
    cl_y0 = _v(U(-0.66, -0.56))
    cly = cl_y0 - 0.22 * (ax - 0.08) + 0.25 * (ax - 0.08) ** 2 * 1.2
    cld = (y - cly).abs()
    clav = _sig(0.04 - cld, soft) * _sig(ax - 0.07, soft) * _sig(shx + 0.05 - ax, 0.03)
    bones = bones + 0.42 * clav + 0.25 * torch.exp(-((cld - 0.04) / 0.008) ** 2) * _sig(ax - 0.07, soft) \
        * _sig(shx + 0.05 - ax, 0.03)
    A = A + bones * body

    # ---- image formation ----
    sig_blur = U(0.5, 1.1) * (S / 128.0)  # detector blur in pixels at this resolution
    A = _gauss_blur(A, sig_blur)
    mu = _v(U(0.9, 1.3))
    T = torch.exp(-mu * A.clamp_min(-0.5))
    dose = _v(U(1200, 4000)) * (128.0 / S) ** 2  # photons per pixel at 128 px
    noisy = T + torch.randn(T.shape, generator=g, device=dev) * torch.sqrt(T / dose)
    # slight noise correlation (scintillator)
    noisy = _gauss_blur(noisy, torch.full((n,), 0.45 * S / 128.0, device=dev))
    D = -torch.log(noisy.clamp_min(1e-4))
    # heel effect / scatter: smooth low-frequency gradient
    D = D + _v(U(-0.08, 0.08)) * gy + 0.05 * _smooth_noise(g, n, 3, 3, S, dev)
    # detector "processing": contrast, gamma, offset -> [0,1]
    lo = _v(U(-0.35, -0.15))
    hi = _v(U(2.4, 3.2))
    raw = ((D - lo) / (hi - lo)).clamp(0, 1) ** _v(U(0.75, 1.3))
    # a finding drawn (almost) entirely outside the lung is not visible: it is not a positive
    area = masks.flatten(2).float().mean(2)  # fraction of the image
    for k in (1, 2, 3):
        drop = (labels[:, k] > 0) & (area[:, k] < MIN_AREA)
        labels[drop, k] = 0
        masks[drop, k] = False
    return Batch(raw=raw.unsqueeze(1).contiguous(), masks=masks, labels=labels)


def percentile_window(raw: torch.Tensor, p_low=P_LOW, p_high=P_HIGH) -> torch.Tensor:
    """Per-image percentile scaling to [0,1] (exactly the server's 'percentile' intensity step).

    lo/hi are the p_low/p_high percentiles (linear interpolation between order statistics,
    numpy's default) of all pixels of the image; out = clip((v - lo) / (hi - lo), 0, 1)."""
    n = raw.shape[0]
    flat = raw.reshape(n, -1)
    q = torch.quantile(flat, torch.tensor([p_low / 100, p_high / 100], device=raw.device), dim=1)
    lo, hi = q[0].view(n, 1, 1, 1), q[1].view(n, 1, 1, 1)
    return ((raw - lo) / (hi - lo).clamp_min(1e-6)).clamp(0, 1)


def normalise(x01: torch.Tensor) -> torch.Tensor:
    return (x01 - NORM_MEAN) / NORM_STD


def preprocess(raw: torch.Tensor, quantise8: bool = True) -> torch.Tensor:
    """raw [N,1,S,S] at model size -> model input. Same as the server pipeline for an
    image already at model size (percentile window, optional 8-bit quantisation, normalise)."""
    x = percentile_window(raw)
    if quantise8:
        x = torch.round(x * 255) / 255
    return normalise(x)


def dilate(mask: torch.Tensor, px: int) -> torch.Tensor:
    return _dilate(mask, px)


if __name__ == "__main__":
    import argparse
    import os
    import time

    import numpy as np
    from PIL import Image

    ap = argparse.ArgumentParser(description="render a sheet of phantoms to PNG")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "out"))
    a = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    b = generate(a.n, a.size, a.seed)
    dt = time.time() - t0
    x = percentile_window(b.raw)[:, 0].numpy()
    cols = min(4, a.n)
    rows = (a.n + cols - 1) // cols
    S = a.size
    sheet = np.zeros((rows * S, cols * S * 2), np.uint8)
    for i in range(a.n):
        r, cc = divmod(i, cols)
        img = (x[i] * 255).astype(np.uint8)
        ov = img.copy()
        m = b.masks[i].any(0).numpy()
        edge = m & ~np.asarray(F.avg_pool2d(torch.tensor(m, dtype=torch.float32)[None, None], 3, 1, 1)[0, 0] > 0.99)
        ov[edge] = 255
        sheet[r * S:(r + 1) * S, cc * 2 * S:cc * 2 * S + S] = img
        sheet[r * S:(r + 1) * S, cc * 2 * S + S:(cc + 1) * 2 * S] = ov
        print(i, [LABELS[j] for j in range(NL) if b.labels[i, j] > 0])
    Image.fromarray(sheet).save(os.path.join(a.out, f"sheet_{S}_{a.seed}.png"))
    print(f"generated {a.n} at {S}px in {dt:.2f}s")
