"""Train the chest-xray-phantom demonstration model, calibrate it and export ONNX.

    /usr/bin/python3 training/train.py                 # the shipped model (CPU, ~45 min on 2 cores)
    /usr/bin/python3 training/train.py --quick         # 2-minute end-to-end smoke run
    python3 training/train.py --device cuda --train-n 200000 --epochs 20   # on a GPU machine

Outputs: training/out/checkpoint.pt, models/chest-xray-phantom/{model.onnx, classifier.json,
manifest.json}.  Then run evaluate.py to measure the held-out numbers and write the eval set.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # the 2 cores are shared: do not spin

import argparse
import copy
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import phantoms as P  # noqa: E402
from common import (MODEL_DIR, OUT, SEED_CAL, SEED_TRAIN, SIZE, FEAT_STRIDE, auroc, ece,  # noqa: E402
                    infer_input, make_pool, percentile_table, sigmoid, train_input,
                    youden_threshold)
from model import Exported, PhantomNet  # noqa: E402

VERSION = "1.1.0"
URGENCY = {"nodule": 0.7, "consolidation": 0.95, "pleural_effusion": 0.9, "pneumothorax": 1.0, "cardiomegaly": 0.6}


def predict(net, raw, bs=256, device="cpu"):
    net.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(raw), bs):
            x = infer_input(raw[i:i + bs]).to(device).contiguous(memory_format=torch.channels_last)
            outs.append(net(x).float().cpu())
    return torch.cat(outs).numpy()


def fit_platt(z: np.ndarray, y: np.ndarray):
    """Per-label Platt scaling p = sigmoid(a*z + b), fitted by LBFGS on the calibration split, with
    Platt's smoothed targets (N+ + 1)/(N+ + 2) and 1/(N- + 2) so that a perfectly separated label
    gets a finite slope instead of diverging."""
    a = torch.ones(z.shape[1], requires_grad=True)
    b = torch.zeros(z.shape[1], requires_grad=True)
    npos, nneg = y.sum(0), (1 - y).sum(0)
    yt = np.where(y > 0.5, (npos + 1) / (npos + 2), 1 / (nneg + 2))
    zt, yt = torch.tensor(z, dtype=torch.float64), torch.tensor(yt, dtype=torch.float64)
    opt = torch.optim.LBFGS([a, b], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(zt * a.double() + b.double(), yt)
        loss.backward()
        return loss

    opt.step(closure)
    return a.detach().numpy().astype(np.float64), b.detach().numpy().astype(np.float64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-n", type=int, default=32000, help="phantoms in the training pool")
    ap.add_argument("--cal-n", type=int, default=3000)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--time-budget", type=float, default=0,
                    help="minutes of training; the cosine schedule then follows max(step, time) progress")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--calibrate-only", action="store_true",
                    help="skip training: calibrate and export training/out/checkpoint_ema.pt")
    a = ap.parse_args()
    if a.quick:
        a.train_n, a.cal_n, a.epochs = 3072, 1024, 2
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    os.makedirs(OUT, exist_ok=True)

    t0 = time.time()
    tr = make_pool(SEED_TRAIN, a.train_n, device=a.device)
    cal = make_pool(SEED_CAL, a.cal_n, device=a.device)
    table = percentile_table(tr["raw"])
    print(f"pools ready in {time.time() - t0:.0f}s: train {len(tr['raw'])}, cal {len(cal['raw'])}", flush=True)

    net = PhantomNet().to(dev).to(memory_format=torch.channels_last)
    if a.calibrate_only:
        ck = torch.load(os.path.join(OUT, "checkpoint_ema.pt"))
        net.load_state_dict(ck["state"])
        prev = json.load(open(os.path.join(OUT, "calibration.json")))
        a.epochs = 0
    ema = copy.deepcopy(net)
    for p_ in ema.parameters():
        p_.requires_grad_(False)
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=1e-4)
    steps_per_epoch = len(tr["raw"]) // a.batch
    total = steps_per_epoch * a.epochs
    warm = min(300, total // 10)
    t_train = time.time()

    def progress(s):
        pr = (s - warm) / max(1, total - warm)
        if a.time_budget:
            pr = max(pr, (time.time() - t_train) / 60 / a.time_budget)
        return min(1.0, pr)

    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress(s))))
    g = torch.Generator().manual_seed(1234)
    ema_decay = 0.998
    step = 0
    stop = False
    for ep in range(a.epochs):
        net.train()
        perm = torch.randperm(len(tr["raw"]), generator=g)
        run_loss = 0.0
        for bi in range(steps_per_epoch):
            idx = perm[bi * a.batch:(bi + 1) * a.batch]
            x = train_input(tr["raw"][idx], table[idx], g).to(dev).contiguous(memory_format=torch.channels_last)
            y = tr["labels"][idx].to(dev)
            loss = F.binary_cross_entropy_with_logits(net(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            with torch.no_grad():
                d = min(ema_decay, (1 + step) / (10 + step))
                for pe, pn in zip(ema.state_dict().values(), net.state_dict().values()):
                    if pe.dtype.is_floating_point:
                        pe.mul_(d).add_(pn.detach(), alpha=1 - d)
                    else:
                        pe.copy_(pn)
            run_loss = 0.98 * run_loss + 0.02 * loss.item() if bi else loss.item()
            if bi % 100 == 0:
                el = time.time() - t_train
                print(f"ep {ep} it {bi}/{steps_per_epoch} loss {run_loss:.4f} lr {sched.get_last_lr()[0]:.2e} "
                      f"{step * a.batch / max(el, 1e-6):.0f} img/s elapsed {el / 60:.1f} min", flush=True)
            if step > warm and progress(step) >= 1.0:
                stop = True
                break
        # quick validation on the calibration split (EMA weights, uncalibrated)
        zc = predict(ema, cal["raw"][:2000], device=dev)
        yc = cal["labels"][:2000].numpy()
        aucs = [auroc(yc[:, k], zc[:, k]) for k in range(P.NL)]
        print(f"== epoch {ep} done ({(time.time() - t_train) / 60:.1f} min) val AUROC "
              + " ".join(f"{P.LABELS[k]}={aucs[k]:.3f}" for k in range(P.NL)), flush=True)
        torch.save({"state": ema.state_dict(), "epoch": ep}, os.path.join(OUT, "checkpoint_ema.pt"))
        if stop:
            print("time budget reached", flush=True)
            break

    # ---------- calibration on the calibration split ----------
    net = ema.cpu().float()
    net = net.to(memory_format=torch.contiguous_format)
    z = predict(net, cal["raw"])
    y = cal["labels"].numpy()
    A, B = fit_platt(z, y)
    p_raw, p_cal = sigmoid(z), sigmoid(z * A + B)
    thr = [youden_threshold(y[:, k], p_cal[:, k]) for k in range(P.NL)]
    report = {
        "platt_a": A.tolist(), "platt_b": B.tolist(), "thresholds": thr,
        "cal_ece_before": [ece(y[:, k], p_raw[:, k]) for k in range(P.NL)],
        "cal_ece_after": [ece(y[:, k], p_cal[:, k]) for k in range(P.NL)],
        "cal_auroc": [auroc(y[:, k], z[:, k]) for k in range(P.NL)],
        "train_minutes": (time.time() - t_train) / 60, "epochs_run": ep + 1 if a.epochs else 0,
        "train_n": a.train_n, "args": vars(a),
    }
    if a.calibrate_only:  # keep the training record of the run that produced the checkpoint
        for k in ("train_minutes", "epochs_run", "train_n", "args"):
            report[k] = prev.get(k, report[k])
        report["recalibrated"] = True
        if "finetune_loc" in ck:
            report["finetune_loc"] = {"args": ck["finetune_loc"], "steps": ck["steps"]}
    print(json.dumps(report, indent=1), flush=True)
    # fold calibration into the classifier: logit' = a*(W e + b) + c
    with torch.no_grad():
        At, Bt = torch.tensor(A, dtype=torch.float32), torch.tensor(B, dtype=torch.float32)
        net.fc.weight.mul_(At[:, None])
        net.fc.bias.mul_(At).add_(Bt)
    z2 = predict(net, cal["raw"][:512])
    assert np.allclose(z2, (z * A + B)[:512], atol=1e-3), "calibration fold mismatch"
    torch.save({"state": net.state_dict(), "report": report}, os.path.join(OUT, "checkpoint.pt"))
    with open(os.path.join(OUT, "calibration.json"), "w") as f:
        json.dump(report, f, indent=1)
    if not a.no_export:
        export(net, thr)


def export(net, thr):
    import onnx

    os.makedirs(MODEL_DIR, exist_ok=True)
    net = net.cpu().eval()
    m = Exported(net)
    path = os.path.join(MODEL_DIR, "model.onnx")
    dummy = torch.randn(2, 1, SIZE, SIZE)
    import inspect

    # PyTorch >= 2.5 may default to the dynamo exporter (external weights file): ask for the classic one
    extra = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(m, dummy, path, opset_version=13, input_names=["image"],
                      output_names=["logits", "features", "embedding"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"},
                                    "features": {0: "batch"}, "embedding": {0: "batch"}},
                      do_constant_folding=True, **extra)
    mo = onnx.load(path)
    onnx.checker.check_model(mo, full_check=True)
    print("ONNX ok:", path, os.path.getsize(path), "bytes", flush=True)
    W = net.fc.weight.detach().numpy().astype(float)
    b = net.fc.bias.detach().numpy().astype(float)
    with open(os.path.join(MODEL_DIR, "classifier.json"), "w") as f:
        json.dump({"description": "Final linear layer, calibration folded in: logits = embedding @ weight.T + bias. "
                   "Grad-CAM for label c = ReLU(sum_k weight[c][k] * features[k]) (see MODEL_CARD.md).",
                   "labels": P.LABELS, "weight": [[round(v, 7) for v in r] for r in W.tolist()],
                   "bias": [round(v, 7) for v in b.tolist()]}, f)
    write_manifest(thr)


def write_manifest(thr):
    h = w = SIZE
    man = {
        "name": "chest-xray-phantom",
        "version": VERSION,
        "description": "DEMONSTRATION model trained only on synthetic chest-radiograph phantoms. Not for clinical use.",
        "task": "multi-label",
        "labels": [{"id": lid, "display": P.DISPLAY[k], "urgency": URGENCY[lid], "threshold": round(float(thr[k]), 4)}
                   for k, lid in enumerate(P.LABELS)],
        "input": {"name": "image", "shape": [1, 1, h, w], "channels": 1, "layout": "NCHW", "dtype": "float32"},
        "preprocessing": {
            "intensity": "dicom-window-or-percentile",
            "percentiles": [P.P_LOW, P.P_HIGH],
            # Percentiles of frames above 2^16 pixels from a regular grid (issue 4: the exact
            # histogram of a 2048² frame cost more than the model); evaluate.py percentile_pixels.
            "percentileSampling": {"method": "regular-grid", "maxSamples": 65536},
            "resize": "stretch",
            "size": [h, w],
            "interpolation": "area",
            "normalisation": {"mean": P.NORM_MEAN, "std": P.NORM_STD},
            "photometric": "MONOCHROME2 (bone bright); invert MONOCHROME1 first",
            "pipeline": [
                "decode to a single-channel float image v (DICOM: stored value -> modality LUT (slope/intercept); "
                "MONOCHROME1 inverted so that dense = bright)",
                "intensity to 0..1: if a DICOM window (centre/width) is present: x = clip((v - (c - w/2)) / w, 0, 1) "
                "(linear); otherwise lo, hi = the p_low and p_high percentiles of the full-resolution image (linear "
                "interpolation between order statistics), taken over every pixel when the image has at most "
                "percentileSampling.maxSamples pixels, else over the regular grid of rows and columns "
                "floor(s/2) + k*s with s = ceil(sqrt(pixels / maxSamples)), and x = clip((v - lo) / (hi - lo), 0, 1)",
                "resize x to size [H, W] by area averaging (box filter over the source pixels each output pixel "
                "covers; 'stretch': the aspect ratio is not kept)",
                "optional 8-bit quantisation round(x*255)/255 is harmless (training saw it)",
                "input = (x - mean) / std, shape [1, 1, H, W] float32",
            ],
        },
        "outputs": {"logits": "logits", "features": "features", "embedding": "embedding"},
        "featureStride": FEAT_STRIDE,
        "activation": "sigmoid",
        "calibration": "per-label Platt scaling fitted on a calibration split, folded into the logits",
        "gradcam": {"method": "gradcam-linear-head", "classifier": "classifier.json",
                    "definition": "heatmap_c = ReLU(sum_k weight[c][k] * features[0,k,:,:]); equals Grad-CAM because "
                                  "logits = GAP(features) @ weight.T + bias"},
        "uncertainThreshold": 0.75,
        "uncertainDefinition": "top finding = the most probable label whose probability >= its threshold, "
                               "confidence = its probability; when no label reaches its threshold the read is "
                               "'No finding' with confidence = 1 - max label probability; "
                               "Uncertain when confidence < uncertainThreshold",
        "priority": {
            "weights": URGENCY,
            "highThreshold": 0.85,
            "definition": "score = 1 - prod over labels of (1 - weight[label] * probability[label]), "
                          "probability = sigmoid(logit) (a noisy-OR of urgency-weighted findings, 0..1); "
                          "HIGH when score >= highThreshold, else NORMAL",
        },
        "thresholds": {lid: round(float(thr[k]), 4) for k, lid in enumerate(P.LABELS)},
        "modelCard": "MODEL_CARD.md",
    }
    with open(os.path.join(MODEL_DIR, "manifest.json"), "w") as f:
        json.dump(man, f, indent=2)
        f.write("\n")
    print("manifest written", flush=True)


if __name__ == "__main__":
    main()
