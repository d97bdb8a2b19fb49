//! The containerd shim binary: containerd runs it as `containerd-shim-wharf-v1` for the runtime
//! `io.containerd.wharf.v1`.

fn main() {
    wharf_shim::main();
}
