// A small resource server on 127.0.0.1 that checks DPoP (RFC 9449 §7) the way an API would,
// with the `jose` package (a dependency of oidc-provider), independently of signet:
//
//   ISSUER=http://127.0.0.1:<op-port> node resource.mjs
//
// prints `READY <port>` once listening. Every request must carry `Authorization: DPoP <token>`
// and one `DPoP: <proof>`; the token is verified against the issuer's JWKS, and the proof must be
// a dpop+jwt signed by its embedded public jwk (no private members), with htm = the method,
// htu = this server's URL of the request without query, ath = base64url(SHA-256(token)), a jti
// not seen before, and the jwk's RFC 7638 thumbprint = the token's cnf.jkt. The answer is 200
// with JSON {ok, method, htu, jkt, jti, nonce} or 401 with {error}. With RS_NONCE=<value>, a
// proof without that nonce gets 401 use_dpop_nonce and `DPoP-Nonce: <value>` (as RFC 9449 §9).
//
// POST /check with a JSON body {token, proof, method, url} checks a proof given that way (for
// `signet dpop proof`, whose proof no client sends here) and answers the same.
import crypto from 'node:crypto';
import http from 'node:http';
import { jwtVerify, EmbeddedJWK, calculateJwkThumbprint, createRemoteJWKSet, decodeProtectedHeader } from 'jose';

const issuer = process.env.ISSUER;
const jwks = issuer ? createRemoteJWKSet(new URL(`${issuer}/jwks`)) : null;
const nonce = process.env.RS_NONCE || '';
const seen = new Set();
const PRIVATE = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

async function check({ token, proof, method, url }) {
  if (!token || !proof) throw new Error('no DPoP token or proof');
  const { payload: claims } = await jwtVerify(token, jwks, { issuer });
  const header = decodeProtectedHeader(proof);
  if (header.typ !== 'dpop+jwt') throw new Error(`typ ${header.typ}`);
  if (!header.jwk || PRIVATE.some((m) => m in header.jwk)) throw new Error('jwk missing or with private members');
  const { payload: p } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' });
  const htu = new URL(url);
  htu.search = '';
  htu.hash = '';
  if (p.htm !== method) throw new Error(`htm ${p.htm} != ${method}`);
  if (p.htu !== htu.href) throw new Error(`htu ${p.htu} != ${htu.href}`);
  const ath = crypto.createHash('sha256').update(token).digest('base64url');
  if (p.ath !== ath) throw new Error('ath mismatch');
  if (typeof p.jti !== 'string' || !p.jti || seen.has(p.jti)) throw new Error('jti missing or replayed');
  if (typeof p.iat !== 'number' || Math.abs(Date.now() / 1000 - p.iat) > 60) throw new Error('iat not recent');
  const jkt = await calculateJwkThumbprint(header.jwk);
  if (!claims.cnf || claims.cnf.jkt !== jkt) throw new Error(`cnf.jkt ${claims.cnf && claims.cnf.jkt} != ${jkt}`);
  if (nonce && p.nonce !== nonce) {
    const e = new Error('use_dpop_nonce');
    e.nonce = true;
    throw e;
  }
  seen.add(p.jti);
  return { ok: true, method, htu: p.htu, jkt, jti: p.jti, nonce: p.nonce || null };
}

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const port = server.address().port;
  let input;
  if (req.method === 'POST' && req.url === '/check') {
    try {
      input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      input = {};
    }
  } else {
    const auth = req.headers.authorization || '';
    input = {
      token: auth.startsWith('DPoP ') ? auth.slice(5) : '',
      proof: req.headers.dpop,
      method: req.method,
      url: `http://127.0.0.1:${port}${req.url}`,
    };
  }
  try {
    const out = await check(input);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(out));
  } catch (err) {
    const headers = { 'content-type': 'application/json' };
    if (err.nonce) headers['dpop-nonce'] = nonce;
    res.writeHead(401, headers);
    res.end(JSON.stringify({ error: err.nonce ? 'use_dpop_nonce' : 'invalid_dpop_proof', error_description: err.message }));
  }
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
