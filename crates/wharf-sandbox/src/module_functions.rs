//! What wharf reads of a core module to find wasi-libc's functions by name (for `-w`, see
//! `workdir` and `component_cwd`): each function's type, and the indices the name section
//! gives the names asked for.

use wasmparser::{Name, Parser, Payload, TypeRef, ValType};

/// A module's functions, imports first, and the indices of the names asked for.
pub(crate) struct ModuleFunctions {
    types: Vec<Option<wasmparser::FuncType>>,
    /// The type index of each function.
    func_types: Vec<u32>,
    named: Vec<(&'static str, u32)>,
    /// Globals imported and defined; whether the module has a global section.
    pub(crate) globals: u32,
    pub(crate) has_global_section: bool,
}

impl ModuleFunctions {
    /// Reads `module`, keeping the indices of the functions named `wanted`; every payload is
    /// also shown to `visit`, for what a caller reads besides. `None` if it does not parse.
    pub(crate) fn read<'a>(
        module: &'a [u8],
        wanted: &[&'static str],
        mut visit: impl FnMut(&Payload<'a>) -> Option<()>,
    ) -> Option<ModuleFunctions> {
        let mut functions = ModuleFunctions {
            types: Vec::new(),
            func_types: Vec::new(),
            named: Vec::new(),
            globals: 0,
            has_global_section: false,
        };
        for payload in Parser::new(0).parse_all(module) {
            let payload = payload.ok()?;
            visit(&payload)?;
            match payload {
                Payload::TypeSection(reader) => {
                    for group in reader {
                        for ty in group.ok()?.into_types() {
                            functions.types.push(match &ty.composite_type.inner {
                                wasmparser::CompositeInnerType::Func(f) => Some(f.clone()),
                                _ => None,
                            });
                        }
                    }
                }
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        match import.ok()?.ty {
                            TypeRef::Func(ty) | TypeRef::FuncExact(ty) => {
                                functions.func_types.push(ty)
                            }
                            TypeRef::Global(_) => functions.globals += 1,
                            _ => {}
                        }
                    }
                }
                Payload::FunctionSection(reader) => {
                    for ty in reader {
                        functions.func_types.push(ty.ok()?);
                    }
                }
                Payload::GlobalSection(reader) => {
                    functions.has_global_section = true;
                    functions.globals += reader.count();
                }
                Payload::CustomSection(reader) if reader.name() == "name" => {
                    let wasmparser::KnownCustom::Name(subsections) = reader.as_known() else {
                        continue;
                    };
                    for subsection in subsections {
                        let Ok(Name::Function(map)) = subsection else {
                            continue;
                        };
                        for naming in map.into_iter().flatten() {
                            if let Some(name) = wanted.iter().find(|n| **n == naming.name) {
                                functions.named.push((name, naming.index));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Some(functions)
    }

    /// How many functions the module has, imports included: the index the next one gets.
    pub(crate) fn count(&self) -> u32 {
        self.func_types.len() as u32
    }

    /// The function named `name` (one of those asked for), if its type is `params -> results`;
    /// with its type index.
    pub(crate) fn typed(
        &self,
        name: &str,
        params: &[ValType],
        results: &[ValType],
    ) -> Option<(u32, u32)> {
        let (_, func) = self.named.iter().find(|(n, _)| *n == name)?;
        let ty = *self.func_types.get(*func as usize)?;
        let f = self.types.get(ty as usize)?.as_ref()?;
        (f.params() == params && f.results() == results).then_some((*func, ty))
    }
}
