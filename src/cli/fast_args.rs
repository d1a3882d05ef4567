//! The command lines a program runs once per API call — `signet token …`, `signet dpop proof …`,
//! `signet curl …` and `signet assert …` — read without building clap's command.
//!
//! A cache hit costs little more than a process start, and clap building even `token` alone (its
//! ~45 option definitions, then the parse) was half of a hit's instructions and a fifth of its
//! page faults (callgrind and `perf record -e page-faults`, docs/BENCHMARKS.md). So the plainest
//! lines are read here, into the same structs clap's derive fills: long options as `--name VALUE`,
//! `--name=VALUE` or `--flag`, and the global `-q`/`-v`/`-vv`. Anything else — help, `--version`,
//! `--` (but for curl's arguments after it), an unknown, misspelt or repeated option, a missing or empty value, a value that starts
//! with `-`, a positional argument, a value that is not UTF-8 — is `None`, and clap reads the line
//! again, so every message and every help text is clap's. The tests hold this reader to clap's
//! reading of every option of these commands, so an option added to the structs and not here
//! fails them instead of quietly taking the slow path.

use super::args::{
    AssertArgs, Cli, Command, CurlArgs, DpopCommand, DpopProofArgs, ExchangeArgs, GlobalArgs, SigningArgs, TokenArgs,
};
use super::output::Format;
use std::ffi::OsString;
use std::path::PathBuf;

/// The line read as clap would read it, or `None` for clap to read.
pub fn parse(args: &[OsString]) -> Option<Cli> {
    // What follows `--` is curl's (`last = true`): taken as it is, not read.
    let cut = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let after_dashes = args.get(cut + 1..);
    let mut words = Vec::with_capacity(cut);
    for a in args.get(1..cut)? {
        words.push(a.to_str()?);
    }
    let mut global = GlobalArgs {
        verbose: 0,
        quiet: false,
        config: None,
        profile: None,
    };
    let mut it = words.into_iter();
    // Global options, then the command's name.
    let name = loop {
        let w = it.next()?;
        if !w.starts_with('-') {
            break w;
        }
        let (opt, inline) = split(w)?;
        global_slot(&mut global, opt)?.set(inline, &mut it)?;
    };
    let mut cmd = match name {
        "token" => Hot::Token(TokenArgs {
            signing: SigningArgs::default(),
            exchange: ExchangeArgs::default(),
            format: None,
            header_name: None,
            dry_run: false,
        }),
        "assert" => Hot::Assert(AssertArgs {
            signing: SigningArgs::default(),
            exchange: ExchangeArgs::default(),
        }),
        "curl" => Hot::Curl(CurlArgs {
            signing: SigningArgs::default(),
            exchange: ExchangeArgs::default(),
            url: String::new(),
            request: None,
            header_name: None,
            dry_run: false,
            curl_args: after_dashes.map(<[OsString]>::to_vec).unwrap_or_default(),
        }),
        "dpop" => match it.next()? {
            "proof" => Hot::Proof(DpopProofArgs {
                signing: SigningArgs::default(),
                exchange: ExchangeArgs::default(),
                method: String::new(),
                url: String::new(),
                nonce: None,
            }),
            _ => return None,
        },
        _ => return None,
    };
    let counted_before = global.verbose;
    if after_dashes.is_some() && !matches!(cmd, Hot::Curl(_)) {
        return None;
    }
    // The command's options, with the global ones among them.
    let mut format: Option<&str> = None;
    let (mut method, mut url) = (None::<String>, None::<String>);
    while let Some(w) = it.next() {
        let (opt, inline) = split(w)?;
        if let Some(slot) = global_slot(&mut global, opt) {
            // clap keeps the count of the deepest level it appears at, not the sum.
            if matches!(slot, Slot::Count(..)) && counted_before > 0 {
                return None;
            }
            slot.set(inline, &mut it)?;
            continue;
        }
        let slot = match (&mut cmd, opt) {
            (Hot::Token(_), "--format") => Slot::Borrowed(&mut format),
            (Hot::Token(t), "--header-name") => Slot::Str(&mut t.header_name),
            (Hot::Token(t), "--dry-run") => Slot::Flag(&mut t.dry_run),
            (Hot::Proof(_), "--method") => Slot::Str(&mut method),
            (Hot::Proof(_), "--url") => Slot::Str(&mut url),
            (Hot::Proof(p), "--nonce") => Slot::Str(&mut p.nonce),
            (Hot::Curl(_), "--url") => Slot::Str(&mut url),
            (Hot::Curl(c), "--request") => Slot::Str(&mut c.request),
            (Hot::Curl(c), "--header-name") => Slot::Str(&mut c.header_name),
            (Hot::Curl(c), "--dry-run") => Slot::Flag(&mut c.dry_run),
            (c, opt) => {
                let (s, x) = c.shared();
                shared_slot(s, x, opt)?
            }
        };
        slot.set(inline, &mut it)?;
    }
    let command = match cmd {
        Hot::Token(mut t) => {
            if let Some(f) = format {
                t.format = Some(<Format as clap::ValueEnum>::from_str(f, false).ok()?);
            }
            Command::Token(t)
        }
        Hot::Assert(a) => Command::Assert(a),
        Hot::Proof(mut p) => {
            // Both are required: without one, clap says so.
            p.method = method?;
            p.url = url?;
            Command::Dpop(DpopCommand::Proof(p))
        }
        Hot::Curl(mut c) => {
            c.url = url?;
            Command::Curl(c)
        }
    };
    Some(Cli { global, command })
}

