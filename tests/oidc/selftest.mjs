// Self-test of server.mjs with hand-made client assertions (node:crypto only, no JWT library):
//   node selftest.mjs            (prints each check, then "N passed, N failed"; exit 1 on a failure)
//   VERBOSE=1 node selftest.mjs  (also prints the response bodies)
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const verbose = !!process.env.VERBOSE;
const b64u = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

// --- keys and clients ---------------------------------------------------------------------------
const gen = {
  rsa: () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }),
  p256: () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  p384: () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  ed25519: () => crypto.generateKeyPairSync('ed25519'),
};
const keys = { rsa: gen.rsa(), p256: gen.p256(), p384: gen.p384(), ed25519: gen.ed25519() };
const other = { rsa: gen.rsa(), p256: gen.p256() }; // not registered anywhere

const clients = {
  'rs256-client': { alg: 'RS256', key: keys.rsa, kid: 'rsa-1' },
  'ps256-client': { alg: 'PS256', key: keys.rsa, kid: 'rsa-1' },
  'es256-client': { alg: 'ES256', key: keys.p256, kid: 'p256-1' },
  'es384-client': { alg: 'ES384', key: keys.p384, kid: 'p384-1' },
  'eddsa-client': { alg: 'EdDSA', key: keys.ed25519, kid: 'ed-1' },
};
const metadata = Object.entries(clients).map(([id, c]) => {
  const jwk = { ...c.key.publicKey.export({ format: 'jwk' }), kid: c.kid, use: 'sig' };
  return {
    client_id: id,
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: c.alg,
    jwks: { keys: [jwk] },
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  };
});

function sign(alg, privateKey, data) {
  switch (alg) {
    case 'RS256': return crypto.sign('sha256', data, privateKey);
    case 'PS256':
      return crypto.sign('sha256', data, {
        key: privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32,
      });
    case 'ES256': return crypto.sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    case 'ES384': return crypto.sign('sha384', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA': return crypto.sign(null, data, privateKey);
    default: throw new Error(alg);
  }
}

// A client assertion per RFC 7523: iss = sub = client_id, aud, jti, iat, exp = iat + 60.
function assertion(id, aud, { claims = {}, header = {}, key, alg } = {}) {
  const c = clients[id] ?? clients['es256-client'];
  const iat = Math.floor(Date.now() / 1000);
  const h = { alg: alg ?? c.alg, typ: 'JWT', kid: c.kid, ...header };
  const p = { iss: id, sub: id, aud, jti: crypto.randomUUID(), iat, exp: iat + 60, ...claims };
  for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k];
  for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k];
  const input = `${b64u(h)}.${b64u(p)}`;
  return `${input}.${sign(h.alg, (key ?? c.key).privateKey, Buffer.from(input)).toString('base64url')}`;
}

