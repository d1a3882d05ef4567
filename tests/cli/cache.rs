use crate::common::*;
use serde_json::Value;
use signet::issuer::{Fault, Issuer};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

const KEY: &str = "p256.pkcs8.pem";

fn cmd(sb: &Sandbox, iss: &Issuer, extra: &[&str]) -> assert_cmd::Command {
    let mut c = sb.token_cmd(KEY, "ci", iss.token_url());
    c.args(["--scope", "api"]).args(extra);
    c
}

fn json_token(sb: &Sandbox, iss: &Issuer, extra: &[&str]) -> Value {
    let o = cmd(sb, iss, &[&["--format", "json"], extra].concat()).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

#[test]
fn thirty_two_cold_processes_send_one_request() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    // Slow the one request down so that every process is waiting on the lock while it runs.
    iss.push_faults([Fault::Delay(Duration::from_millis(500))]);
    let children: Vec<_> = (0..32)
        .map(|_| spawn(&cmd(&sb, &iss, &[]), std::process::Stdio::piped()))
        .collect();
    let outs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    for o in &outs {
        assert!(o.status.success(), "{}", stderr(o));
        // A wait that ends well is no warning (issue 20): 31 processes would print one each.
        assert!(!stderr(o).contains("waiting"), "{}", stderr(o));
    }
    let first = stdout(&outs[0]);
    assert!(outs.iter().all(|o| stdout(o) == first), "all 32 print the same token");
    assert_eq!(iss.request_count(), 1);
}

#[test]
fn second_call_is_a_hit_and_force_refresh_fetches_once() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let a = json_token(&sb, &iss, &[]);
    assert_eq!(a["cached"], false);
    let b = json_token(&sb, &iss, &[]);
    assert_eq!(b["cached"], true);
    assert_eq!(a["access_token"], b["access_token"]);
    assert_eq!(iss.request_count(), 1);
    let expires_in = b["expires_in"].as_u64().unwrap();
    assert!((290..=300).contains(&expires_in), "{expires_in}");
    assert!(b["expires_at"].as_str().unwrap().ends_with('Z'));
    let c = json_token(&sb, &iss, &["--force-refresh"]);
    assert_eq!(c["cached"], false);
    assert_eq!(iss.request_count(), 2);
    let d = json_token(&sb, &iss, &[]);
    assert_eq!(d["access_token"], c["access_token"], "the forced token was written");
}

#[test]
fn a_different_scope_is_a_different_entry() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    json_token(&sb, &iss, &[]);
    let o = sb
        .token_cmd(KEY, "ci", iss.token_url())
        .args(["--scope", "other"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(iss.request_count(), 2);
}

#[test]
fn entry_below_min_ttl_is_refetched() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    json_token(&sb, &iss, &[]);
    json_token(&sb, &iss, &["--min-ttl", "400"]);
    assert_eq!(iss.request_count(), 2);
}

#[test]
fn no_cache_skips_a_fresh_entry() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    json_token(&sb, &iss, &[]);
    let v = json_token(&sb, &iss, &["--no-cache"]);
    assert_eq!(v["cached"], false);
    assert_eq!(iss.request_count(), 2);
}

/// The issuer answers 503 to every request.
fn issuer_down(iss: &Issuer) {
    iss.push_faults((0..20).map(|_| Fault::Status {
        status: 503,
        body: "down".into(),
        content_type: "text/plain".into(),
        retry_after: None,
    }));
}

#[test]
fn failed_refresh_keeps_the_still_valid_token() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let first = json_token(&sb, &iss, &[]);
    let before = std::fs::read(entry_file(&sb)).unwrap();
    issuer_down(&iss);
    let o = cmd(&sb, &iss, &["--min-ttl", "400", "--timeout", "2"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), first["access_token"].as_str().unwrap());
    assert!(
        stderr(&o).contains("warning: refreshing the cached token failed"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(entry_file(&sb)).unwrap(), before, "the entry is kept");
}

#[test]
fn failed_forced_refresh_exits_5_and_keeps_the_entry() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    json_token(&sb, &iss, &[]);
    let before = std::fs::read(entry_file(&sb)).unwrap();
    issuer_down(&iss);
    let o = cmd(&sb, &iss, &["--force-refresh", "--timeout", "2"]).output().unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert_eq!(std::fs::read(entry_file(&sb)).unwrap(), before, "the entry is kept");
}

