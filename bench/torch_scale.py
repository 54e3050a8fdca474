"""PyTorch side of `npm run bench -- scale`: the BLAS torch runs on and its
1024² fp32 GEMM rate, then for each real shape (random weights) forward
tokens/s on [4, 64], greedy generation tokens/s at batch 1 and 16 (8-token
prompt, 16 new tokens, KV cache), and where asked a full SFT step (AdamW,
global-norm clipping) in tokens/s. Plain float32 eager torch.

    /usr/bin/python3 bench/torch_scale.py '<shapes json>' <threads> '<sft json: {name: [batch, seq]}>'
Prints one JSON line.
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from torch_models import forward, generate, make  # noqa: E402

shapes = json.loads(sys.argv[1])
threads = int(sys.argv[2])
sft = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
torch.set_num_threads(threads)


def blas():
    """The BLAS library this process has loaded (Debian's torch links libblas.so.3, which the
    alternatives system points at OpenBLAS or at the slow reference BLAS)."""
    torch.randn(64, 64) @ torch.randn(64, 64)
    with open("/proc/self/maps") as maps:
        libs = sorted({os.path.realpath(l.split()[-1]) for l in maps if "blas" in l.lower() and "/" in l})
    return ", ".join(libs) or "unknown"


def gemm_gflops(n=1024, reps=10):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def params_of(model):
    out = []

    def walk(x):
        if isinstance(x, torch.Tensor):
            out.append(x)
        elif isinstance(x, (list, tuple)):
            for y in x:
                walk(y)
        elif isinstance(x, dict):
            for y in x.values():
                walk(y)

    walk(model[2])
    return out


def sft_step_tokens_per_second(model, vocab, batch, seq):
    params = params_of(model)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=1e-5)

    def step():
        ids = torch.randint(0, vocab, (batch, seq))
        logits, _ = forward(model, ids, None)
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, vocab), ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    step()
    t = time.perf_counter()
    step()
    return batch * seq / (time.perf_counter() - t)


results = {}
for name, spec in shapes.items():
    model = make(spec)
    vocab = spec["config"]["vocab_size"]
    row = {}
    with torch.no_grad():
        forward(model, torch.randint(0, vocab, (4, 64)), None)
        t = time.perf_counter()
        forward(model, torch.randint(0, vocab, (4, 64)), None)[0].sum().item()
        row["forwardTokensPerSecond"] = 4 * 64 / (time.perf_counter() - t)
        for b in (1, 16):
            prompts = torch.randint(0, vocab, (b, 8))
            generate(model, prompts, 4)
            t = time.perf_counter()
            generate(model, prompts, 16)
            row[f"generationBatch{b}TokensPerSecond"] = b * 16 / (time.perf_counter() - t)
    if name in sft:
        batch, seq = sft[name]
        row["sftFull"] = {"batch": batch, "seq": seq, "tokensPerSecond": sft_step_tokens_per_second(model, vocab, batch, seq)}
    results[name] = row
print(json.dumps({"threads": threads, "torch": torch.__version__, "blas": blas(), "gemmGflops1024": gemm_gflops(), "results": results}))
