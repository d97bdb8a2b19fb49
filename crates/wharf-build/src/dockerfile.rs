//! Parsing a Dockerfile into instructions, with `ARG`/`ENV` substitution done.
//!
//! What a Wasm image cannot do is refused with a line number and what to do instead: `RUN` (there
//! is no shell or OS in the image), shell-form `ENTRYPOINT`/`CMD` (no shell to run them), and
//! instructions that only make sense for Linux containers.

use std::collections::BTreeMap;

/// One instruction, after variable substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// `FROM scratch`, another Wasm image or an earlier stage, `AS name` starting a stage.
    From {
        /// `scratch`, an image of the store, or an earlier stage's name.
        image: String,
        /// The stage's name (`AS name`), for `COPY --from=name`.
        stage: Option<String>,
    },
    /// `COPY`/`ADD` of files (globs allowed in sources) to `dest`.
    Copy {
        /// Paths or globs relative to the build context, or to the root of `from`.
        sources: Vec<String>,
        /// Destination in the image.
        dest: String,
        /// `--from=`: an earlier stage (by name or index) or an image of the store; `None`
        /// copies from the build context.
        from: Option<String>,
    },
    /// `ENTRYPOINT` (exec form).
    Entrypoint(Vec<String>),
    /// `CMD` (exec form).
    Cmd(Vec<String>),
    /// `ENV`, one or more pairs.
    Env(Vec<(String, String)>),
    /// `WORKDIR`, absolute (relative ones are resolved against the previous one).
    Workdir(String),
    /// `LABEL`, one or more pairs.
    Label(Vec<(String, String)>),
    /// `EXPOSE`, as `PORT[/PROTO]` strings.
    Expose(Vec<String>),
}

impl std::fmt::Display for Instruction {
    /// The instruction as a Dockerfile line (values substituted), as build progress shows it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let json = |argv: &[String]| serde_json::to_string(argv).expect("JSON");
        let pairs = |pairs: &[(String, String)]| {
            let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.join(" ")
        };
        match self {
            Instruction::From { image, stage: None } => write!(f, "FROM {image}"),
            Instruction::From {
                image,
                stage: Some(stage),
            } => write!(f, "FROM {image} AS {stage}"),
            Instruction::Copy {
                sources,
                dest,
                from,
            } => {
                let from = from
                    .as_ref()
                    .map(|f| format!("--from={f} "))
                    .unwrap_or_default();
                write!(f, "COPY {from}{} {dest}", sources.join(" "))
            }
            Instruction::Entrypoint(argv) => write!(f, "ENTRYPOINT {}", json(argv)),
            Instruction::Cmd(argv) => write!(f, "CMD {}", json(argv)),
            Instruction::Env(env) => write!(f, "ENV {}", pairs(env)),
            Instruction::Workdir(dir) => write!(f, "WORKDIR {dir}"),
            Instruction::Label(labels) => write!(f, "LABEL {}", pairs(labels)),
            Instruction::Expose(ports) => write!(f, "EXPOSE {}", ports.join(" ")),
        }
    }
}

/// A Dockerfile mistake, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Dockerfile:{line}: {message}")]
pub struct ParseError {
    /// 1-based line of the instruction.
    pub line: usize,
    /// What is wrong and what to do.
    pub message: String,
}

