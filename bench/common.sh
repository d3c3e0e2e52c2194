# shellcheck shell=bash
# Helpers sourced by the bench scripts, which run from the repository root.

# The fedrec binary to run: $FEDREC_BIN as it is, or the default build's
# (built first by scripts/build.sh).
fedrec_binary() {
  if [[ -n "${FEDREC_BIN:-}" ]]; then
    echo "$FEDREC_BIN"
  else
    echo "$(scripts/build.sh | tail -n 1)/apps/fedrec"
  fi
}

# synth_content FEDREC USERS ITEMS DATA FEATURES: the synthetic interactions
# and item features (clusters carried by the features, seed 7) that the
# item-content benches share; written unless both files exist.
synth_content() {
  local fedrec=$1 users=$2 items=$3 data=$4 features=$5
  if [[ ! -f $data || ! -f $features ]]; then
    "$fedrec" --log-level warn data synth --users "$users" --items "$items" --mean-length 20 \
      --max-length 200 --seed 7 --item-features "$features" --out "$data" > /dev/null
  fi
}
