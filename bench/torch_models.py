"""PyTorch side of `npm run bench -- models`: the same two reference models,
the same measurements (forward tokens/s on a [16, 64] batch; greedy generation
of 64 tokens after an 8-token prompt with a KV cache, batch 1 and 16).

Run by bench/models.ts with Debian's python3-torch when it is installed:
    /usr/bin/python3 bench/torch_models.py '<models json>' <threads>
Prints one JSON line. Plain float32 torch, no_grad, eager (no compile).
"""
import json
import math
import sys
import time

import torch

torch.manual_seed(0)


def rand(*shape):
    return torch.randn(*shape) * 0.02


def make(spec):
    c = spec["config"]
    if c["model_type"] == "gpt2":
        d, v, L = c["n_embd"], c["vocab_size"], c["n_layer"]
        p = {"wte": rand(v, d), "wpe": rand(c["n_positions"], d), "layers": []}
        for _ in range(L):
            p["layers"].append({
                "ln1": (torch.ones(d), torch.zeros(d)), "c_attn": (rand(d, 3 * d), torch.zeros(3 * d)),
                "c_proj": (rand(d, d), torch.zeros(d)), "ln2": (torch.ones(d), torch.zeros(d)),
                "fc": (rand(d, 4 * d), torch.zeros(4 * d)), "proj": (rand(4 * d, d), torch.zeros(d)),
            })
        p["lnf"] = (torch.ones(d), torch.zeros(d))
        return ("gpt2", c, p)
    d, v, L, f = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"], c["intermediate_size"]
    h, kv = c["num_attention_heads"], c["num_key_value_heads"]
    hd = d // h
    p = {"embed": rand(v, d), "lm_head": rand(v, d), "layers": [], "norm": torch.ones(d)}
    for _ in range(L):
        p["layers"].append({"n1": torch.ones(d), "q": rand(h * hd, d), "k": rand(kv * hd, d), "v": rand(kv * hd, d),
                            "o": rand(d, h * hd), "n2": torch.ones(d), "gate": rand(f, d), "up": rand(f, d), "down": rand(d, f)})
    inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
    return ("llama", c, p, inv)


def attend(q, k, v, causal_offset):
    # q [B,H,T,D], k/v [B,H,S,D]; query i sits at key slot causal_offset + i.
    T, S = q.shape[2], k.shape[2]
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    mask = torch.arange(S)[None, :] <= (torch.arange(T)[:, None] + causal_offset)
    scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, -1) @ v


def forward(model, ids, past):
    kind, c = model[0], model[1]
    p = model[2]
    B, T = ids.shape
    start = 0 if past is None else past[0][0].shape[2]
    pos = torch.arange(start, start + T)
    new_past = []
    if kind == "gpt2":
        h_ = c["n_head"]
        x = p["wte"][ids] + p["wpe"][pos]
        for i, l in enumerate(p["layers"]):
            a = torch.nn.functional.layer_norm(x, (x.shape[-1],), *l["ln1"])
            qkv = a @ l["c_attn"][0] + l["c_attn"][1]
            q, k, v = [t.view(B, T, h_, -1).transpose(1, 2) for t in qkv.split(x.shape[-1], -1)]
            if past is not None:
                k, v = torch.cat([past[i][0], k], 2), torch.cat([past[i][1], v], 2)
            new_past.append((k, v))
            o = attend(q, k, v, start).transpose(1, 2).reshape(B, T, -1)
            x = x + o @ l["c_proj"][0] + l["c_proj"][1]
            m = torch.nn.functional.layer_norm(x, (x.shape[-1],), *l["ln2"])
            x = x + torch.nn.functional.gelu(m @ l["fc"][0] + l["fc"][1], approximate="tanh") @ l["proj"][0] + l["proj"][1]
        x = torch.nn.functional.layer_norm(x, (x.shape[-1],), *p["lnf"])
        return x @ p["wte"].T, new_past
    inv = model[3]
    h_, kv = c["num_attention_heads"], c["num_key_value_heads"]
    ang = pos[:, None].float() * inv[None, :]
    emb = torch.cat([ang, ang], -1)
    cos, sin = emb.cos(), emb.sin()

    def rope(t):
        t1, t2 = t.chunk(2, -1)
        return t * cos + torch.cat([-t2, t1], -1) * sin

    def rms(t, w):
        return w * t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + 1e-6)

    x = p["embed"][ids]
    for i, l in enumerate(p["layers"]):
        a = rms(x, l["n1"])
        q = rope((a @ l["q"].T).view(B, T, h_, -1).transpose(1, 2))
        k = rope((a @ l["k"].T).view(B, T, kv, -1).transpose(1, 2))
        v = (a @ l["v"].T).view(B, T, kv, -1).transpose(1, 2)
        if past is not None:
            k, v = torch.cat([past[i][0], k], 2), torch.cat([past[i][1], v], 2)
        new_past.append((k, v))
        rep = h_ // kv
        o = attend(q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1), start).transpose(1, 2).reshape(B, T, -1)
        x = x + o @ l["o"].T
        m = rms(x, l["n2"])
        x = x + (torch.nn.functional.silu(m @ l["gate"].T) * (m @ l["up"].T)) @ l["down"].T
    return rms(x, p["norm"]) @ p["lm_head"].T, new_past


def generate(model, prompts, new_tokens):
    logits, past = forward(model, prompts, None)
    nxt = logits[:, -1].argmax(-1, keepdim=True)
    for _ in range(new_tokens - 1):
        logits, past = forward(model, nxt, past)
        nxt = logits[:, -1].argmax(-1, keepdim=True)


if __name__ == "__main__":
    specs = json.loads(sys.argv[1])
    threads = int(sys.argv[2])
    torch.set_num_threads(threads)
    results = {}
    with torch.no_grad():
        for name, spec in specs.items():
            model = make(spec)
            vocab = spec["config"]["vocab_size"]
            ids = torch.randint(0, vocab, (16, 64))
            forward(model, ids, None)
            t = time.perf_counter()
            for _ in range(3):
                forward(model, torch.randint(0, vocab, (16, 64)), None)[0].sum().item()
            fwd = 3 * 16 * 64 / (time.perf_counter() - t)
            gen = {}
            for b in (1, 16):
                prompts = torch.randint(0, vocab, (b, 8))
                generate(model, prompts, 64)
                t = time.perf_counter()
                generate(model, prompts, 64)
                gen[f"batch{b}"] = b * 64 / (time.perf_counter() - t)
            results[name] = {"forwardTokensPerSecond": fwd, "generationTokensPerSecond": gen}
    print(json.dumps({"threads": threads, "torch": torch.__version__, "results": results}))
