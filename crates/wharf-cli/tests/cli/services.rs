//! Real services for the registry tests: Debian's `docker-registry` (distribution 2.8) on a
//! free 127.0.0.1 port, optionally behind basic auth; skopeo; hand-made OCI layouts; and
//! misbehaving HTTP servers (500s, silence).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::support::free_port;

enum Auth<'a> {
    Basic(&'a str, &'a str),
    Token(&'a TokenServer),
}

/// A token server as Docker Hub's auth service works: `GET /token?service=..&scope=..` with
/// basic credentials answers a JWT (RS256, signed by `openssl`, certificate in `x5c`) granting
/// the scopes asked for; anonymous callers get a token that grants nothing.
pub struct TokenServer {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    cert: PathBuf,
    _dir: tempfile::TempDir,
}

impl TokenServer {
    pub fn start(user: &'static str, password: &'static str) -> TokenServer {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let cert = dir.path().join("cert.pem");
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=wharf-test-token",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .expect("openssl not found (scripts/install-deps.sh installs it)");
        assert!(made.success());
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .unwrap()
            .stdout;
        use base64::Engine as _;
        let x5c = base64::engine::general_purpose::STANDARD.encode(der);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&request).into_owned();
                let authorized = request.lines().any(|l| {
                    l.to_ascii_lowercase().starts_with("authorization:")
                        && l[14..].trim() == expected
                });
                let has_auth = request.to_ascii_lowercase().contains("\nauthorization:");
                let response = if has_auth && !authorized {
                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_string()
                } else {
                    let access = if authorized {
                        scopes(&request)
                    } else {
                        Vec::new()
                    };
                    let token = jwt(&key, &x5c, user, access);
                    let body = format!(
                        "{{\"token\":\"{token}\",\"access_token\":\"{token}\",\"expires_in\":300}}"
                    );
                    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
                };
                let _ = stream.write_all(response.as_bytes());
            }
        });
        TokenServer {
            addr,
            cert,
            _dir: dir,
        }
    }
}

/// The `access` claims for the `scope=repository:NAME:ACTIONS` parameters of a request line.
fn scopes(request: &str) -> Vec<Value> {
    let line = request.lines().next().unwrap_or_default();
    let query = line.split(['?', ' ']).nth(2).unwrap_or_default();
    query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("scope="))
        .filter_map(|scope| {
            let scope = percent_decode(scope);
            let mut parts = scope.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            Some(json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JWT the registry's token auth accepts: RS256 over `header.claims`, signed with openssl.
fn jwt(key: &Path, x5c: &str, subject: &str, access: Vec<Value>) -> String {
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({"alg": "RS256", "typ": "JWT", "x5c": [x5c]});
    let claims = json!({
        "iss": "wharf-test-issuer", "sub": subject, "aud": "wharf-test",
        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", access.len()),
        "access": access,
    });
    let input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&header).unwrap()),
        b64(&serde_json::to_vec(&claims).unwrap())
    );
    let mut sign = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    sign.stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let signature = sign.wait_with_output().unwrap().stdout;
    format!("{input}.{}", b64(&signature))
}

/// A running registry, stopped when dropped.
pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Where it keeps its data (to damage blobs on purpose).
    pub storage: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// An open registry.
    pub fn start() -> Registry {
        Registry::start_with(None)
    }

    /// A registry that wants `user`/`password` (basic auth, bcrypt htpasswd).
    pub fn with_login(user: &str, password: &str) -> Registry {
        Registry::start_with(Some(Auth::Basic(user, password)))
    }

    /// A registry that wants bearer tokens from `token_server` (Docker Hub's scheme).
    pub fn with_token_server(token_server: &TokenServer) -> Registry {
        Registry::start_with(Some(Auth::Token(token_server)))
    }

    fn start_with(auth: Option<Auth>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("data");
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            storage.display()
        );
        if let Some(Auth::Token(server)) = &auth {
            config.push_str(&format!(
                "auth:\n  token:\n    realm: http://{}/token\n    service: wharf-test\n    issuer: wharf-test-issuer\n    rootcertbundle: {}\n",
                server.addr,
                server.cert.display()
            ));
        }
        if let Some(Auth::Basic(user, password)) = auth {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd not found: install apache2-utils (scripts/install-deps.sh does)");
            assert!(out.status.success());
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: wharf-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry not found: install it (scripts/install-deps.sh does)");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            addr,
            storage,
            child,
            _dir: dir,
        }
    }

    /// The file the registry keeps `digest`'s bytes in.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `skopeo ARGS...`, which must succeed; returns its stdout.
