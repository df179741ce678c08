#!/usr/bin/env bash
# Renders every kustomize overlay and checks what the platform team relies on:
# gRPC probes, non-root read-only containers, one Deployment/Service/PDB/HPA/
# NetworkPolicy per service; then checks the Prometheus rules with promtool.
set -euo pipefail
root=$1
fail() { echo "FAIL: $*" >&2; exit 1; }

if command -v promtool >/dev/null; then
  promtool check rules "$root/k8s/monitoring/careops-rules.yaml" || fail "promtool rejects the rules"
else
  fail "promtool missing (Debian package prometheus; tools/dev installs it)"
fi

if ! command -v kubectl >/dev/null; then
  echo "kubectl not installed: skipping kustomize rendering"
  exit 77
fi
for overlay in dev prod; do
  out=$(kubectl kustomize "$root/k8s/overlays/$overlay") || fail "overlay $overlay does not render"
  for kind in Deployment Service PodDisruptionBudget HorizontalPodAutoscaler NetworkPolicy ServiceAccount; do
    for svc in membership claims collections retention reporting; do
      grep -q "name: $svc-careops$" <<<"$out" || fail "$overlay: no $svc resources"
    done
    n=$(grep -c "^kind: $kind$" <<<"$out" || true)
    [ "$n" -ge 5 ] || fail "$overlay: $n ${kind}s, want one per service"
  done
  deployments=$(grep -c "^kind: Deployment$" <<<"$out")
  for needle in "grpc:" "runAsNonRoot: true" "readOnlyRootFilesystem: true" "allowPrivilegeEscalation: false"; do
    n=$(grep -c "$needle" <<<"$out" || true)
    [ "$n" -ge "$deployments" ] || fail "$overlay: '$needle' on $n of $deployments deployments"
  done
  if grep -n "secretKeyRef" -A2 <<<"$out" | grep -q "name: careops-db$"; then
    fail "$overlay: a deployment still points at the unnamed template secret"
  fi
  echo "$overlay: renders, $deployments deployments checked"
done
