// Checks one rendered overlay (kubectl kustomize output on stdin):
//  - every object validates against the Kubernetes OpenAPI schemas (kubernetes-models);
//  - each service's Deployment, NetworkPolicy and headless Service, looked up by
//    name, has what the platform team relies on.
// Usage: node check_manifests.mjs OVERLAY [--schemas-only] < rendered.yaml. Exits 1 listing every problem.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const overlay = process.argv[2];
const services = ["membership", "claims", "collections", "retention", "reporting"];
// Who calls whom (the services' *_ADDR flags): callee -> callers.
const callers = {
  membership: ["claims", "collections", "retention", "reporting"],
  claims: ["retention", "reporting"],
  collections: ["retention", "reporting"],
  retention: ["reporting"],
  reporting: [],
};
const peersOf = (svc) => services.filter((s) => callers[s].includes(svc));

const problems = [];
const fail = (what) => problems.push(`${overlay}: ${what}`);

const docs = parseAllDocuments(readFileSync(0, "utf8")).map((d) => d.toJSON()).filter(Boolean);
// kustomize wraps long base64 at 70 columns in a literal block; the API server's
// decoder skips the newlines, the schema's "byte" format does not.
for (const d of docs) {
  if (d.kind === "Secret") for (const k of Object.keys(d.data || {})) d.data[k] = d.data[k].replace(/\s/g, "");
}
const byKindName = new Map(docs.map((d) => [`${d.kind}/${d.metadata?.name}`, d]));
const get = (kind, name) => byKindName.get(`${kind}/${name}`);

// cert-manager's kinds have no schema in kubernetes-models: the fields careops
// relies on are checked here (cert-manager's CRDs themselves reject the rest).
function checkCertManager(d, id) {
  const spec = d.spec || {};
  if (d.kind === "Certificate") {
    if (!spec.secretName) fail(`${id}: spec.secretName missing`);
    if (!spec.issuerRef?.name) fail(`${id}: spec.issuerRef.name missing`);
    if (!spec.isCA && !(spec.dnsNames?.length || spec.uris?.length)) fail(`${id}: names no DNS name or URI`);
  } else if (d.kind === "Issuer" || d.kind === "ClusterIssuer") {
    if (!spec.selfSigned && !spec.ca?.secretName && !spec.vault && !spec.acme) fail(`${id}: no issuer type`);
  } else {
    fail(`${id}: unexpected cert-manager kind`);
  }
}

// 1. Schemas.
for (const d of docs) {
  const id = `${d.kind}/${d.metadata?.name}`;
  if (d.apiVersion === "cert-manager.io/v1") {
    checkCertManager(d, id);
    continue;
  }
  let mod;
  try {
    mod = await import(`kubernetes-models/${d.apiVersion}`);
  } catch {
    fail(`${id}: no schema for apiVersion ${d.apiVersion}`);
    continue;
  }
  const Model = mod[d.kind];
  if (!Model) {
    fail(`${id}: no kind ${d.kind} in ${d.apiVersion}`);
    continue;
  }
  try {
    new Model(d).validate();
  } catch (e) {
    fail(`${id}: ${e.message}`);
  }
}

if (process.argv[3] === "--schemas-only") {
  if (problems.length) {
    console.error(problems.join("\n"));
    process.exit(1);
  }
  console.log(`${overlay}: ${docs.length} objects valid`);
  process.exit(0);
}

