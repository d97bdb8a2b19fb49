//! `wharf-componentize command|reactor|proxy MODULE.wasm COMPONENT.wasm`: wraps a WASI
//! preview1 core module into a preview2 component with wasmtime's preview1 adapter (what
//! `wasm-tools component new --adapt` does), for the example and the README's C recipe.

use wasi_preview1_component_adapter_provider as adapters;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, module, out] = args.as_slice() else {
        eprintln!("usage: wharf-componentize command|reactor|proxy MODULE.wasm COMPONENT.wasm");
        std::process::exit(2);
    };
    let adapter = match kind.as_str() {
        "command" => adapters::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
        "reactor" => adapters::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        "proxy" => adapters::WASI_SNAPSHOT_PREVIEW1_PROXY_ADAPTER,
        other => {
            eprintln!("unknown adapter {other:?}: command, reactor or proxy (wasi:http)");
            std::process::exit(2);
        }
    };
    let bytes = std::fs::read(module).unwrap_or_else(|e| {
        eprintln!("cannot read {module}: {e}");
        std::process::exit(1);
    });
    let encoded = wit_component::ComponentEncoder::default()
        .module(&bytes)
        .and_then(|e| e.adapter(adapters::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, adapter))
        .and_then(|e| e.validate(true).encode());
    match encoded {
        Ok(component) => {
            if let Err(e) = std::fs::write(out, component) {
                eprintln!("cannot write {out}: {e}");
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("cannot make a component of {module}: {e:#}");
            std::process::exit(1);
        }
    }
}
