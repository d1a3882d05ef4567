#!/usr/bin/env python3
"""Times whole signet commands next to references measured in the same run, and writes
docs/BENCHMARKS.md. Run by `make bench` (which builds the release binary and installs hyperfine).

Every figure is a median of repeated runs (hyperfine), reported with its ratio to a reference
measured in the same run: a trivial Rust binary (fn main(){}), /bin/true, `openssl speed`.
"""
import http.client, json, os, platform, re, shutil, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIGNET = ROOT / "target/release/signet"
# The usual dynamically linked PIE build (what `cargo install` makes), when `make bench` kept one.
SIGNET_DYNAMIC = ROOT / "target/bench/signet-dynamic"
FIX = ROOT / "tests/fixtures"
OUT = ROOT / "docs/BENCHMARKS.md"
WORK = Path(tempfile.mkdtemp(prefix="signet-bench-"))
RUNS = int(os.environ.get("BENCH_RUNS", "200"))
# Peers as `make bench-peers` installs them (a venv and a cargo root under target/), else from PATH.
PEERS = ROOT / "target/bench/peers"
PY = str(PEERS / "bin/python") if (PEERS / "bin/python").exists() else sys.executable
JWT = str(PEERS / "bin/jwt") if (PEERS / "bin/jwt").exists() else shutil.which("jwt")
MISSING = []  # peers this run could not measure, said in the report


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True, **kw).stdout


