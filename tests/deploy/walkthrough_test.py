#!/usr/bin/env python3
"""The README's walkthrough, run as a new user would: `tools/dev up`, then every
careops-call command of "Calling the services", in order, over mutual TLS.

A stack of its own (run directory, MariaDB, ports) beside any other, started by
tools/dev itself with the binaries of this build (CAREOPS_DEV_SKIP_BUILD=1) and its
clock started on a fixed day, so the README's dates mean the same thing whenever
the suite runs. The README writes the ids each call needs as placeholders
(<account>, <claim>, <etag>, ...); they are taken from the earlier answers, as a
user would copy them. Every command must succeed, and the figures the README's
comments promise are checked. Then `tools/dev down` stops it all.

Usage: walkthrough_test.py SOURCE_DIR BINARY_DIR
"""
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import urllib.request

# The README's dates are read against this day (Asia/Manila morning).
CLOCK_START = "2026-12-06T09:00:00+08:00"
README_GRPC_BASE = 50051

# Placeholder -> the answer field it is copied from. The first answer that carries
# an id keeps it (a later SubmitClaim of an adjustment does not replace <claim>);
# <new plan> is the latest answer's plan, and <payment>, <past due> and <etag> are
# the latest answer's too.
FIRST_ID = {"accountId": "account", "planId": "plan", "memberId": "member", "claimId": "claim",
            "ledgerId": "ledger", "unpostedId": "unposted", "reportId": "report",
            "movementId": "movement"}
LATEST_ID = {"planId": "new plan", "paymentId": "payment", "pastDue": "past due"}


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def free_ports(count):
    """`count` consecutive free ports on 127.0.0.1."""
    for _ in range(200):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        base = s.getsockname()[1]
        s.close()
        if base + count > 65535:
            continue
        ok = True
        for p in range(base, base + count):
            t = socket.socket()
            try:
                t.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                t.close()
        if ok:
            return base
    fail("no %d consecutive free ports" % count)


def walkthrough_commands(readme):
    """The shell lines of the first ```sh block after '## Calling the services',
    continuation lines and multi-line quoted JSON joined into one command each."""
    section = readme.split("## Calling the services", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands, pending = [], ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending = pending + "\n" + line if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the JSON goes on on the next line
            continue
        commands.append(pending)
        pending = ""
    if pending:
        fail("README walkthrough: unterminated command: " + pending)
    return commands


def collect(answer, values):
    """Copies ids and the shallowest etag of an answer into `values`."""
    etag = [None, 1 << 30]
    latest = {}

    def walk(node, depth):
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, str):
                    if k in FIRST_ID and FIRST_ID[k] not in values:
                        values[FIRST_ID[k]] = v
                    if k in LATEST_ID and depth < latest.get(k, (None, 1 << 30))[1]:
                        latest[k] = (v, depth)
                    if k == "etag" and depth < etag[1]:
                        etag[0], etag[1] = v, depth
                if k == "pastDue" and isinstance(v, dict) and depth < latest.get(k, (None, 1 << 30))[1]:
                    latest[k] = (v.get("amountMinor", "0"), depth)
                walk(v, depth + 1)
        elif isinstance(node, list):
            for v in node:
                walk(v, depth + 1)

    walk(answer, 0)
    for k, (v, _) in latest.items():
        values[LATEST_ID[k]] = v
    if etag[0] is not None:
        values["etag"] = values["etag from the last answer"] = etag[0]


def find(node, key):
    """Every value of `key` anywhere in `node`."""
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                found.append(v)
            found.extend(find(v, key))
    elif isinstance(node, list):
        for v in node:
            found.extend(find(v, key))
    return found


