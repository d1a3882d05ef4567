// A real OpenID provider (panva/oidc-provider) on 127.0.0.1 for signet's interop tests.
// usage: node server.mjs CLIENTS.json   (PORT=0 or unset: a free port)
// Prints one line when listening: READY <port> <token endpoint URL>
// CLIENTS.json: an array of client metadata objects with token_endpoint_auth_method
// "private_key_jwt" and a "jwks" holding the client's public key(s).
import fs from 'node:fs';
import net from 'node:net';
import Provider from 'oidc-provider';

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

try {
  const clients = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const port = Number(process.env.PORT || 0) || (await freePort());
  const issuer = `http://127.0.0.1:${port}`;
  const resource = 'urn:signet:test-api';
  const provider = new Provider(issuer, {
    clients,
    clientAuthMethods: ['private_key_jwt'],
    enabledJWA: {
      clientAuthSigningAlgValues: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'Ed25519', 'EdDSA'],
    },
    scopes: ['openid', 'api:read', 'api:write'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // Client-credentials access tokens are issued only for a resource server.
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api:read api:write',
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
        }),
      },
    },
  });
  // Plain http on loopback: tell the provider it is not behind a proxy and keep it quiet.
  provider.on('server_error', (ctx, err) => process.stderr.write(`server_error ${err.message}\n`));
  const server = provider.listen(port, '127.0.0.1', () => {
    process.stdout.write(`READY ${port} ${issuer}/token\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (err) {
  process.stderr.write(`ERROR ${err.message}\n`);
  process.exit(1);
}
