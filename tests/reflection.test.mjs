// What `grpcurl -plaintext <control plane> list` relies on: server reflection (v1alpha, the
// version grpcurl speaks) lists the llm-proxy services and grpc.health.v1.Health, and describes
// them without any .proto at hand; the standard health check answers SERVING.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

import { startControlplane } from './lib/controlplane.mjs';

const GRPC_PROTO_DIR = '/usr/share/grpc-proto';
const T = { timeout: 30000 };

function loadService(file, pkgPath) {
  const def = protoLoader.loadSync(file, { includeDirs: [GRPC_PROTO_DIR], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def);
  return pkgPath.split('.').reduce((o, k) => o[k], pkg);
}

/** Sends one ServerReflectionRequest on a fresh stream and resolves the single response. */
function reflect(client, request) {
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo();
    const timer = setTimeout(() => {
      call.cancel();
      reject(new Error('no reflection answer within 10 s'));
    }, 10000);
    call.on('data', (resp) => {
      clearTimeout(timer);
      call.end();
      resolve(resp);
    });
    call.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    call.write(request);
  });
}

describe('gRPC reflection and health on the control plane', () => {
  let cp;
  let reflection;
  let health;
  before(async () => {
    cp = await startControlplane();
    const Reflection = loadService('grpc/reflection/v1alpha/reflection.proto', 'grpc.reflection.v1alpha.ServerReflection');
    const Health = loadService('grpc/health/v1/health.proto', 'grpc.health.v1.Health');
    reflection = new Reflection(cp.grpcAddress, grpc.credentials.createInsecure());
    health = new Health(cp.grpcAddress, grpc.credentials.createInsecure());
  });
  after(async () => {
    reflection?.close();
    health?.close();
    await cp?.stop();
  });

  test('list_services names every service, like `grpcurl -plaintext … list`', T, async () => {
    const resp = await reflect(reflection, { list_services: '' });
    assert.ok(resp.list_services_response, `unexpected answer ${JSON.stringify(resp)}`);
    const names = resp.list_services_response.service.map((s) => s.name);
    for (const want of ['llmproxy.v1.AdminService', 'llmproxy.v1.ConfigDiscoveryService', 'llmproxy.v1.UsageService', 'grpc.health.v1.Health']) {
      assert.ok(names.includes(want), `${want} missing from ${names.join(', ')}`);
    }
  });

  test('file_containing_symbol describes AdminService (grpcurl describe)', T, async () => {
    const resp = await reflect(reflection, { file_containing_symbol: 'llmproxy.v1.AdminService' });
    assert.ok(resp.file_descriptor_response, `unexpected answer ${JSON.stringify(resp).slice(0, 300)}`);
    const files = resp.file_descriptor_response.file_descriptor_proto;
    assert.ok(files.length >= 1);
    const text = Buffer.concat(files.map((f) => Buffer.from(f))).toString('latin1');
    assert.ok(text.includes('llmproxy/v1/admin_service.proto'));
    assert.ok(text.includes('CreateConnection'));
  });

  test('Health/Check answers SERVING', T, async () => {
    const resp = await new Promise((resolve, reject) => {
      health.Check({ service: '' }, { deadline: Date.now() + 10000 }, (err, r) => (err ? reject(err) : resolve(r)));
    });
    assert.equal(resp.status, 'SERVING');
  });
});
