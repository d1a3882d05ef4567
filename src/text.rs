//! Text helpers every layer uses: making server and user text safe to print, and short reasons
//! for I/O errors. They live here, below every other module, so that no layer imports another
//! just for a string function.

/// Makes server text safe to print on one line: no control characters or escape sequences,
/// whitespace folded, at most `max` characters.
///
/// ```
/// assert_eq!(signet::text::sanitize("bad\x1b[31m\nthing", 80), "bad[31m thing");
/// ```
pub fn sanitize(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut last_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            if !last_space && !out.is_empty() {
                out.push(' ');
            }
            last_space = true;
        } else if c.is_control() || ('\u{200B}'..='\u{200F}').contains(&c) || ('\u{202A}'..='\u{202E}').contains(&c) {
            continue;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    let out = out.trim_end().to_string();
    if out.chars().count() > max {
        let cut: String = out.chars().take(max).collect();
        format!("{cut}…")
    } else {
        out
    }
}

/// A short, lower-case description of an I/O error (no paths: the caller names the file).
pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        // signet's own reasons (crate::files) are already worded for the user.
        _ if e.get_ref().is_some_and(|r| r.is::<crate::files::Refused>()) => e.to_string(),
        _ => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_lowercase()
        }
    }
}

/// Replaces anything that looks like a JWT with `[jwt]`, so a server echoing the assertion
/// cannot make signet print it.
pub fn redact_jwts(s: &str) -> String {
    s.split_inclusive(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .map(|w| {
            let core = w.trim_end_matches(|c: char| c.is_whitespace() || c == '"' || c == '\'');
            if core.starts_with("eyJ") && core.matches('.').count() >= 2 {
                w.replacen(core, "[jwt]", 1)
            } else {
                w.to_string()
            }
        })
        .collect()
}

/// The shortest run of a secret that [`redact_secrets`] replaces.
pub const MIN_SECRET_RUN: usize = 16;

/// Replaces every JWT-shaped run and every run of at least [`MIN_SECRET_RUN`] characters that
/// also occurs in one of `secrets` (an assertion sent, a token received) with `[redacted]`, so a
/// server echoing an assertion whole, split or truncated cannot make signet print it.
///
/// ```
/// let a = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjIn0.c2lnbmF0dXJlc2lnbmF0dXJl".to_string();
/// let s = signet::text::redact_secrets("bad: JzdWIiOiJjIn0.c2lnbmF0dXJl…", &[a]);
/// assert_eq!(s, "bad: [redacted]…");
/// ```
pub fn redact_secrets(s: &str, secrets: &[String]) -> String {
    let s = redact_jwts(s);
    let chars: Vec<char> = s.chars().collect();
    let secrets: Vec<Vec<char>> = secrets
        .iter()
        .filter(|x| x.chars().count() >= MIN_SECRET_RUN)
        .map(|x| x.chars().collect())
        .collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let mut longest = 0;
        for sec in &secrets {
            for j in 0..sec.len() {
                let n = chars[i..].iter().zip(&sec[j..]).take_while(|(a, b)| a == b).count();
                longest = longest.max(n);
            }
        }
        if longest >= MIN_SECRET_RUN {
            out.push_str("[redacted]");
            i += longest;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The JWT-shaped runs (`eyJ…` with two dots, of JWT characters) in `s`: the assertions in a
/// request body or header.
pub fn jwt_runs(s: &str) -> Vec<String> {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .filter(|w| w.starts_with("eyJ") && w.matches('.').count() >= 2)
        .map(String::from)
        .collect()
}

/// "s" unless `n` is one, for counts in messages.
pub fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