#[test]
fn killed_lock_holder_does_not_block_the_next_call() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    iss.push_faults([Fault::Delay(Duration::from_secs(20))]);
    let mut child = spawn(&cmd(&sb, &iss, &[]), std::process::Stdio::null());
    // wait until it holds the lock and its request is at the issuer
    for _ in 0..500 {
        if iss.request_count() == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(iss.request_count(), 1);
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    // with a 3 s limit: a stuck lock would make this exit 5
    let o = cmd(&sb, &iss, &["--timeout", "3"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_wait_is_a_warning_only_when_it_ends_in_the_lock_timeout() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    iss.push_faults([Fault::Delay(Duration::from_secs(3))]);
    let mut holder = spawn(&cmd(&sb, &iss, &[]), std::process::Stdio::null());
    assert!(wait_for(Duration::from_secs(5), || iss.request_count() == 1));
    // gives up after 1 s: the wait is the reason, so it is said
    let o = cmd(&sb, &iss, &["--timeout", "1"]).output().unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let err = stderr(&o);
    let warning = err
        .find("warning: another signet process is fetching this token")
        .expect(&err);
    assert!(warning < err.find("error: waited").expect(&err), "{err}");
    // waits until the holder is done: a debug line at -v, nothing without it
    let o = cmd(&sb, &iss, &["-v", "--timeout", "10"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    holder.wait().unwrap();
    assert!(
        stderr(&o).contains("another signet process is fetching"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("warning: another"), "{}", stderr(&o));
    assert_eq!(iss.request_count(), 1);
}

#[test]
fn corrupted_entry_is_a_miss_and_is_overwritten() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    json_token(&sb, &iss, &[]);
    let f = entry_file(&sb);
    for junk in [
        &b"{\"v\":1,\"access_tok"[..],
        b"\x00\xff garbage",
        br#"{"v":99,"access_token":"x","expires_at":99999999999}"#,
    ] {
        std::fs::write(&f, junk).unwrap();
        let v = json_token(&sb, &iss, &[]);
        assert_eq!(v["cached"], false);
        assert!(
            signet::cache::Entry::parse(&std::fs::read(&f).unwrap()).is_some(),
            "overwritten with a good entry"
        );
    }
}

#[test]
fn symlinked_or_group_writable_entries_are_not_trusted() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    json_token(&sb, &iss, &[]);
    let f = entry_file(&sb);
    // a symlink planted in place of the entry
    let target = sb.path().join("planted.json");
    std::fs::copy(&f, &target).unwrap();
    std::fs::remove_file(&f).unwrap();
    std::os::unix::fs::symlink(&target, &f).unwrap();
    let o = cmd(&sb, &iss, &[]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning:") && stderr(&o).contains("symbolic link"),
        "{}",
        stderr(&o)
    );
    assert_eq!(iss.request_count(), 2);
    assert!(
        std::fs::symlink_metadata(&f).unwrap().file_type().is_symlink(),
        "not replaced: a fetch, not written there"
    );
    std::fs::remove_file(&f).unwrap();
    // a group-writable entry
    json_token(&sb, &iss, &[]);
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o664)).unwrap();
    let o = cmd(&sb, &iss, &[]).output().unwrap();
    assert!(o.status.success());
    assert!(stderr(&o).contains("writable by group or others"), "{}", stderr(&o));
    assert_eq!(iss.request_count(), 4);
}

#[test]
fn folder_is_0700_and_entries_0600() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    json_token(&sb, &iss, &[]);
    let dir_mode = std::fs::metadata(sb.cache_dir()).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    let f = entry_file(&sb);
    assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600);
    // the entry names no secret in its file name and holds the token only
    assert!(!f.file_name().unwrap().to_string_lossy().contains("ci"));
}

