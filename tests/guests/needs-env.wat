;; Imports host functions no WASI host provides.
(module
  (import "env" "emscripten_memcpy_big" (func (param i32 i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")))
