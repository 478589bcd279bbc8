/**
 * The Kubernetes manifests under deploy/kubernetes, validated against the Kubernetes API's
 * own schemas (kubernetes-models: the OpenAPI definitions compiled for Ajv, offline), plus
 * what the schemas cannot know: the pieces fit together (selectors, Secret keys, commands
 * that exist in this repository, WRENN_* variables the README documents) and the agent
 * gets what it needs on a node (privileged, host PID and network, state on the node).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Namespace, Secret, Service } from 'kubernetes-models/v1';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';

const REPO = join(import.meta.dirname, '../..');
const DIR = join(REPO, 'deploy/kubernetes');

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: any };

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/DaemonSet': DaemonSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function validate(m: Manifest): void {
  const Model = MODELS[`${m.apiVersion}/${m.kind}`];
  if (!Model) throw new Error(`${m.apiVersion} ${m.kind} has no schema here: add its model to this test`);
  new Model(m).validate();
}

function load(): Array<{ file: string; m: Manifest }> {
  const out: Array<{ file: string; m: Manifest }> = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
      const m = doc.toJS() as Manifest | null;
      if (m) out.push({ file, m });
    }
  }
  return out;
}

test('every manifest is valid against the Kubernetes schemas', () => {
  const all = load();
  assert.ok(all.length >= 7, `found ${all.length} objects`);
  for (const { file, m } of all) {
    assert.doesNotThrow(() => validate(m), `${file}: ${m.kind} ${m.metadata?.name}`);
    assert.equal(m.metadata.namespace ?? (m.kind === 'Namespace' ? undefined : 'missing'), m.kind === 'Namespace' ? undefined : 'wrenn', `${file}: ${m.kind} in the wrenn namespace`);
  }
  // The validator is live: a wrong type and a missing required field are refused.
  const deployment = all.find(({ m }) => m.kind === 'Deployment')!.m;
  assert.throws(() => validate({ ...deployment, spec: { ...deployment.spec, replicas: 'three' } }), /replicas/);
  const { selector: _s, ...noSelector } = deployment.spec;
  assert.throws(() => validate({ ...deployment, spec: noSelector }), /selector/);
});

test('the pieces fit: replicas behind a Service, Secrets, commands and variables that exist', () => {
  const all = load().map(({ m }) => m);
  const find = (kind: string, name: string) => all.find((m) => m.kind === kind && m.metadata.name === name)!;
  const cp = find('Deployment', 'wrenn-control-plane');
  const agent = find('DaemonSet', 'wrenn-agent');
  const svc = find('Service', 'wrenn-control-plane');
  assert.ok(cp.spec.replicas >= 2, 'several control-plane replicas');
  for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(cp.spec.template.metadata.labels[k], v, 'the Service selects the replicas');
  for (const w of [cp, agent]) for (const [k, v] of Object.entries(w.spec.selector.matchLabels)) assert.equal(w.spec.template.metadata.labels[k], v);

  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const secrets = all.filter((m) => m.kind === 'Secret');
  for (const w of [cp, agent]) {
    for (const c of w.spec.template.spec.containers) {
      const bin = [...c.command, ...(c.args ?? [])].join(' ').match(/\/opt\/wrenn\/(\S+\.mjs)/)?.[1];
      assert.ok(bin && existsSync(join(REPO, bin)), `${w.metadata.name}: command runs a compiled entry of this repository (${bin})`);
      for (const e of c.env ?? []) {
        if (/^WRENN_|^DATABASE_URL$/.test(e.name)) assert.ok(readme.includes(`\`${e.name}\``), `${e.name} is documented in the README`);
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) assert.ok(secrets.some((s) => s.metadata.name === ref.name && ref.key in s.stringData), `Secret ${ref.name} has ${ref.key}`);
      }
    }
  }
  assert.ok(cp.spec.template.spec.containers[0].env.some((e: any) => e.name === 'DATABASE_URL' && e.valueFrom?.secretKeyRef), 'PostgreSQL from a Secret');

  const pod = agent.spec.template.spec;
  assert.equal(pod.hostPID, true);
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.containers[0].securityContext.privileged, true);
  const data = pod.volumes.find((v: any) => v.hostPath?.path === '/var/lib/wrenn');
  assert.ok(data, '/var/lib/wrenn on the node');
  assert.ok(pod.containers[0].volumeMounts.some((m: any) => m.name === data.name && m.mountPath === '/var/lib/wrenn'));
  const register = pod.volumes.find((v: any) => v.secret);
  assert.ok(secrets.some((s) => s.metadata.name === register.secret.secretName), 'registration tokens from a Secret');
});
