#!/usr/bin/env python3
"""How saturated a GRU4Rec checkpoint's GRU states are (README "Losses", gBCE).

Runs the checkpoint's GRU layers (PyTorch's gates [r; z; n], as
models/layers/gru.h) over 200 random 30-item sequences and prints, per
checkpoint: the mean |h| of the last layer's final state, the share of state
units with |h| > 0.95, the mean logit against the scored table (out_emb when
the model has one, else item_emb), the spread of a user's logits across
items, and the spread of the logits across users (near 0: every user gets the
same scores).

  PYTHONPATH=build/python /usr/bin/python3 bench/gru4rec_state_saturation.py CKPT...

Needs NumPy and the fedrec module (build/python).
"""
import sys

import numpy as np

import fedrec


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def final_states(t, sequences):
    layers = sorted({k.split(".")[0] for k in t if k.startswith("gru")})
    states = []
    for seq in sequences:
        x = [t["item_emb"][i] for i in seq]
        for layer in layers:
            w_ih, w_hh = t[layer + ".w_ih"], t[layer + ".w_hh"]
            b_ih, b_hh = t[layer + ".b_ih"][0], t[layer + ".b_hh"][0]
            hidden = w_hh.shape[1]
            h, out = np.zeros(hidden), []
            for xi in x:
                gi, gh = w_ih @ xi + b_ih, w_hh @ h + b_hh
                r = sigmoid(gi[:hidden] + gh[:hidden])
                z = sigmoid(gi[hidden:2 * hidden] + gh[hidden:2 * hidden])
                n = np.tanh(gi[2 * hidden:] + r * gh[2 * hidden:])
                h = (1 - z) * n + z * h
                out.append(h)
            x = out
        states.append(x[-1])
    return np.array(states)


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    rng = np.random.default_rng(0)
    for path in paths:
        t = fedrec.load(path).tensors
        items = t["item_emb"].shape[0]
        h = final_states(t, [rng.integers(0, items, 30) for _ in range(200)])
        logits = h @ t.get("out_emb", t["item_emb"]).T
        print(f"{path}: mean |h| {np.abs(h).mean():.3f}, |h| > 0.95 {(np.abs(h) > 0.95).mean():.3f}, "
              f"mean logit {logits.mean():.2f}, per-user spread {logits.std(axis=1).mean():.3f}, "
              f"across-user spread {(logits - logits.mean(axis=0)).std():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