def main():
    src, build = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="careops-walkthrough-")
    run = os.path.join(work, "run")
    grpc_base, metrics_base, mysql_port = free_ports(5), free_ports(5), free_ports(1)
    env = dict(os.environ, CAREOPS_DEV_RUN_DIR=run, BUILD_DIR=build, CAREOPS_DEV_SKIP_BUILD="1",
               CAREOPS_DEV_GRPC_PORT=str(grpc_base), CAREOPS_DEV_METRICS_PORT=str(metrics_base),
               CAREOPS_DEV_MYSQL_PORT=str(mysql_port), CAREOPS_DEV_CLOCK_START=CLOCK_START)
    dev = os.path.join(src, "tools", "dev")
    try:
        up = subprocess.run([dev, "up"], env=env, capture_output=True, text=True, timeout=300)
        if up.returncode != 0 or "careops is up" not in up.stdout:
            fail("tools/dev up:\n" + up.stdout + up.stderr)
        print(up.stdout)
        walk(src, build, run, grpc_base, metrics_base, env)
    finally:
        down = subprocess.run([dev, "down"], env=env, capture_output=True, text=True, timeout=120)
        if down.returncode != 0:
            print("tools/dev down: " + down.stdout + down.stderr, file=sys.stderr)
        subprocess.run(["rm", "-rf", work])
    print("the README walkthrough ran against tools/dev up")


def walk(src, build, run, grpc_base, metrics_base, env):
    with open(os.path.join(src, "README.md")) as f:
        commands = walkthrough_commands(f.read())
    call_env = dict(env)
    values = {}
    calls = 0
    for command in commands:
        words = shlex.split(command, comments=True)
        if words[:1] == ["."]:  # . .run/tls/client.env: the tools' client certificate
            if words[1] != ".run/tls/client.env":
                fail("README sources an unexpected file: " + command)
            with open(os.path.join(run, "tls", "client.env")) as f:
                for assignment in re.findall(r"(\w+)=(\S+)", f.read()):
                    call_env[assignment[0]] = assignment[1]
            continue
        if words[0].startswith("C="):
            if words[0] != "C=build/tools/careops-call":
                fail("README names another careops-call: " + command)
            continue
        if words[0] != "$C":
            fail("README walkthrough line the test does not know: " + command)
        pipe = words[words.index("|") + 1:] if "|" in words else []
        words = words[:words.index("|")] if pipe else words
        args = []
        for w in words[1:]:
            w = re.sub(r"^(--\w+=)\.run/", lambda m: m.group(1) + run + "/", w)
            m = re.fullmatch(r"127\.0\.0\.1:(\d+)", w)
            if m:
                w = "127.0.0.1:%d" % (grpc_base + int(m.group(1)) - README_GRPC_BASE)

            def fill(m):
                name = m.group(1)
                if name not in values:
                    fail("placeholder <%s> has no value from an earlier answer in: %s" % (name, command))
                return values[name]
            args.append(re.sub(r"<([a-z ]+)>", fill, w))
        method = args[-2]
        result = subprocess.run([os.path.join(build, "tools", "careops-call")] + args, env=call_env,
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            fail("README command failed (%s):\n%s\n%s%s" % (method, command, result.stdout, result.stderr))
        calls += 1
        answer = json.loads(result.stdout) if result.stdout.strip() else {}
        check(method, answer, values)
        collect(answer, values)
        if pipe:
            if pipe[:3] != ["jq", "-r", ".csv"] or "csv" not in answer:
                fail("README pipes an answer without a csv field: " + command)
    if calls < 30:
        fail("only %d calls in the walkthrough: was the README block cut?" % calls)
    # The metrics the README's Metrics section lists are served by the stack.
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % (metrics_base + 1), timeout=10).read().decode()
    if "careops_claims_" not in body:
        fail("claims serves no careops_claims_ metric")


def check(method, answer, values):
    """What the README's comments say the answers show."""
    name = method.rsplit("/", 1)[1]
    if name == "SubmitClaim" and "claim" not in values:
        claim = answer.get("claim", answer)
        want = {"payableAmount": "2000000", "memberShare": "500000", "planShare": "2000000"}
        for field, minor in want.items():
            got = claim.get(field, {}).get("amountMinor")
            if got != minor:
                fail("SubmitClaim: README says %s %s, the answer has %s: %s" % (field, minor, got, answer))
    if name == "ApproveClaim":
        approved = find(answer, "amountApproved")
        if not approved or approved[0].get("amountMinor") != "2000000":
            fail("ApproveClaim without an amount should approve the payable 2000000: %s" % answer)
    if name == "GetMember" and not find(answer, "scheduledPlanChange"):
        fail("GetMember should show the scheduled plan change: %s" % answer)


if __name__ == "__main__":
    main()