#[test]
fn untrusted_cache_folder_is_not_used() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    std::fs::create_dir(sb.cache_dir()).unwrap();
    std::fs::set_permissions(sb.cache_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let o = cmd(&sb, &iss, &[]).output().unwrap();
    assert!(o.status.success());
    assert!(stderr(&o).contains("not trusted"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_dir(sb.cache_dir()).unwrap().count(),
        0,
        "nothing written there"
    );
}

#[test]
fn output_formats_parse() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let raw = stdout(&cmd(&sb, &iss, &[]).output().unwrap());
    assert!(raw.ends_with('\n') && raw.lines().count() == 1);
    let tok = raw.trim();
    let h = stdout(&cmd(&sb, &iss, &["--format", "header"]).output().unwrap());
    assert_eq!(h, format!("Authorization: Bearer {tok}\n"));
    let h = stdout(
        &cmd(
            &sb,
            &iss,
            &["--format", "header", "--header-name", "X-Tachyon-Authenticate"],
        )
        .output()
        .unwrap(),
    );
    assert_eq!(h, format!("X-Tachyon-Authenticate: {tok}\n"));
    let ec: Value = serde_json::from_str(&stdout(
        &cmd(&sb, &iss, &["--format", "exec-credential"]).output().unwrap(),
    ))
    .unwrap();
    assert_eq!(ec["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(ec["kind"], "ExecCredential");
    assert_eq!(ec["status"]["token"], tok);
    let ts = ec["status"]["expirationTimestamp"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).is_ok(),
        "{ts}"
    );
    let j: Value = serde_json::from_str(&stdout(&cmd(&sb, &iss, &["--format", "json"]).output().unwrap())).unwrap();
    for k in [
        "access_token",
        "token_type",
        "expires_in",
        "expires_at",
        "scope",
        "cached",
        "extra",
    ] {
        assert!(j.get(k).is_some(), "{k}");
    }
}

/// kubectl sets KUBERNETES_EXEC_INFO from the kubeconfig's exec.apiVersion and refuses an answer
/// in another version.
#[test]
fn exec_credential_answers_in_the_version_kubectl_asks_for() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let api = |info: &str| -> Value {
        let o = cmd(&sb, &iss, &["--format", "exec-credential"])
            .env("KUBERNETES_EXEC_INFO", info)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_str(&stdout(&o)).unwrap()
    };
    for version in ["v1beta1", "v1"] {
        let info = format!(
            r#"{{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/{version}","spec":{{"interactive":false}}}}"#
        );
        let ec = api(&info);
        assert_eq!(ec["apiVersion"], format!("client.authentication.k8s.io/{version}"));
        assert_eq!(ec["kind"], "ExecCredential");
        assert!(ec["status"]["token"].as_str().is_some_and(|t| !t.is_empty()));
    }
    // no apiVersion in it: v1
    assert_eq!(
        api(r#"{"kind":"ExecCredential"}"#)["apiVersion"],
        "client.authentication.k8s.io/v1"
    );
    // a version signet cannot answer in (v1alpha1 was removed in Kubernetes 1.24): exit 2, nothing fetched
    let before = iss.request_count();
    for info in [r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#, "not json"] {
        let o = cmd(&sb, &iss, &["--format", "exec-credential", "--no-cache"])
            .env("KUBERNETES_EXEC_INFO", info)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).starts_with("error: KUBERNETES_EXEC_INFO "), "{}", stderr(&o));
    }
    assert_eq!(iss.request_count(), before);
    // other formats do not look at it
    let o = cmd(&sb, &iss, &[])
        .env("KUBERNETES_EXEC_INFO", "not json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn github_actions_masks_the_token_first() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let o = cmd(&sb, &iss, &[]).env("GITHUB_ACTIONS", "true").output().unwrap();
    let tok = stdout(&o).trim().to_string();
    assert_eq!(stderr(&o), format!("::add-mask::{tok}\n"));
}

