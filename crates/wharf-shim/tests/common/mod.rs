//! Services the shim's tests share: a real registry and Debian's containerd in a temporary
//! directory (with or without its CRI plugin), `ctr`, images built and pushed with wharf, and
//! network namespaces made with `ip netns`. Everything goes when dropped.

#![allow(dead_code)] // each test binary uses part of it

pub mod cri_client;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Services {
    pub tmp: tempfile::TempDir,
    registry: Child,
    containerd: Child,
    registry_addr: String,
    /// The CRI plugin's pod network, when it runs.
    pub pod_network: Option<PodNetwork>,
}

impl Drop for Services {
    fn drop(&mut self) {
        let _ = self.containerd.kill();
        let _ = self.containerd.wait();
        let _ = self.registry.kill();
        let _ = self.registry.wait();
        // Shims outlive containerd by design; a failed test must not leave its own behind.
        let socket = self.socket().to_string_lossy().into_owned();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            if cmdline.contains("containerd-shim-wharf-v1") && cmdline.contains(&socket) {
                if let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() {
                    // SAFETY: kill has no memory preconditions.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                // A killed shim cannot remove its socket in /run/containerd/s.
                let mut words = cmdline.split('\0');
                if words.any(|w| w == "-socket") {
                    if let Some(path) = words.next().and_then(|w| w.strip_prefix("unix://")) {
                        let _ = std::fs::remove_file(path);
                    }
                }
            }
        }
        // The CRI tests' pod network bridge (CRI removed each pod's veth and namespace).
        if let Some(network) = &self.pod_network {
            let _ = Command::new("ip")
                .args(["link", "del", &network.bridge])
                .stderr(Stdio::null())
                .status();
        }
        // What containerd or a shim may have left mounted (a failed test's rootfs), deepest
        // first.
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(1))
            .filter(|m| Path::new(m).starts_with(self.tmp.path()))
            .collect();
        ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mount in ours {
            let _ = Command::new("umount").args(["-l", mount]).status();
        }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts the registry and containerd without its CRI plugin.
pub fn start() -> Services {
    start_with(false)
}

/// The image CRI's config names as the pods' sandbox image (never run by wharf's shim); a
/// CRI test pushes one under this name.
pub const SANDBOX_IMAGE: &str = "pause";

/// Starts the registry and containerd; with `cri`, its CRI plugin too, with the runtime
/// handler `wharf` (host-network pods only: no CNI here).
pub fn start_with(cri: bool) -> Services {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let registry_addr = format!("127.0.0.1:{}", free_port());
    let pod_network = cri.then(PodNetwork::new);
    std::fs::write(
        dir.join("registry.yml"),
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {registry_addr}\n",
            dir.join("registry").display()
        ),
    )
    .unwrap();
    let registry = Command::new("docker-registry")
        .arg("serve")
        .arg(dir.join("registry.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry not found: scripts/install-deps.sh installs it");
    std::fs::write(
        dir.join("containerd.toml"),
        format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n\
             {1}\n\
             [grpc]\n  address = \"{0}/containerd.sock\"\n\
             [ttrpc]\n  address = \"{0}/containerd.sock.ttrpc\"\n",
            dir.display(),
            if let Some(network) = &pod_network {
                cri_config(dir, &registry_addr, network)
            } else {
                "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]".to_string()
            }
        ),
    )
    .unwrap();
    // containerd finds the shim on its own PATH; the shim finds wharf's root in its env.
    let shim_dir = Path::new(env!("CARGO_BIN_EXE_containerd-shim-wharf-v1"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!("{}:{}", shim_dir.display(), std::env::var("PATH").unwrap());
    let containerd = Command::new("containerd")
        .arg("--config")
        .arg(dir.join("containerd.toml"))
        .env("PATH", path)
        .env("WHARF_ROOT", dir.join("wharf"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("containerd.log")).unwrap())
        .spawn()
        .expect("containerd not found: scripts/install-deps.sh installs it");
    let services = Services {
        tmp,
        registry,
        containerd,
        registry_addr,
        pod_network,
    };
    wait_for("containerd's start", || services.socket().exists());
    wait_for("the registry's start", || {
        std::net::TcpStream::connect(&services.registry_addr).is_ok()
    });
    services
}

/// The wharf root the CRI runtime's options name (through `ConfigPath`, as containerd 1.6
/// passes them), instead of the `WHARF_ROOT` containerd's environment gives.
pub const CRI_ROOT: &str = "cri-root";

/// The pod network of a CRI test's containerd (Debian's CNI `bridge` and `host-local`
/// plugins): a bridge and a subnet of its own, the bridge removed when the services go.
#[derive(Debug, Clone)]
pub struct PodNetwork {
    pub bridge: String,
    /// Its addresses' first three octets, `10.X.Y`.
    pub prefix: String,
}

impl PodNetwork {
    /// One per call in this process (tests run in parallel), and per process.
    fn new() -> PodNetwork {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pid = std::process::id();
        PodNetwork {
            bridge: format!("wharf{}-{n}", pid % 100_000),
            prefix: format!(
                "10.{}.{}",
                100 + (pid % 100),
                (pid / 100 % 25) * 10 + n % 10
            ),
        }
    }
}

/// containerd's CRI plugin: restricted OOM scores (root may not lower them here), the runtime
/// handler `wharf` with its options, and a pod network of its own (a bridge with host-local
/// addresses kept in the temporary directory).
fn cri_config(dir: &Path, registry: &str, network: &PodNetwork) -> String {
    let cri = "[plugins.\"io.containerd.grpc.v1.cri\"";
    std::fs::create_dir_all(dir.join("cni")).unwrap();
    let conflist = serde_json::json!({
        "cniVersion": "0.4.0",
        "name": "wharf-test",
        "plugins": [{
            "type": "bridge",
            "bridge": network.bridge,
            "isGateway": true,
            "ipMasq": false,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": format!("{}.0/24", network.prefix)}]],
                "dataDir": dir.join("cni-ipam"),
            },
        }],
    });
    std::fs::write(dir.join("cni/10-wharf-test.conflist"), conflist.to_string()).unwrap();
    let shim_config = dir.join("shim.toml");
    let root = dir.join(CRI_ROOT);
    std::fs::write(&shim_config, format!("root = \"{}\"\n", root.display())).unwrap();
    format!(
        "{cri}]\n  sandbox_image = \"{registry}/{SANDBOX_IMAGE}:1\"\n  restrict_oom_score_adj = true\n\
         {cri}.containerd]\n  snapshotter = \"overlayfs\"\n  default_runtime_name = \"wharf\"\n\
         {cri}.containerd.runtimes.wharf]\n  runtime_type = \"io.containerd.wharf.v1\"\n\
         {cri}.containerd.runtimes.wharf.options]\n  TypeUrl = \"wharf.shim.v1.Config\"\n  \
         ConfigPath = \"{1}\"\n\
         {cri}.cni]\n  bin_dir = \"/usr/lib/cni\"\n  conf_dir = \"{0}\"\n",
        dir.join("cni").display(),
        shim_config.display()
    )
}

impl Services {
    pub fn socket(&self) -> PathBuf {
        self.tmp.path().join("containerd.sock")
    }

