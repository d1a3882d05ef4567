#!/usr/bin/env bash
# Initialises a TEST-ONLY SoftHSM2 token in DIR (usage: setup.sh DIR) and imports fixture keys:
#   token "signet", user PIN 1234; rsa (id 01, with its certificate), p256 (id 02, with its
#   certificate), ed25519 (id 03, when this SoftHSM imports Ed25519 keys).
# The tests export SOFTHSM2_CONF=DIR/softhsm2.conf before using the token.
set -euo pipefail
dir=$1
fx=$(cd "$(dirname "$0")/../fixtures" && pwd)
module=${SIGNET_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
mkdir -p "$dir/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$dir" > "$dir/softhsm2.conf"
export SOFTHSM2_CONF=$dir/softhsm2.conf
softhsm2-util --init-token --free --label signet --so-pin 4321 --pin 1234 >/dev/null
softhsm2-util --import "$fx/rsa2048.pkcs8.pem" --token signet --label rsa --id 01 --pin 1234 >/dev/null
softhsm2-util --import "$fx/p256.pkcs8.pem" --token signet --label p256 --id 02 --pin 1234 >/dev/null
if softhsm2-util --import "$fx/ed25519.pkcs8.pem" --token signet --label ed25519 --id 03 --pin 1234 >/dev/null 2>&1; then
  echo ed25519 > "$dir/ed25519-imported"
fi
openssl x509 -in "$fx/p256.crt.pem" -outform DER -out "$dir/p256.crt.der"
pkcs11-tool --module "$module" --token-label signet --login --pin 1234 --write-object "$fx/rsa2048.crt.der" --type cert --id 01 --label rsa >/dev/null 2>&1
pkcs11-tool --module "$module" --token-label signet --login --pin 1234 --write-object "$dir/p256.crt.der" --type cert --id 02 --label p256 >/dev/null 2>&1
echo "token ready in $dir"