#[test]
fn exec_passes_env_and_exit_codes() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let tok = stdout(&cmd(&sb, &iss, &[]).output().unwrap()).trim().to_string();
    let base = [
        "exec",
        "--key",
        &fixture_str(KEY),
        "--client-id",
        "ci",
        "--token-url",
        iss.token_url(),
        "--scope",
        "api",
    ];
    let o = sb
        .signet()
        .args(base)
        .args([
            "--",
            "sh",
            "-c",
            "test \"$SIGNET_TOKEN\" = \"$1\" && exit 7",
            "sh",
            &tok,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let o = sb
        .signet()
        .args(base)
        .args(["--env", "API_TOKEN", "--", "sh", "-c", "printf %s \"$API_TOKEN\""])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), tok);
    let o = sb
        .signet()
        .args(base)
        .args(["--", "/nonexistent/command"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127));
    let o = sb
        .signet()
        .args(base)
        .args(["--", "sh", "-c", "kill -TERM $$"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(128 + 15));
}

/// Runs `signet exec` with a child that traps `trap` (a shell signal name), sends `sig` to
/// signet once the trap is installed, and checks the child got it (its trap exits 3).
fn assert_exec_forwards(trap: &str, sig: libc::c_int) {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let marker = sb.path().join("got-signal");
    // the child says when its trap is installed; signet watches signals before it starts the child
    let trapped = sb.path().join("trap-installed");
    let script = format!(
        "trap 'touch {}; exit 3' {trap}; touch {}; while true; do sleep 0.05; done",
        marker.display(),
        trapped.display()
    );
    let mut c = sb.signet();
    c.args([
        "exec",
        "--key",
        &fixture_str(KEY),
        "--client-id",
        "ci",
        "--token-url",
        iss.token_url(),
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let mut child = spawn(&c, std::process::Stdio::null());
    assert!(
        wait_for(Duration::from_secs(20), || trapped.exists()),
        "the child never installed its trap"
    );
    unsafe { libc::kill(child.id() as i32, sig) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "SIG{trap}");
    assert!(marker.exists(), "SIG{trap} was not forwarded");
}

#[test]
fn exec_forwards_sigterm_to_the_child() {
    assert_exec_forwards("TERM", libc::SIGTERM);
}

#[test]
fn exec_forwards_sighup_and_sigquit_to_the_child_instead_of_orphaning_it() {
    assert_exec_forwards("HUP", libc::SIGHUP);
    assert_exec_forwards("QUIT", libc::SIGQUIT);
}

#[test]
fn cache_list_names_the_identity_not_the_token() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let tok = json_token(&sb, &iss, &[])["access_token"].as_str().unwrap().to_string();
    let o = sb.signet().args(["cache", "list"]).output().unwrap();
    let out = stdout(&o);
    assert!(
        out.contains(iss.token_url()) && out.contains("ci") && out.contains("api"),
        "{out}"
    );
    assert!(!out.contains(&tok));
}

#[test]
fn cache_list_tells_entries_apart_by_grant_and_audience() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    json_token(&sb, &iss, &[]);
    iss.configure(|c| c.also_audiences.push("https://other.example.com/".into()));
    let o = cmd(
        &sb,
        &iss,
        &["--grant", "jwt-bearer", "--audience", "https://other.example.com/"],
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = sb.signet().args(["cache", "list"]).output().unwrap();
    let out = stdout(&o);
    assert!(
        out.lines().next().unwrap().contains("GRANT, TEMPLATE, AUDIENCE"),
        "{out}"
    );
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(
        rows.iter()
            .any(|r| r.contains("client-credentials") && !r.contains("aud ")),
        "{out}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("jwt-bearer, aud https://other.example.com/")),
        "{out}"
    );
}

#[test]
fn an_entry_written_before_the_labels_is_listed_with_a_dash() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    json_token(&sb, &iss, &[]);
    let f = entry_file(&sb);
    let mut v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
    assert_eq!(v["grant"], "client-credentials", "{v}");
    for k in ["grant", "audience", "template"] {
        v.as_object_mut().unwrap().remove(k);
    }
    std::fs::write(&f, v.to_string()).unwrap();
    assert_eq!(
        json_token(&sb, &iss, &[])["cached"],
        true,
        "still read: the format is the same"
    );
    let o = sb.signet().args(["cache", "list"]).output().unwrap();
    assert!(stdout(&o).lines().nth(1).unwrap().contains(" -  "), "{}", stdout(&o));
}

#[test]
fn cache_path_prints_the_cache_folder() {
    let sb = Sandbox::new();
    let o = sb.signet().args(["cache", "path"]).output().unwrap();
    assert_eq!(stdout(&o).trim(), sb.cache_dir().to_str().unwrap());
}