    pub fn ctr(&self, args: &[&str]) -> Output {
        self.ctr_in("wharf-test", args)
    }

    /// `ctr` in containerd namespace `namespace` (`k8s.io` is CRI's).
    pub fn ctr_in(&self, namespace: &str, args: &[&str]) -> Output {
        Command::new("ctr")
            .arg("-a")
            .arg(self.socket())
            .args(["-n", namespace])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("ctr not found")
    }

    /// Builds an image of `wat` as its entrypoint with wharf, pushes it and has containerd
    /// pull it; returns its name.
    pub fn push_image(&self, name: &str, wat: &str) -> String {
        self.push_program(name, "app.wat", wat.as_bytes())
    }

    /// Builds an image whose entrypoint is `/FILE`, holding `bytes`, pushes it and has
    /// containerd pull it; returns its name.
    pub fn push_program(&self, name: &str, file: &str, bytes: &[u8]) -> String {
        self.push_built(name, file, bytes, "")
    }

    /// [`Services::push_program`] with more Dockerfile lines (`EXPOSE 9090`).
    pub fn push_built(&self, name: &str, file: &str, bytes: &[u8], more: &str) -> String {
        let ctx = self.tmp.path().join(format!("ctx-{name}"));
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join(file), bytes).unwrap();
        let (wharf, options) = self.builder(name);
        let options = wharf_core::BuildOptions {
            dockerfile: format!("FROM scratch\nCOPY {file} /\nENTRYPOINT [\"/{file}\"]\n{more}"),
            ..options
        };
        wharf.build(&ctx, &options, &mut |_| {}).unwrap();
        let reference = self.push(&wharf, &options);
        let pulled = self.ctr(&["images", "pull", "--plain-http", &reference]);
        assert!(pulled.status.success(), "{pulled:?}");
        reference
    }

