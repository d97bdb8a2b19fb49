//! Registry credentials in Docker's own config file, so that `docker login` and `wharf login`
//! see each other's logins.
//!
//! The file is `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. Only the `auths`
//! section is read and written (`{"auths": {"host:port": {"auth": base64("user:pass")}}}`);
//! every other key in the file is kept as it is. Credential helpers (`credsStore`,
//! `credHelpers`) are run the way Docker runs them: `docker-credential-NAME get`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::Error;

/// The key Docker files Docker Hub's credentials under.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <hidden>)", self.username)
    }
}

/// Where Docker's config file is: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn config_path() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("config.json");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/".into());
    PathBuf::from(home).join(".docker").join("config.json")
}

/// The name a registry's credentials are filed under: Docker's historical URL for Docker Hub,
/// the host (and port) for every other registry.
pub fn config_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY.to_string(),
        other => other.to_string(),
    }
}

/// Docker's config file, as far as wharf uses it.
#[derive(Debug, Clone, Default)]
pub struct DockerConfig {
    path: PathBuf,
    document: Map<String, Value>,
}

impl DockerConfig {
    /// Reads the config at `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<DockerConfig, Error> {
        let bad = |why: String| Error::Config(format!("{}: {why}", path.display()));
        let document = match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(bad("not a JSON object".into())),
                Err(e) => return Err(bad(format!("not valid JSON ({e}); fix or remove it"))),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(bad(e.to_string())),
        };
        Ok(DockerConfig {
            path: path.to_path_buf(),
            document,
        })
    }

    /// The credentials stored for `registry`, from `auths` or a credential helper.
    pub fn credentials(&self, registry: &str) -> Result<Option<Credentials>, Error> {
        let key = config_key(registry);
        if let Some(helper) = self.helper_for(&key) {
            return run_helper(&helper, &key);
        }
        let Some(auths) = self.document.get("auths").and_then(Value::as_object) else {
            return Ok(None);
        };
        // Docker also accepts keys written as URLs (`https://host:port`).
        let entry = auths.get(&key).or_else(|| {
            auths.iter().find_map(|(k, v)| {
                let host = k
                    .trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .split('/')
                    .next()
                    .unwrap_or_default();
                (host == key).then_some(v)
            })
        });
        let Some(entry) = entry else {
            return Ok(None);
        };
        if let (Some(user), Some(pass)) = (
            entry.get("username").and_then(Value::as_str),
            entry.get("password").and_then(Value::as_str),
        ) {
            return Ok(Some(Credentials {
                username: user.into(),
                password: pass.into(),
            }));
        }
        let Some(encoded) = entry.get("auth").and_then(Value::as_str) else {
            return Ok(None);
        };
        let bad = || {
            Error::Config(format!(
                "{}: the login for {key} is damaged; log in to {registry} again",
                self.path.display()
            ))
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| bad())?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (user, pass) = text.split_once(':').ok_or_else(bad)?;
        Ok(Some(Credentials {
            username: user.into(),
            password: pass.into(),
        }))
    }

    /// Records `credentials` for `registry` in `auths` (credential helpers are not written to).
    pub fn set_credentials(&mut self, registry: &str, credentials: &Credentials) {
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", credentials.username, credentials.password));
        let auths = self
            .document
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        auths
            .as_object_mut()
            .expect("made an object above")
            .insert(config_key(registry), serde_json::json!({ "auth": encoded }));
    }

    /// Forgets the login for `registry`; returns whether there was one.
    pub fn remove_credentials(&mut self, registry: &str) -> bool {
        let key = config_key(registry);
        self.document
            .get_mut("auths")
            .and_then(Value::as_object_mut)
            .is_some_and(|auths| auths.remove(&key).is_some())
    }

    /// Writes the config back atomically, readable by its owner only (it holds passwords).
    pub fn save(&self) -> Result<(), Error> {
        let fail = |e: std::io::Error| Error::Config(format!("{}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let mut json = serde_json::to_vec_pretty(&self.document).expect("JSON");
        json.push(b'\n');
        let tmp = self
            .path
            .with_file_name(wharf_root::temporary_name("config.json"));
        let write = || -> std::io::Result<()> {
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::File::options()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            fail(e)
        })
    }

    fn helper_for(&self, key: &str) -> Option<String> {
        let helpers = self.document.get("credHelpers").and_then(Value::as_object);
        if let Some(name) = helpers.and_then(|h| h.get(key)).and_then(Value::as_str) {
            return Some(name.to_string());
        }
        self.document
            .get("credsStore")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }
}

/// Asks `docker-credential-NAME get` for `key`'s credentials, as Docker does.
fn run_helper(name: &str, key: &str) -> Result<Option<Credentials>, Error> {
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Config(format!("cannot run the credential helper {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(key.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| Error::Config(format!("credential helper {program}: {e}")))?;
    if !output.status.success() {
        // Helpers answer "credentials not found in native keychain" for unknown servers.
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| Error::Config(format!("credential helper {program} answered badly: {e}")))?;
    let field = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
    Ok(match (field("Username"), field("Secret")) {
        (Some(username), Some(password)) => Some(Credentials { username, password }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_docker_writes_and_keeps_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"YWxpY2U6czNjcmV0"},
                "https://127.0.0.1:5000":{"auth":"Ym9iOnB3"}},"psFormat":"table"}"#,
        )
        .unwrap();
        let mut config = DockerConfig::load(&path).unwrap();
        let hub = config.credentials("docker.io").unwrap().unwrap();
        assert_eq!(
            (hub.username.as_str(), hub.password.as_str()),
            ("alice", "s3cret")
        );
        let local = config.credentials("127.0.0.1:5000").unwrap().unwrap();
        assert_eq!(local.username, "bob");
        assert_eq!(config.credentials("ghcr.io").unwrap(), None);

        let creds = Credentials {
            username: "carol".into(),
            password: "p:w".into(),
        };
        config.set_credentials("ghcr.io", &creds);
        config.save().unwrap();
        let again = DockerConfig::load(&path).unwrap();
        assert_eq!(again.credentials("ghcr.io").unwrap(), Some(creds));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("psFormat"), "{text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let mut again = again;
        assert!(again.remove_credentials("ghcr.io"));
        assert!(!again.remove_credentials("ghcr.io"));
        assert_eq!(again.credentials("ghcr.io").unwrap(), None);
    }

    #[test]
    fn a_damaged_config_is_an_error_that_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = DockerConfig::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("config.json") && err.contains("not valid JSON"),
            "{err}"
        );
        std::fs::write(&path, r#"{"auths":{"h:1":{"auth":"%%%"}}}"#).unwrap();
        let err = DockerConfig::load(&path)
            .unwrap()
            .credentials("h:1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("log in to h:1 again"), "{err}");
    }
}
