"""Compact ResNet-style CNN for 1-channel chest phantoms (sigmoid multi-label).

Exported graph: image [N,1,H,W] -> features [N,C,H/8,W/8] (last conv block, post-ReLU)
-> global average pool -> embedding [N,C] -> linear -> logits [N,5].
Because the head is GAP + one linear layer, Grad-CAM for label c is exactly
ReLU(sum_k W[c,k] * features[k]) (the gradient of logit c w.r.t. features[k,i,j] is
W[c,k]/(h*w) at every position), so the server can compute it from `features` and the
classifier weights shipped in classifier.json.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        o = F.relu(self.b1(self.c1(x)))
        o = self.b2(self.c2(o))
        s = x if self.short is None else self.short(x)
        return F.relu(o + s)


class PhantomNet(nn.Module):
    def __init__(self, n_labels=5, width=(16, 32, 64, 96)):
        super().__init__()
        w0, w1, w2, w3 = width
        self.stem = nn.Sequential(nn.Conv2d(1, w0, 3, 2, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True))
        self.layer1 = Block(w0, w1, 2)  # /4
        self.layer2 = nn.Sequential(Block(w1, w2, 2), Block(w2, w2))  # /8
        self.layer3 = Block(w2, w3, 1)  # /8
        self.fc = nn.Linear(w3, n_labels)
        self.channels = w3

    def forward_all(self, x):
        f = self.layer3(self.layer2(self.layer1(self.stem(x))))
        emb = f.mean(dim=(2, 3))
        return self.fc(emb), f, emb

    def forward(self, x):
        return self.forward_all(x)[0]


class Exported(nn.Module):
    """What goes into model.onnx: three outputs, calibration already folded into fc."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, image):
        return self.net.forward_all(image)
