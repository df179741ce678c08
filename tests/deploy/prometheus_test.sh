#!/usr/bin/env bash
# Debian's Prometheus scrapes the five real service binaries (each on its own
# schema of the test MariaDB) with the careops rules loaded, and through its
# HTTP API: every target is up, the KPI series exist with their labels, the
# rules evaluate, and every query of the Grafana dashboard
# (k8s/monitoring/careops-dashboard.json) evaluates without error.
# Usage: prometheus_test.sh SOURCE_DIR BINARY_DIR
set -euo pipefail
root=$1 bin=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -n "${CAREOPS_TEST_MYSQL_ROOT_DSN:-}" ] || fail "CAREOPS_TEST_MYSQL_ROOT_DSN unset: run through tools/dev test"
command -v prometheus >/dev/null || fail "prometheus missing (Debian package prometheus; tools/dev deps installs it)"

services=(membership claims collections retention reporting)
work=$(mktemp -d "${TMPDIR:-/tmp}/careops-prom-test-XXXXXX")
read -r user host port < <(sed -E 's#^mysql://([^@:]+)(:[^@]*)?@([^:/]+):([0-9]+)/.*#\1 \3 \4#' <<<"$CAREOPS_TEST_MYSQL_ROOT_DSN")
sql() { mysql -u"$user" -h"$host" -P"$port" -e "$1"; }
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for s in "${services[@]}"; do sql "DROP DATABASE IF EXISTS prom$$_$s" || true; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

declare -A grpc metrics
for s in "${services[@]}"; do grpc[$s]=$(free_port); metrics[$s]=$(free_port); done
targets=""
for s in "${services[@]}"; do
  sql "CREATE DATABASE prom$$_$s CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
  U=${s^^}
  env "CAREOPS_${U}_MYSQL_DSN=mysql://$user@$host:$port/prom$$_$s" \
    "CAREOPS_${U}_MEMBERSHIP_ADDR=127.0.0.1:${grpc[membership]}" \
    "CAREOPS_${U}_CLAIMS_ADDR=127.0.0.1:${grpc[claims]}" \
    "CAREOPS_${U}_COLLECTIONS_ADDR=127.0.0.1:${grpc[collections]}" \
    "CAREOPS_${U}_RETENTION_ADDR=127.0.0.1:${grpc[retention]}" \
    "$bin/services/$s/careops-$s" --listen_host=127.0.0.1 --grpc_port="${grpc[$s]}" \
    --metrics_port="${metrics[$s]}" --token_file="$root/tools/dev-tokens" --service_token="svc-$s" \
    --insecure_plaintext --gauge_refresh=1s --log_ok_rpcs=false >"$work/$s.log" 2>&1 &
  pids+=($!)
  targets+="  - job_name: careops-$s
    static_configs: [{targets: ['127.0.0.1:${metrics[$s]}']}]
"
done
for s in "${services[@]}"; do
  "$bin/tools/careops-health" --wait=60s "127.0.0.1:${grpc[$s]}" >/dev/null \
    || { tail -5 "$work/$s.log"; fail "careops-$s did not report SERVING"; }
done

prom_port=$(free_port)
cat >"$work/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [$(printf '"%s",' "$root"/k8s/monitoring/*-rules.yaml | sed 's/,$//')]
scrape_configs:
$targets
YAML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)

# Queries through the HTTP API, answered by a small checker (python3, stdlib only).
export PROM="http://127.0.0.1:$prom_port" DASHBOARD="$root/k8s/monitoring/careops-dashboard.json"
python3 - <<'PY' || { tail -20 "$work/prometheus.log"; fail "Prometheus checks"; }
import json, os, sys, time, urllib.parse, urllib.request
prom = os.environ["PROM"]
def api(path, **params):
    url = f"{prom}/api/v1/{path}" + ("?" + urllib.parse.urlencode(params) if params else "")
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)
def query(expr):
    return api("query", query=expr)
def eventually(check, what, timeout=60):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = check()
            if last is True:
                return
        except Exception as e:  # Prometheus still starting
            last = e
        time.sleep(0.25)
    sys.exit(f"{what}: {last}")

services = ["membership", "claims", "collections", "retention", "reporting"]
def all_up():
    r = query('up{job=~"careops-.*"} == 1')["data"]["result"]
    got = sorted(x["metric"]["job"] for x in r)
    return got == sorted(f"careops-{s}" for s in services) or f"up: {got}"
eventually(all_up, "every careops target up")

# The KPI series and their labels, per job.
want = {
    "careops-membership": {
        "careops_membership_members": {"status"},
        "careops_membership_accounts": {"type", "status"},
        "careops_membership_movements_overdue": {"type"},
        "careops_membership_movements_total": {"type", "outcome"},
        "careops_membership_movement_tat_breaches_total": {"type"},
        "careops_membership_eligibility_checks_total": {"outcome"},
    },
    "careops-claims": {
        "careops_claims_open": {"status"},
        "careops_claims_tat_breaches_total": {"stage"},
        "careops_claims_tat_seconds_bucket": {"stage", "le"},
    },
}
for s in services:
    want.setdefault(f"careops-{s}", {})["grpc_server_handled_total"] = {"grpc_service", "grpc_method", "grpc_code", "grpc_type"}
def kpis():
    missing = []
    for job, series in want.items():
        for name, labels in series.items():
            r = query(f'{name}{{job="{job}"}}')["data"]["result"]
            if not r:
                missing.append(f"{job}: no {name}")
            elif not any(labels <= set(x["metric"]) for x in r):
                missing.append(f"{job}: {name} lacks labels {labels}")
    return not missing or missing
eventually(kpis, "KPI series")

def rules_ok():
    groups = api("rules")["data"]["groups"]
    bad = [(g["name"], r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r.get("health") != "ok"]
    return (bool(groups) and not bad) or f"rules: {bad or 'none loaded'}"
eventually(rules_ok, "rules evaluate")

exprs = []
for p in json.load(open(os.environ["DASHBOARD"]))["panels"]:
    for t in p.get("targets", []):
        exprs.append((p["title"], t["expr"]))
assert exprs, "dashboard has no queries"
for title, expr in exprs:
    r = query(expr)
    if r.get("status") != "success":
        sys.exit(f"dashboard '{title}': {expr}: {r}")
print(f"prometheus: 5 targets up, KPI series present, rules ok, {len(exprs)} dashboard queries evaluate")
PY