    /// Packs `wasm` as the CNCF Wasm artifact (one `application/wasm` layer), pushes it and
    /// has containerd fetch it without unpacking (1.6.20 cannot unpack such layers); returns
    /// its name.
    pub fn push_artifact(&self, name: &str, wasm: &Path) -> String {
        let (wharf, options) = self.builder(name);
        wharf.build_artifact(wasm, &options, &mut |_| {}).unwrap();
        let reference = self.push(&wharf, &options);
        let fetched = self.ctr(&["content", "fetch", "--plain-http", &reference]);
        assert!(fetched.status.success(), "{fetched:?}");
        reference
    }

    /// A wharf of the harness's own (not the shim's) and build options tagging `name:1` in
    /// the registry.
    fn builder(&self, name: &str) -> (wharf_core::Wharf, wharf_core::BuildOptions) {
        let reference = format!("{}/{name}:1", self.registry_addr);
        let wharf = wharf_core::Wharf::open(
            wharf_core::Root::open(self.tmp.path().join("builder")).unwrap(),
        )
        .unwrap();
        let options = wharf_core::BuildOptions {
            tags: vec![wharf_core::Reference::parse(&reference).unwrap()],
            ..Default::default()
        };
        (wharf, options)
    }

    fn push(&self, wharf: &wharf_core::Wharf, options: &wharf_core::BuildOptions) -> String {
        let reference = options.tags[0].to_string();
        let registry = wharf_core::RegistryOptions {
            insecure: vec![self.registry_addr.clone()],
            ..Default::default()
        };
        wharf.push(&reference, &registry).unwrap();
        reference
    }

