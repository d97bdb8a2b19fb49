//! The build context: which files a COPY source names, minus `.dockerignore`.

use std::path::{Path, PathBuf};

/// `.dockerignore` rules: glob patterns relative to the context, `!` to re-include; the last
/// matching rule wins; a pattern matching a directory matches everything under it.
#[derive(Debug, Default)]
pub(crate) struct Ignore {
    rules: Vec<(bool, Vec<String>)>,
}

impl Ignore {
    pub(crate) fn load(context: &Path) -> Ignore {
        let text = std::fs::read_to_string(context.join(".dockerignore")).unwrap_or_default();
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (keep, pattern) = match l.strip_prefix('!') {
                    Some(p) => (true, p),
                    None => (false, l),
                };
                (keep, components(pattern.trim_start_matches('/')))
            })
            .collect();
        Ignore { rules }
    }

    pub(crate) fn ignored(&self, relative: &str) -> bool {
        let path = components(relative);
        let mut ignored = false;
        for (keep, pattern) in &self.rules {
            let matches = (1..=path.len()).any(|n| matches_components(pattern, &path[..n]));
            if matches {
                ignored = !keep;
            }
        }
        ignored
    }
}

fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .map(str::to_string)
        .collect()
}

fn matches_components(pattern: &[String], path: &[String]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(p), _) if p == "**" => {
            matches_components(&pattern[1..], path)
                || (!path.is_empty() && matches_components(pattern, &path[1..]))
        }
        (Some(p), Some(c)) => glob_match(p, c) && matches_components(&pattern[1..], &path[1..]),
        _ => false,
    }
}

/// `*` and `?` within one path component.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The context paths a COPY source names: a file, a directory, or a glob in its last component.
/// Sources may not leave the context, and ignored files are not in it: an ignored file named
/// outright is "not found", and a glob does not match it (Docker's rules).
pub(crate) fn expand_source(
    context: &Path,
    ignore: &Ignore,
    source: &str,
) -> Result<Vec<PathBuf>, String> {
    let relative = components(source);
    if relative.iter().any(|c| c == "..") {
        return Err(format!("COPY source {source:?} leaves the build context"));
    }
    let Some((last, parents)) = relative.split_last() else {
        return Ok(vec![PathBuf::new()]);
    };
    let dir: PathBuf = parents.iter().collect();
    let not_found = || format!("COPY source {source:?} does not exist in the build context");
    if !last.contains(['*', '?']) {
        let path = dir.join(last);
        if ignore.ignored(&path.to_string_lossy()) {
            return Err(format!("{} (it is excluded by .dockerignore)", not_found()));
        }
        return match context.join(&path).symlink_metadata() {
            Ok(_) => Ok(vec![path]),
            Err(_) => Err(not_found()),
        };
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(context.join(&dir))
        .map_err(|e| format!("COPY source {source:?}: {e}"))?
        .flatten()
        .filter(|e| glob_match(last, &e.file_name().to_string_lossy()))
        .map(|e| dir.join(e.file_name()))
        .filter(|path| !ignore.ignored(&path.to_string_lossy()))
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(format!(
            "COPY source {source:?} matches no file in the build context"
        ));
    }
    Ok(found)
}

/// What the context path `relative` really is, with symlinks on its way (and itself)
/// followed, as a path relative to the context. A source that resolves outside the context is
/// refused: building an untrusted repository must not copy the host's files into the image.
/// A source that resolves to an ignored file is not in the context either.
pub(crate) fn resolve_in_context(
    context: &Path,
    ignore: &Ignore,
    relative: &Path,
) -> Result<PathBuf, String> {
    let shown = relative.display();
    let context = context
        .canonicalize()
        .map_err(|e| format!("build context {}: {e}", context.display()))?;
    let resolved = context.join(relative).canonicalize().map_err(|_| {
        format!("COPY source {shown:?} is a symlink to nothing in the build context")
    })?;
    let inside = resolved.strip_prefix(&context).map_err(|_| {
        format!(
            "COPY source {shown:?} is a symlink to {}, outside the build context; \
             copy the file into the context instead",
            resolved.display()
        )
    })?;
    if ignore.ignored(&inside.to_string_lossy()) {
        return Err(format!(
            "COPY source {shown:?} is a symlink to {}, which .dockerignore excludes",
            inside.display()
        ));
    }
    Ok(inside.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.wasm", "app.wasm"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("*.wasm", "app.wat"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn dockerignore_rules() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join(".dockerignore"),
            "# c\ntarget\n*.md\n!README.md\n**/*.tmp\n",
        )
        .unwrap();
        let ignore = Ignore::load(tmp.path());
        assert!(ignore.ignored("target/debug/x"));
        assert!(ignore.ignored("notes.md"));
        assert!(!ignore.ignored("README.md"));
        assert!(ignore.ignored("a/b/c.tmp"));
        assert!(!ignore.ignored("app.wasm"));
    }
}
