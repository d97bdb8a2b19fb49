//! The working directory of a preview1 guest (`-w`), as its `getcwd()` reports it.
//!
//! wasi-libc keeps the current directory in the guest's own memory, `/` at start, and WASI
//! preview1 has no call that sets it: under `-w /data` a C or CPython guest resolves relative
//! paths through the `.` grant, yet `getcwd()` says `/`. So wharf calls the guest's own
//! `chdir` once, before its `main`:
//!
//! - at compile time, a module whose name section names a `chdir (i32) -> i32` gets it
//!   exported as [`CHDIR_EXPORT`] (nothing else changes);
//! - at run time, wharf answers `args_sizes_get`/`args_get` itself (the calls wasi-libc makes
//!   after its constructors, just before `main`), reserving room for the directory's name at
//!   the end of the guest's own argument buffer, and calls `chdir` with it from `args_get`.
//!
//! A module without names, or one whose `main` takes no arguments, starts in `/` as before.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use wasmtime::{Caller, Extern, Linker};

use crate::module_functions::ModuleFunctions;

/// The export wharf gives a module's `chdir`.
pub const CHDIR_EXPORT: &str = "wharf:chdir";

const WASI: &str = "wasi_snapshot_preview1";
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_FAULT: i32 = 21;

/// `module` with its `chdir` exported as [`CHDIR_EXPORT`], or unchanged (borrowed) when it
/// has no such function, already exports it, or does not parse.
pub fn export_chdir(module: &[u8]) -> Cow<'_, [u8]> {
    match with_chdir_export(module) {
        Some(bytes) => Cow::Owned(bytes),
        None => Cow::Borrowed(module),
    }
}

fn with_chdir_export(module: &[u8]) -> Option<Vec<u8>> {
    use wasmparser::Payload;
    let mut exports: Vec<(String, wasm_encoder::ExportKind, u32)> = Vec::new();
    let mut export_range: Option<(usize, usize)> = None;
    let mut section_start = 8;
    let functions = ModuleFunctions::read(module, &["chdir"], |payload| {
        let this_start = section_start;
        if let Some((_, range)) = payload.as_section() {
            section_start = range.end;
        }
        if let Payload::ExportSection(reader) = payload {
            for export in reader.clone() {
                let export = export.ok()?;
                let kind = match export.kind {
                    wasmparser::ExternalKind::Func => wasm_encoder::ExportKind::Func,
                    wasmparser::ExternalKind::Table => wasm_encoder::ExportKind::Table,
                    wasmparser::ExternalKind::Memory => wasm_encoder::ExportKind::Memory,
                    wasmparser::ExternalKind::Global => wasm_encoder::ExportKind::Global,
                    wasmparser::ExternalKind::Tag => wasm_encoder::ExportKind::Tag,
                    _ => return None,
                };
                exports.push((export.name.to_string(), kind, export.index));
            }
            export_range = Some((this_start, section_start));
        }
        Some(())
    })?;
    let i32_only = [wasmparser::ValType::I32];
    let (index, _) = functions.typed("chdir", &i32_only, &i32_only)?;
    if exports.iter().any(|(name, _, _)| name == CHDIR_EXPORT) {
        return None;
    }
    let (start, end) = export_range?;
    let mut section = wasm_encoder::ExportSection::new();
    for (name, kind, index) in &exports {
        section.export(name, *kind, *index);
    }
    section.export(CHDIR_EXPORT, wasm_encoder::ExportKind::Func, index);
    let mut out = module[..start].to_vec();
    wasm_encoder::Section::append_to(&section, &mut out);
    out.extend_from_slice(&module[end..]);
    Some(out)
}