    /// Creates container `id` of image `image` running `args` with containerd's gRPC API, with
    /// no snapshot: its task starts with an empty rootfs, as containerd 1.6.25+ starts one of
    /// a Wasm-layer image.
    pub fn create_bare_container(&self, id: &str, image: &str, args: &[&str]) {
        use containerd_client::services::v1::container::Runtime;
        use containerd_client::services::v1::containers_client::ContainersClient;
        use containerd_client::services::v1::{Container, CreateContainerRequest};
        use containerd_client::tonic::Request;
        let spec = serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {"args": args, "env": ["PATH=/"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "root": {"path": "rootfs"},
            "linux": {"namespaces": [{"type": "mount"}]},
        });
        let container = Container {
            id: id.into(),
            image: image.into(),
            runtime: Some(Runtime {
                name: wharf_shim::RUNTIME.into(),
                options: None,
            }),
            spec: Some(prost_types::Any {
                type_url: "types.containerd.io/opencontainers/runtime-spec/1/Spec".into(),
                value: spec.to_string().into_bytes(),
            }),
            ..Default::default()
        };
        let request = CreateContainerRequest {
            container: Some(container),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let channel = containerd_client::connect(self.socket()).await.unwrap();
            let request = containerd_client::with_namespace!(request, "wharf-test");
            ContainersClient::new(channel)
                .create(request)
                .await
                .unwrap();
        });
    }

    /// The shim's compiled code: each artifact (`.cwasm`) with its inode and modification time
    /// (a compile writes a new file, so a run that compiled changes this; a load may add its
    /// check's stamp to the checksum file beside it, which is left out).
    pub fn cache_entries(
        &self,
    ) -> std::collections::BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
        use std::os::unix::fs::MetadataExt;
        let mut entries = std::collections::BTreeMap::new();
        let mut dirs = vec![self.tmp.path().join("wharf/cache")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let meta = entry.metadata().unwrap();
                if meta.is_dir() {
                    dirs.push(entry.path());
                } else if entry.path().extension().is_some_and(|e| e == "cwasm") {
                    entries.insert(entry.path(), (meta.ino(), meta.modified().unwrap()));
                }
            }
        }
        entries
    }

    /// `ctr task kill -s SIGKILL ID`, then waits until `ctr task ls` shows it stopped.
    pub fn kill_task(&self, id: &str) {
        let killed = self.ctr(&["task", "kill", "-s", "SIGKILL", id]);
        assert!(killed.status.success(), "{killed:?}");
        wait_for("the task's stop", || {
            text(&self.ctr(&["task", "ls"]).stdout)
                .lines()
                .any(|l| l.starts_with(id) && l.ends_with("STOPPED"))
        });
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("containerd.log")).unwrap_or_default()
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A network namespace made for a test (`ip netns add`), deleted when dropped.
pub struct NetNs(String);

impl NetNs {
    pub fn new(name: &str) -> NetNs {
        let name = format!("{name}-{}", std::process::id());
        let added = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(added.success(), "ip netns add {name} failed");
        let up = Command::new("ip")
            .args(["netns", "exec", &name, "ip", "link", "set", "lo", "up"])
            .status()
            .unwrap();
        assert!(up.success());
        NetNs(name)
    }

    pub fn path(&self) -> String {
        format!("/var/run/netns/{}", self.0)
    }

    /// `ARGS` run inside the namespace: its stdout, or what failed.
    pub fn exec(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0])
            .args(args)
            .output()
            .unwrap();
        match out.status.success() {
            true => Ok(text(&out.stdout)),
            false => Err(format!("{args:?}: {:?} {}", out.status, text(&out.stderr))),
        }
    }

    /// `curl -s URL` run inside the namespace: the body, or what failed.
    pub fn get(&self, url: &str) -> Result<String, String> {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.0,
                "curl",
                "-s",
                "--max-time",
                "2",
                url,
            ])
            .output()
            .unwrap();
        if out.status.success() {
            Ok(text(&out.stdout))
        } else {
            Err(format!("curl: {:?}", out.status))
        }
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Prints to stdout and stderr, then exits with the code given as argv[1]'s first digit (0
/// when there is none).
pub const GUEST: &str = r#"(module
    (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "args_get" (func $args (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory (export "memory") 1)
    (data (i32.const 16) "out from wasm\n")
    (data (i32.const 32) "err from wasm\n")
    (func (export "_start")
        (i32.store (i32.const 0) (i32.const 16))
        (i32.store (i32.const 4) (i32.const 14))
        (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (i32.store (i32.const 0) (i32.const 32))
        (drop (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
        (drop (call $sizes (i32.const 100) (i32.const 104)))
        (if (i32.ge_u (i32.load (i32.const 100)) (i32.const 2))
            (then
                (drop (call $args (i32.const 200) (i32.const 300)))
                (call $exit (i32.sub (i32.load8_u (i32.load (i32.const 204))) (i32.const 48)))))
        (call $exit (i32.const 0))))"#;

/// Spins until stopped.
pub const SPIN: &str =
    "(module (memory (export \"memory\") 1) (func (export \"_start\") (loop $l (br $l))))";