def hyperfine(named, runs=RUNS, warmup=10, prepare=None, per_round=5):
    """named: list of (label, command). Returns {label: (median_s, mean_s, stddev_s)}.

    Interleaved rounds: `hyperfine -N` times every command `per_round` times, then the next round
    starts with the commands in rotated order, until each has run `runs` times. A burst of load on
    the machine then lands on every command alike instead of on whichever was being timed, and the
    ratios to the trivial binary are of times taken side by side. Medians over all rounds."""
    out = WORK / "hf.json"
    times = {label: [] for label, _ in named}
    rounds = max(1, -(-runs // per_round))
    for i in range(rounds):
        order = named[i % len(named):] + named[:i % len(named)]
        args = ["hyperfine", "-N", "--style", "none", "-w", str(warmup if i == 0 else 1), "-r", str(per_round),
                "--export-json", str(out)]
        if prepare:
            args += ["--prepare", prepare]
        for label, cmd in order:
            args += ["-n", label, cmd]
        subprocess.run(args, check=True, capture_output=True)
        for r in json.loads(out.read_text())["results"]:
            times[r["command"]] += r["times"]
    res = {}
    for label, t in times.items():
        t.sort()
        mean = sum(t) / len(t)
        sd = (sum((x - mean) ** 2 for x in t) / max(1, len(t) - 1)) ** 0.5
        res[label] = (t[len(t) // 2] if len(t) % 2 else (t[len(t) // 2 - 1] + t[len(t) // 2]) / 2, mean, sd)
    return res


def cpu_model():
    """The CPU as the kernel names it, with family/model/stepping (a model name such as
    "Intel(R) Xeon(R) Processor" under a hypervisor says little), and whether it has AVX-512 IFMA,
    which decides signet's RSA backend (src/key/rsa_crt.rs)."""
    info = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            k, _, v = line.partition(":")
            info.setdefault(k.strip(), v.strip())
    except OSError:
        return platform.processor() or "unknown CPU"
    flags = info.get("flags", "").split()
    ifma = "avx512ifma" in flags and "avx512vl" in flags
    return (f"{info.get('model name', platform.processor())} (family {info.get('cpu family', '?')} model "
            f"{info.get('model', '?')} stepping {info.get('stepping', '?')}; AVX-512 IFMA {'yes' if ifma else 'no'})")


def peak_rss_kb(cmd, env=None):
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    return int(m.group(1)) if m else None


def openssl_speed():
    txt = sh("openssl speed -seconds 3 rsa2048 ecdsap256 ed25519 2>/dev/null")
    rsa = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)", txt, re.M)
    ec = re.search(r"256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+([\d.]+)", txt)
    ed = re.search(r"253 bits EdDSA \(Ed25519\)\s+\S+\s+\S+\s+([\d.]+)", txt)
    return {"RS256": float(rsa.group(1)) if rsa else None, "ES256": float(ec.group(1)) if ec else None,
            "EdDSA": float(ed.group(1)) if ed else None}


def criterion_rate(group, name):
    est = ROOT / "target/criterion" / group / name / "new/estimates.json"
    if not est.exists():
        return None
    ns = json.loads(est.read_text())["median"]["point_estimate"]
    return 1e9 / ns


def backends():
    """jsonwebtoken's two crypto backends (benches/backends), each built clean on this machine and
    timed: the issue asks for the choice to be made by measurement, build time included.
    Dependencies are fetched first, so a build time is compiling and linking only."""
    crate = ROOT / "benches/backends"
    subprocess.run(["cargo", "fetch", "--quiet"], cwd=crate, check=True)
    out = []
    for feature in ("rust_crypto", "aws_lc_rs"):
        target = WORK / f"backend-{feature}"
        t = time.perf_counter()
        subprocess.run(["cargo", "build", "--quiet", "--release", "--features", feature], cwd=crate, check=True,
                       env=dict(os.environ, CARGO_TARGET_DIR=str(target)))
        built = time.perf_counter() - t
        res = json.loads(sh(f"{target}/release/signet-backend-bench {FIX}"))
        out.append((feature, built, res))
        shutil.rmtree(target, ignore_errors=True)
    return out


def install(src, name):
    """Copies a binary into the work folder, as `install`, `cargo install` or dpkg would put it.

    Measured here: a binary timed where the linker wrote it starts ~0.15 ms slower than a copy of
    it (page-cache layout of the linker's output; the trivial binary is too small to show it), so
    every binary is timed as an installed copy."""
    dst = WORK / "bin" / name
    dst.parent.mkdir(exist_ok=True)
    shutil.copy2(src, dst)
    return dst


def agent_bench(key, clients=64):
    """The token agent (`signet serve`) warm, asked by benches/load/agent_client.rs (std-only Rust,
    built here with rustc -O: Python's http.client alone costs ~0.2 ms a request): `clients`
    threads, each on one kept-alive loopback connection. Answers/s with every client asking back
    to back; p50/p99 of one answer when they ask at 2,000/s together (back to back, 64 clients on
    2 cores queue behind each other, and Little's law, not the agent, sets that latency). Then
    the agent's peak RSS (VmHWM) after it has served 100 identities."""
    client = WORK / "agent_client"
    sh(f"rustc -O --edition 2021 -o {client} {ROOT}/benches/load/agent_client.rs")
    proc = subprocess.Popen([str(SIGNET), "serve", "--listen", "127.0.0.1:0"] + key.split(), stdout=subprocess.PIPE, text=True)
    env = {}
    for line in proc.stdout:
        if line.startswith("echo "):
            break
        k, v = line.split("=", 1)
        env[k] = v.split("; export")[0].strip("'")
    addr = env["IDENTITY_ENDPOINT"].split("/")[2]
    secret = env["IDENTITY_HEADER"]
    try:
        rate = float(sh(f"{client} {addr} {secret} {clients} 2000 0").split()[0])
        _, p50, p99 = (float(x) for x in sh(f"{client} {addr} {secret} {clients} 300 2000").split())
        host, port = addr.split(":")
        for i in range(100):
            c = http.client.HTTPConnection(host, int(port))
            c.request("GET", f"/msi/token?api-version=2019-08-01&resource=api://bench-{i}", headers={"X-IDENTITY-HEADER": secret})
            assert c.getresponse().status == 200
        hwm = next(l for l in Path(f"/proc/{proc.pid}/status").read_text().splitlines() if l.startswith("VmHWM"))
        rss = int(hwm.split()[1])
    finally:
        proc.terminate()
        proc.wait()
    return rate, p50, p99, rss


def main():
    global SIGNET, SIGNET_DYNAMIC
    env = dict(os.environ, SIGNET_CACHE_DIR=str(WORK / "cache"), NO_PROXY="127.0.0.1")
    for k in list(env):
        if k.startswith("SIGNET_") and k != "SIGNET_CACHE_DIR":
            del env[k]
    os.environ.clear()
    os.environ.update(env)
    # references
    (WORK / "t.rs").write_text("fn main(){}")
    sh(f"rustc -O -o {WORK}/trivial {WORK}/t.rs")
    trivial = str(install(WORK / "trivial", "trivial"))
    # The same trivial program linked the way the shipped signet is (static glibc, no PIE).
    sh(f"rustc -O -C target-feature=+crt-static -C relocation-model=static -o {WORK}/trivial-static {WORK}/t.rs")
    trivial_static = str(install(WORK / "trivial-static", "trivial-static"))
    SIGNET = install(SIGNET, "signet")
    if SIGNET_DYNAMIC.exists():
        SIGNET_DYNAMIC = install(SIGNET_DYNAMIC, "signet-dynamic")
    linking = sh(f"file -b {SIGNET}").split(",")
    linking = ", ".join(x.strip() for x in linking[:1] + [x for x in linking if "link" in x])
    # the embedded issuer as a process
    iss = subprocess.Popen([str(SIGNET), "issuer", "--client-id", "bench", "--trust", str(FIX / "rsa2048.crt.pem")],
                           stdout=subprocess.PIPE, text=True)
    url = iss.stdout.readline().split()[1]
    base = url.rsplit("/", 1)[0]

    def stats():
        return json.loads(urllib.request.urlopen(base + "/stats").read())["token_requests"]

    key = f"--key {FIX}/rsa2048.pkcs8.pem --cert {FIX}/rsa2048.crt.pem --client-id bench --token-url {url}"
    rows = []
    try:
        sh(f"{SIGNET} token {key}")  # warm the cache
        cache_rows = [
            ("trivial Rust binary", trivial),
            ("trivial Rust binary, static no-PIE", trivial_static),
            ("/bin/true", "/bin/true"),
            ("signet token (cache hit)", f"{SIGNET} token {key}"),
            ("signet --version", f"{SIGNET} --version"),
        ]
        if SIGNET_DYNAMIC.exists():
            cache_rows.append(("signet token (cache hit), dynamic PIE build", f"{SIGNET_DYNAMIC} token {key}"))
        r = hyperfine(cache_rows)
        t0 = r["trivial Rust binary"][0]
        for label in r:
            rows.append(("cache", label, r[label][0], r[label][0] / t0))
        # DPoP: a second issuer in its DPoP mode (with a nonce, as Okta); the cache hit of a
        # DPoP-bound token reads the generated key from the entry, and `dpop proof` signs an ES256 proof.
        iss_dpop = subprocess.Popen([str(SIGNET), "issuer", "--client-id", "bench", "--trust", str(FIX / "rsa2048.crt.pem"),
                                     "--dpop-nonce", "bench-nonce"], stdout=subprocess.PIPE, text=True)
        dpop_url = iss_dpop.stdout.readline().split()[1]
        dkey = f"--key {FIX}/rsa2048.pkcs8.pem --cert {FIX}/rsa2048.crt.pem --client-id bench --token-url {dpop_url} --dpop"
        try:
            sh(f"{SIGNET} token {dkey}")  # warm the cache
            api = f"{base}/stats"
            (WORK / "hdr").write_text("Authorization: Bearer " + sh(f"{SIGNET} token {key}").strip() + "\n")
            d = hyperfine([
                ("trivial Rust binary", trivial),
                ("signet token --dpop (cache hit)", f"{SIGNET} token {dkey}"),
                ("signet dpop proof (cache hit)", f"{SIGNET} dpop proof --method GET --url https://api.example.com/v1/items {dkey}"),
                ("curl with the header given (GET the issuer's /stats)", f"curl -s -o /dev/null -H @{WORK}/hdr {api}"),
                ("signet curl (cache hit, same GET)", f"{SIGNET} curl --url {api} {key} -- -s -o /dev/null"),
            ])
        finally:
            iss_dpop.terminate()
        for label in d:
            rows.append(("dpop", label, d[label][0], d[label][0] / d["trivial Rust binary"][0]))
        assert_rows = [
            ("trivial Rust binary", trivial),
            ("trivial Rust binary, static no-PIE", trivial_static),
            ("signet assert RS256 (PEM PKCS#8)", f"{SIGNET} assert --key {FIX}/rsa2048.pkcs8.pem --client-id c --audience a"),
            ("signet assert RS256 (PEM PKCS#1)", f"{SIGNET} assert --key {FIX}/rsa2048.pkcs1.pem --client-id c --audience a"),
            ("signet assert ES256", f"{SIGNET} assert --key {FIX}/p256.pkcs8.pem --client-id c --audience a"),
            ("signet assert EdDSA", f"{SIGNET} assert --key {FIX}/ed25519.pkcs8.pem --client-id c --audience a"),
        ]
        if SIGNET_DYNAMIC.exists():
            assert_rows.append(("signet assert RS256 (PEM PKCS#8), dynamic PIE build",
                                f"{SIGNET_DYNAMIC} assert --key {FIX}/rsa2048.pkcs8.pem --client-id c --audience a"))
        a = hyperfine(assert_rows)
        t0a = a["trivial Rust binary"][0]
        for label in a:
            rows.append(("assert", label, a[label][0], a[label][0] / t0a))
        # MSAL Python's cache hit: it insists on an https authority with OpenID discovery, so a
        # second issuer sits behind stunnel with the test CA, and MSAL's file cache is warmed once.
        msal_hit = None
        certcred = None
        msal_procs = []
        if shutil.which("stunnel") and subprocess.run([PY, "-c", "import msal"], capture_output=True).returncode == 0:
            p2 = int(sh("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])'"))
            iss2 = subprocess.Popen([str(SIGNET), "issuer", "--client-id", "bench", "--trust", str(FIX / "rsa2048.crt.pem"),
                                     "--expires-in", "3600", "--public-url", f"https://127.0.0.1:{p2}"], stdout=subprocess.PIPE, text=True)
            p1 = iss2.stdout.readline().split()[1].rsplit(":", 1)[1].split("/")[0]
            (WORK / "st.conf").write_text(f"foreground = yes\npid =\n[iss]\naccept = 127.0.0.1:{p2}\nconnect = 127.0.0.1:{p1}\n"
                                          f"cert = {FIX}/server.crt.pem\nkey = {FIX}/server.key.pem\n")
            st = subprocess.Popen(["stunnel", str(WORK / "st.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            msal_procs = [iss2, st]
            time.sleep(0.5)
            sha1 = sh(f"openssl x509 -in {FIX}/rsa2048.crt.pem -noout -fingerprint -sha1").split("=")[1].replace(":", "").strip()
            (WORK / "msal_hit.py").write_text(
                "import msal, os, sys\n"
                "cache = msal.SerializableTokenCache()\n"
                "path = sys.argv[1]\n"
                "cache.deserialize(open(path).read()) if os.path.exists(path) else None\n"
                f"app = msal.ConfidentialClientApplication('bench', client_credential={{'private_key': open('{FIX}/rsa2048.pkcs8.pem').read(), 'thumbprint': '{sha1}'}},\n"
                f"    oidc_authority='https://127.0.0.1:{p2}/tenant', token_cache=cache)\n"
                "r = app.acquire_token_for_client(scopes=['api://bench/.default'])\n"
                "open(path, 'w').write(cache.serialize()) if cache.has_state_changed else None\n"
                "print(r['access_token'])\n")
            os.environ["REQUESTS_CA_BUNDLE"] = str(FIX / "ca.crt.pem")
            sh(f"{PY} {WORK}/msal_hit.py {WORK}/msal-cache.json")
            msal_hit = ("MSAL Python cache hit (file cache, https discovery)", f"{PY} {WORK}/msal_hit.py {WORK}/msal-cache.json")
            # azure-identity's own certificate credential (what a job uses without the agent),
            # from the venv `make test-deps` makes: its first token and its in-process cache.
            sdk_py = ROOT / "target/sdk-venv/bin/python"
            if sdk_py.exists():
                (WORK / "bundle.pem").write_text((FIX / "rsa2048.pkcs8.pem").read_text() + (FIX / "rsa2048.crt.pem").read_text())
                (WORK / "certcred.py").write_text(
                    "import time\n"
                    "from azure.identity import CertificateCredential\n"
                    f"c = CertificateCredential('tenant', 'bench', certificate_path='{WORK}/bundle.pem', authority='https://127.0.0.1:{p2}', disable_instance_discovery=True)\n"
                    "t = time.perf_counter(); c.get_token('api://certcred/.default'); first = time.perf_counter() - t\n"
                    "t = time.perf_counter()\n"
                    "for _ in range(2000): c.get_token('api://certcred/.default')\n"
                    "print(first, (time.perf_counter() - t) / 2000)\n")
                certcred = tuple(float(x) for x in sh(f"{sdk_py} {WORK}/certcred.py").split())
            else:
                MISSING.append("azure-identity CertificateCredential (needs target/sdk-venv: make test-deps)")
        else:
            MISSING.append("MSAL Python (needs stunnel and `msal`)")
        # peers a user might pick instead, when `make bench-peers` installed them
        peer = {}
        if subprocess.run([PY, "-c", "import jwt, cryptography"], capture_output=True).returncode == 0:
            (WORK / "pyjwt_sign.py").write_text(
                "import jwt, sys, time, uuid\n"
                f"key = open('{FIX}/rsa2048.pkcs8.pem').read()\n"
                "now = int(time.time())\n"
                "print(jwt.encode({'iss': 'c', 'sub': 'c', 'aud': 'a', 'jti': str(uuid.uuid4()), 'iat': now, 'nbf': now, 'exp': now + 120}, key, algorithm='RS256'))\n")
            entry = next((WORK / "cache").glob("*.json"))
            (WORK / "py_reader.py").write_text(f"import json\nprint(json.load(open('{entry}'))['access_token'])\n")
            peers = []
            if not JWT:
                MISSING.append("jwt-cli")
            if JWT:
                now = int(time.time())
                peers.append(("jwt-cli RS256 (absolute times)", f"{JWT} encode -A RS256 -S @{FIX}/rsa2048.pkcs8.pem -i c -s c -a a --jti x --exp={now + 3600} --nbf={now}"))
            if msal_hit:
                peers.append(msal_hit)
            peer = hyperfine(peers + [
                ("trivial Rust binary", trivial),
                ("PyJWT RS256 (one-shot script)", f"{PY} {WORK}/pyjwt_sign.py"),
                ("hand-written Python cache reader", f"{PY} {WORK}/py_reader.py"),
                ("signet assert RS256 (PEM PKCS#8)", f"{SIGNET} assert --key {FIX}/rsa2048.pkcs8.pem --client-id c --audience a"),
                ("signet token (cache hit)", f"{SIGNET} token {key}"),
            ], runs=40, warmup=3)
            t0p = peer["trivial Rust binary"][0]
            for label in peer:
                rows.append(("peers", label, peer[label][0], peer[label][0] / t0p))
        else:
            MISSING.append("PyJWT and the Python cache reader (needs `jwt` and `cryptography`)")
        for proc in msal_procs:
            proc.terminate()
        # the shared cache: a Redis hit with an empty local cache, and a 3-host x 64 cold start
        if shutil.which("redis-server"):
            rport = int(sh("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])'"))
            rs = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)
            shared = f"SIGNET_CACHE_URL=redis://127.0.0.1:{rport}/0 SIGNET_CACHE_KEY={'ab' * 32}"
            try:
                sh(f"{shared} SIGNET_CACHE_DIR={WORK}/warm {SIGNET} token {key} --scope redis-bench")
                rr = hyperfine([
                    ("trivial Rust binary", trivial),
                    ("signet token (local disk hit)", f"{SIGNET} token {key}"),
                    ("signet token (Redis hit, local cache empty)", f"env {shared} SIGNET_CACHE_DIR={WORK}/empty {SIGNET} token {key} --scope redis-bench"),
                ], runs=100, prepare=f"rm -rf {WORK}/empty")
                for label in rr:
                    rows.append(("shared cache", label, rr[label][0], rr[label][0] / rr["trivial Rust binary"][0]))
                before = stats()
                procs = [subprocess.Popen(f"env {shared} SIGNET_CACHE_DIR={WORK}/host{i % 3} {SIGNET} token {key} --scope fleet-cold",
                                          shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(192)]
                for p in procs:
                    p.wait()
                fleet_requests = stats() - before
                rows.append(("shared cache", f"3 hosts x 64 cold processes: {fleet_requests} token request(s)", 0.0, 0.0))
            finally:
                rs.terminate()
        # signing latency per key source: a file, a SoftHSM2 token, an ssh-agent (RS256, one-shot)
        module = "/usr/lib/softhsm/libsofthsm2.so"
        if Path(module).exists() and shutil.which("ssh-agent"):
            hsm = WORK / "hsm"
            sh(f"{ROOT}/tests/hsm/setup.sh {hsm}")
            agent_sock = WORK / "agent.sock"
            agent_out = sh(f"ssh-agent -a {agent_sock} -s")
            agent_pid = int(agent_out.split("SSH_AGENT_PID=")[1].split(";")[0])
            shutil.copy(FIX / "rsa2048.pkcs1.pem", WORK / "agent-key.pem")
            os.chmod(WORK / "agent-key.pem", 0o600)
            sh(f"SSH_AUTH_SOCK={agent_sock} ssh-add {WORK}/agent-key.pem")
            fp = sh(f"SSH_AUTH_SOCK={agent_sock} ssh-add -l -E sha256").split()[1]
            os.environ.update(SOFTHSM2_CONF=str(hsm / "softhsm2.conf"), SIGNET_PKCS11_MODULE=module, SIGNET_PKCS11_PIN="1234", SSH_AUTH_SOCK=str(agent_sock))
            try:
                src = hyperfine([
                    ("trivial Rust binary", trivial),
                    ("signet assert RS256, key file", f"{SIGNET} assert --key {FIX}/rsa2048.pkcs1.pem --client-id c --audience a"),
                    ("signet assert RS256, SoftHSM2 (PKCS#11)", f"{SIGNET} assert --key pkcs11:token=signet;object=rsa --client-id c --audience a"),
                    ("signet assert RS256, ssh-agent", f"{SIGNET} assert --key ssh-agent:{fp} --client-id c --audience a"),
                ], runs=100)
                for label in src:
                    rows.append(("key source", label, src[label][0], src[label][0] / src["trivial Rust binary"][0]))
            finally:
                os.kill(agent_pid, 15)
                for k in ("SOFTHSM2_CONF", "SIGNET_PKCS11_MODULE", "SIGNET_PKCS11_PIN", "SSH_AUTH_SOCK"):
                    os.environ.pop(k, None)
        os.environ["SIGNET_KEY_PASSPHRASE"] = "signet-test-passphrase"
        slow = hyperfine([
            ("signet assert RS256 (encrypted PKCS#8, PBKDF2)", f"{SIGNET} assert --key {FIX}/rsa2048.enc.pem --client-id c --audience a"),
            ("signet assert RS256 (PKCS#12, AES-256/PBKDF2)", f"{SIGNET} assert --key {FIX}/rsa2048.modern.pfx --client-id c --audience a"),
            ("signet assert RS256 (PKCS#12 legacy 3DES)", f"{SIGNET} assert --key {FIX}/rsa2048.legacy.pfx --client-id c --audience a"),
        ], runs=30, warmup=3)
        del os.environ["SIGNET_KEY_PASSPHRASE"]
        for label in slow:
            rows.append(("assert (key derivation)", label, slow[label][0], slow[label][0] / t0a))
        cold = hyperfine([
            ("trivial Rust binary", trivial),
            ("signet token (cold: sign + exchange)", f"{SIGNET} token --no-cache {key}"),
        ], runs=100)
        for label in cold:
            rows.append(("cold", label, cold[label][0], cold[label][0] / cold["trivial Rust binary"][0]))
        # 64 concurrent cold processes
        conc = []
        for _ in range(5):
            shutil.rmtree(WORK / "cache", ignore_errors=True)
            before = stats()
            t = time.perf_counter()
            procs = [subprocess.Popen(f"{SIGNET} token {key}", shell=True, stdout=subprocess.DEVNULL) for _ in range(64)]
            for p in procs:
                p.wait()
            conc.append((time.perf_counter() - t, stats() - before))
        conc.sort()
        conc_median, conc_requests = conc[len(conc) // 2]
        one_cold = cold["signet token (cold: sign + exchange)"][0]
        hit = r["signet token (cache hit)"][0]
        budget = 1.5 * (one_cold + 64 * hit)
        agent = agent_bench(key)
        rss_hit = peak_rss_kb([str(SIGNET), "token"] + key.split())
        rss_cold = peak_rss_kb([str(SIGNET), "token", "--no-cache"] + key.split())
        speed = openssl_speed()
    finally:
        iss.terminate()
    backend_rows = backends()
    inproc = []
    for alg, crit in [("RS256", "RS256"), ("ES256", "ES256"), ("EdDSA", "EdDSA")]:
        rate = criterion_rate("signature_only", crit)
        ref = speed.get(alg)
        inproc.append((alg, rate, ref, rate / ref if rate and ref else None))
    rsa = []
    for group in ("rsa2048_one_shot", "rsa2048_signature_only", "rsa2048_parse"):
        for backend in ("ring", "aws_lc", "signet"):
            rate = criterion_rate(group, backend)
            rsa.append((group, backend, 1e6 / rate if rate else None))
    for step in ("check_key", "first_sign_blinded", "first_sign_unblinded"):
        rate = criterion_rate("rsa2048_aws_lc_steps", step)
        rsa.append(("rsa2048_aws_lc_steps", step, 1e6 / rate if rate else None))
    # The targets, judged from this run's figures (the cache and assert groups: medians of
    # interleaved rounds, binaries timed as installed copies).
    med = {label: m for _, label, m, _ in rows}  # a label measured twice: its last group (peers)
    hit = r["signet token (cache hit)"][0] / r["trivial Rust binary"][0]
    ratio = lambda label: a[label][0] / a["trivial Rust binary"][0]
    rs256, es256, eddsa = (ratio(f"signet assert {x}") for x in ("RS256 (PEM PKCS#8)", "ES256", "EdDSA"))
    rsa_ref = f"; `openssl speed rsa2048` {1e3 / speed['RS256']:.2f} ms/sign" if speed.get("RS256") else ""
    dpop_hit = d["signet token --dpop (cache hit)"][0] / d["trivial Rust binary"][0]
    proof_hit = d["signet dpop proof (cache hit)"][0] / d["trivial Rust binary"][0]
    curl_over = d["signet curl (cache hit, same GET)"][0] - d["curl with the header given (GET the issuer's /stats)"][0]
    targets = [
        ("cache-hit `signet token` ≤ 1.1× the trivial Rust binary", f"{hit:.2f}×", hit <= 1.1),
        ("cache-hit `signet token --dpop` ≤ 1.15× the trivial Rust binary", f"{dpop_hit:.2f}×", dpop_hit <= 1.15),
        ("cache-hit `signet dpop proof` ≤ 1.3× the trivial Rust binary", f"{proof_hit:.2f}×", proof_hit <= 1.3),
        ("`signet curl` over plain curl with the header given ≤ 1.5 ms", fmt_ms(curl_over), curl_over <= 0.0015),
    ]
    msal = peer.get("MSAL Python cache hit (file cache, https discovery)")
    if msal:
        x = msal[0] / peer["signet token (cache hit)"][0]
        targets.append(("MSAL Python's cache hit ≥ 150× signet's", f"{x:.0f}×", x >= 150))
    targets.append(("`signet assert` RS256 PEM ≤ 2× the trivial Rust binary",
                    f"{rs256:.2f}× ({fmt_ms(a['signet assert RS256 (PEM PKCS#8)'][0])}{rsa_ref})", rs256 <= 2.0))
    targets.append(("`signet assert` ES256 ≤ 1.3× the trivial Rust binary", f"{es256:.2f}×", es256 <= 1.3))
    targets.append(("`signet assert` EdDSA ≤ 1.3× the trivial Rust binary", f"{eddsa:.2f}×", eddsa <= 1.3))
    jwt = med.get("jwt-cli RS256 (absolute times)")
    if jwt:
        mine = med["signet assert RS256 (PEM PKCS#8)"]
        targets.append(("`signet assert` RS256 faster than jwt-cli", f"{fmt_ms(mine)} vs {fmt_ms(jwt)}", mine < jwt))
    for alg, rate, ref, ratio in inproc:
        need = 0.95 if alg == "RS256" else 0.9
        if ratio:
            targets.append((f"in-process {alg} ≥ {need}× `openssl speed`", f"{ratio:.2f}×", ratio >= need))
    targets.append(("64 concurrent cold `signet token` → 1 request, within 1.5 × (cold + 64 hits)",
                    f"{conc_requests} request(s), {fmt_ms(conc_median)} of {fmt_ms(budget)}", conc_requests == 1 and conc_median <= budget))
    worst = max(x for x in (rss_hit, rss_cold) if x)
    targets.append(("peak RSS ≤ 12 MB (hit and cold fetch)", f"{rss_hit} / {rss_cold} KiB", worst <= 12 * 1024))
    rate, p50, p99, agent_rss = agent
    targets.append(("agent token over a kept-alive loopback connection, 64 clients at 2,000/s: p50 ≤ 0.2 ms, p99 ≤ 1 ms",
                    f"{p50:.3f} / {p99:.3f} ms", p50 <= 0.2 and p99 <= 1.0))
    targets.append(("agent answers/s, 64 clients back to back ≥ 5,000", f"{rate:,.0f}", rate >= 5000))
    targets.append(("agent peak RSS with 100 identities ≤ 20 MiB", f"{agent_rss} KiB", agent_rss <= 20 * 1024))
    rows.append(("agent", f"warm agent token, one of 64 kept-alive clients at 2,000/s (p50; p99 {p99:.3f} ms)", p50 / 1000, p50 / 1000 / r["trivial Rust binary"][0]))
    # Side by side: the same kind of token without the agent, as ratios to the agent's p50.
    hit_s = r["signet token (cache hit)"][0]
    rows.append(("agent", f"`signet token` cache hit, a process per call: {hit_s / (p50 / 1000):.0f}× the agent's p50", 0.0, 0.0))
    if certcred:
        first, cached = certcred
        rows.append(("agent", "azure-identity CertificateCredential, first token in process (sign + exchange)", first, first / r["trivial Rust binary"][0]))
        rows.append(("agent", f"azure-identity CertificateCredential, cached get_token in process ({cached / (p50 / 1000):.2f}× the agent's p50)", cached, cached / r["trivial Rust binary"][0]))
    write(rows, conc_median, conc_requests, budget, rss_hit, rss_cold, inproc, speed, rsa, targets, linking, backend_rows)
    shutil.rmtree(WORK, ignore_errors=True)


def fmt_ms(s):
    return f"{s * 1000:.2f} ms"


def write(rows, conc_median, conc_requests, budget, rss_hit, rss_cold, inproc, speed, rsa, targets, linking, backend_rows):
    cpu = cpu_model()
    lines = [
        "# Benchmarks", "",
        "Regenerated by `make bench` (`benches/commands.py` and the criterion benches in `benches/signing.rs`).",
        "Medians of repeated runs; each ratio is against a reference measured in the same run.", "",
        f"Machine: {os.cpu_count()} cores, {cpu}, Linux {platform.release()}; {time.strftime('%Y-%m-%d')}.",
        f"signet: `target/release/signet` as `make release` builds it ({linking}).",
        "`openssl speed -seconds 3` on this CPU (signs/s): " + ", ".join(
            f"{alg} {speed[alg]:,.0f}" for alg in ("RS256", "ES256", "EdDSA") if speed.get(alg)) + ".", "",
        "## Targets", "",
        "| target | this run | |", "|---|---|---|",
    ] + [f"| {t} | {v} | {'met' if ok else '**missed**'} |" for t, v, ok in targets] + [
        "",
        "## Whole commands", "",
        "| group | command | median | ratio to the trivial Rust binary |", "|---|---|---|---|",
    ]
    for g, label, med, ratio in rows:
        if med == 0.0:
            lines.append(f"| {g} | {label} | | |")
        else:
            lines.append(f"| {g} | {label} | {fmt_ms(med)} | {ratio:.2f}× |")
    lines += ["",
              f"64 `signet token` processes started at once with a cold cache: median {fmt_ms(conc_median)} for all of them, "
              f"{conc_requests} token request(s) at the issuer; budget 1.5 × (one cold fetch + 64 cache hits) = {fmt_ms(budget)} "
              f"({'met' if conc_median <= budget else 'missed'}).", "",
              f"Peak RSS: cache hit {rss_hit} KiB, cold fetch {rss_cold} KiB (`/usr/bin/time -v`).", "",
              "## In-process signing (signature only, key loaded once)", "",
              "| algorithm | signet signs/s (criterion median) | openssl speed -seconds 3 signs/s | ratio |", "|---|---|---|---|"]
    for alg, rate, ref, ratio in inproc:
        r = f"{rate:,.0f}" if rate else "n/a"
        o = f"{ref:,.0f}" if ref else "n/a"
        q = f"{ratio:.2f}×" if ratio else "n/a"
        lines.append(f"| {alg} | {r} | {o} | {q} |")
    lines += ["", "## RSA-2048 backends (criterion medians, µs)", "",
              "`signet` is what signet does on this CPU (AWS-LC's unblinded CRT with AVX-512 IFMA, *ring* without; "
              "src/key/rsa_crt.rs).", "",
              "| | ring | AWS-LC (aws-lc-rs) | signet |", "|---|---|---|---|"]
    cell = lambda v: f"{v:,.0f}" if v else "n/a"
    for group, title in (("rsa2048_one_shot", "parse PKCS#8 + first signature (what `signet assert` pays)"),
                         ("rsa2048_parse", "parse PKCS#8 (aws-lc-rs: with `RSA_check_key`)"),
                         ("rsa2048_signature_only", "one signature, key loaded once")):
        vals = {b: v for g, b, v in rsa if g == group}
        lines.append(f"| {title} | {cell(vals.get('ring'))} | {cell(vals.get('aws_lc'))} | {cell(vals.get('signet'))} |")
    steps = {b: v for g, b, v in rsa if g == "rsa2048_aws_lc_steps"}
    lines += ["", "AWS-LC's steps (aws-lc-sys): `RSA_check_key` alone " + cell(steps.get("check_key")) +
              " µs; the first signature of a freshly parsed key " + cell(steps.get("first_sign_blinded")) +
              " µs blinded, " + cell(steps.get("first_sign_unblinded")) + " µs unblinded."]
    lines += ["", "## jsonwebtoken's crypto backends (signs/s, ratio to `openssl speed`)", "",
              "`benches/backends`, built clean with each feature (`cargo build --release`, fat LTO, dependencies "
              "already fetched). `jsonwebtoken::encode` parses the key again for every signature; "
              "\"key loaded once\" is the backend's own signer, as signet holds it.", "",
              "| backend | clean build | encode RS256 | encode ES256 | encode EdDSA | once RS256 | once ES256 | once EdDSA |",
              "|---|---|---|---|---|---|---|---|"]
    for feature, built, res in backend_rows:
        cells = []
        for kind in ("jsonwebtoken_encode", "key_loaded_once"):
            for alg in ("RS256", "ES256", "EdDSA"):
                v, ref = res[kind][alg], speed.get(alg)
                cells.append(f"{v:,.0f} ({v / ref:.2f}×)" if ref else f"{v:,.0f}")
        lines.append(f"| {feature} | {int(built // 60)} min {built % 60:.0f} s | " + " | ".join(cells) + " |")
    if MISSING:
        lines += ["", "Not measured in this run (`make bench-peers` installs them): " + "; ".join(MISSING) + "."]
    lines += ["", "Commands: `make bench` = `cargo bench --bench signing`, `make release` (and a dynamic build kept as "
              "target/bench/signet-dynamic), then `python3 benches/commands.py`."]
    extra = ROOT / "docs/BENCHMARKS.notes.md"
    if extra.exists():
        lines += ["", extra.read_text().strip()]
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(OUT.read_text())
    print(f"== {cpu}; openssl speed rsa2048: " + (f"{speed['RS256']:,.0f} signs/s" if speed.get("RS256") else "n/a"))
    for t, v, ok in targets:
        print(f"{'met   ' if ok else 'MISSED'}  {t}: {v}")


if __name__ == "__main__":
    main()