/// `signet --version` (or `-V`) alone: clap's text without building clap's whole command, which
/// was most of its cost (1.34× the trivial binary in make bench). Anything more goes to clap.
pub fn version(args: &[OsString]) -> Option<&'static str> {
    match args {
        [_, v] if v == "--version" || v == "-V" => Some(concat!("signet ", env!("CARGO_PKG_VERSION"), "\n")),
        _ => None,
    }
}

/// The commands read here.
enum Hot {
    Token(TokenArgs),
    Assert(AssertArgs),
    Proof(DpopProofArgs),
    Curl(CurlArgs),
}

impl Hot {
    fn shared(&mut self) -> (&mut SigningArgs, &mut ExchangeArgs) {
        match self {
            Hot::Token(t) => (&mut t.signing, &mut t.exchange),
            Hot::Assert(a) => (&mut a.signing, &mut a.exchange),
            Hot::Proof(p) => (&mut p.signing, &mut p.exchange),
            Hot::Curl(c) => (&mut c.signing, &mut c.exchange),
        }
    }
}

/// Where an option's value goes, and so what it takes: a value once, values any number of
/// times, or none.
enum Slot<'a, 'w> {
    Str(&'a mut Option<String>),
    Borrowed(&'a mut Option<&'w str>),
    Path(&'a mut Option<PathBuf>),
    Strs(&'a mut Vec<String>),
    Paths(&'a mut Vec<PathBuf>),
    Flag(&'a mut bool),
    /// `-v`, `-vv`, `--verbose`: the count and how much this word adds to it.
    Count(&'a mut u8, u8),
}

impl<'w> Slot<'_, 'w> {
    /// Takes the option's value (inline after `=`, else the next word), or `None` where clap
    /// would refuse the line or read it another way.
    fn set(self, inline: Option<&'w str>, rest: &mut impl Iterator<Item = &'w str>) -> Option<()> {
        let mut value = || -> Option<&'w str> {
            let v = match inline {
                Some(v) => v,
                None => rest.next()?,
            };
            (!v.is_empty() && !v.starts_with('-')).then_some(v)
        };
        match self {
            Slot::Str(s) if s.is_none() => *s = Some(value()?.to_string()),
            Slot::Borrowed(s) if s.is_none() => *s = Some(value()?),
            Slot::Path(p) if p.is_none() => *p = Some(PathBuf::from(value()?)),
            Slot::Strs(v) => v.push(value()?.to_string()),
            Slot::Paths(v) => v.push(PathBuf::from(value()?)),
            Slot::Flag(b) if !*b && inline.is_none() => *b = true,
            Slot::Count(n, more) if inline.is_none() => *n = n.checked_add(more)?,
            // Given twice (clap: "cannot be used multiple times"), or a flag given a value.
            _ => return None,
        }
        Some(())
    }
}

/// `--name=value` as the option and its value; `None` for a word that is not a long option
/// (or the short `-q`, `-v`, `-vv`…, which [`global_slot`] knows).
fn split(w: &str) -> Option<(&str, Option<&str>)> {
    if w.starts_with("--") && w.len() > 2 {
        return Some(match w.split_once('=') {
            Some((o, v)) => (o, Some(v)),
            None => (w, None),
        });
    }
    let short = w.strip_prefix('-')?;
    (short == "q" || (!short.is_empty() && short.bytes().all(|b| b == b'v'))).then_some((w, None))
}

fn global_slot<'a, 'w>(g: &'a mut GlobalArgs, opt: &str) -> Option<Slot<'a, 'w>> {
    Some(match opt {
        "--verbose" => Slot::Count(&mut g.verbose, 1),
        // `split` lets through only `-v`, `-vv`, … among short words.
        o if o.starts_with("-v") => Slot::Count(&mut g.verbose, u8::try_from(o.len() - 1).ok()?),
        "--quiet" | "-q" => Slot::Flag(&mut g.quiet),
        "--config" => Slot::Path(&mut g.config),
        "--profile" => Slot::Str(&mut g.profile),
        _ => return None,
    })
}

/// The options `token`, `assert` and `dpop proof` share (their flattened structs).
fn shared_slot<'a, 'w>(s: &'a mut SigningArgs, x: &'a mut ExchangeArgs, opt: &str) -> Option<Slot<'a, 'w>> {
    Some(match opt {
        "--key" => Slot::Strs(&mut s.key),
        "--key-passphrase-file" => Slot::Path(&mut s.key_passphrase_file),
        "--cert" => Slot::Paths(&mut s.cert),
        "--kid" => Slot::Str(&mut s.kid),
        "--kid-from" => Slot::Str(&mut s.kid_from),
        "--x5t" => Slot::Flag(&mut s.x5t),
        "--x5t-s256" => Slot::Flag(&mut s.x5t_s256),
        "--x5c" => Slot::Flag(&mut s.x5c),
        "--alg" => Slot::Str(&mut s.alg),
        "--client-id" => Slot::Str(&mut s.client_id),
        "--issuer" => Slot::Str(&mut s.issuer),
        "--subject" => Slot::Str(&mut s.subject),
        "--audience" => Slot::Str(&mut s.audience),
        "--lifetime" => Slot::Str(&mut s.lifetime),
        "--claim" => Slot::Strs(&mut s.claim),
        "--no-nbf" => Slot::Flag(&mut s.no_nbf),
        "--warn-expiry" => Slot::Str(&mut s.warn_expiry),
        "--template" => Slot::Str(&mut s.template),
        "--var" => Slot::Strs(&mut s.var),
        "--assertion-file" => Slot::Path(&mut s.assertion_file),
        "--assertion-from" => Slot::Str(&mut s.assertion_from),
        "--assertion-env" => Slot::Str(&mut s.assertion_env),
        "--token-url" => Slot::Str(&mut x.token_url),
        "--grant" => Slot::Str(&mut x.grant),
        "--scope" => Slot::Strs(&mut x.scope),
        "--param" => Slot::Strs(&mut x.param),
        "--token-path" => Slot::Str(&mut x.token_path),
        "--request-header" => Slot::Strs(&mut x.request_header),
        "--default-ttl" => Slot::Str(&mut x.default_ttl),
        "--timeout" => Slot::Str(&mut x.timeout),
        "--retries" => Slot::Str(&mut x.retries),
        "--ca-file" => Slot::Path(&mut x.ca_file),
        "--dpop" => Slot::Flag(&mut x.dpop),
        "--dpop-key" => Slot::Path(&mut x.dpop_key),
        "--mtls" => Slot::Flag(&mut x.mtls),
        "--client-auth" => Slot::Str(&mut x.client_auth),
        "--cache-dir" => Slot::Path(&mut x.cache_dir),
        "--cache-url" => Slot::Str(&mut x.cache_url),
        "--cache-key-file" => Slot::Path(&mut x.cache_key_file),
        "--no-cache" => Slot::Flag(&mut x.no_cache),
        "--force-refresh" => Slot::Flag(&mut x.force_refresh),
        "--min-ttl" => Slot::Str(&mut x.min_ttl),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::FromArgMatches;

    fn words(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    /// What clap's whole command makes of the line (the struct, or its error's text).
    fn clap_reads(args: &[OsString]) -> Result<String, String> {
        super::super::args::command()
            .try_get_matches_from(args)
            .and_then(|m| Cli::from_arg_matches(&m))
            .map(|c| format!("{c:?}"))
            .map_err(|e| e.to_string())
    }

    fn same_as_clap(args: &[OsString]) {
        let fast = parse(args).unwrap_or_else(|| panic!("left to clap: {args:?}"));
        assert_eq!(Ok(format!("{fast:?}")), clap_reads(args), "{args:?}");
    }

    /// Every option of `token`, `assert` and `dpop proof`, as clap's command lists them, in each
    /// form this reader takes: read here, and read as clap reads it.
    #[test]
    fn every_option_is_read_as_clap_reads_it() {
        let mut root = super::super::args::command();
        root.build();
        let proof = root
            .find_subcommand("dpop")
            .unwrap()
            .find_subcommand("proof")
            .unwrap()
            .clone();
        let subs = [
            ("token", root.find_subcommand("token").unwrap().clone()),
            ("assert", root.find_subcommand("assert").unwrap().clone()),
            ("dpop proof --method GET --url https://api.example/x", proof),
            (
                "curl --url https://api.example/x",
                root.find_subcommand("curl").unwrap().clone(),
            ),
        ];
        let mut seen = 0;
        for (prefix, sub) in &subs {
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                // The global options are in every command once built; they are tried below.
                if matches!(long, "help" | "version") || arg.is_positional() || arg.is_global_set() {
                    continue;
                }
                if prefix.contains(&format!("--{long} ")) {
                    continue;
                }
                let takes = arg.get_action().takes_values();
                let value = arg
                    .get_possible_values()
                    .first()
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_else(|| format!("v-{long}"));
                let mut lines = vec![];
                if takes {
                    lines.push(format!("signet {prefix} --{long} {value}"));
                    lines.push(format!("signet {prefix} --{long}={value}"));
                    lines.push(format!("signet --quiet {prefix} --{long} {value} -vv"));
                    if matches!(arg.get_action(), clap::ArgAction::Append) {
                        lines.push(format!("signet {prefix} --{long} a=1 --{long} b=2"));
                    }
                } else {
                    lines.push(format!("signet {prefix} --{long}"));
                    lines.push(format!("signet -q {prefix} --{long} --verbose"));
                }
                for line in lines {
                    same_as_clap(&words(&line));
                }
                seen += 1;
            }
        }
        // token's own options and the ~42 shared ones, four times over.
        assert!(seen > 160, "{seen}");
    }

    #[test]
    fn lines_programs_run_are_read_here() {
        for line in [
            "signet token --key k.pem --client-id c --token-url http://127.0.0.1:1/t --scope a --scope b -q",
            "signet -v --profile p token --format json --no-cache",
            "signet --config=c.toml -vv assert --key k --claim a=1 --claim b=2 --x5t",
            "signet --config c.toml assert --alg ES256 --lifetime 60 --key=k=v",
            "signet dpop proof --method GET --url https://api.example/x --key k --dpop-key d --nonce n",
            "signet token --key k --key k2 --cert c --cert c2 --format exec-credential",
            "signet -vvv --verbose token",
            "signet token",
            "signet curl --url https://api.example/x --key k -- -s -o /dev/null --url http://elsewhere/ -- -v",
            "signet curl --request POST --url https://api.example/x --",
            "signet -q curl --url=https://api.example/x --dry-run --header-name jde-AIS-Auth",
            "signet token --config c.toml --profile=p --quiet -v",
            "signet --profile p --config=c.toml token --verbose -vv",
        ] {
            same_as_clap(&words(line));
        }
    }

    #[test]
    fn the_version_is_clap_s() {
        for v in ["--version", "-V"] {
            assert_eq!(
                version(&words(&format!("signet {v}"))),
                Some(super::super::args::command().render_version().as_str())
            );
        }
        assert_eq!(version(&words("signet --version token")), None);
        assert_eq!(version(&words("signet token --version")), None);
    }

    /// Lines this reader leaves to clap, which then gives its help, its version or its error.
    #[test]
    fn the_rest_is_left_to_clap() {
        for line in [
            "signet",
            "signet --help",
            "signet token --help",
            "signet token -h",
            "signet --version",
            "signet -V token",
            "signet token --no-such-flag",
            "signet token --key",
            "signet token --kid a --kid b",
            "signet token --no-cache --no-cache",
            "signet token --no-cache=true",
            "signet token --kid -x",
            "signet token --kid=-x",
            "signet token --kid=",
            "signet token --format nope",
            "signet token --format JSON",
            "signet token extra",
            "signet token -- x",
            "signet token -qv",
            "signet token -k k",
            "signet -q -q token",
            "signet -v token -v",
            "signet --verbose token --verbose",
            "signet -vv curl --url https://api.example/x -v -- -v",
            "signet -q token --quiet",
            "signet --config a token --config b",
            "signet tokn --key k",
            "signet dpop",
            "signet dpop prof",
            "signet dpop proof --url https://api.example/x",
            "signet dpop proof --method GET",
            "signet assert --format json",
            "signet assert --dry-run",
            "signet exec --key k -- true",
            "signet cache list",
            "signet curl --key k",
            "signet curl --url https://api.example/x -s",
            "signet curl --url https://api.example/x --url https://api.example/y",
            "signet token --key k -- x",
        ] {
            let args = words(line);
            assert!(parse(&args).is_none(), "read here: {line}");
        }
        let mut bad = words("signet token --key");
        bad.push(std::os::unix::ffi::OsStringExt::from_vec(b"\xffk".to_vec()));
        assert!(parse(&bad).is_none());
        // curl's own arguments are passed on as they are, not read.
        let mut curl = words("signet curl --url https://api.example/x --");
        curl.push(std::os::unix::ffi::OsStringExt::from_vec(b"-d\xff".to_vec()));
        same_as_clap(&curl);
    }
}
