//! curl's own arguments (those after `--` in `signet curl`), read the way curl reads them, for
//! two things: the method curl will send (the DPoP proof's `htm`), and what would send the token
//! somewhere signet has not checked. curl sends its `-H` headers to every URL among its
//! arguments and custom ones through redirects to any host, so a URL argument must pass the same
//! check as `--url`, and the options that add requests, read more options from elsewhere, or
//! send plain http somewhere else than its URL names are refused.
//!
//! Reading them as curl does needs curl's options and which take a value ([`OPTIONS`]): a value
//! is never a URL, and anything else that is not an option is. Long options are matched as curl
//! matches them, ignoring case and by any unambiguous start of the name (`--location-t` is
//! `--location-trusted`). An option signet does not know (from a newer curl) is taken to have no
//! value, so that its value, if it has one, is checked as a URL: a refusal, never a token sent
//! unchecked.

use std::ffi::OsString;

/// What signet reads of curl's arguments.
#[derive(Debug, Default, PartialEq)]
pub struct Seen {
    /// The last `-X`/`--request`.
    request: Option<String>,
    head: bool,
    get: bool,
    /// The last `-T`/`--upload-file`.
    upload: Option<String>,
    data: bool,
    /// `-L`/`--location` (undone by `--no-location`): curl follows redirects.
    pub location: bool,
}

impl Seen {
    /// The URL curl requests for `url`: with `-T FILE` and a URL with no file part (its path ends
    /// in `/`), curl appends FILE's name, percent-encoded but for unreserved characters (stdin,
    /// `-` or `.`, has no name). The DPoP proof's `htu` must be that URL.
    pub fn request_url(&self, url: &str) -> String {
        let Some(file) = self.upload.as_deref().filter(|f| !matches!(*f, "-" | ".")) else {
            return url.to_string();
        };
        let name = file.rsplit('/').next().unwrap_or(file);
        let Ok(mut u) = url::Url::parse(url) else {
            return url.to_string();
        };
        if name.is_empty() || !u.path().ends_with('/') {
            return url.to_string();
        }
        let mut path = u.path().to_string();
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                path.push(b as char);
            } else {
                path.push_str(&format!("%{b:02X}"));
            }
        }
        u.set_path(&path);
        u.to_string()
    }

    /// The method curl sends, as it picks it: `-X` wins wherever it is; then `-I`, an upload
    /// (`-T`), data made part of a GET's URL by `-G`, data (POST).
    pub fn method(&self) -> String {
        if let Some(m) = &self.request {
            return m.clone();
        }
        match () {
            _ if self.head => "HEAD",
            _ if self.upload.is_some() => "PUT",
            _ if self.get => "GET",
            _ if self.data => "POST",
            _ => "GET",
        }
        .into()
    }
}

/// Options that send data, and so make curl POST.
const DATA: &[&str] = &[
    "data",
    "data-ascii",
    "data-binary",
    "data-raw",
    "data-urlencode",
    "form",
    "form-string",
    "json",
];

/// Options that send a plain-http request somewhere other than the host its URL names.
const ELSEWHERE: &[&str] = &[
    "proxy",
    "preproxy",
    "proxy1.0",
    "socks4",
    "socks4a",
    "socks5",
    "socks5-hostname",
    "connect-to",
    "resolve",
];

