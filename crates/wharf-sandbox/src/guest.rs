//! Recognising what a file holds: a core module, a component, WAT text, or not Wasm at all.

use wasmtime::component::Component;
use wasmtime::Module;

/// The two kinds of WebAssembly binaries wharf runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestKind {
    /// A core module; wharf runs those that import WASI preview1.
    Module,
    /// A component; wharf runs those that export `wasi:cli/run` (WASI preview2 commands).
    Component,
}

impl GuestKind {
    /// A short lowercase name, stable enough for cache keys and messages.
    pub fn name(self) -> &'static str {
        match self {
            GuestKind::Module => "module",
            GuestKind::Component => "component",
        }
    }

    /// The kind a binary's first 8 bytes announce; `None` when they are not a WebAssembly
    /// binary header. Lets callers key a cache without reading the whole binary.
    pub fn from_header(header: &[u8]) -> Option<GuestKind> {
        binary_kind(header).ok().flatten()
    }
}

/// A WebAssembly binary whose kind is known; WAT text has already been turned into binary.
#[derive(Debug, Clone)]
pub struct WasmBinary {
    /// Module or component.
    pub kind: GuestKind,
    /// The binary encoding.
    pub bytes: Vec<u8>,
}

const MAGIC: &[u8; 4] = b"\0asm";

impl WasmBinary {
    /// Whether a file whose first bytes (up to 4 KiB) are `head` may be WebAssembly: a binary
    /// header, or text that could be WAT. Checked before a whole file is read, so that a large
    /// file that is neither costs nothing.
    pub fn could_be(head: &[u8]) -> bool {
        head.starts_with(MAGIC)
            || (MAGIC.starts_with(head) && !head.is_empty())
            || looks_like_text(head)
    }

    /// Recognises `bytes` as a WebAssembly binary or WAT text.
    ///
    /// The error is a sentence meant for the user (the file is not Wasm, or its text does not
    /// parse). Validation of the binary itself happens when it is compiled.
    pub fn parse(bytes: Vec<u8>) -> Result<WasmBinary, String> {
        if let Some(kind) = binary_kind(&bytes)? {
            return Ok(WasmBinary { kind, bytes });
        }
        if !looks_like_text(&bytes) {
            return Err("it is not a WebAssembly file (no \\0asm header, and not WAT text)".into());
        }
        let binary = wat::parse_bytes(&bytes)
            .map_err(|e| {
                // wat's message spans several lines (a source snippet); keep the first, which
                // says what is wrong and where.
                let text = e.to_string();
                let mut lines = text.lines().map(str::trim);
                let what = lines.next().unwrap_or_default().to_string();
                let at = lines.next().unwrap_or_default().trim_start_matches("--> ");
                format!("its WebAssembly text does not parse: {what} (at {at})")
            })?
            .into_owned();
        match binary_kind(&binary)? {
            Some(kind) => Ok(WasmBinary {
                kind,
                bytes: binary,
            }),
            None => Err("its WebAssembly text did not produce a binary".into()),
        }
    }
}

/// Why a wasi:http server run without a published port does not start: said before compiling
/// by wharf-core, and by [`crate::run`] for code that arrives compiled.
pub const NEEDS_A_PORT: &str = "it is a wasi:http server (it exports wasi:http/incoming-handler): publish a port to serve it (-p 8080:80, a port binding)";

impl WasmBinary {
    /// Whether this is a component that exports `wasi:http/incoming-handler` (a `wasi:http`
    /// server), read from its top-level export section without compiling it.
    pub fn exports_http_handler(&self) -> bool {
        if self.kind != GuestKind::Component {
            return false;
        }
        let mut depth = 0u32;
        for payload in wasmparser::Parser::new(0).parse_all(&self.bytes) {
            match payload {
                Ok(wasmparser::Payload::ModuleSection { .. })
                | Ok(wasmparser::Payload::ComponentSection { .. }) => depth += 1,
                Ok(wasmparser::Payload::End(_)) => depth = depth.saturating_sub(1),
                Ok(wasmparser::Payload::ComponentExportSection(exports)) if depth == 0 => {
                    let found = exports.into_iter().any(|export| {
                        export.is_ok_and(|e| e.name.name.starts_with("wasi:http/incoming-handler"))
                    });
                    if found {
                        return true;
                    }
                }
                Ok(_) => {}
                // Invalid binaries are reported when they are compiled.
                Err(_) => return false,
            }
        }
        false
    }
}

/// Reads the 8-byte preamble: magic, then a version and layer (module: 1/0, component: 0xd/1).
fn binary_kind(bytes: &[u8]) -> Result<Option<GuestKind>, String> {
    if !bytes.starts_with(MAGIC) {
        return Ok(None);
    }
    match bytes.get(4..8) {
        Some([1, 0, 0, 0]) => Ok(Some(GuestKind::Module)),
        Some([_, _, 1, 0]) => Ok(Some(GuestKind::Component)),
        Some(other) => Err(format!(
            "it has a WebAssembly header with an unknown version {other:02x?}"
        )),
        None => Err("it is a truncated WebAssembly file (it ends inside its header)".into()),
    }
}

/// WAT is UTF-8 text; a stray binary file should not be reported as "text that does not parse".
fn looks_like_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    match std::str::from_utf8(head) {
        Ok(text) => text.trim_start().starts_with('(') || text.trim_start().starts_with(";;"),
        // A cut inside a multi-byte character at the 4096 boundary is still text.
        Err(e) => e.error_len().is_none() && e.valid_up_to() > 0,
    }
}

/// Code compiled for the engine, ready to instantiate.
#[derive(Clone)]
pub enum Compiled {
    /// A compiled core module.
    Module(Module),
    /// A compiled component.
    Component(Component),
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Compiled({})", self.kind().name())
    }
}

impl Compiled {
    /// Which kind of binary this was compiled from.
    pub fn kind(&self) -> GuestKind {
        match self {
            Compiled::Module(_) => GuestKind::Module,
            Compiled::Component(_) => GuestKind::Component,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_modules_components_and_text() {
        let module = WasmBinary::parse(b"\0asm\x01\0\0\0".to_vec()).unwrap();
        assert_eq!(module.kind, GuestKind::Module);
        let component = WasmBinary::parse(b"\0asm\x0d\0\x01\0".to_vec()).unwrap();
        assert_eq!(component.kind, GuestKind::Component);
        let text = WasmBinary::parse(b"(module (func (export \"_start\")))".to_vec()).unwrap();
        assert_eq!(text.kind, GuestKind::Module);
        assert!(text.bytes.starts_with(MAGIC));
        let component_text = WasmBinary::parse(b"(component)".to_vec()).unwrap();
        assert_eq!(component_text.kind, GuestKind::Component);
    }

    #[test]
    fn rejects_what_is_not_wasm() {
        let err = WasmBinary::parse(b"#!/bin/sh\necho hi\n".to_vec()).unwrap_err();
        assert!(err.contains("not a WebAssembly file"), "{err}");
        let err = WasmBinary::parse(vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0xff]).unwrap_err();
        assert!(err.contains("not a WebAssembly file"), "{err}");
        let err = WasmBinary::parse(b"\0asm\x01".to_vec()).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
        let err = WasmBinary::parse(b"(module (func $f (i32.bogus)))".to_vec()).unwrap_err();
        assert!(err.contains("does not parse"), "{err}");
    }
}
