#!/usr/bin/env bash
# Renders every kustomize overlay, validates every object against the Kubernetes
# OpenAPI schemas offline (npm kubernetes-models, installed here on first use into
# a cache) and checks each service's Deployment, NetworkPolicy and headless
# Service by name (check_manifests.mjs); then the Prometheus rules: promtool
# check rules and the rule unit tests (k8s/monitoring/tests).
set -euo pipefail
root=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v promtool >/dev/null || fail "promtool missing (Debian package prometheus; tools/dev deps installs it)"
command -v kubectl >/dev/null || fail "kubectl missing (tools/dev deps installs it)"
command -v npm >/dev/null || fail "node/npm missing (tools/dev deps installs nodejs and npm)"

rules=("$root"/k8s/monitoring/*-rules.yaml)
promtool check rules "${rules[@]}" || fail "promtool rejects the rules"
shopt -s nullglob
rule_tests=("$root"/k8s/monitoring/tests/*.yaml)
[ ${#rule_tests[@]} -gt 0 ] || fail "no rule unit tests in k8s/monitoring/tests"
(cd "$root/k8s/monitoring/tests" && promtool test rules "${rule_tests[@]##*/}") || fail "rule unit tests fail"
# Every recording and alerting rule has a unit test that names it.
for name in $(sed -nE 's/^ *- *(record|alert): *([A-Za-z0-9_:]+).*/\2/p' "${rules[@]}"); do
  grep -qE "(^|[^A-Za-z0-9_:])$name([^A-Za-z0-9_:]|$)" "${rule_tests[@]}" \
    || fail "rule $name has no unit test in k8s/monitoring/tests"
done

# Pinned versions; installed once per machine (tools/dev deps installs node and npm).
modules=${CAREOPS_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/careops/npm-deploy}
want="kubernetes-models@5.1.0 yaml@2.9.1"
if [ "$(cat "$modules/installed" 2>/dev/null)" != "$want" ]; then
  mkdir -p "$modules"
  echo '{"name":"careops-deploy-check","private":true,"type":"module"}' >"$modules/package.json"
  # shellcheck disable=SC2086
  npm install --prefix "$modules" --no-audit --no-fund --loglevel=error $want >/dev/null \
    || fail "npm install $want failed"
  echo "$want" >"$modules/installed"
fi
# ESM resolves packages from the script's folder upwards: run a copy beside the modules.
cp "$here/check_manifests.mjs" "$modules/check_manifests.mjs"

for overlay_dir in "$root"/k8s/overlays/*/; do
  overlay=$(basename "$overlay_dir")
  out=$(kubectl kustomize "$overlay_dir") || fail "overlay $overlay does not render"
  node "$modules/check_manifests.mjs" "$overlay" <<<"$out" || fail "overlay $overlay"
done
monitoring=$(kubectl kustomize "$root/k8s/monitoring") || fail "k8s/monitoring does not render"
node "$modules/check_manifests.mjs" monitoring --schemas-only <<<"$monitoring" || fail "k8s/monitoring"