/// Reads curl's arguments. `url_is_http`: signet's `--url` is plain http (to a loopback host), so
/// options that would take that request elsewhere are refused as well. `check_url` is the check
/// `--url` passed. The error says which argument and why.
pub fn read(args: &[OsString], url_is_http: bool, check_url: impl Fn(&str) -> bool) -> Result<Seen, String> {
    let mut seen = Seen::default();
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = it.next() {
        let refuse = |why: &str| format!("curl's argument {} {why}", signet::text::sanitize(&a, 100));
        if a == "--" {
            return Err(refuse(
                "would end curl's options, making signet's own --url a second URL: leave it out",
            ));
        }
        let (name, value) = if let Some(long) = a.strip_prefix("--") {
            let lower = long.to_ascii_lowercase();
            match long_option(&lower) {
                Some((name, takes, negated)) => {
                    if negated {
                        if name == "location" {
                            seen.location = false;
                        }
                        continue;
                    }
                    (name, if takes { it.next() } else { None })
                }
                // Unknown, or ambiguous (curl then refuses to run): no value assumed.
                None => continue,
            }
        } else if let Some(cluster) = a.strip_prefix('-').filter(|c| !c.is_empty()) {
            let mut last = None;
            for (i, b) in cluster.bytes().enumerate() {
                let Some(&(name, _, takes)) = OPTIONS.iter().find(|o| o.1 == Some(b)) else {
                    break; // curl refuses an unknown short option
                };
                if takes {
                    let rest = &cluster[i + 1..];
                    let v = if rest.is_empty() {
                        it.next()
                    } else {
                        Some(rest.to_string())
                    };
                    last = Some((name, v));
                    break;
                }
                apply(&mut seen, name, None, url_is_http).map_err(|why| refuse(&why))?;
            }
            match last {
                Some((name, v)) => (name, v),
                None => continue,
            }
        } else {
            // Not an option or a value: curl fetches it as a URL, with signet's header.
            if !check_url(&a) {
                return Err(refuse(
                    "is a URL that would get the token too, and not one signet may send it to (https, or http to a loopback host, written in full): leave it out",
                ));
            }
            continue;
        };
        apply(&mut seen, name, value, url_is_http).map_err(|why| refuse(&why))?;
    }
    Ok(seen)
}

/// What an option means for the token and the method.
fn apply(seen: &mut Seen, name: &str, value: Option<String>, url_is_http: bool) -> Result<(), String> {
    match name {
        "url" | "next" => return Err("would send the token to another request: give the one URL with signet curl --url".into()),
        "config" => return Err("would read more of curl's options from a file signet cannot check: give them here".into()),
        "location-trusted" => {
            return Err("would send the token to any host a redirect names: leave it out (curl's -L keeps Authorization to the first host)".into())
        }
        "location" => seen.location = true,
        "request" => seen.request = value,
        "head" => seen.head = true,
        "get" => seen.get = true,
        "upload-file" => seen.upload = value,
        n if DATA.contains(&n) => seen.data = true,
        n if url_is_http && ELSEWHERE.contains(&n) => {
            return Err("would send the plain-http request, and its token, to another host: use https".into())
        }
        _ => {}
    }
    Ok(())
}

/// A long option as curl matches it: its full name, whether it takes a value, and whether it is
/// the `--no-` form of a flag. The exact name first, then the one name it is the start of.
fn long_option(given: &str) -> Option<(&'static str, bool, bool)> {
    if let Some(&(name, _, takes)) = OPTIONS.iter().find(|o| o.0 == given) {
        return Some((name, takes, false));
    }
    if let Some(flag) = given.strip_prefix("no-") {
        if let Some(&(name, _, false)) = OPTIONS.iter().find(|o| o.0 == flag) {
            return Some((name, false, true));
        }
    }
    let mut starts = OPTIONS.iter().filter(|o| o.0.starts_with(given));
    match (starts.next(), starts.next()) {
        (Some(&(name, _, takes)), None) if !given.is_empty() => Some((name, takes, false)),
        _ => None,
    }
}

