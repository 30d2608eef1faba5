/**
 * The Kubernetes manifests of deploy/k8s as an operator applies them: each overlay (and the base)
 * rendered by `kubectl kustomize`, every object validated against its Kubernetes schema
 * (kubernetes-models; the ServiceMonitor against the Prometheus Operator's CRD), and the rendered
 * objects held to what the server needs: probes on its health routes, a grace period longer than
 * preStop plus its drain, a locked-down pod, spreading, autoscaling, disruption budget, WebSocket
 * timeouts at the ingress, network policy, and a configuration Parley itself accepts.
 *
 * Needs kubectl with kustomize v5 (`.ci/run` installs kubectl when missing); without it the suite
 * is skipped and its name says why.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ENVIRONMENT_VARIABLES, loadConfig } from '../config.js';

const K8S = fileURLToPath(new URL('../../../../deploy/k8s/', import.meta.url));

/** The schema of each kind the manifests may hold; a kind missing here fails the test. */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

/** Why the suite cannot run here, or null when kubectl with a recent enough kustomize is present. */
function missingKubectl(): string | null {
  let output: string;
  try {
    output = execFileSync('kubectl', ['version', '--client', '--output=json'], { encoding: 'utf8' });
  } catch {
    return 'kubectl is not installed';
  }
  const version = (JSON.parse(output) as { kustomizeVersion?: string }).kustomizeVersion;
  const major = Number(/^v?(\d+)\./.exec(version ?? '')?.[1] ?? 0);
  return major >= 5 ? null : `kubectl's kustomize (${version ?? 'unknown'}) is older than v5`;
}

const unavailable = missingKubectl();
if (unavailable !== null) console.warn(`deploy/k8s tests skipped: ${unavailable} (.ci/run installs kubectl)`);

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } } & Record<string, any>;

