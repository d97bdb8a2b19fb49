//! The working directory of a component guest (`-w`), as its `getcwd()` reports it.
//!
//! Inside a component, wasi-libc keeps the current directory in the guest's memory, `/` at
//! start, and never asks `wasi:cli/environment.initial-cwd`: under `-w /data` CPython's
//! `os.getcwd()` says `/` (so do wasmtime's and runwasi's). Preview1 modules are moved by
//! calling their `chdir` before `main` (see `workdir`); a component has no such moment that
//! wharf can reach, so at compile time wharf gives the core module that holds wasi-libc two
//! small functions, found by the names its name section gives them:
//!
//! - in place of `getcwd`, one that first (once per instance) does `chdir(getenv("PWD"))`,
//!   then answers as `getcwd` does;
//! - in place of `chdir`, one that marks that first step done, so a guest that moves before
//!   it ever asks is not moved back.
//!
//! Every reference to the two (calls, exports, function tables) is redirected, so this works
//! for a statically linked C component and for componentize-py's dynamically linked libc
//! alike. At run time wharf sets `PWD` to the working directory (see `run::wasi_builder`).
//! A component whose libc has no names, or a guest that never calls `getcwd`, is unchanged.

use std::borrow::Cow;

use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{Function, MemArg, SectionId};
use wasmparser::{BinaryReader, Parser, ValType};

use crate::module_functions::ModuleFunctions;

/// The environment variable the `getcwd` replacement reads the working directory from.
pub const WORKDIR_ENV: &str = "PWD";

/// The core-module section of the component binary format.
const CORE_MODULE_SECTION: u8 = 1;

/// `component` with the working-directory functions added to each core module that holds
/// wasi-libc's `getcwd`, `chdir` and `getenv`, or unchanged (borrowed) when none does or the
/// result would not validate.
pub fn hook_component_getcwd(component: &[u8]) -> Cow<'_, [u8]> {
    match with_hooks(component) {
        Some(bytes) => Cow::Owned(bytes),
        None => Cow::Borrowed(component),
    }
}

/// Copies the component's top-level sections, replacing the core modules that can be hooked.
/// Nested components are copied as they are.
fn with_hooks(component: &[u8]) -> Option<Vec<u8>> {
    if !Parser::is_component(component) {
        return None;
    }
    let mut out = component[..8].to_vec();
    let mut reader = BinaryReader::new(&component[8..], 8);
    let mut hooked = false;
    while !reader.eof() {
        let start = reader.original_position();
        let id = reader.read_u8().ok()?;
        let size = reader.read_var_u32().ok()? as usize;
        let contents = reader.read_bytes(size).ok()?;
        let patched = (id == CORE_MODULE_SECTION)
            .then(|| hook_module(contents))
            .flatten();
        match patched {
            Some(module) => {
                hooked = true;
                out.push(CORE_MODULE_SECTION);
                leb128_u32(&mut out, module.len() as u32);
                out.extend_from_slice(&module);
            }
            None => out.extend_from_slice(&component[start..reader.original_position()]),
        }
    }
    hooked.then_some(out)
}

fn leb128_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// What a core module holds that the hook needs: the three libc functions and where the
/// new functions and the flag global will land.
struct Survey {
    getcwd: u32,
    chdir: u32,
    getenv: u32,
    getcwd_type: u32,
    chdir_type: u32,
    /// Index of the first function after the module's own (imports and definitions).
    next_func: u32,
    /// Index of the first global after the module's own.
    next_global: u32,
    has_globals: bool,
}

/// The module with the hooks added, or `None` when it is not a wasi-libc with names.
fn hook_module(module: &[u8]) -> Option<Vec<u8>> {
    let survey = survey(module)?;
    let mut hook = Hook {
        survey,
        globals_added: false,
    };
    let mut encoded = wasm_encoder::Module::new();
    hook.parse_core_module(&mut encoded, Parser::new(0), module)
        .ok()?;
    let hooked = encoded.finish();
    let mut validator = wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all());
    match validator.validate_all(&hooked) {
        Ok(_) => Some(hooked),
        Err(e) => {
            tracing::debug!("the getcwd hook left a core module invalid ({e}): not used");
            None
        }
    }
}

fn survey(module: &[u8]) -> Option<Survey> {
    let functions = ModuleFunctions::read(module, &["getcwd", "chdir", "getenv"], |_| Some(()))?;
    let i32 = ValType::I32;
    let (getcwd, getcwd_type) = functions.typed("getcwd", &[i32, i32], &[i32])?;
    let (chdir, chdir_type) = functions.typed("chdir", &[i32], &[i32])?;
    let (getenv, _) = functions.typed("getenv", &[i32], &[i32])?;
    Some(Survey {
        getcwd,
        chdir,
        getenv,
        getcwd_type,
        chdir_type,
        next_func: functions.count(),
        next_global: functions.globals,
        has_globals: functions.has_global_section,
    })
}