/// Parses `text`; `build_args` are `--build-arg` values, which override `ARG` defaults.
pub fn parse(
    text: &str,
    build_args: &BTreeMap<String, String>,
) -> Result<Vec<Instruction>, ParseError> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut workdir = String::from("/");
    let mut out = Vec::new();
    for (line, raw) in logical_lines(text) {
        let err = |message: String| ParseError { line, message };
        let (keyword, rest) = match raw.split_once(char::is_whitespace) {
            Some((k, r)) => (k.to_ascii_uppercase(), r.trim()),
            None => (raw.to_ascii_uppercase(), ""),
        };
        if out.is_empty() && !matches!(keyword.as_str(), "FROM" | "ARG") {
            return Err(err(format!(
                "{keyword} before FROM: a Dockerfile starts with FROM (use FROM scratch)"
            )));
        }
        let subst = |s: &str| substitute(s, &vars).map_err(err);
        match keyword.as_str() {
            "FROM" => {
                let mut words: Vec<&str> = rest.split_whitespace().collect();
                if let Some(platform) = words.first().and_then(|w| w.strip_prefix("--platform=")) {
                    let os = platform.split('/').next().unwrap_or("");
                    if !matches!(os, "wasi" | "wasip1" | "wasip2") && !platform.starts_with('$') {
                        return Err(err(format!("FROM --platform={platform}: a Wasm image's platform is wasi/wasm")));
                    }
                    words.remove(0);
                }
                let (image, stage) = match words.as_slice() {
                    [image] => (subst(image)?, None),
                    [image, as_, name] if as_.eq_ignore_ascii_case("as") => {
                        (subst(image)?, Some(name.to_ascii_lowercase()))
                    }
                    _ => return Err(err("FROM takes one image and an optional AS name, e.g. FROM scratch AS app".into())),
                };
                let taken = out.iter().any(|i| matches!(i, Instruction::From { stage: Some(s), .. } if Some(s) == stage.as_ref()));
                if taken {
                    return Err(err(format!("stage name {:?} is used twice", stage.unwrap_or_default())));
                }
                // Each stage starts in `/` again, as a fresh image.
                workdir = String::from("/");
                out.push(Instruction::From { image, stage });
            }
            "ARG" => {
                let (name, default) = match rest.split_once('=') {
                    Some((n, d)) => (n.trim(), Some(unquote(d.trim()))),
                    None => (rest, None),
                };
                if name.is_empty() || name.contains(char::is_whitespace) {
                    return Err(err("ARG takes NAME or NAME=default".into()));
                }
                if let Some(value) = build_args.get(name).cloned().or(default) {
                    vars.entry(name.to_string()).or_insert(value);
                }
            }
            "COPY" | "ADD" => {
                let mut words: Vec<String> = split_words(rest).map_err(err)?;
                let from = words.iter().find_map(|w| w.strip_prefix("--from=")).map(str::to_string);
                if from.is_some() && keyword == "ADD" {
                    return Err(err("ADD --from is not a Dockerfile form: use COPY --from".into()));
                }
                words.retain(|w| !w.starts_with("--from="));
                words.retain(|w| {
                    // --chown and --chmod are accepted: WASI has no file owners, and modes do not
                    // reach the guest.
                    !(w.starts_with("--chown=") || w.starts_with("--chmod=") || w == "--link")
                });
                if let Some(flag) = words.iter().find(|w| w.starts_with("--")) {
                    return Err(err(format!("{keyword} {flag} is not supported (only --from, --chown and --chmod are)")));
                }
                if words.iter().any(|w| w.contains("://")) {
                    return Err(err(format!("{keyword} from a URL is not supported: download the file into the build context")));
                }
                if words.len() < 2 {
                    return Err(err(format!("{keyword} needs at least one source and a destination")));
                }
                let words = words.iter().map(|w| subst(w)).collect::<Result<Vec<_>, _>>()?;
                let (dest, sources) = words.split_last().expect("two or more");
                let from = from.map(|f| subst(&f)).transpose()?;
                out.push(Instruction::Copy { sources: sources.to_vec(), dest: resolve(&workdir, dest), from });
            }
            "ENTRYPOINT" | "CMD" => {
                let argv = exec_form(rest).map_err(|why| {
                    err(format!(
                        "{keyword} must use the exec form, e.g. {keyword} [\"/app.wasm\", \"--flag\"]: a Wasm image has no shell to run {why}"
                    ))
                })?;
                let argv = argv.iter().map(|a| subst(a)).collect::<Result<Vec<_>, _>>()?;
                out.push(if keyword == "CMD" { Instruction::Cmd(argv) } else { Instruction::Entrypoint(argv) });
            }
            "ENV" | "LABEL" => {
                let pairs = key_values(rest, keyword == "ENV").map_err(err)?;
                let pairs = pairs
                    .into_iter()
                    .map(|(k, v)| Ok((k, subst(&v)?)))
                    .collect::<Result<Vec<_>, ParseError>>()?;
                if keyword == "ENV" {
                    for (k, v) in &pairs {
                        vars.insert(k.clone(), v.clone());
                    }
                    out.push(Instruction::Env(pairs));
                } else {
                    out.push(Instruction::Label(pairs));
                }
            }
            "WORKDIR" => {
                if rest.is_empty() {
                    return Err(err("WORKDIR needs a path".into()));
                }
                workdir = resolve(&workdir, &subst(&unquote(rest))?);
                out.push(Instruction::Workdir(workdir.clone()));
            }
            "EXPOSE" => {
                let ports = rest.split_whitespace().map(subst).collect::<Result<Vec<_>, _>>()?;
                for port in &ports {
                    let (number, proto) = port.split_once('/').unwrap_or((port, "tcp"));
                    if number.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp") {
                        return Err(err(format!("EXPOSE {port}: use PORT or PORT/tcp|udp")));
                    }
                }
                out.push(Instruction::Expose(ports));
            }
            "RUN" => {
                return Err(err(
                    "RUN cannot work in a Wasm image: there is no shell or OS inside to run commands. Build the .wasm before `wharf build` and COPY it in".into(),
                ))
            }
            "USER" | "VOLUME" | "HEALTHCHECK" | "SHELL" | "STOPSIGNAL" | "ONBUILD" | "MAINTAINER" => {
                return Err(err(format!("{keyword} is not supported for Wasm images")))
            }
            other => return Err(err(format!("unknown instruction {other}"))),
        }
    }
    if out.is_empty() {
        return Err(ParseError {
            line: 1,
            message: "the Dockerfile has no FROM".into(),
        });
    }
    Ok(out)
}

