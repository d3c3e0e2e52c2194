#!/usr/bin/python3
"""The demo's closing table, from the JSON files scripts/demo.sh left in OUT.

    scripts/demo_summary.py OUT
"""
import json
import sys
from pathlib import Path


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    out = Path(argv[1])
    stats = load(out / "stats.json")
    summary = load(out / "sasrec" / "summary.json")
    rows = [
        ("popularity", load(out / "pop_sampled.json"), load(out / "pop_full.json")),
        ("federated SASRec", load(out / "sasrec_sampled.json"), load(out / "sasrec_full.json")),
    ]
    print(f"dataset   synthetic: {stats['users']} users, {stats['items']} items, "
          f"{stats['interactions']} interactions")
    print(f"model     {summary['model']}, {summary['rounds']} rounds, {summary['workers']} workers, "
          f"~{summary['mean_cohort']:.0f} clients per round, {summary['wall_seconds']:.1f} s")
    privacy = summary.get("privacy", {})
    if privacy.get("mode", "none") == "none":
        print("privacy   none (no DP noise in this demo; see `fedrec privacy epsilon`)")
    else:
        print(f"privacy   {privacy['mode']}: epsilon {privacy.get('epsilon')}")
    print()
    print("test split, best validation checkpoint   sampled (100 neg.)   full ranking")
    print("                                         HR@10   NDCG@10      HR@10   NDCG@10")
    for name, sampled, full in rows:
        print(f"  {name:<38} {sampled['HR@10']:.4f}  {sampled['NDCG@10']:.4f}       "
              f"{full['HR@10']:.4f}  {full['NDCG@10']:.4f}")
    ml100k = out / "ml100k_pop.json"
    if ml100k.is_file():
        pop = load(ml100k)
        print(f"  {'MovieLens-100K popularity':<38} {pop['HR@10']:.4f}  {pop['NDCG@10']:.4f}"
              "       (the README's ML-100K section trains on it)")
    print()
    local = summary["model_sha256"]
    mpi_path = out / "sasrec-mpi" / "summary.json"
    if mpi_path.is_file():
        mpi = load(mpi_path)["model_sha256"]
        verdict = "bitwise equal" if mpi == local else "DIFFERENT (a bug: please report)"
        print(f"digests   threads {local[:16]}...  mpirun {mpi[:16]}...  {verdict}")
    else:
        print(f"digest    {local[:16]}... (mpirun not installed: no MPI comparison)")
    content = [(r, out / f"content-{r}" / "summary.json") for r in ("id", "text")]
    if all(p.is_file() for _, p in content):
        print()
        print("item content, 20% of items cold     upload words   test HR@10 (sampled)")
        print("                                     per client     all users   cold targets")
        for r, p in content:
            s = load(p)
            cold = s.get("cold_start", {}).get("sampled", {})
            print(f"  model.item_repr = {r:<17} {s['upload_words_per_client']:>10,}     "
                  f"{s['test_at_best']['sampled']['HR@10']:.4f}      {cold.get('HR@10', float('nan')):.4f}"
                  f"  ({cold.get('users', 0)} users)")
        print("  (chance: 0.0990; text items share what is learnt through their features)")
    recs = load(out / "recommend.json")["recommendations"]
    print("after 1 2 3, recommend: " + ", ".join(str(r["item"]) for r in recs))
    print()
    print(f"files     {out}/  (JSON of every step; the run in {out}/sasrec/)")
    report = out / "sasrec" / "report.png"
    if report.is_file():
        print(f"picture   {report}")
    print(f"tensorboard --logdir {out}/sasrec/tb")


if __name__ == "__main__":
    main(sys.argv)
