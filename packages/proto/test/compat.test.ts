/**
 * Wire compatibility with the envd protocol as the pinned `e2b` npm SDK speaks it. The SDK
 * bundles its generated descriptors as base64 FileDescriptorProtos; we decode them and
 * compare every service, method, message, field (name, number, type, label, oneof) and
 * enum value with ours. Any difference fails with a precise path.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fromBinary, isFieldSet } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  FieldDescriptorProtoSchema,
  type FileDescriptorProto,
  type DescriptorProto,
  type EnumDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import { file_process_process } from '../src/gen/process/process_pb.js';
import { file_filesystem_filesystem } from '../src/gen/filesystem/filesystem_pb.js';

function e2bDescriptors(): Map<string, FileDescriptorProto> {
  const require = createRequire(import.meta.url);
  // e2b's package.json does not export itself; find the package directory from its main entry.
  const main = require.resolve('e2b');
  const bundle = readFileSync(join(dirname(main), 'index.mjs'), 'utf8');
  const files = new Map<string, FileDescriptorProto>();
  for (const m of bundle.matchAll(/fileDesc\("([A-Za-z0-9+/=]+)"/g)) {
    const fd = fromBinary(FileDescriptorProtoSchema, Buffer.from(m[1]!, 'base64'));
    files.set(fd.name, fd);
  }
  return files;
}

/**
 * A flat, order-independent description: one line per fact, keyed by its path. JSON names
 * are left out: they derive from field names, and the SDK bundle omits them.
 */
function facts(fd: FileDescriptorProto): Map<string, string> {
  const out = new Map<string, string>();
  out.set('package', fd.package);
  out.set('syntax', fd.syntax);
  const enumFacts = (prefix: string, e: EnumDescriptorProto) => {
    for (const v of e.value) out.set(`${prefix}${e.name}.${v.name}`, String(v.number));
  };
  const msgFacts = (prefix: string, d: DescriptorProto) => {
    const path = `${prefix}${d.name}`;
    out.set(`${path}`, 'message');
    for (const f of d.field) {
      const oneof =
        isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex) && !f.proto3Optional
          ? ` oneof=${d.oneofDecl[f.oneofIndex]?.name}`
          : '';
      out.set(
        `${path}.${f.name}`,
        `#${f.number} type=${f.type} label=${f.label} typeName=${f.typeName} optional=${f.proto3Optional}${oneof}`,
      );
    }
    for (const n of d.nestedType) msgFacts(`${path}.`, n);
    for (const e of d.enumType) enumFacts(`${path}.`, e);
    out.set(`${path}#mapEntry`, String(d.options?.mapEntry ?? false));
  };
  for (const d of fd.messageType) msgFacts('', d);
  for (const e of fd.enumType) enumFacts('', e);
  for (const s of fd.service) {
    for (const m of s.method) {
      out.set(
        `service ${s.name}.${m.name}`,
        `${m.clientStreaming ? 'stream ' : ''}${m.inputType} -> ${m.serverStreaming ? 'stream ' : ''}${m.outputType}`,
      );
    }
  }
  return out;
}

function diff(ours: Map<string, string>, theirs: Map<string, string>): string[] {
  const problems: string[] = [];
  for (const [k, v] of theirs) {
    if (!ours.has(k)) problems.push(`missing in ours: ${k} (${v})`);
    else if (ours.get(k) !== v) problems.push(`differs: ${k}: ours ${ours.get(k)} / e2b ${v}`);
  }
  for (const [k, v] of ours) if (!theirs.has(k)) problems.push(`extra in ours: ${k} (${v})`);
  return problems;
}

describe('envd protocol compatibility with the e2b SDK', () => {
  const theirs = e2bDescriptors();

  test('the e2b SDK bundle contains both envd descriptors', () => {
    assert.ok(theirs.has('process/process.proto'), 'process/process.proto not found in e2b bundle');
    assert.ok(theirs.has('filesystem/filesystem.proto'), 'filesystem/filesystem.proto not found in e2b bundle');
  });

  for (const [name, ours] of [
    ['process/process.proto', file_process_process.proto],
    ['filesystem/filesystem.proto', file_filesystem_filesystem.proto],
  ] as const) {
    test(`${name}: services, methods, messages, fields and enums are identical`, () => {
      const e2b = theirs.get(name);
      assert.ok(e2b, `${name} missing from the e2b bundle`);
      const problems = diff(facts(ours), facts(e2b));
      assert.deepEqual(problems, [], problems.join('\n'));
    });
  }

  test('the comparison notices a renamed field (the check itself can fail)', () => {
    const e2b = theirs.get('process/process.proto')!;
    const ours = facts(file_process_process.proto);
    const tampered = new Map(ours);
    tampered.set('ProcessConfig.cwd', tampered.get('ProcessConfig.cwd')!.replace('#4', '#5'));
    assert.ok(diff(tampered, facts(e2b)).some((p) => p.includes('ProcessConfig.cwd')));
  });
});