// --- the server ---------------------------------------------------------------------------------
function startServer(clientsPath, env = {}) {
  const child = spawn(process.execPath, [path.join(here, 'server.mjs'), clientsPath], {
    cwd: here, env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const lines = readline.createInterface({ input: child.stdout });
  const ready = new Promise((resolve) => {
    lines.once('line', (line) => resolve(line));
    exited.then(() => resolve(null));
  });
  return { child, ready, exited, stderr: () => stderr, lines };
}

let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed += 1; else failed += 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `  ${detail}` : ''}`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signet-oidc-selftest-'));
const clientsPath = path.join(dir, 'clients.json');
fs.writeFileSync(clientsPath, JSON.stringify(metadata));

const srv = startServer(clientsPath);
const line = await srv.ready;
const m = /^READY (\d+) (http:\/\/127\.0\.0\.1:(\d+)\/token)$/.exec(line ?? '');
check('READY line', m && m[1] === m[3], JSON.stringify(line));
if (!m) {
  console.log(srv.stderr());
  process.exit(1);
}
const tokenUrl = m[2];
const issuer = tokenUrl.replace(/\/token$/, '');
let extraStdout = '';
srv.lines.on('line', (l) => { extraStdout += `${l}\n`; });

async function token(clientAssertion, extra = {}) {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: clientAssertion,
    scope: 'api:read',
    ...extra,
  });
  for (const [k, v] of [...form]) if (v === 'undefined') form.delete(k);
  const res = await fetch(tokenUrl, { method: 'POST', body: form });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  if (verbose) console.log(`     -> ${res.status} ${text}`);
  return { status: res.status, body, headers: res.headers };
}
const decode = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));
const expectOk = async (name, a, extra) => {
  const r = await token(a, extra);
  const ok = r.status === 200 && typeof r.body.access_token === 'string'
    && Number.isInteger(r.body.expires_in) && r.body.token_type === 'Bearer';
  check(name, ok, ok ? `200 expires_in=${r.body.expires_in} scope=${r.body.scope}` : `${r.status} ${JSON.stringify(r.body)}`);
  return r;
};
const expectErr = async (name, a, status, error, extra) => {
  const r = await token(a, extra);
  check(name, r.status === status && r.body.error === error, `${r.status} ${JSON.stringify(r.body)}`);
  return r;
};

// --- discovery ----------------------------------------------------------------------------------
const disco = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
check('discovery issuer / token_endpoint', disco.issuer === issuer && disco.token_endpoint === tokenUrl,
  `${disco.issuer} ${disco.token_endpoint}`);
check('discovery advertises private_key_jwt',
  disco.token_endpoint_auth_methods_supported.includes('private_key_jwt'),
  `algs=${disco.token_endpoint_auth_signing_alg_values_supported.join(',')}`);

// --- success per algorithm ----------------------------------------------------------------------
let sample;
for (const id of Object.keys(clients)) {
  const r = await expectOk(`${clients[id].alg} aud=token URL`, assertion(id, tokenUrl));
  if (id === 'rs256-client') sample = r;
}
if (sample?.status === 200) {
  const at = decode(sample.body.access_token);
  check('access token is a JWT for urn:signet:test-api', at.aud === 'urn:signet:test-api'
    && at.client_id === 'rs256-client' && at.iss === issuer && at.exp - at.iat === 300,
  JSON.stringify(at));
  console.log(`     sample success body: ${JSON.stringify({ ...sample.body, access_token: `${sample.body.access_token.slice(0, 20)}...` })}`);
}

// --- audience -----------------------------------------------------------------------------------
await expectOk('aud=issuer', assertion('es256-client', issuer));
await expectOk('aud=[token URL, other]', assertion('es256-client', [tokenUrl, 'https://elsewhere']));
await expectOk('aud=[other, issuer]', assertion('es256-client', ['https://elsewhere', issuer]));
await expectErr('aud=issuer with trailing slash', assertion('es256-client', `${issuer}/`), 401, 'invalid_client');
await expectErr('aud=token URL with trailing slash', assertion('es256-client', `${tokenUrl}/`), 401, 'invalid_client');
await expectErr('aud=localhost token URL', assertion('es256-client', tokenUrl.replace('127.0.0.1', 'localhost')), 401, 'invalid_client');
await expectErr('aud=https token URL', assertion('es256-client', tokenUrl.replace('http:', 'https:')), 401, 'invalid_client');
await expectErr('aud=introspection URL', assertion('es256-client', `${issuer}/token/introspection`), 401, 'invalid_client');
await expectErr('no aud', assertion('es256-client', undefined), 401, 'invalid_client');

// --- jti / exp / iss / sub ----------------------------------------------------------------------
const once = assertion('es256-client', tokenUrl);
await expectOk('jti first use', once);
await expectErr('jti reused (same assertion again)', once, 401, 'invalid_client');
const fixedJti = crypto.randomUUID();
await expectOk('jti X by es256-client', assertion('es256-client', tokenUrl, { claims: { jti: fixedJti } }));
await expectErr('jti X again, new assertion, same client', assertion('es256-client', tokenUrl, { claims: { jti: fixedJti } }), 401, 'invalid_client');
await expectOk('jti X by another client', assertion('rs256-client', tokenUrl, { claims: { jti: fixedJti } }));
await expectErr('no jti', assertion('es256-client', tokenUrl, { claims: { jti: undefined } }), 401, 'invalid_client');
await expectErr('no exp', assertion('es256-client', tokenUrl, { claims: { exp: undefined } }), 401, 'invalid_client');
const now = Math.floor(Date.now() / 1000);
await expectErr('expired (exp = now - 30)', assertion('es256-client', tokenUrl, { claims: { iat: now - 90, exp: now - 30 } }), 401, 'invalid_client');
await expectOk('exp = now + 3600 (long lifetime)', assertion('es256-client', tokenUrl, { claims: { exp: now + 3600 } }));
await expectOk('no iat', assertion('es256-client', tokenUrl, { claims: { iat: undefined } }));
await expectErr('nbf in the future', assertion('es256-client', tokenUrl, { claims: { nbf: now + 120 } }), 401, 'invalid_client');
await expectErr('iss != sub', assertion('es256-client', tokenUrl, { claims: { iss: 'rs256-client' } }), 401, 'invalid_client');
await expectErr('unknown client (iss = sub = nobody)', assertion('nobody', tokenUrl), 401, 'invalid_client');

// --- client_id form parameter -------------------------------------------------------------------
await expectOk('client_id param omitted', assertion('es256-client', tokenUrl));
await expectOk('client_id param = sub', assertion('es256-client', tokenUrl), { client_id: 'es256-client' });
await expectErr('client_id param != sub', assertion('es256-client', tokenUrl), 400, 'invalid_request', { client_id: 'rs256-client' });

// --- signatures, kid, alg -----------------------------------------------------------------------
await expectErr('bad signature (unregistered key, same kid)', assertion('es256-client', tokenUrl, { key: other.p256 }), 401, 'invalid_client');
await expectErr('bad signature (RSA, unregistered key)', assertion('rs256-client', tokenUrl, { key: other.rsa }), 401, 'invalid_client');
const tampered = assertion('es256-client', tokenUrl).split('.');
tampered[2] = `${tampered[2].slice(0, -4)}AAAA`;
await expectErr('tampered signature', tampered.join('.'), 401, 'invalid_client');
await expectOk('no kid in header', assertion('es256-client', tokenUrl, { header: { kid: undefined } }));
await expectErr('unknown kid', assertion('es256-client', tokenUrl, { header: { kid: 'nope' } }), 401, 'invalid_client');
await expectErr('alg != registered alg (PS256 for RS256 client)', assertion('rs256-client', tokenUrl, { alg: 'PS256' }), 401, 'invalid_client');
await expectOk('typ absent', assertion('es256-client', tokenUrl, { header: { typ: undefined } }));

// --- request shape ------------------------------------------------------------------------------
await expectErr('no client_assertion_type', assertion('es256-client', tokenUrl), 400, 'invalid_request', { client_assertion_type: 'undefined' });
{
  const r = await expectOk('no scope param', assertion('es256-client', tokenUrl), { scope: 'undefined' });
  if (r.status === 200) console.log(`     scope granted without a scope param: ${JSON.stringify(r.body.scope)}`);
}
await expectOk('scope=api:read api:write', assertion('es256-client', tokenUrl), { scope: 'api:read api:write' });
{
  const r = await expectOk('scope=api:admin (unknown scope)', assertion('es256-client', tokenUrl), { scope: 'api:admin' });
  check('  ...is dropped silently', r.status === 200 && r.body.scope === undefined, JSON.stringify(r.body.scope));
  const r2 = await expectOk('scope=api:read api:admin', assertion('es256-client', tokenUrl), { scope: 'api:read api:admin' });
  check('  ...grants api:read only', r2.body.scope === 'api:read', JSON.stringify(r2.body.scope));
}
await expectOk('resource=urn:signet:test-api', assertion('es256-client', tokenUrl), { resource: 'urn:signet:test-api' });
await expectErr('resource=https://other.example/ (unknown resource)', assertion('es256-client', tokenUrl), 400, 'invalid_target', { resource: 'https://other.example/' });

// --- stdout stays quiet, SIGTERM exits 0 --------------------------------------------------------
check('nothing on stdout after READY', extraStdout === '', JSON.stringify(extraStdout));
srv.child.kill('SIGTERM');
const ex = await srv.exited;
check('SIGTERM exits 0', ex.code === 0, JSON.stringify(ex));
if (process.env.OIDC_DEBUG) console.log(`--- server stderr (OIDC_DEBUG) ---\n${srv.stderr()}---`);
else check('stderr quiet', srv.stderr() === '', JSON.stringify(srv.stderr()));

// --- startup errors -----------------------------------------------------------------------------
async function expectStartupError(name, file, env, pattern) {
  const s = startServer(file, env);
  const l = await s.ready;
  const e = await s.exited;
  const last = s.stderr().trimEnd().split('\n').pop(); // oidc-provider notices precede it with OIDC_DEBUG
  check(name, l === null && e.code === 1 && pattern.test(last), `${e.code} ${JSON.stringify(last)}`);
}
await expectStartupError('missing clients file', path.join(dir, 'nope.json'), {}, /^ERROR cannot read clients file .*$/);
fs.writeFileSync(path.join(dir, 'obj.json'), '{}');
await expectStartupError('clients file not an array', path.join(dir, 'obj.json'), {}, /^ERROR .*expected a JSON array$/);
fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify([{ ...metadata[0], token_endpoint_auth_signing_alg: 'XX256' }]));
await expectStartupError('invalid client metadata', path.join(dir, 'bad.json'), {}, /^ERROR client rs256-client: invalid_client_metadata: .*$/);
{
  const a = startServer(clientsPath);
  const l = await a.ready;
  const port = l.split(' ')[1];
  await expectStartupError('port in use', clientsPath, { PORT: port }, /^ERROR .*EADDRINUSE.*$/);
  a.child.kill('SIGINT');
  const e = await a.exited;
  check('SIGINT exits 0', e.code === 0, JSON.stringify(e));
}
{
  const s = startServer(clientsPath, { PORT: '0' });
  const l = await s.ready;
  s.child.kill('SIGTERM');
  await s.exited;
  const fixed = Number(l.split(' ')[1]);
  const f = startServer(clientsPath, { PORT: String(fixed) });
  const lf = await f.ready;
  check('fixed PORT is used', lf === `READY ${fixed} http://127.0.0.1:${fixed}/token`, lf);
  f.child.kill('SIGTERM');
  await f.exited;
}

fs.rmSync(dir, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
