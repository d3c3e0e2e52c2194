#!/usr/bin/env python3
"""Golden values for tests/content/minilm_golden_test.cc.

Encodes the texts below with sentence-transformers' all-MiniLM-L6-v2 and
writes, next to this script:
  minilm_golden.json  the texts and their token ids from Hugging Face
                      tokenizers (at max_seq_length 256)
  minilm_golden.npy   float32 [n x 384], the normalised sentence embeddings

Run once, by hand, in a virtual environment outside the repo (the values
are committed; the test never runs Python):
  /usr/bin/python3 -m venv --system-site-packages /tmp/st-venv   # + python3-torch (apt)
  /tmp/st-venv/bin/pip install transformers==4.40.2 tokenizers==0.19.1 \
      huggingface_hub==0.23.4 safetensors==0.4.3 scikit-learn==1.3.2 scipy==1.11.4 Pillow
  /tmp/st-venv/bin/pip install --no-deps sentence-transformers==2.7.0
  /tmp/st-venv/bin/python tests/content/make_minilm_golden.py [MODEL_DIR]
MODEL_DIR defaults to ${XDG_CACHE_HOME:-~/.cache}/fedrec/models/all-MiniLM-L6-v2
(FEDREC_WITH_ENCODER=1 scripts/setup.sh fetches it).
"""
import json
import os
import sys

import numpy as np
from sentence_transformers import SentenceTransformer

# MovieLens-like item texts in the template of content/item_text.h, plus a
# few that exercise the tokenizer (accents, punctuation, unknown characters,
# a long text that is truncated at 256 tokens).
TEXTS = [
    "Toy Story (1995). Animation, Children's, Comedy",
    "GoldenEye (1995). Action, Adventure, Thriller",
    "Four Rooms (1995). Thriller",
    "Get Shorty (1995). Action, Comedy, Drama",
    "Copycat (1995). Crime, Drama, Thriller",
    "Shanghai Triad (Yao a yao yao dao waipo qiao) (1995). Drama",
    "Twelve Monkeys (1995). Drama, Sci-Fi",
    "Babe (1995). Children's, Comedy, Drama",
    "Dead Man Walking (1995). Drama",
    "Richard III (1995). Drama, War",
    "Seven (Se7en) (1995). Crime, Thriller",
    "Usual Suspects, The (1995). Crime, Thriller",
    "Mighty Aphrodite (1995). Comedy",
    "Postino, Il (1994). Drama, Romance",
    "Mr. Holland's Opus (1995). Drama",
    "French Twist (Gazon maudit) (1995). Comedy, Romance",
    "From Dusk Till Dawn (1996). Action, Comedy, Crime, Horror, Thriller",
    "White Balloon, The (1995). Drama",
    "Antonia's Line (1995). Drama",
    "Angels and Insects (1995). Drama, Romance",
    "Misérables, Les (1995). Drama, Musical",
    "Cité des enfants perdus, La (1995). Adventure, Sci-Fi",
    "Belle de jour (1967). Drama",
    "Crème Brûlée à la Française — «Déjà vu»!",
    "Łódź, Škoda & İstanbul: naïve façade; Ærø (ß)",
    "unknown",
    "Star Wars (1977). Action, Adventure, Romance, Sci-Fi, War",
    " ".join(["A very long synopsis of a film about everything."] * 40),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    cache = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
    model_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        cache, "fedrec", "models", "all-MiniLM-L6-v2")
    model = SentenceTransformer(model_dir, device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    emb = model.encode(TEXTS, batch_size=8, normalize_embeddings=False,
                       convert_to_numpy=True).astype(np.float32)
    tok = model.tokenizer(TEXTS, truncation=True, max_length=model.max_seq_length)
    np.save(os.path.join(here, "minilm_golden.npy"), emb)
    with open(os.path.join(here, "minilm_golden.json"), "w", encoding="utf-8") as f:
        json.dump({"model": "sentence-transformers/all-MiniLM-L6-v2",
                   "max_length": model.max_seq_length,
                   "texts": TEXTS,
                   "ids": [list(map(int, ids)) for ids in tok["input_ids"]]},
                  f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"{len(TEXTS)} texts, embeddings {emb.shape}, norms "
          f"{np.linalg.norm(emb, axis=1).min():.6f}..{np.linalg.norm(emb, axis=1).max():.6f}")


if __name__ == "__main__":
    main()