/// Joins `\`-continued lines, drops comments and blank lines; yields each instruction with the
/// line it starts on.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_none()) {
            continue;
        }
        let (start, mut joined) = current.take().unwrap_or((index + 1, String::new()));
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                joined.push_str(part);
                joined.push(' ');
                current = Some((start, joined));
            }
            None => {
                joined.push_str(trimmed);
                lines.push((start, joined.trim().to_string()));
            }
        }
    }
    if let Some((start, joined)) = current {
        lines.push((start, joined.trim().to_string()));
    }
    lines
}

/// Replaces `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alt}`; `\$` is a literal `$`.
fn substitute(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'$') => {
                out.push('$');
                chars.next();
            }
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let mut inner = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => inner.push(c),
                        None => return Err(format!("unterminated ${{ in {text:?}")),
                    }
                }
                let value = match inner.split_once(":-") {
                    Some((name, default)) => vars
                        .get(name)
                        .filter(|v| !v.is_empty())
                        .cloned()
                        .unwrap_or(default.to_string()),
                    None => match inner.split_once(":+") {
                        Some((name, alt)) => vars
                            .get(name)
                            .filter(|v| !v.is_empty())
                            .map(|_| alt.to_string())
                            .unwrap_or_default(),
                        None => vars.get(&inner).cloned().unwrap_or_default(),
                    },
                };
                out.push_str(&value);
            }
            '$' if chars
                .peek()
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_') =>
            {
                let mut name = String::new();
                while let Some(c) = chars
                    .peek()
                    .filter(|c| c.is_ascii_alphanumeric() || **c == '_')
                {
                    name.push(*c);
                    chars.next();
                }
                out.push_str(vars.get(&name).map(String::as_str).unwrap_or(""));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The JSON array of an exec-form instruction; the error describes what was given instead.
fn exec_form(rest: &str) -> Result<Vec<String>, String> {
    if !rest.starts_with('[') {
        return Err(format!("the shell form `{rest}`"));
    }
    serde_json::from_str::<Vec<String>>(rest)
        .map_err(|e| format!("`{rest}` (it is not a JSON array of strings: {e})"))
}

/// Splits on whitespace, honouring double quotes.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    if text.starts_with('[') {
        return serde_json::from_str(text).map_err(|e| format!("not a JSON array of strings: {e}"));
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if quoted {
        return Err(format!("unterminated quote in {text:?}"));
    }
    if !word.is_empty() {
        words.push(word);
    }
    Ok(words)
}

/// `K=V K2="v 2"`, or for ENV the legacy `K value with spaces`.
fn key_values(text: &str, legacy_allowed: bool) -> Result<Vec<(String, String)>, String> {
    let words = split_words(text)?;
    if words.is_empty() {
        return Err("expected KEY=VALUE".into());
    }
    if !words[0].contains('=') {
        if legacy_allowed && words.len() >= 2 {
            let value = text[words[0].len()..].trim().to_string();
            return Ok(vec![(words[0].clone(), unquote(&value))]);
        }
        return Err(format!("expected KEY=VALUE, got {:?}", words[0]));
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("expected KEY=VALUE, got {w:?}")),
        })
        .collect()
}

fn unquote(text: &str) -> String {
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
        .to_string()
}

/// Resolves an image path against the working directory, as Docker does for COPY and WORKDIR.
fn resolve(workdir: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{workdir}/{path}")
    };
    let trailing = path.ends_with('/') || path == ".";
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut resolved = format!("/{}", parts.join("/"));
    if trailing && resolved != "/" {
        resolved.push('/');
    }
    resolved
}

#[cfg(test)]
mod tests;
