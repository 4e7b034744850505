"""Short localisation fine-tune of the trained model (after train.py, before calibration).

Adds to the classification loss a term that puts each present finding's Grad-CAM mass inside
that finding's mask (the generator gives masks for free):

    L = BCE(logits, y) + lam * mean_{(n,c): y=1} -log( sum_{cells in M_nc} softmax(CAM_nc) )

where CAM_nc = W_c . features_n (16x16, pre-ReLU) and M_nc are the cells whose centre pixel is
within 8 px of the mask (the pointing-game hit region). Half of each batch comes from a masked
pool (seed 6), half from the training pool (classification loss only).

    /usr/bin/python3 training/finetune_loc.py --minutes 9
    /usr/bin/python3 training/train.py --calibrate-only
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import copy  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import phantoms as P  # noqa: E402
from common import OUT, SEED_CAL, SEED_TRAIN, SIZE, auroc, infer_input, make_pool, percentile_table, train_input  # noqa: E402
from evaluate import disk_dilate  # noqa: E402
from model import PhantomNet  # noqa: E402

SEED_LOC = 6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loc-n", type=int, default=6144)
    ap.add_argument("--train-n", type=int, default=32000)
    ap.add_argument("--minutes", type=float, default=9)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--lam", type=float, default=0.2)
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    src = os.path.join(OUT, "checkpoint_ema.pt")
    backup = os.path.join(OUT, "checkpoint_ema_before_loc.pt")
    if not os.path.exists(backup):
        shutil.copy(src, backup)
    net = PhantomNet()
    net.load_state_dict(torch.load(backup)["state"])
    loc = make_pool(SEED_LOC, a.loc_n, keep_masks=True)
    tr = make_pool(SEED_TRAIN, a.train_n)
    cal = make_pool(SEED_CAL, 3000, keep_masks=False)
    tab_loc = percentile_table(loc["raw"])
    tab_tr = percentile_table(tr["raw"][:8000])
    # hit region on the 16x16 grid: cell centre pixel within 8 px of the mask
    h = SIZE // 8
    ctr = (torch.arange(h) * 8 + 4)
    hit = torch.zeros(a.loc_n, P.NL, h, h, dtype=torch.bool)
    for c in range(P.NL):
        for i in range(0, a.loc_n, 512):
            dm = disk_dilate(loc["masks"][i:i + 512, c], 8)
            hit[i:i + 512, c] = dm[:, ctr][:, :, ctr]
    print("pools ready", flush=True)

    ema = copy.deepcopy(net)
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(99)
    t0 = time.time()
    step = 0
    while True:
        pr = (time.time() - t0) / 60 / a.minutes
        if pr >= 1:
            break
        for grp in opt.param_groups:
            grp["lr"] = a.lr * 0.5 * (1 + math.cos(math.pi * pr))
        net.train()
        il = torch.randint(0, a.loc_n, (32,), generator=g)
        it = torch.randint(0, 8000, (32,), generator=g)
        # masked half: no shift augmentation (masks stay aligned); training half: full augmentation
        xl = train_input(loc["raw"][il], tab_loc[il], g, shift=False)
        xt = train_input(tr["raw"][it], tab_tr[it], g)
        x = torch.cat([xl, xt]).contiguous(memory_format=torch.channels_last)
        y = torch.cat([loc["labels"][il], tr["labels"][it]])
        logits, feats, _ = net.forward_all(x)
        bce = F.binary_cross_entropy_with_logits(logits, y)
        cam = torch.einsum("nchw,kc->nkhw", feats[:32], net.fc.weight)  # [32,5,h,w]
        pos = y[:32] > 0.5
        lp = F.log_softmax(cam.flatten(2), dim=2)  # [32,5,h*w]
        hm = hit[il].flatten(2)
        inside = torch.logsumexp(lp.masked_fill(~hm, -1e4), dim=2)  # log mass inside the hit region
        ok = pos & hm.any(2)
        lloss = -(inside[ok]).mean() if ok.any() else torch.zeros(())
        loss = bce + a.lam * lloss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        with torch.no_grad():
            d = min(0.99, (1 + step) / (10 + step))
            for pe, pn in zip(ema.state_dict().values(), net.state_dict().values()):
                if pe.dtype.is_floating_point:
                    pe.mul_(d).add_(pn.detach(), alpha=1 - d)
                else:
                    pe.copy_(pn)
        if step % 50 == 0:
            print(f"step {step} bce {bce.item():.4f} loc {lloss.item():.3f} {(time.time() - t0) / 60:.1f} min", flush=True)
    ema.eval()
    with torch.no_grad():
        z = torch.cat([ema(infer_input(cal["raw"][i:i + 500])) for i in range(0, 3000, 500)]).numpy()
    print("cal AUROC " + " ".join(f"{P.LABELS[k]}={auroc(cal['labels'][:, k].numpy(), z[:, k]):.4f}" for k in range(P.NL)))
    torch.save({"state": ema.state_dict(), "finetune_loc": vars(a), "steps": step}, src)
    print("saved", src)


if __name__ == "__main__":
    main()
