# Sourced by scripts/test and .ci/run (not run directly).
# Keeps build output outside the checkout, in the user's cache directory, so that repeated runs
# (and CI runs of fresh clones on the same machine) reuse earlier builds instead of starting cold.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  cache_root="${XDG_CACHE_HOME:-${HOME:-}/.cache}"
  if [ -n "${HOME:-}" ] && mkdir -p "$cache_root/moose/target" 2>/dev/null && [ -w "$cache_root/moose/target" ]; then
    export CARGO_TARGET_DIR="$cache_root/moose/target"
  fi
fi
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
