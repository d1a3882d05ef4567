// A real, independent OpenID provider (panva/oidc-provider, see package.json) on 127.0.0.1 for
// signet's interop tests.
//
//   PORT=0 node server.mjs CLIENTS.json        (PORT unset or 0: a free port is picked)
//
// CLIENTS.json is an array of client metadata objects (RFC 7591 names), e.g.
//   { "client_id": "c1", "token_endpoint_auth_method": "private_key_jwt",
//     "token_endpoint_auth_signing_alg": "ES256", "jwks": { "keys": [ <public JWK with kid> ] },
//     "grant_types": ["client_credentials"], "response_types": [], "redirect_uris": [] }
//
// Once listening it prints exactly one line to stdout and nothing else ever:
//   READY <port> http://127.0.0.1:<port>/token
// A startup failure prints `ERROR <message>` to stderr and exits 1. SIGTERM/SIGINT exit 0.
// Set OIDC_DEBUG=1 to see oidc-provider's own notices and warnings (on stderr).
// OIDC_DPOP=1 turns on features.dPoP (RFC 9449; a client registered with
// "dpop_bound_access_tokens": true then needs a proof); OIDC_DPOP=nonce also gives it a
// nonceSecret and requires a server nonce in every proof.
// OIDC_MTLS=1 serves https (TLS_KEY, TLS_CERT: PEM files; TLS_CA: the CA that client certificates
// may be signed by) asking for a client certificate, with features.mTLS (certificate-bound tokens,
// tls_client_auth and self_signed_tls_client_auth); OIDC_MTLS=require also refuses, in the TLS
// handshake, a client that presents no certificate signed by TLS_CA.
//
// What this provider accepts in a client assertion (lib/shared/jwt_client_auth.js and
// lib/helpers/oidc_context.js `clientJwtAuthExpectedAudience` in the installed version):
//   - aud: the issuer `http://127.0.0.1:<port>` or the token endpoint URL
//     `http://127.0.0.1:<port>/token` (a string, or an array containing one of them);
//   - iss must equal the client_id; sub names the client (it is looked up by `sub`);
//   - exp and jti are required; a jti is accepted once per client until exp (+15 s tolerance);
//   - the form parameter client_id is optional, but if sent it must equal `sub`.
// A successful client_credentials request gets a JWT access token for the resource
// urn:signet:test-api (aud), scope within "api:read api:write", lifetime 300 s.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const RESOURCE = 'urn:signet:test-api';
const RESOURCE_SCOPE = 'api:read api:write';
const ACCESS_TOKEN_TTL = 300;

function fail(err) {
  const message = (err && err.message) || String(err);
  process.stderr.write(`ERROR ${message.replace(/\s+/g, ' ').trim()}\n`);
  process.exit(1);
}

// Nothing but the READY line may reach stdout (a reader may stop reading after it, and oidc-provider
// prints its notices with console.info, i.e. to stdout). Its notices go to stderr with OIDC_DEBUG.
const debug = !!process.env.OIDC_DEBUG && process.env.OIDC_DEBUG !== '0';
const toStderr = (...args) => process.stderr.write(`${args.map(String).join(' ')}\n`);
for (const name of ['log', 'info', 'warn', 'error', 'debug', 'trace']) {
  console[name] = debug ? toStderr : () => {};
}
process.stdout.on('error', () => {}); // EPIPE once the reader is gone: ignore
process.stderr.on('error', () => {});