pub fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo not found: install it (scripts/install-deps.sh does)");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// An OCI image layout directory being written by hand, as other tools lay images out.
pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir: dir.to_path_buf(),
        }
    }

    /// Adds a blob; returns its descriptor with `media_type`.
    pub fn blob(&self, media_type: &str, bytes: &[u8]) -> Value {
        let d = digest(bytes);
        std::fs::write(
            self.dir.join("blobs/sha256").join(&d["sha256:".len()..]),
            bytes,
        )
        .unwrap();
        json!({"mediaType": media_type, "digest": d, "size": bytes.len()})
    }

    /// Adds a manifest with this config and layers; returns its descriptor.
    pub fn manifest(&self, config_type: &str, config: &Value, layers: Vec<Value>) -> Value {
        let config = self.blob(config_type, &serde_json::to_vec(config).unwrap());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config,
            "layers": layers,
        });
        self.blob(
            "application/vnd.oci.image.manifest.v1+json",
            &serde_json::to_vec(&manifest).unwrap(),
        )
    }

    /// Writes index.json naming `descriptor` as `tag`.
    pub fn tag(&self, descriptor: &Value, tag: &str) {
        let mut d = descriptor.clone();
        d["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        let index = json!({"schemaVersion": 2, "manifests": [d]});
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
    }

    /// `oci:DIR:TAG` for skopeo.
    pub fn skopeo_name(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.dir.display())
    }
}

/// An uncompressed tar holding `files` (path, bytes), as a rootfs layer.
pub fn tar_layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o755);
        header.set_cksum();
        builder.append_data(&mut header, path, *bytes).unwrap();
    }
    builder.into_inner().unwrap()
}

/// A server on 127.0.0.1 that answers every request with `response` (or, when `None`,
/// accepts connections and never answers). Returns its address.
pub fn misbehaving_server(response: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            match response {
                Some(response) => {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf);
                    let _ = stream.write_all(response.as_bytes());
                }
                None => held.push(stream),
            }
        }
    });
    addr
}

/// A proxy on 127.0.0.1 in front of the registry at `upstream` that passes everything through,
/// except the body of a response to a request naming `slow_blob` (a digest), which it trickles
/// at ten bytes a second: the registry fault a plain read timeout never catches. Each
/// connection carries one request (`Connection: close` is added). Returns its address.
pub fn trickling_proxy(upstream: String, slow_blob: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let (upstream, slow_blob) = (upstream.clone(), slow_blob.clone());
            std::thread::spawn(move || proxy_one(client, &upstream, &slow_blob));
        }
    });
    addr
}

fn proxy_one(mut client: std::net::TcpStream, upstream: &str, slow_blob: &str) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let slow = text.lines().next().is_some_and(|l| l.contains(slow_blob));
    let mut request = String::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            request.push_str(line);
            request.push_str("\r\n");
        }
    }
    request.push_str("Connection: close\r\n\r\n");
    let Ok(mut server) = std::net::TcpStream::connect(upstream) else {
        return;
    };
    if server.write_all(request.as_bytes()).is_err() {
        return;
    }
    // Request bodies (pushes) go on in the background.
    if let (Ok(mut from), Ok(mut to)) = (client.try_clone(), server.try_clone()) {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
        });
    }
    let mut response_head = Vec::new();
    while !response_head.ends_with(b"\r\n\r\n") {
        match server.read(&mut byte) {
            Ok(1) => response_head.push(byte[0]),
            _ => return,
        }
    }
    if client.write_all(&response_head).is_err() {
        return;
    }
    if !slow {
        let _ = std::io::copy(&mut server, &mut client);
        return;
    }
    while let Ok(1) = server.read(&mut byte) {
        if client.write_all(&byte).is_err() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