/// curl's options, as curl 7.88's `curl --help all` lists them: long name, short letter, whether
/// it takes a value. A test compares it with the installed curl.
pub const OPTIONS: &[(&str, Option<u8>, bool)] = &[
    ("abstract-unix-socket", None, true),
    ("alt-svc", None, true),
    ("anyauth", None, false),
    ("append", Some(b'a'), false),
    ("aws-sigv4", None, true),
    ("basic", None, false),
    ("cacert", None, true),
    ("capath", None, true),
    ("cert", Some(b'E'), true),
    ("cert-status", None, false),
    ("cert-type", None, true),
    ("ciphers", None, true),
    ("compressed", None, false),
    ("compressed-ssh", None, false),
    ("config", Some(b'K'), true),
    ("connect-timeout", None, true),
    ("connect-to", None, true),
    ("continue-at", Some(b'C'), true),
    ("cookie", Some(b'b'), true),
    ("cookie-jar", Some(b'c'), true),
    ("create-dirs", None, false),
    ("create-file-mode", None, true),
    ("crlf", None, false),
    ("crlfile", None, true),
    ("curves", None, true),
    ("data", Some(b'd'), true),
    ("data-ascii", None, true),
    ("data-binary", None, true),
    ("data-raw", None, true),
    ("data-urlencode", None, true),
    ("delegation", None, true),
    ("digest", None, false),
    ("disable", Some(b'q'), false),
    ("disable-eprt", None, false),
    ("disable-epsv", None, false),
    ("disallow-username-in-url", None, false),
    ("dns-interface", None, true),
    ("dns-ipv4-addr", None, true),
    ("dns-ipv6-addr", None, true),
    ("dns-servers", None, true),
    ("doh-cert-status", None, false),
    ("doh-insecure", None, false),
    ("doh-url", None, true),
    ("dump-header", Some(b'D'), true),
    ("egd-file", None, true),
    ("engine", None, true),
    ("etag-compare", None, true),
    ("etag-save", None, true),
    ("expect100-timeout", None, true),
    ("fail", Some(b'f'), false),
    ("fail-early", None, false),
    ("fail-with-body", None, false),
    ("false-start", None, false),
    ("form", Some(b'F'), true),
    ("form-escape", None, false),
    ("form-string", None, true),
    ("ftp-account", None, true),
    ("ftp-alternative-to-user", None, true),
    ("ftp-create-dirs", None, false),
    ("ftp-method", None, true),
    ("ftp-pasv", None, false),
    ("ftp-port", Some(b'P'), true),
    ("ftp-pret", None, false),
    ("ftp-skip-pasv-ip", None, false),
    ("ftp-ssl-ccc", None, false),
    ("ftp-ssl-ccc-mode", None, true),
    ("ftp-ssl-control", None, false),
    ("get", Some(b'G'), false),
    ("globoff", Some(b'g'), false),
    ("happy-eyeballs-timeout-ms", None, true),
    ("haproxy-protocol", None, false),
    ("head", Some(b'I'), false),
    ("header", Some(b'H'), true),
    ("help", Some(b'h'), true),
    ("hostpubmd5", None, true),
    ("hostpubsha256", None, true),
    ("hsts", None, true),
    ("http0.9", None, false),
    ("http1.0", Some(b'0'), false),
    ("http1.1", None, false),
    ("http2", None, false),
    ("http2-prior-knowledge", None, false),
    ("http3", None, false),
    ("http3-only", None, false),
    ("ignore-content-length", None, false),
    ("include", Some(b'i'), false),
    ("insecure", Some(b'k'), false),
    ("interface", None, true),
    ("ipv4", Some(b'4'), false),
    ("ipv6", Some(b'6'), false),
    ("json", None, true),
    ("junk-session-cookies", Some(b'j'), false),
    ("keepalive-time", None, true),
    ("key", None, true),
    ("key-type", None, true),
    ("krb", None, true),
    ("libcurl", None, true),
    ("limit-rate", None, true),
    ("list-only", Some(b'l'), false),
    ("local-port", None, true),
    ("location", Some(b'L'), false),
    ("location-trusted", None, false),
    ("login-options", None, true),
    ("mail-auth", None, true),
    ("mail-from", None, true),
    ("mail-rcpt", None, true),
    ("mail-rcpt-allowfails", None, false),
    ("manual", Some(b'M'), false),
    ("max-filesize", None, true),
    ("max-redirs", None, true),
    ("max-time", Some(b'm'), true),
    ("metalink", None, false),
    ("negotiate", None, false),
    ("netrc", Some(b'n'), false),
    ("netrc-file", None, true),
    ("netrc-optional", None, false),
    ("next", Some(b':'), false),
    ("no-alpn", None, false),
    ("no-buffer", Some(b'N'), false),
    ("no-clobber", None, false),
    ("no-keepalive", None, false),
    ("no-npn", None, false),
    ("no-progress-meter", None, false),
    ("no-sessionid", None, false),
    ("noproxy", None, true),
    ("ntlm", None, false),
    ("ntlm-wb", None, false),
    ("oauth2-bearer", None, true),
    ("output", Some(b'o'), true),
    ("output-dir", None, true),
    ("parallel", Some(b'Z'), false),
    ("parallel-immediate", None, false),
    ("parallel-max", None, true),
    ("pass", None, true),
    ("path-as-is", None, false),
    ("pinnedpubkey", None, true),
    ("post301", None, false),
    ("post302", None, false),
    ("post303", None, false),
    ("preproxy", None, true),
    ("progress-bar", Some(b'#'), false),
    ("proto", None, true),
    ("proto-default", None, true),
    ("proto-redir", None, true),
    ("proxy", Some(b'x'), true),
    ("proxy-anyauth", None, false),
    ("proxy-basic", None, false),
    ("proxy-cacert", None, true),
    ("proxy-capath", None, true),
    ("proxy-cert", None, true),
    ("proxy-cert-type", None, true),
    ("proxy-ciphers", None, true),
    ("proxy-crlfile", None, true),
    ("proxy-digest", None, false),
    ("proxy-header", None, true),
    ("proxy-insecure", None, false),
    ("proxy-key", None, true),
    ("proxy-key-type", None, true),
    ("proxy-negotiate", None, false),
    ("proxy-ntlm", None, false),
    ("proxy-pass", None, true),
    ("proxy-pinnedpubkey", None, true),
    ("proxy-service-name", None, true),
    ("proxy-ssl-allow-beast", None, false),
    ("proxy-ssl-auto-client-cert", None, false),
    ("proxy-tls13-ciphers", None, true),
    ("proxy-tlsauthtype", None, true),
    ("proxy-tlspassword", None, true),
    ("proxy-tlsuser", None, true),
    ("proxy-tlsv1", None, false),
    ("proxy-user", Some(b'U'), true),
    ("proxy1.0", None, true),
    ("proxytunnel", Some(b'p'), false),
    ("pubkey", None, true),
    ("quote", Some(b'Q'), true),
    ("random-file", None, true),
    ("range", Some(b'r'), true),
    ("rate", None, true),
    ("raw", None, false),
    ("referer", Some(b'e'), true),
    ("remote-header-name", Some(b'J'), false),
    ("remote-name", Some(b'O'), false),
    ("remote-name-all", None, false),
    ("remote-time", Some(b'R'), false),
    ("remove-on-error", None, false),
    ("request", Some(b'X'), true),
    ("request-target", None, true),
    ("resolve", None, true),
    ("retry", None, true),
    ("retry-all-errors", None, false),
    ("retry-connrefused", None, false),
    ("retry-delay", None, true),
    ("retry-max-time", None, true),
    ("sasl-authzid", None, true),
    ("sasl-ir", None, false),
    ("service-name", None, true),
    ("show-error", Some(b'S'), false),
    ("silent", Some(b's'), false),
    ("socks4", None, true),
    ("socks4a", None, true),
    ("socks5", None, true),
    ("socks5-basic", None, false),
    ("socks5-gssapi", None, false),
    ("socks5-gssapi-nec", None, false),
    ("socks5-gssapi-service", None, true),
    ("socks5-hostname", None, true),
    ("speed-limit", Some(b'Y'), true),
    ("speed-time", Some(b'y'), true),
    ("ssl", None, false),
    ("ssl-allow-beast", None, false),
    ("ssl-auto-client-cert", None, false),
    ("ssl-no-revoke", None, false),
    ("ssl-reqd", None, false),
    ("ssl-revoke-best-effort", None, false),
    ("sslv2", Some(b'2'), false),
    ("sslv3", Some(b'3'), false),
    ("stderr", None, true),
    ("styled-output", None, false),
    ("suppress-connect-headers", None, false),
    ("tcp-fastopen", None, false),
    ("tcp-nodelay", None, false),
    ("telnet-option", Some(b't'), true),
    ("tftp-blksize", None, true),
    ("tftp-no-options", None, false),
    ("time-cond", Some(b'z'), true),
    ("tls-max", None, true),
    ("tls13-ciphers", None, true),
    ("tlsauthtype", None, true),
    ("tlspassword", None, true),
    ("tlsuser", None, true),
    ("tlsv1", Some(b'1'), false),
    ("tlsv1.0", None, false),
    ("tlsv1.1", None, false),
    ("tlsv1.2", None, false),
    ("tlsv1.3", None, false),
    ("tr-encoding", None, false),
    ("trace", None, true),
    ("trace-ascii", None, true),
    ("trace-time", None, false),
    ("unix-socket", None, true),
    ("upload-file", Some(b'T'), true),
    ("url", None, true),
    ("url-query", None, true),
    ("use-ascii", Some(b'B'), false),
    ("user", Some(b'u'), true),
    ("user-agent", Some(b'A'), true),
    ("verbose", Some(b'v'), false),
    ("version", Some(b'V'), false),
    ("write-out", Some(b'w'), true),
    ("xattr", None, false),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn read_args(a: &[&str], http: bool) -> Result<Seen, String> {
        let strict = |u: &str| u.starts_with("https://") || u.starts_with("http://127.0.0.1");
        read(&a.iter().map(OsString::from).collect::<Vec<_>>(), http, strict)
    }

    #[test]
    fn the_table_reads_options_as_the_installed_curl_does() {
        let help = std::process::Command::new("curl")
            .args(["--help", "all"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&help.stdout);
        let mut n = 0;
        for line in help.lines() {
            let Some(i) = line.find("--") else { continue };
            if !line[..i].trim().is_empty() && !line.trim_start().starts_with('-') {
                continue;
            }
            let rest = &line[i + 2..];
            let name = rest.split(' ').next().unwrap();
            let takes = rest[name.len()..].starts_with(" <") || rest[name.len()..].starts_with(" [");
            let short = line
                .trim_start()
                .strip_prefix('-')
                .filter(|_| !line.trim_start().starts_with("--"))
                .map(|s| s.as_bytes()[0]);
            // An option of a newer curl signet does not know is read as one without a value (its
            // value, if any, is then checked as a URL: a refusal at worst); one it knows must be
            // read as this curl reads it.
            if let Some(known) = OPTIONS.iter().find(|o| o.0 == name) {
                assert_eq!(*known, (name, short, takes), "curl's --{name} is read otherwise");
                n += 1;
            }
        }
        assert!(n > 200, "{n} of signet's options found in curl --help all");
    }

    #[test]
    fn the_method_is_the_one_curl_sends() {
        // What curl 7.88 sends (`-w '%{method}'`) for each.
        for (args, method) in [
            (&[][..], "GET"),
            (&["-s", "-d", "x=1"], "POST"),
            (&["--data-raw", "x"], "POST"),
            (&["-d", "x", "-X", "PUT"], "PUT"),
            (&["-X", "PUT", "-d", "x"], "PUT"),
            (&["-XDELETE"], "DELETE"),
            (&["-I"], "HEAD"),
            (&["-T", "f"], "PUT"),
            (&["-G", "-d", "q=1"], "GET"),
            (&["-G", "-T", "f"], "PUT"),
            (&["-I", "-G", "-d", "x"], "HEAD"),
            (&["-sX", "PUT"], "PUT"),
            (&["-sXPATCH"], "PATCH"),
            (&["-sI"], "HEAD"),
            (&["-dx=1"], "POST"),
            (&["-sGd", "q=1"], "GET"),
            (&["--ge", "-d", "x"], "GET"),
            (&["--js", "{}"], "POST"),
            (&["--upload-f", "f"], "PUT"),
            (&["--REQUEST", "PUT"], "PUT"),
            (&["--DATA", "x"], "POST"),
            (&["--Head"], "HEAD"),
            (&["--form-escape"], "GET"),
            // A value is never read as an option: -o's file, -H's header.
            (&["-o", "-X", "-H", "X-I: 1"], "GET"),
            (&["-oX"], "GET"),
        ] {
            assert_eq!(read_args(args, false).unwrap().method(), method, "{args:?}");
        }
    }

    #[test]
    fn an_upload_to_a_folder_url_names_the_file() {
        let url = |args: &[&str], u: &str| read_args(args, false).unwrap().request_url(u);
        assert_eq!(
            url(&["-T", "dir/report 1.csv"], "https://api.example.com/up/"),
            "https://api.example.com/up/report%201.csv"
        );
        assert_eq!(
            url(&["-T", "a.txt"], "https://api.example.com"),
            "https://api.example.com/a.txt"
        );
        assert_eq!(
            url(&["-T", "a.txt"], "https://api.example.com/up/?v=1"),
            "https://api.example.com/up/a.txt?v=1"
        );
        assert_eq!(
            url(&["-T", "a.txt"], "https://api.example.com/up/b.txt"),
            "https://api.example.com/up/b.txt"
        );
        assert_eq!(
            url(&["-T", "-"], "https://api.example.com/up/"),
            "https://api.example.com/up/"
        );
        assert_eq!(url(&[], "https://api.example.com/up/"), "https://api.example.com/up/");
    }

    #[test]
    fn what_would_send_the_token_elsewhere_is_refused() {
        for (args, http) in [
            (&["-s", "http://evil.example.com/x"][..], false),
            (&["evil.example.com/noscheme"], false),
            (&["evil.example.com:80/x"], false),
            (&["{http://evil.example.com,https://127.0.0.1}/glob"], false),
            (&["--url", "https://api.example.com/"], false),
            (&["--URL", "evil.example.com"], false),
            (&["--next"], false),
            (&["--nex"], false),
            (&["-:"], false),
            (&["-s:"], false),
            (&["--location-trusted"], false),
            (&["--location-t"], false),
            (&["--LOCATION-TRUSTED"], false),
            (&["-K", "k.cfg"], false),
            (&["-sK", "k.cfg"], false),
            (&["--config", "k.cfg"], false),
            (&["--"], false),
            (&["--form-escape", "http://10.1.2.3/"], false),
            (&["--connect-to", "127.0.0.1:80:10.0.0.1:80"], true),
            (&["--resolve", "localhost:80:10.0.0.1"], true),
            (&["-x", "http://proxy.example.com:3128"], true),
        ] {
            let e = read_args(args, http).unwrap_err();
            assert!(e.starts_with("curl's argument"), "{args:?}: {e}");
        }
        for (args, http) in [
            (&["-s", "-o", "/dev/null"][..], false),
            (&["https://api.example.com/other"], false),
            (&["-x", "http://proxy.example.com:3128"], false),
            (&["--proxy1.0", "http://proxy:3128"], false),
            (&["--socks5-hostname", "socks5h://p:1080"], false),
            (&["--output", "http://weird"], false),
            (&["-H", "X-Note: see http://example.com/"], false),
            (&["-w", "%{url}"], false),
            (&["--data", "@file.json"], false),
            (&["-L"], false),
        ] {
            assert!(read_args(args, http).is_ok(), "{args:?}");
        }
        assert!(read_args(&["-sL"], false).unwrap().location);
        assert!(!read_args(&["-L", "--no-location"], false).unwrap().location);
    }
}
