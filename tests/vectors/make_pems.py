#!/usr/bin/env python3
"""Writes the RFC 7515 A.2 RSA key (from its JWK numbers) as a PKCS#1 PEM and the RFC 8037 A.1
Ed25519 key as a PKCS#8 PEM, so that the tests load them through signet's normal key loader.
Pure Python: q and the CRT values are derived from n, e, d and p; DER is written by hand."""
import base64, json, os, textwrap

here = os.path.dirname(os.path.abspath(__file__))

def b64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

def num(s):
    return int.from_bytes(b64u(s), "big")

def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b

def der_int(v):
    b = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big")
    return b"\x02" + der_len(len(b)) + b

def seq(*parts):
    body = b"".join(parts)
    return b"\x30" + der_len(len(body)) + body

def pem(label, der):
    b = base64.b64encode(der).decode()
    return f"-----BEGIN {label}-----\n" + "\n".join(textwrap.wrap(b, 64)) + f"\n-----END {label}-----\n"

jwk = json.load(open(os.path.join(here, "rfc7515-a2.json")))["jwk"]
n, e, d, p = num(jwk["n"]), num(jwk["e"]), num(jwk["d"]), num(jwk["p"])
q, rem = divmod(n, p)
assert rem == 0, "p does not divide n: transcription error"
der = seq(der_int(0), der_int(n), der_int(e), der_int(d), der_int(p), der_int(q),
          der_int(d % (p - 1)), der_int(d % (q - 1)), der_int(pow(q, -1, p)))
open(os.path.join(here, "rfc7515-a2.pkcs1.pem"), "w").write(pem("RSA PRIVATE KEY", der))

okp = json.load(open(os.path.join(here, "rfc8037-a.json")))["private_jwk"]
seed = b64u(okp["d"])
assert len(seed) == 32
# PrivateKeyInfo { version 0, AlgorithmIdentifier { id-Ed25519 }, OCTET STRING { OCTET STRING seed } }
der = bytes.fromhex("302e020100300506032b657004220420") + seed
open(os.path.join(here, "rfc8037-a1.pkcs8.pem"), "w").write(pem("PRIVATE KEY", der))
print("wrote rfc7515-a2.pkcs1.pem and rfc8037-a1.pkcs8.pem")
