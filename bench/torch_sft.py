"""PyTorch side of `npm run bench -- train`: the same SFT step as Precept's
(GPT-2 vocab 256, d=128, 4 layers, 4 heads; batch 16 × 64; cross-entropy,
backward, grad-norm clipping, AdamW), eager float32 on the CPU.
    /usr/bin/python3 bench/torch_sft.py <threads> <steps>
Prints one JSON line."""
import json
import math
import sys
import time

import torch

threads, steps = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
V, D, L, H, T, B = 256, 128, 4, 4, 64, 16


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = torch.nn.LayerNorm(D), torch.nn.LayerNorm(D)
        self.attn, self.proj = torch.nn.Linear(D, 3 * D), torch.nn.Linear(D, D)
        self.fc, self.out = torch.nn.Linear(D, 4 * D), torch.nn.Linear(4 * D, D)

    def forward(self, x):
        q, k, v = self.attn(self.ln1(x)).split(D, -1)
        q, k, v = [t.view(B, T, H, -1).transpose(1, 2) for t in (q, k, v)]
        s = (q @ k.transpose(-1, -2)) / math.sqrt(D // H)
        s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
        x = x + self.proj((s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D))
        return x + self.out(torch.nn.functional.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class Gpt(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = torch.nn.Embedding(V, D), torch.nn.Embedding(T, D)
        self.blocks = torch.nn.ModuleList([Block() for _ in range(L)])
        self.ln = torch.nn.LayerNorm(D)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(T))
        for b in self.blocks:
            x = b(x)
        return self.ln(x) @ self.wte.weight.T


model = Gpt()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)


def step():
    ids = torch.randint(0, V, (B, T + 1))
    loss = torch.nn.functional.cross_entropy(model(ids[:, :-1]).reshape(-1, V), ids[:, 1:].reshape(-1))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()


for _ in range(2):
    step()
t = time.perf_counter()
for _ in range(steps):
    step()
sec = (time.perf_counter() - t) / steps
print(json.dumps({"threads": threads, "torch": torch.__version__, "secondsPerStep": sec, "tokensPerSecond": B * T / sec}))