function readClients(path) {
  if (!path) throw new Error('usage: node server.mjs CLIENTS.json');
  let clients;
  try {
    clients = JSON.parse(fs.readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read clients file ${path}: ${err.message}`);
  }
  if (!Array.isArray(clients)) throw new Error(`clients file ${path}: expected a JSON array`);
  clients.forEach((c, i) => {
    if (!c || typeof c !== 'object' || typeof c.client_id !== 'string' || !c.client_id) {
      throw new Error(`clients file ${path}: entry ${i} has no client_id`);
    }
  });
  return clients;
}

function parsePort(value) {
  if (value === undefined || value === '') return 0;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad PORT ${value}`);
  return port;
}

async function main() {
  const clients = readClients(process.argv[2]);
  const port = parsePort(process.env.PORT);

  // Bind first (PORT=0 gets a free port without a race), then build the provider with the issuer.
  const mtlsMode = process.env.OIDC_MTLS || '';
  const mtls = mtlsMode !== '' && mtlsMode !== '0';
  const server = mtls
    ? https.createServer({
      key: fs.readFileSync(process.env.TLS_KEY),
      cert: fs.readFileSync(process.env.TLS_CERT),
      ca: fs.readFileSync(process.env.TLS_CA),
      requestCert: true,
      rejectUnauthorized: mtlsMode === 'require',
    })
    : http.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = server.address().port;
  const issuer = `${mtls ? 'https' : 'http'}://127.0.0.1:${actualPort}`;

  const { default: Provider, errors } = await import('oidc-provider');

  // The provider's own signing key (for JWT access tokens): fresh for each run.
  const signing = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    .privateKey.export({ format: 'jwk' });
  signing.kid = 'signet-test-op-rs256';
  signing.use = 'sig';
  signing.alg = 'RS256';

  // DPoP: ES256, EdDSA and the RSA algorithms, so that a --dpop-key of any kind signet reads works.
  const dpopMode = process.env.OIDC_DPOP || '';
  const dPoP = {
    enabled: dpopMode !== '' && dpopMode !== '0',
    ...(dpopMode === 'nonce' ? { nonceSecret: crypto.randomBytes(32), requireNonce: () => true } : {}),
  };

  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [signing] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    clientAuthMethods: ['private_key_jwt', 'client_secret_jwt', 'client_secret_basic', 'client_secret_post', 'none',
      ...(mtls ? ['tls_client_auth', 'self_signed_tls_client_auth'] : [])],
    enabledJWA: {
      clientAuthSigningAlgValues: [
        'RS256', 'RS384', 'RS512',
        'PS256', 'PS384', 'PS512',
        'ES256', 'ES384', 'ES512',
        'EdDSA',
        'HS256', 'HS384', 'HS512',
      ],
      dPoPSigningAlgValues: ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'],
    },
    scopes: ['openid', 'offline_access', 'api:read', 'api:write'],
    ttl: { ClientCredentials: ACCESS_TOKEN_TTL },
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true },
      clientCredentials: { enabled: true },
      dPoP,
      mTLS: {
        enabled: mtls,
        certificateBoundAccessTokens: true,
        selfSignedTlsClientAuth: true,
        tlsClientAuth: true,
        getCertificate(ctx) {
          const peer = ctx.socket.getPeerCertificate && ctx.socket.getPeerCertificate();
          return peer && peer.raw ? new crypto.X509Certificate(peer.raw) : undefined;
        },
        certificateAuthorized: (ctx) => ctx.socket.authorized === true,
        certificateSubjectMatches(ctx, property, expected) {
          const peer = ctx.socket.getPeerCertificate();
          if (property === 'tls_client_auth_subject_dn') return `CN=${peer.subject && peer.subject.CN}` === expected;
          return false;
        },
      },
      // client_credentials access tokens are only issued for a resource server: without a
      // `resource` parameter the default one is used.
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (resource !== RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: RESOURCE_SCOPE,
            audience: RESOURCE,
            accessTokenTTL: ACCESS_TOKEN_TTL,
            accessTokenFormat: 'jwt',
          };
        },
      },
    },
  });

  // Validate every client now, so that bad metadata is a startup ERROR, not a later 401.
  for (const { client_id: id } of clients) {
    try {
      // eslint-disable-next-line no-await-in-loop
      if (!(await provider.Client.find(id))) throw new Error('not found');
    } catch (err) {
      const detail = err.error_description || err.message;
      throw new Error(`client ${id}: ${err.error ? `${err.error}: ` : ''}${detail}`);
    }
  }

  provider.on('server_error', (ctx, err) => process.stderr.write(`server_error ${err.stack || err}\n`));
  if (debug) {
    // The response only says "client authentication failed"; the reason is in error_detail.
    for (const event of ['grant.error', 'introspection.error', 'discovery.error', 'jwks.error']) {
      provider.on(event, (ctx, err) => toStderr(`${event} ${err.error}: ${err.error_description}${err.error_detail ? ` (${err.error_detail})` : ''}`));
    }
    provider.on('grant.success', (ctx) => toStderr(`grant.success ${ctx.oidc.client?.clientId}`));
  }
  server.on('request', provider.callback());
  server.on('error', (err) => process.stderr.write(`server error ${err.message}\n`));

  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  process.stdout.write(`READY ${actualPort} ${issuer}/token\n`);
}

process.on('uncaughtException', (err) => process.stderr.write(`uncaught ${err.stack || err}\n`));
main().catch(fail);