/// Answers the guest's argument calls itself, so as to call its `chdir` with `workdir` once
/// the arguments are fetched (once only: Rust's std fetches them again at each `args()`, and
/// the guest may have moved on). Only for a module that exports [`CHDIR_EXPORT`].
pub(crate) fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    args: Vec<String>,
    workdir: String,
) -> anyhow::Result<()> {
    let args = Arc::new(args);
    let workdir = Arc::new(workdir);
    let moved = Arc::new(AtomicBool::new(false));
    linker.allow_shadowing(true);
    let (sizes_args, sizes_workdir) = (args.clone(), workdir.clone());
    linker.func_wrap(
        WASI,
        "args_sizes_get",
        move |mut caller: Caller<'_, T>, argc_at: i32, size_at: i32| -> i32 {
            let room = buffer_room(&sizes_args, &sizes_workdir) as u32;
            let written = write(
                &mut caller,
                argc_at,
                &(sizes_args.len() as u32).to_le_bytes(),
            ) && write(&mut caller, size_at, &room.to_le_bytes());
            if written {
                ERRNO_SUCCESS
            } else {
                ERRNO_FAULT
            }
        },
    )?;
    linker.func_wrap(
        WASI,
        "args_get",
        move |mut caller: Caller<'_, T>, argv_at: i32, buf_at: i32| -> wasmtime::Result<i32> {
            let mut at = buf_at as u32;
            for (i, arg) in args.iter().enumerate() {
                let slot = (argv_at as u32).wrapping_add(4 * i as u32) as i32;
                let text = [arg.as_bytes(), &[0]].concat();
                if !write(&mut caller, slot, &at.to_le_bytes())
                    || !write(&mut caller, at as i32, &text)
                {
                    return Ok(ERRNO_FAULT);
                }
                at = at.wrapping_add(text.len() as u32);
            }
            let dir = [workdir.as_bytes(), &[0]].concat();
            if !write(&mut caller, at as i32, &dir) {
                return Ok(ERRNO_FAULT);
            }
            if moved.swap(true, Ordering::SeqCst) {
                return Ok(ERRNO_SUCCESS);
            }
            let chdir = caller.get_export(CHDIR_EXPORT).and_then(Extern::into_func);
            if let Some(chdir) = chdir {
                let chdir = chdir.typed::<i32, i32>(&caller)?;
                if chdir.call(&mut caller, at as i32)? != 0 {
                    tracing::debug!("the guest's chdir({workdir}) failed: it starts in /");
                }
            }
            Ok(ERRNO_SUCCESS)
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The argument buffer the guest is told to allocate: its arguments, each NUL-terminated, then
/// room for the working directory's name.
fn buffer_room(args: &[String], workdir: &str) -> usize {
    args.iter().map(|a| a.len() + 1).sum::<usize>() + workdir.len() + 1
}

/// Writes `bytes` at `at` in the guest's memory; false when it has none or `at` is out of it.
fn write<T>(caller: &mut Caller<'_, T>, at: i32, bytes: &[u8]) -> bool {
    let Some(memory) = caller.get_export("memory").and_then(Extern::into_memory) else {
        return false;
    };
    memory.write(caller, at as u32 as usize, bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chdir_is_exported_only_when_the_name_section_has_it() {
        let with = wat::parse_str(
            r#"(module
                (func $chdir (export "other") (param i32) (result i32) (i32.const 0))
                (func (export "_start"))
                (memory (export "memory") 1))"#,
        )
        .unwrap();
        let exported = export_chdir(&with);
        assert!(matches!(exported, Cow::Owned(_)), "chdir was not exported");
        let module = wasmparser::Parser::new(0)
            .parse_all(&exported)
            .filter_map(Result::ok)
            .find_map(|p| match p {
                wasmparser::Payload::ExportSection(r) => Some(
                    r.into_iter()
                        .map(|e| e.unwrap().name.to_string())
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .unwrap();
        assert_eq!(module, ["other", "_start", "memory", CHDIR_EXPORT]);
        wasmparser::Validator::new()
            .validate_all(&exported)
            .unwrap();

        let wrong_type = wat::parse_str(
            r#"(module (func $chdir (export "_start")) (memory (export "memory") 1))"#,
        )
        .unwrap();
        assert!(matches!(export_chdir(&wrong_type), Cow::Borrowed(_)));
        let unnamed =
            wat::parse_str(r#"(module (func (export "_start")) (memory (export "memory") 1))"#)
                .unwrap();
        assert!(matches!(export_chdir(&unnamed), Cow::Borrowed(_)));
    }
}