// 2. Each service by name.
const secrets = new Set(docs.filter((d) => d.kind === "Secret").map((d) => d.metadata.name));
const seconds = (flag, args) => {
  const a = (args || []).find((x) => x.startsWith(`--${flag}=`));
  const m = a && a.match(/=(\d+)s$/);
  return m ? Number(m[1]) : null;
};
const secretLike = /mysql:\/\/|password|token=|\$\(|--mysql_dsn|--service_token/i;

function checkContainer(svc, c, where) {
  const sc = c.securityContext || {};
  if (sc.readOnlyRootFilesystem !== true) fail(`${where}: root filesystem not read-only`);
  if (sc.allowPrivilegeEscalation !== false) fail(`${where}: privilege escalation allowed`);
  if (!(sc.capabilities?.drop || []).includes("ALL")) fail(`${where}: capabilities not dropped`);
  const r = c.resources || {};
  if (!r.requests?.cpu || !r.requests?.memory || !r.limits?.memory) fail(`${where}: needs cpu/memory requests and a memory limit`);
  if (JSON.stringify(c.command) !== JSON.stringify([`careops-${svc}`])) fail(`${where}: command is not [careops-${svc}]`);
  for (const a of [...(c.args || []), ...(c.command || [])]) {
    if (secretLike.test(a)) fail(`${where}: argument '${a}' carries a secret`);
  }
  const env = Object.fromEntries((c.env || []).map((e) => [e.name, e]));
  for (const e of c.env || []) {
    if (e.value !== undefined && secretLike.test(e.value)) fail(`${where}: env ${e.name} holds a secret literally`);
    const ref = e.valueFrom?.secretKeyRef?.name;
    if (ref && overlay === "dev" && !secrets.has(ref)) fail(`${where}: env ${e.name} names missing secret ${ref}`);
  }
  const U = svc.toUpperCase();
  if (!env[`CAREOPS_${U}_MYSQL_DSN`]?.valueFrom?.secretKeyRef) fail(`${where}: CAREOPS_${U}_MYSQL_DSN not from a secret`);
  return env;
}

for (const svc of services) {
  const name = `${svc}-careops`;
  const dep = get("Deployment", name);
  if (!dep) {
    fail(`Deployment ${name} missing`);
    continue;
  }
  const pod = dep.spec.template.spec;
  if (pod.securityContext?.runAsNonRoot !== true || pod.securityContext?.runAsUser !== 10001) fail(`${name}: pod not non-root user 10001`);
  if (pod.automountServiceAccountToken !== false) fail(`${name}: mounts a service account token`);
  const main = (pod.containers || []).find((c) => c.name === "service");
  if (!main) {
    fail(`${name}: no container 'service'`);
    continue;
  }
  const env = checkContainer(svc, main, `${name}/service`);
  const U = svc.toUpperCase();
  // Services are known by their certificates: no service token.
  if (env[`CAREOPS_${U}_SERVICE_TOKEN`]) fail(`${name}: CAREOPS_${U}_SERVICE_TOKEN set; under mutual TLS a service is its certificate`);
  // The kubelet's gRPC probe speaks no TLS: probes use the plaintext health port.
  const healthPort = Number(((main.args || []).find((a) => a.startsWith("--health_port=")) || "").split("=")[1]);
  if (!healthPort || healthPort === 50051) fail(`${name}: needs --health_port (plaintext probes) other than 50051`);
  const rp = main.readinessProbe?.grpc, lp = main.livenessProbe?.grpc, sp = main.startupProbe?.grpc;
  if (!rp || rp.port !== healthPort || (rp.service || "") !== "") fail(`${name}: readiness must be gRPC health "" on the health port (follows the database)`);
  if (!lp || lp.port !== healthPort || lp.service !== "liveness") fail(`${name}: liveness must be gRPC health "liveness" on the health port`);
  if (!sp || sp.port !== healthPort || sp.service !== "liveness") fail(`${name}: startup probe must be gRPC health "liveness" on the health port`);
  // Mutual TLS from the service's own cert-manager Secret.
  if ((main.args || []).includes("--insecure_plaintext")) fail(`${name}: serves plaintext`);
  const flag = (f) => ((main.args || []).find((a) => a.startsWith(`--${f}=`)) || "").split("=")[1];
  const tlsMount = (main.volumeMounts || []).find((m) => m.name === "tls");
  const tlsVolume = (pod.volumes || []).find((v) => v.name === "tls");
  if (tlsVolume?.secret?.secretName !== `careops-tls-${svc}`) fail(`${name}: volume tls is not the Secret careops-tls-${svc}`);
  for (const [f, file] of [["tls_cert", "tls.crt"], ["tls_key", "tls.key"], ["tls_ca", "ca.crt"]]) {
    if (!tlsMount || flag(f) !== `${tlsMount.mountPath}/${file}`) fail(`${name}: --${f} must be ${file} of the mounted tls volume`);
  }
  const cert = get("Certificate", `${svc}-careops-tls`);
  if (!cert) {
    fail(`Certificate ${svc}-careops-tls missing`);
  } else {
    const cs = cert.spec || {};
    if (cs.secretName !== `careops-tls-${svc}`) fail(`${svc}-careops-tls: secretName is not careops-tls-${svc}`);
    if (JSON.stringify(cs.uris) !== JSON.stringify([`spiffe://careops/svc-${svc}`])) fail(`${svc}-careops-tls: uris must be [spiffe://careops/svc-${svc}]`);
    if (!(cs.dnsNames || []).includes(`${svc}-careops-headless`)) fail(`${svc}-careops-tls: must name ${svc}-careops-headless (what peers dial)`);
    for (const u of ["server auth", "client auth"]) if (!(cs.usages || []).includes(u)) fail(`${svc}-careops-tls: usage ${u} missing`);
    if (cs.issuerRef?.name !== "careops-ca") fail(`${svc}-careops-tls: not issued by careops-ca`);
  }
  const delay = seconds("shutdown_delay", main.args);
  if (!delay || delay < 3) fail(`${name}: --shutdown_delay must be at least 3s to cover endpoint propagation`);
  const drain = seconds("drain_timeout", main.args) ?? 10;
  if (!(pod.terminationGracePeriodSeconds > (delay || 0) + drain)) fail(`${name}: terminationGracePeriodSeconds must exceed shutdown_delay + drain_timeout`);
  const migrate = (pod.initContainers || []).find((c) => c.name === "migrate");
  if (!migrate) {
    fail(`${name}: no 'migrate' init container`);
  } else {
    const menv = checkContainer(svc, migrate, `${name}/migrate`);
    if (!(migrate.args || []).includes("--migrate_only")) fail(`${name}/migrate: not --migrate_only`);
    const ref = menv[`CAREOPS_${U}_MYSQL_DSN`]?.valueFrom?.secretKeyRef?.name || "";
    if (!ref.startsWith(`careops-db-migrate-${svc}`)) fail(`${name}/migrate: DSN must be the migrate user's secret, is ${ref}`);
    const mainRef = env[`CAREOPS_${U}_MYSQL_DSN`]?.valueFrom?.secretKeyRef?.name || "";
    if (mainRef.startsWith("careops-db-migrate")) fail(`${name}: the service runs as the migrate user`);
    if (menv[`CAREOPS_${U}_RUNTIME_DB_ROLE`]?.value !== `careops_${svc}_runtime`) fail(`${name}/migrate: runtime role not careops_${svc}_runtime`);
  }

  const hs = get("Service", `${name}-headless`);
  if (!hs || hs.spec.clusterIP !== "None" || hs.spec.selector?.["app.kubernetes.io/name"] !== svc) fail(`${name}-headless: not a headless Service selecting ${svc}`);

  const np = get("NetworkPolicy", name);
  if (!np) {
    fail(`NetworkPolicy ${name} missing`);
    continue;
  }
  if (np.spec.podSelector?.matchLabels?.["app.kubernetes.io/name"] !== svc) fail(`${name}: policy does not select ${svc}`);
  if (!(np.spec.policyTypes || []).includes("Egress")) fail(`${name}: egress not restricted`);
  const namesIn = (peers) => peers.flatMap((p) => (p.podSelector?.matchExpressions || []).filter((e) => e.key === "app.kubernetes.io/name").flatMap((e) => e.values));
  const portsOf = (rule) => (rule.ports || []).map((p) => p.port);
  const grpcIn = (np.spec.ingress || []).filter((r) => portsOf(r).includes(50051));
  const admitted = namesIn(grpcIn.flatMap((r) => r.from || [])).sort();
  if (JSON.stringify(admitted) !== JSON.stringify([...callers[svc]].sort())) fail(`${name}: gRPC admits ${admitted}, want ${callers[svc]}`);
  for (const r of np.spec.ingress || []) {
    if (portsOf(r).length === 0) fail(`${name}: an ingress rule opens every port`);
    if (portsOf(r).includes(9090) && namesIn(r.from || []).join() !== "prometheus") fail(`${name}: metrics open to more than Prometheus`);
  }
  const egress = np.spec.egress || [];
  const peerEgress = namesIn(egress.filter((r) => portsOf(r).includes(50051)).flatMap((r) => r.to || [])).sort();
  if (JSON.stringify(peerEgress) !== JSON.stringify(peersOf(svc).sort())) fail(`${name}: egress to peers ${peerEgress}, want ${peersOf(svc)}`);
  const egressPorts = new Set(egress.flatMap(portsOf));
  for (const p of egressPorts) if (![53, 3306, 50051].includes(p)) fail(`${name}: egress to port ${p}`);
  if (!egressPorts.has(53) || !egressPorts.has(3306)) fail(`${name}: egress misses DNS or the database`);
  for (const r of egress) {
    if (!r.to || r.to.length === 0 || portsOf(r).length === 0) fail(`${name}: an egress rule is open to everything`);
  }
}

// 3. Peers through the headless Services, each address one that exists.
const peerMap = docs.find((d) => d.kind === "ConfigMap" && d.metadata.name.startsWith("careops-peers"));
for (const [k, v] of Object.entries(peerMap?.data || {})) {
  const m = v.match(/^dns:\/\/\/([a-z]+)-careops-headless:50051$/);
  if (!m || !get("Service", `${m[1]}-careops-headless`)) fail(`careops-peers ${k}=${v}: not dns:/// to a headless Service`);
  const [, caller, peer] = k.match(/^CAREOPS_([A-Z]+)_([A-Z]+)_ADDR$/) || [];
  if (!caller || !callers[peer?.toLowerCase()]?.includes(caller.toLowerCase())) fail(`careops-peers ${k}: a call the NetworkPolicies do not declare`);
}
if (!peerMap) fail("no careops-peers ConfigMap");
// The development overlay brings its own CA; production names the platform's.
if (overlay === "dev" && !get("Issuer", "careops-ca")) fail("no Issuer careops-ca for the services' certificates");

if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(`${overlay}: ${docs.length} objects valid; ${services.length} services checked by name`);
