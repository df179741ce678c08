#!/usr/bin/env bash
# Builds the five service images with tools/image (buildah, private vfs storage),
# runs each binary from its image's own root filesystem (chroot, as user 10001)
# against the test MariaDB until it reports SERVING over mutual TLS, then pushes
# them to a real registry (Debian's docker-registry on localhost) and checks that
# the kustomize component names the digests the registry serves. The images hold
# every library their binary loads, and no shell. They are built from the test
# build's binaries (RelWithDebInfo, debug info stripped as tools/image always
# does) rather than a Release build, which would add minutes to the suite;
# tools/image packs either the same way.
# Usage: image_test.sh SOURCE_DIR BINARY_DIR. Exit 77 (skip) only where buildah cannot run.
set -euo pipefail
root=$1 bin=$2
services=(membership claims collections retention reporting)
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -n "${CAREOPS_TEST_MYSQL_ROOT_DSN:-}" ] || fail "CAREOPS_TEST_MYSQL_ROOT_DSN unset: run through tools/dev test"
command -v buildah >/dev/null || { echo "SKIP: buildah is not installed (tools/dev deps installs it)"; exit 77; }
command -v docker-registry >/dev/null || fail "docker-registry is not installed (tools/dev deps installs it)"

work=$(mktemp -d "${TMPDIR:-/tmp}/careops-image-test-XXXXXX")
store=(--storage-driver vfs --root "$work/storage" --runroot "$work/run")
read -r user host port < <(sed -E 's#^mysql://([^@:]+)(:[^@]*)?@([^:/]+):([0-9]+)/.*#\1 \3 \4#' <<<"$CAREOPS_TEST_MYSQL_ROOT_DSN")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for svc in "${services[@]}"; do
    mysql -u"$user" -h"$host" -P"$port" -e "DROP DATABASE IF EXISTS img$$_$svc" 2>/dev/null || true
  done
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
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

export IMAGE_BUILD_DIR=$bin IMAGE_TAG=test IMAGE_COMPONENT=$work/component.yaml BUILDAH_ARGS="${store[*]}"
"$root/tools/image/image" build --oci-archive "$work/oci" 2>"$work/build.log" || { cat "$work/build.log"; fail "tools/image build"; }
cat "$work/build.log"
"$root/tools/dev" certs "$work/tls" >/dev/null

for svc in "${services[@]}"; do
  grep -qE "^$svc +careops/$svc:test +size [0-9.]+ [kMG]?B +digest sha256:[0-9a-f]{64}" "$work/build.log" \
    || fail "$svc: no size and digest printed"
  grep -qE "name: careops/$svc, newName: careops/$svc, digest: \"sha256:[0-9a-f]{64}\"" "$work/component.yaml" \
    || fail "$svc: no kustomize images entry by digest: $(cat "$work/component.yaml")"
  [ -s "$work/oci/careops-$svc.tar" ] || fail "$svc: no OCI archive"
  config=$(buildah "${store[@]}" inspect --type image --format '{{.OCIv1.Config.User}} {{.OCIv1.Config.Entrypoint}}' "careops/$svc:test")
  [ "$config" = "10001:10001 [/usr/local/bin/careops-$svc]" ] || fail "$svc image config: $config"

  ctr=$(buildah "${store[@]}" from --quiet "careops/$svc:test")
  fs=$(buildah "${store[@]}" mount "$ctr")
  for f in bin/sh usr/bin/sh bin/bash; do [ ! -e "$fs/$f" ] || fail "$svc: the image has a shell: /$f"; done
  [ -f "$fs/etc/ssl/certs/ca-certificates.crt" ] || fail "$svc: no CA certificates"
  [ -f "$fs/usr/share/zoneinfo/Asia/Manila" ] || fail "$svc: no tzdata"
  ! readelf -S "$fs/usr/local/bin/careops-$svc" | grep -q '\.debug_info' || fail "$svc: debug info in the image"

  # The image's root filesystem is read-only to the service; the token file, its
  # certificate and the CA's revocation list are what it gets from outside
  # (mounted Secrets and a ConfigMap in Kubernetes), and it serves over mutual TLS.
  mkdir -p "$fs/etc/careops/tls/crl"
  cp "$root/tools/dev-tokens" "$fs/etc/careops/tokens"
  cp "$work/tls/svc-$svc.crt" "$fs/etc/careops/tls/tls.crt"
  cp "$work/tls/svc-$svc.key" "$fs/etc/careops/tls/tls.key"
  cp "$work/tls/ca.crt" "$fs/etc/careops/tls/ca.crt"
  cp "$work/tls/crl/"*.r0 "$fs/etc/careops/tls/crl/"
  chown -R 10001:10001 "$fs/etc/careops/tls" 2>/dev/null || chmod -R a+rX "$fs/etc/careops/tls"
  mysql -u"$user" -h"$host" -P"$port" -e "CREATE DATABASE img$$_$svc CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
  grpc=$(free_port) metrics=$(free_port)
  env -i "CAREOPS_${svc^^}_MYSQL_DSN=mysql://$user@$host:$port/img$$_$svc" \
    "$(command -v chroot)" --userspec=10001:10001 "$fs" "/usr/local/bin/careops-$svc" \
    --listen_host=127.0.0.1 --grpc_port="$grpc" --metrics_port="$metrics" \
    --token_file=/etc/careops/tokens --tls_cert=/etc/careops/tls/tls.crt --tls_key=/etc/careops/tls/tls.key \
    --tls_ca=/etc/careops/tls/ca.crt --tls_crl_dir=/etc/careops/tls/crl >"$work/$svc.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  if ! "$bin/tools/careops-health" --wait=60s --tls_cert="$work/tls/dev-cli.crt" --tls_key="$work/tls/dev-cli.key" \
    --tls_ca="$work/tls/ca.crt" "127.0.0.1:$grpc" >/dev/null; then
    cat "$work/$svc.log"
    fail "careops-$svc from the image did not report SERVING"
  fi
  kill -TERM "$pid"
  wait "$pid" || fail "careops-$svc exited non-zero after SIGTERM: $(tail -3 "$work/$svc.log")"
  echo "careops-$svc from the image's root filesystem reports SERVING over mutual TLS"
  buildah "${store[@]}" rm "$ctr" >/dev/null
done

# A push to a real registry (HTTP on localhost, hence --tls-verify=false) rewrites
# the component with the registry's name and the digest the registry serves.
reg_port=$(free_port)
cat >"$work/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$reg_port
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=("$!")
disown "$!"  # killed by cleanup; no "Killed" line from the shell
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$reg_port/v2/" >/dev/null && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$reg_port/v2/" >/dev/null || { cat "$work/registry.log"; fail "the registry did not start"; }
IMAGE_PUSH_ARGS=--tls-verify=false "$root/tools/image/image" push "127.0.0.1:$reg_port" 2>"$work/push.log" \
  || { cat "$work/push.log"; fail "tools/image push"; }
cat "$work/push.log"
for svc in "${services[@]}"; do
  line=$(grep "name: careops/$svc," "$work/component.yaml") || fail "$svc: no component entry after the push"
  [[ $line =~ newName:\ 127\.0\.0\.1:$reg_port/careops/$svc,\ digest:\ \"(sha256:[0-9a-f]{64})\" ]] \
    || fail "$svc: the component does not name the registry: $line"
  pushed=${BASH_REMATCH[1]}
  served=$(curl -fsI -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://127.0.0.1:$reg_port/v2/careops/$svc/manifests/test" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
  [ "$served" = "$pushed" ] || fail "$svc: the registry serves $served, the component names $pushed"
done
echo "five images pushed; the component names the digests the registry serves"