/** Renders a folder of deploy/k8s (`base`, `overlays/dev`, ...) or an absolute path. */
function render(target: string): K8sObject[] {
  const output = execFileSync('kubectl', ['kustomize', target.startsWith('/') ? target : `${K8S}${target}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(output)
    .map((document) => document.toJS() as K8sObject | null)
    .filter((object): object is K8sObject => object !== null);
}

function only(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((object) => object.kind === kind && (name === undefined || object.metadata.name === name));
  expect(found.map((object) => `${object.kind}/${object.metadata.name}`)).toHaveLength(1);
  return found[0]!;
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

/** The environment a Parley container gets from its ConfigMaps and Secrets (those rendered). */
function containerEnvironment(objects: K8sObject[], container: any): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) Object.assign(env, only(objects, 'ConfigMap', source.configMapRef.name).data);
    if (source.secretRef) {
      const secret = objects.find((object) => object.kind === 'Secret' && object.metadata.name === source.secretRef.name);
      if (!secret) continue; // made outside Git (production)
      Object.assign(env, secret.stringData ?? {});
      for (const [key, value] of Object.entries<string>(secret.data ?? {})) env[key] = Buffer.from(value, 'base64').toString('utf8');
    }
  }
  for (const variable of container.env ?? []) if (typeof variable.value === 'string') env[variable.name] = variable.value;
  return env;
}

/** Seconds the preStop hook holds the pod before SIGTERM: `sleep N` (exec) or the sleep action. */
function preStopSeconds(container: any): number {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep) return Number(preStop.sleep.seconds);
  const command: string[] = preStop?.exec?.command ?? [];
  expect(command[0]).toBe('sleep');
  return Number(command[1]);
}

const TARGETS = ['base', 'overlays/dev', 'overlays/production'] as const;

describe.skipIf(unavailable !== null)(`deploy/k8s rendered with kubectl kustomize${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  const rendered = new Map<string, K8sObject[]>();
  const objectsOf = (target: string) => {
    if (!rendered.has(target)) rendered.set(target, render(target));
    return rendered.get(target)!;
  };

  describe.each(TARGETS)('%s', (target) => {
    it('renders only objects that are valid against their Kubernetes schema', () => {
      const objects = objectsOf(target);
      expect(objects.length).toBeGreaterThan(5);
      for (const object of objects) {
        const Model = MODELS[`${object.apiVersion}/${object.kind}`];
        expect(Model, `no schema for ${object.apiVersion} ${object.kind}`).toBeDefined();
        expect(() => new Model!(object).validate(), `${object.kind}/${object.metadata.name}`).not.toThrow();
      }
    });

    it('runs Parley locked down: non-root, read-only root filesystem, no capabilities, seccomp, writable /tmp only', () => {
      const deployment = only(objectsOf(target), 'Deployment', 'parley');
      const pod = deployment.spec.template.spec;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(pod.securityContext.seccompProfile.type).toBe('RuntimeDefault');
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.containers.map((c: any) => c.name)).toEqual(['parley']);
      const container = pod.containers[0];
      expect(container.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
      expect(container.securityContext.capabilities.drop).toContain('ALL');
      expect(container.securityContext.capabilities.add ?? []).toEqual([]);
      const tmp = container.volumeMounts.find((mount: any) => mount.mountPath === '/tmp');
      expect(pod.volumes.find((volume: any) => volume.name === tmp?.name)?.emptyDir).toBeDefined();
      for (const kind of ['requests', 'limits']) {
        expect(container.resources[kind].cpu, kind).toBeDefined();
        expect(container.resources[kind].memory, kind).toBeDefined();
      }
    });

    it('probes the health routes on the port Parley listens on', () => {
      const objects = objectsOf(target);
      const container = only(objects, 'Deployment', 'parley').spec.template.spec.containers[0];
      const port = container.ports.find((p: any) => p.name === 'http');
      expect(port.containerPort).toBe(loadConfig(containerEnvironment(objects, container)).port);
      expect(container.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
      expect(container.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
      if (container.startupProbe) expect(container.startupProbe.httpGet.path).toBe('/health/live');
    });

    it('gives the drain time to finish: grace period longer than preStop plus SHUTDOWN_TIMEOUT_MS', () => {
      const objects = objectsOf(target);
      const deployment = only(objects, 'Deployment', 'parley');
      const container = deployment.spec.template.spec.containers[0];
      const { shutdownTimeoutMs } = loadConfig(containerEnvironment(objects, container));
      const preStop = preStopSeconds(container);
      expect(preStop).toBeGreaterThanOrEqual(5);
      expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(preStop + shutdownTimeoutMs / 1000);
      // A rolling update never drops below the wanted count: clients of a draining pod find room.
      expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    });

    it('spreads pods across zones and hosts, one rule each', () => {
      const deployment = only(objectsOf(target), 'Deployment', 'parley');
      const pod = deployment.spec.template;
      const constraints: any[] = pod.spec.topologySpreadConstraints;
      for (const key of ['topology.kubernetes.io/zone', 'kubernetes.io/hostname']) {
        const rules = constraints.filter((rule) => rule.topologyKey === key);
        expect(rules, key).toHaveLength(1);
        expect(matches(rules[0].labelSelector.matchLabels, pod.metadata.labels)).toBe(true);
      }
    });

    it('configures only variables Parley knows, with values it accepts', () => {
      const objects = objectsOf(target);
      const container = only(objects, 'Deployment', 'parley').spec.template.spec.containers[0];
      const names = [...(container.env ?? []).map((variable: any) => variable.name)];
      for (const object of objects.filter((o) => o.kind === 'ConfigMap' || o.kind === 'Secret')) {
        names.push(...Object.keys(object.data ?? {}), ...Object.keys(object.stringData ?? {}));
      }
      expect(names.length).toBeGreaterThan(3);
      expect(names.filter((name) => !ENVIRONMENT_VARIABLES.includes(name))).toEqual([]);
      const config = loadConfig(containerEnvironment(objects, container));
      expect(config.host).toBe('0.0.0.0');
      expect(config.publicUrl).toMatch(/^https?:\/\//);
    });

    it('routes the API through a Service and an Ingress fit for WebSockets and SSE, and nothing else', () => {
      const objects = objectsOf(target);
      const deployment = only(objects, 'Deployment', 'parley');
      const service = only(objects, 'Service', 'parley');
      expect(matches(service.spec.selector, deployment.spec.template.metadata.labels)).toBe(true);
      expect(service.spec.ports.find((p: any) => p.name === 'http').targetPort).toBe('http');

      const ingress = only(objects, 'Ingress', 'parley');
      const annotations = ingress.metadata.annotations!;
      expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);
      expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThanOrEqual(3600);
      expect(annotations['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
      const paths: any[] = ingress.spec.rules.flatMap((rule: any) => rule.http.paths);
      expect(paths.map((p) => p.path).sort()).toEqual(['/.well-known', '/docs', '/v1']);
      for (const path of paths) expect(path.backend.service).toEqual({ name: service.metadata.name, port: { name: 'http' } });
    });

    it('autoscales the Deployment on CPU and lets disruptions take one pod at a time', () => {
      const objects = objectsOf(target);
      const deployment = only(objects, 'Deployment', 'parley');
      const hpa = only(objects, 'HorizontalPodAutoscaler', 'parley');
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
      expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
      expect(hpa.spec.metrics.some((metric: any) => metric.resource?.name === 'cpu')).toBe(true);
      // The autoscaler owns the count: an applied `replicas` would reset it on every apply.
      expect(deployment.spec.replicas).toBeUndefined();

      const pdb = only(objects, 'PodDisruptionBudget', 'parley');
      expect(matches(pdb.spec.selector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
      expect(pdb.spec.maxUnavailable).toBe(1);
    });

    it('admits traffic from the ingress controller and Prometheus, and lets out only DNS, Redis and HTTPS', () => {
      const objects = objectsOf(target);
      const deployment = only(objects, 'Deployment', 'parley');
      const policy = only(objects, 'NetworkPolicy', 'parley');
      expect(matches(policy.spec.podSelector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
      expect(policy.spec.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
      const sources = policy.spec.ingress.flatMap((rule: any) => rule.from.map((peer: any) => peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name']));
      expect(sources.sort()).toEqual(['ingress-nginx', 'monitoring']);
      const egressPorts = policy.spec.egress.flatMap((rule: any) => rule.ports.map((port: any) => port.port));
      expect(egressPorts).toEqual(expect.arrayContaining([53, 443, 6379]));
      expect(egressPorts.every((port: number) => [53, 443, 6379, 26379].includes(port))).toBe(true);
    });

    it('has Prometheus scrape /metrics through the Service', () => {
      const objects = objectsOf(target);
      const service = only(objects, 'Service', 'parley');
      const monitor = only(objects, 'ServiceMonitor', 'parley');
      expect(matches(monitor.spec.selector.matchLabels, service.metadata.labels)).toBe(true);
      expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics' })]);
    });
  });

  describe('overlays/dev', () => {
    it('adds one Redis with an append-only file on a persistent volume, and Parley points at it', () => {
      const objects = objectsOf('overlays/dev');
      const redis = only(objects, 'StatefulSet', 'parley-redis');
      expect(redis.spec.replicas).toBe(1);
      const args: string[] = redis.spec.template.spec.containers[0].args;
      expect(args[args.indexOf('--appendonly') + 1]).toBe('yes');
      const dir = args[args.indexOf('--dir') + 1];
      const claim = redis.spec.volumeClaimTemplates[0];
      expect(redis.spec.template.spec.containers[0].volumeMounts).toContainEqual({ name: claim.metadata.name, mountPath: dir });
      expect(claim.spec.resources.requests.storage).toBeDefined();

      const service = only(objects, 'Service', redis.spec.serviceName);
      expect(matches(service.spec.selector, redis.spec.template.metadata.labels)).toBe(true);
      const container = only(objects, 'Deployment', 'parley').spec.template.spec.containers[0];
      expect(loadConfig(containerEnvironment(objects, container)).redis?.url).toBe(`redis://${service.metadata.name}:${service.spec.ports[0].port}`);
      // Parley's pods never select Redis's (a shared label would make the Deployment adopt them).
      const parleySelector = only(objects, 'Deployment', 'parley').spec.selector.matchLabels;
      expect(matches(parleySelector, redis.spec.template.metadata.labels)).toBe(false);
    });
  });

  describe('overlays/production', () => {
    it('ships no secret values: Parley reads its Redis and admin key from a Secret made outside Git', () => {
      const objects = objectsOf('overlays/production');
      expect(objects.filter((object) => object.kind === 'Secret')).toEqual([]);
      const container = only(objects, 'Deployment', 'parley').spec.template.spec.containers[0];
      const secretRef = container.envFrom.find((source: any) => source.secretRef)?.secretRef;
      expect(secretRef).toEqual({ name: 'parley-secrets' }); // not optional: no pod starts without it
      const example = readFileSync(`${K8S}overlays/production/secrets.env.example`, 'utf8');
      const keys = [...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((match) => match[1]!);
      expect(keys).toEqual(expect.arrayContaining(['PARLEY_ADMIN_KEY', 'REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES']));
      expect(keys.filter((key) => !ENVIRONMENT_VARIABLES.includes(key))).toEqual([]);
    });

    it('runs more replicas with stricter resources than the base, spread over hosts as a rule', () => {
      const production = objectsOf('overlays/production');
      const base = objectsOf('base');
      expect(only(production, 'HorizontalPodAutoscaler').spec.minReplicas).toBeGreaterThan(only(base, 'HorizontalPodAutoscaler').spec.minReplicas);
      const resources = only(production, 'Deployment').spec.template.spec.containers[0].resources;
      expect(resources.requests.memory).toBe(resources.limits.memory);
      const hostname = only(production, 'Deployment').spec.template.spec.topologySpreadConstraints.find((rule: any) => rule.topologyKey === 'kubernetes.io/hostname');
      expect(hostname.whenUnsatisfiable).toBe('DoNotSchedule');
      expect(only(production, 'Ingress').spec.tls).toHaveLength(1);
    });

    it('takes the optional connections patch: the autoscaler then also follows open realtime connections', () => {
      // An overlay of the production overlay, as an operator would write one, in a scratch folder.
      const folder = mkdtempSync(join(tmpdir(), 'parley-k8s-'));
      try {
        copyFileSync(`${K8S}overlays/production/hpa-connections.yaml`, join(folder, 'hpa-connections.yaml'));
        const production = relative(folder, `${K8S}overlays/production`);
        writeFileSync(join(folder, 'kustomization.yaml'), `resources:\n  - ${production}\npatches:\n  - path: hpa-connections.yaml\n`);
        const hpa = only(render(folder), 'HorizontalPodAutoscaler', 'parley');
        expect(() => new HorizontalPodAutoscaler(hpa as any).validate()).not.toThrow();
        expect(hpa.spec.metrics.map((metric: any) => metric.resource?.name ?? metric.pods?.metric.name)).toEqual(['cpu', 'parley_realtime_connections']);
      } finally {
        rmSync(folder, { recursive: true, force: true });
      }
    });
  });
});