/// Re-encodes a surveyed module: every reference to `getcwd`/`chdir` points at the
/// replacements, which are appended (so no other index moves) with one flag global.
struct Hook {
    survey: Survey,
    globals_added: bool,
}

impl Hook {
    fn getcwd_hook(&self) -> u32 {
        self.survey.next_func
    }

    fn chdir_hook(&self) -> u32 {
        self.survey.next_func + 1
    }

    fn moved_flag(&self) -> u32 {
        self.survey.next_global
    }

    fn add_flag(&mut self, globals: &mut wasm_encoder::GlobalSection) {
        globals.global(
            wasm_encoder::GlobalType {
                val_type: wasm_encoder::ValType::I32,
                mutable: true,
                shared: false,
            },
            &wasm_encoder::ConstExpr::i32_const(0),
        );
        self.globals_added = true;
    }

    /// `getcwd(buf, size)`: the first time, with room for "PWD\0" in `buf`, writes that name
    /// there, and moves to the directory it names when it is set; then the real `getcwd`.
    fn getcwd_body(&self) -> Function {
        let (buf, size, dir) = (0, 1, 2);
        let mut f = Function::new([(1, wasm_encoder::ValType::I32)]);
        let unaligned = MemArg {
            offset: 0,
            align: 0,
            memory_index: 0,
        };
        f.instructions()
            .global_get(self.moved_flag())
            .i32_eqz()
            .local_get(buf)
            .i32_const(0)
            .i32_ne()
            .i32_and()
            .local_get(size)
            .i32_const(4)
            .i32_ge_u()
            .i32_and()
            .if_(wasm_encoder::BlockType::Empty)
            .i32_const(1)
            .global_set(self.moved_flag())
            .local_get(buf)
            .i32_const(i32::from_le_bytes(*b"PWD\0"))
            .i32_store(unaligned)
            .local_get(buf)
            .call(self.survey.getenv)
            .local_tee(dir)
            .if_(wasm_encoder::BlockType::Empty)
            .local_get(dir)
            .call(self.survey.chdir)
            .drop()
            .end()
            .end()
            .local_get(buf)
            .local_get(size)
            .call(self.survey.getcwd)
            .end();
        f
    }

    /// `chdir(path)`: marks the first move done, then the real `chdir`.
    fn chdir_body(&self) -> Function {
        let mut f = Function::new([]);
        f.instructions()
            .i32_const(1)
            .global_set(self.moved_flag())
            .local_get(0)
            .call(self.survey.chdir)
            .end();
        f
    }
}

/// Where a section sits in a module's required order (the tag section, id 13, comes between
/// memories and globals).
fn order(id: SectionId) -> u8 {
    match id {
        SectionId::Custom => 0,
        SectionId::Type => 1,
        SectionId::Import => 2,
        SectionId::Function => 3,
        SectionId::Table => 4,
        SectionId::Memory => 5,
        SectionId::Tag => 6,
        SectionId::Global => 7,
        SectionId::Export => 8,
        SectionId::Start => 9,
        SectionId::Element => 10,
        SectionId::DataCount => 11,
        SectionId::Code => 12,
        SectionId::Data => 13,
    }
}

impl Reencode for Hook {
    type Error = std::convert::Infallible;

    fn function_index(&mut self, func: u32) -> Result<u32, reencode::Error> {
        Ok(match func {
            f if f == self.survey.getcwd => self.getcwd_hook(),
            f if f == self.survey.chdir => self.chdir_hook(),
            f => f,
        })
    }

    fn parse_function_section(
        &mut self,
        functions: &mut wasm_encoder::FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_function_section(self, functions, section)?;
        functions.function(self.survey.getcwd_type);
        functions.function(self.survey.chdir_type);
        Ok(())
    }

    fn parse_global_section(
        &mut self,
        globals: &mut wasm_encoder::GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_global_section(self, globals, section)?;
        self.add_flag(globals);
        Ok(())
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut wasm_encoder::Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> Result<(), reencode::Error> {
        let past_globals = before.is_none_or(|next| order(next) > order(SectionId::Global));
        if !self.survey.has_globals && !self.globals_added && past_globals {
            let mut globals = wasm_encoder::GlobalSection::new();
            self.add_flag(&mut globals);
            module.section(&globals);
        }
        Ok(())
    }

    fn parse_code_section(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        reencode::utils::parse_code_section(self, code, section)?;
        code.function(&self.getcwd_body());
        code.function(&self.chdir_body());
        Ok(())
    }

    /// Custom sections, the name section among them, are copied as they are: their indices
    /// still name the same functions, and the hooks go unnamed.
    fn parse_custom_section(
        &mut self,
        module: &mut wasm_encoder::Module,
        section: wasmparser::CustomSectionReader<'_>,
    ) -> Result<(), reencode::Error> {
        module.section(&reencode::utils::custom_section(self, section));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
