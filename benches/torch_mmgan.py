"""PyTorch peer for `mmgan bench model`: the same MM-GAN networks and training step.

argv: SIDE DEPTH RUNS TRAIN_WIDTH BATCH WIDTH...
Prints JSON: {"threads": n, "forward": {"64": seconds, ...}, "train": seconds} (medians).
Threads = CPU cores, as burn flex uses. MMGAN_PEER_DEVICE=cuda runs it on the GPU (the
peer of burn's wgpu backend), synchronising before each clock reading.
"""
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

side, depth, runs, train_width, batch = (int(a) for a in sys.argv[1:6])
widths = [int(a) for a in sys.argv[6:]]
torch.set_num_threads(os.cpu_count())
dev = torch.device(os.environ.get("MMGAN_PEER_DEVICE", "cpu"))


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


def lw(w, i):
    return w * (2 ** min(i, 3))


class Down(nn.Module):
    def __init__(self, cin, cout, norm, drop):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 4, 2, 1, bias=False)
        self.norm = nn.InstanceNorm2d(cout) if norm else None
        self.drop = nn.Dropout(0.2) if drop else None

    def forward(self, x):
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        x = F.leaky_relu(x, 0.2)
        return self.drop(x) if self.drop is not None else x


class Up(nn.Module):
    def __init__(self, cin, cout, drop):
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)
        self.norm = nn.InstanceNorm2d(cout)
        self.drop = nn.Dropout(0.2) if drop else None

    def forward(self, x):
        x = F.relu(self.norm(self.conv(x)))
        return self.drop(x) if self.drop is not None else x


class Generator(nn.Module):
    def __init__(self, w, d):
        super().__init__()
        self.downs = nn.ModuleList(
            Down(4 if i == 0 else lw(w, i - 1), lw(w, i), i not in (0, d - 1), i >= 3) for i in range(d))
        ups = []
        for j in range(d - 1):
            level = d - 2 - j
            cin = lw(w, d - 1) if j == 0 else 2 * lw(w, level + 1)
            ups.append(Up(cin, lw(w, level), j < 4))
        self.ups = nn.ModuleList(ups)
        self.out = nn.Sequential(nn.Upsample(scale_factor=2), nn.ZeroPad2d((1, 0, 1, 0)),
                                 nn.Conv2d(2 * w, 4, 4, padding=1), nn.ReLU())

    def forward(self, x):
        skips = []
        for d in self.downs:
            x = d(x)
            skips.append(x)
        x = skips.pop()
        for up, s in zip(self.ups, reversed(skips)):
            x = torch.cat([up(x), s], 1)
        return self.out(x)


class Discriminator(nn.Module):
    def __init__(self, w):
        super().__init__()
        layers, cin = [], 8
        for i, cout in enumerate([w, 2 * w, 4 * w, 8 * w]):
            layers.append(nn.Conv2d(cin, cout, 4, 2, 1))
            if i > 0:
                layers.append(nn.InstanceNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2))
            cin = cout
        layers += [nn.ZeroPad2d((1, 0, 1, 0)), nn.Conv2d(cin, 4, 4, padding=1, bias=False)]
        self.model = nn.Sequential(*layers)

    def forward(self, a, b):
        return self.model(torch.cat([a, b], 1))


def median_time(fn):
    fn()
    sync()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


out = {"threads": torch.get_num_threads(), "device": str(dev), "forward": {}, "params": {}}
x = torch.rand(1, 4, side, side, device=dev)
for w in widths:
    g = Generator(w, depth).to(dev).eval()
    out["params"][str(w)] = sum(p.numel() for p in g.parameters())
    with torch.no_grad():
        out["forward"][str(w)] = median_time(lambda: g(x))

g = Generator(train_width, depth).to(dev).train()
d = Discriminator(train_width).to(dev).train()
og = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
od = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
real = torch.rand(batch, 4, side, side, device=dev)
mask = torch.tensor([1.0, 1.0, 1.0, 0.0], device=dev).view(1, 4, 1, 1).expand(batch, 4, 1, 1)


def frozen(net, yes):
    # pix2pix's set_requires_grad: the generator step needs no discriminator weight
    # gradients (burn's step freezes its copy of the discriminator the same way).
    for p in net.parameters():
        p.requires_grad_(not yes)


def step():
    fake = g(real * mask)
    fake = fake * (1 - mask) + real * mask
    frozen(d, True)
    pred = d(fake, real)
    adv = F.mse_loss(pred, torch.ones_like(pred))
    l1 = ((fake - real).abs() * (1 - mask)).sum() / ((1 - mask).sum() * side * side)
    og.zero_grad()
    (0.1 * adv + 0.9 * l1).backward()
    og.step()
    frozen(d, False)
    od.zero_grad()
    pr = d(real, real)
    pf = d(fake.detach(), real)
    ld = 0.5 * (F.mse_loss(pr, torch.ones_like(pr)) + F.mse_loss(pf, mask.expand_as(pf)))
    ld.backward()
    od.step()


out["train"] = median_time(step)
print(json.dumps(out))
