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

/// "s" unless `n` is one, for counts in messages.
pub fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