#[test]
fn cache_clear_removes_the_matching_entries_only() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    json_token(&sb, &iss, &[]);
    let o = sb
        .signet()
        .args(["cache", "clear", "--client-id", "someone-else"])
        .output()
        .unwrap();
    assert!(stdout(&o).contains("removed 0"));
    assert_eq!(
        json_token(&sb, &iss, &[])["cached"],
        true,
        "another client's clear kept it"
    );
    let o = sb.signet().args(["cache", "clear"]).output().unwrap();
    assert!(stdout(&o).contains("removed 1"), "{}", stdout(&o));
    assert_eq!(json_token(&sb, &iss, &[])["cached"], false);
}

/// A hit reads no passphrase file: it is gone by the second call, which still answers from the
/// cache; a call that must sign again then says which setting names the file it could not read
/// (not its path, which may be a mistyped passphrase).
#[test]
fn a_hit_reads_no_passphrase_file() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", "p256.pkcs8.pem", None);
    let key = sb.copy("p256.enc.pem", 0o600);
    let pass = sb.copy("passphrase.txt", 0o600);
    let run = |extra: &[&str]| {
        sb.signet()
            .args(["token", "--key"])
            .arg(&key)
            .arg("--key-passphrase-file")
            .arg(&pass)
            .args(["--client-id", "ci", "--token-url", iss.token_url()])
            .args(extra)
            .output()
            .unwrap()
    };
    let first = run(&[]);
    assert!(first.status.success(), "{}", stderr(&first));
    std::fs::remove_file(&pass).unwrap();
    let hit = run(&[]);
    assert!(hit.status.success(), "{}", stderr(&hit));
    assert_eq!(stdout(&hit), stdout(&first));
    assert_eq!(iss.request_count(), 1);
    let signs = run(&["--no-cache"]);
    assert_eq!(signs.status.code(), Some(2), "{}", stderr(&signs));
    let err = stderr(&signs);
    assert!(
        err.contains("cannot read the file given by --key-passphrase-file"),
        "{err}"
    );
    assert!(!err.contains("passphrase.txt"), "{err}");
}

#[test]
fn a_world_readable_entry_is_tightened_with_a_warning() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    json_token(&sb, &iss, &[]);
    let f = entry_file(&sb);
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = cmd(&sb, &iss, &[]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("readable by group or others (mode 644)") && stderr(&o).contains("now 600"),
        "{}",
        stderr(&o)
    );
    assert_eq!(iss.request_count(), 1, "still a hit");
    assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600);
    // Once tightened, no warning.
    let o = cmd(&sb, &iss, &[]).output().unwrap();
    assert!(!stderr(&o).contains("readable"), "{}", stderr(&o));
    // `cache list` reads every entry: it tightens one too, and says so.
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
    let o = sb.signet().args(["cache", "list"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("readable by group or others (mode 640)") && stderr(&o).contains("now 600"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn an_entry_copied_under_another_identitys_name_is_a_miss() {
    let sb = Sandbox::new();
    let iss = issuer_trusting("ci", KEY, None);
    let a = json_token(&sb, &iss, &[]);
    let a_file = entry_file(&sb);
    let b = json_token(&sb, &iss, &["--scope", "other"]);
    assert_eq!(iss.request_count(), 2);
    let b_file = std::fs::read_dir(sb.cache_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "json") && *p != a_file)
        .unwrap();
    // A's entry planted under B's name: B must not get A's token.
    std::fs::copy(&a_file, &b_file).unwrap();
    let o = cmd(&sb, &iss, &["--scope", "other", "--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).matches("written for another identity").count(),
        1,
        "{}",
        stderr(&o)
    );
    let again: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(iss.request_count(), 3, "a miss and a fetch");
    assert_ne!(again["access_token"], a["access_token"]);
    assert_eq!(again["cached"], false, "{again}");
    let _ = b;
    // The fetch rewrote B's entry for B: a hit from now on.
    let o = cmd(&sb, &iss, &["--scope", "other", "--format", "json", "-v"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["cached"], true, "{}", stderr(&o));
}
