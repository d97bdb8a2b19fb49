//! Image references with Docker's rules: `hello` means `docker.io/library/hello:latest`,
//! `host:port/repo:tag` and `repo@sha256:...` work as `docker pull` reads them.

use std::fmt;

/// The registry a reference without one points at.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// A parsed, normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host (and port), e.g. `docker.io` or `127.0.0.1:5000`.
    pub registry: String,
    /// Repository path, e.g. `library/hello`.
    pub repository: String,
    /// Tag; `latest` when neither a tag nor a digest was given.
    pub tag: Option<String>,
    /// `sha256:` digest, when pinned.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `text` as Docker does. The error says what is wrong.
    pub fn parse(text: &str) -> Result<Reference, String> {
        let bad = |why: &str| format!("invalid reference {text:?}: {why}");
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                let hex = digest
                    .strip_prefix("sha256:")
                    .ok_or_else(|| bad("digests must be sha256:<64 hex digits>"))?;
                if hex.len() != 64
                    || !hex
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                {
                    return Err(bad("digests must be sha256:<64 hex digits>"));
                }
                (rest, Some(digest.to_string()))
            }
            None => (text, None),
        };
        // A tag is a ':' after the last '/', so that `host:5000/repo` is not read as a tag.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            let valid = !tag.is_empty()
                && tag.len() <= 128
                && tag
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !valid {
                return Err(bad("tags are up to 128 letters, digits, '_', '.' and '-'"));
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
        };
        let registry = if registry == "index.docker.io" {
            DEFAULT_REGISTRY.to_string()
        } else {
            registry
        };
        let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if repository.is_empty() || !repository.split('/').all(valid_path_component) {
            return Err(bad("repository names are lowercase letters, digits and separators ('.', '_', '__', '-')"));
        }
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_string()),
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`, the name tags are grouped under.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// `name:tag` as Docker shows it (`app:1`, `localhost:5000/team/app:latest`): the
    /// familiar name and the tag (`latest` for a reference without one).
    pub fn familiar_tag(&self) -> String {
        format!(
            "{}:{}",
            self.familiar_name(),
            self.tag.as_deref().unwrap_or("latest")
        )
    }

    /// The short form Docker shows: without `docker.io/` and `library/`.
    pub fn familiar_name(&self) -> String {
        if self.registry != DEFAULT_REGISTRY {
            return self.name();
        }
        self.repository
            .strip_prefix("library/")
            .unwrap_or(&self.repository)
            .to_string()
    }
}

fn valid_path_component(part: &str) -> bool {
    let bytes = part.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(&bytes[0]) || !alnum(&bytes[bytes.len() - 1]) {
        return false;
    }
    // Separators: one '.', one or two '_', or any run of '-', always between alphanumerics.
    let mut i = 0;
    while i < bytes.len() {
        if alnum(&bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(&bytes[i]) {
            i += 1;
        }
        let sep = &part[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-')) {
            return false;
        }
    }
    true
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn docker_defaults() {
        assert_eq!(
            Reference::parse("hello").unwrap().to_string(),
            "docker.io/library/hello:latest"
        );
        assert_eq!(
            Reference::parse("user/app:1.0").unwrap().to_string(),
            "docker.io/user/app:1.0"
        );
        assert_eq!(
            Reference::parse("index.docker.io/hello")
                .unwrap()
                .to_string(),
            "docker.io/library/hello:latest"
        );
        assert_eq!(Reference::parse("hello").unwrap().familiar_name(), "hello");
    }

    #[test]
    fn registries_ports_and_digests() {
        let r = Reference::parse("127.0.0.1:5000/wasm/app:v2").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "wasm/app", Some("v2"))
        );
        let r = Reference::parse("localhost/app").unwrap();
        assert_eq!(r.to_string(), "localhost/app:latest");
        assert_eq!(r.familiar_name(), "localhost/app");
        let r = Reference::parse(&format!("ghcr.io/o/app@{DIGEST}")).unwrap();
        assert_eq!(
            (r.tag.as_deref(), r.digest.as_deref()),
            (None, Some(DIGEST))
        );
        let r = Reference::parse(&format!("app:1@{DIGEST}")).unwrap();
        assert_eq!(r.to_string(), format!("docker.io/library/app:1@{DIGEST}"));
        let r = Reference::parse("host:5000/app").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.tag.as_deref()),
            ("host:5000", Some("latest"))
        );
    }

    #[test]
    fn invalid_references_say_why() {
        for bad in [
            "",
            "UPPER",
            "app:",
            "app:-x",
            "app@sha256:abc",
            "app@md5:00",
            "a//b",
            "-app",
            "app.",
            "a..b",
            "a___b",
        ] {
            let err = Reference::parse(bad).unwrap_err();
            assert!(err.starts_with("invalid reference"), "{bad}: {err}");
        }
    }
}
