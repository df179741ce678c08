#!/usr/bin/env bash
# Builds the claims image with tools/image (buildah, private vfs storage) and runs
# its binary from the image's own root filesystem (chroot, as user 10001) against
# the test MariaDB until it reports SERVING: the image holds every library the
# binary loads, and no shell. The image is built from the test build's binary
# (RelWithDebInfo) rather than a Release build, which would add minutes to the
# suite; tools/image packs either the same way.
# Usage: image_test.sh SOURCE_DIR BINARY_DIR. Exit 77 (skip) only where buildah cannot run.
set -euo pipefail
root=$1 bin=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -n "${CAREOPS_TEST_MYSQL_ROOT_DSN:-}" ] || fail "CAREOPS_TEST_MYSQL_ROOT_DSN unset: run through tools/dev test"
command -v buildah >/dev/null || { echo "SKIP: buildah is not installed (tools/dev deps installs it)"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/careops-image-test-XXXXXX")
store=(--storage-driver vfs --root "$work/storage" --runroot "$work/run")
pid=""
cleanup() {
  [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true
  buildah "${store[@]}" rm --all >/dev/null 2>&1 || true
  buildah "${store[@]}" rmi --all --force >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
if ! probe=$(buildah "${store[@]}" from --quiet scratch 2>&1); then
  echo "SKIP: buildah cannot run here: $probe"
  exit 77
fi
buildah "${store[@]}" rm "$probe" >/dev/null

export IMAGE_BUILD_DIR=$bin IMAGE_TAG=test IMAGE_COMPONENT=$work/component.yaml BUILDAH_ARGS="${store[*]}"
"$root/tools/image/image" build --oci-archive "$work/oci" claims 2>"$work/build.log" || { cat "$work/build.log"; fail "tools/image build claims"; }
cat "$work/build.log"
grep -qE 'size [0-9.]+ [kMG]?B +digest sha256:[0-9a-f]{64}' "$work/build.log" || fail "no size and digest printed"
grep -qE 'name: careops/claims, newName: careops/claims, digest: "sha256:[0-9a-f]{64}"' "$work/component.yaml" \
  || fail "no kustomize images entry by digest: $(cat "$work/component.yaml")"
[ -s "$work/oci/careops-claims.tar" ] || fail "no OCI archive"

config=$(buildah "${store[@]}" inspect --type image --format '{{.OCIv1.Config.User}} {{.OCIv1.Config.Entrypoint}}' careops/claims:test)
[ "$config" = "10001:10001 [/usr/local/bin/careops-claims]" ] || fail "image config: $config"

ctr=$(buildah "${store[@]}" from --quiet careops/claims:test)
fs=$(buildah "${store[@]}" mount "$ctr")
for f in bin/sh usr/bin/sh bin/bash; do [ ! -e "$fs/$f" ] || fail "the image has a shell: /$f"; done
[ -f "$fs/etc/ssl/certs/ca-certificates.crt" ] || fail "no CA certificates"
[ -f "$fs/usr/share/zoneinfo/Asia/Manila" ] || fail "no tzdata"

# A schema of its own on the test MariaDB.
read -r user host port < <(sed -E 's#^mysql://([^@:]+)(:[^@]*)?@([^:/]+):([0-9]+)/.*#\1 \3 \4#' <<<"$CAREOPS_TEST_MYSQL_ROOT_DSN")
schema="img$$_claims"
mysql -u"$user" -h"$host" -P"$port" -e "CREATE DATABASE $schema CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
trap 'mysql -u"$user" -h"$host" -P"$port" -e "DROP DATABASE IF EXISTS $schema" || true; cleanup' EXIT

# The image's root filesystem is read-only to the service; the token file and
# its TLS certificate are what it gets from outside (mounted secrets in
# Kubernetes), and it serves over mutual TLS as it does there.
mkdir -p "$fs/etc/careops"
cp "$root/tools/dev-tokens" "$fs/etc/careops/tokens"
"$root/tools/dev" certs "$work/tls" >/dev/null
mkdir -p "$fs/etc/careops/tls"
cp "$work/tls/svc-claims.crt" "$fs/etc/careops/tls/tls.crt"
cp "$work/tls/svc-claims.key" "$fs/etc/careops/tls/tls.key"
cp "$work/tls/ca.crt" "$fs/etc/careops/tls/ca.crt"
chown -R 10001:10001 "$fs/etc/careops/tls" 2>/dev/null || chmod a+r "$fs/etc/careops/tls"/*
grpc=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
metrics=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
chroot_bin=$(command -v chroot)
env -i CAREOPS_CLAIMS_MYSQL_DSN="mysql://$user@$host:$port/$schema" \
  "$chroot_bin" --userspec=10001:10001 "$fs" /usr/local/bin/careops-claims \
  --listen_host=127.0.0.1 --grpc_port="$grpc" --metrics_port="$metrics" \
  --token_file=/etc/careops/tokens --tls_cert=/etc/careops/tls/tls.crt --tls_key=/etc/careops/tls/tls.key \
  --tls_ca=/etc/careops/tls/ca.crt >"$work/service.log" 2>&1 &
pid=$!
if ! "$bin/tools/careops-health" --wait=60s --tls_cert="$work/tls/dev-cli.crt" --tls_key="$work/tls/dev-cli.key" \
  --tls_ca="$work/tls/ca.crt" "127.0.0.1:$grpc" >/dev/null; then
  cat "$work/service.log"
  fail "careops-claims from the image did not report SERVING"
fi
echo "careops-claims from the image's root filesystem reports SERVING over mutual TLS"
kill -TERM "$pid"
wait "$pid" || fail "careops-claims exited non-zero after SIGTERM: $(tail -3 "$work/service.log")"
pid=""
