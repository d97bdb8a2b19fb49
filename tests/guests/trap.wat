;; Divides by zero three calls deep, so the backtrace has named frames to show.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func $divide (param $a i32) (param $b i32) (result i32)
    (i32.div_s (local.get $a) (local.get $b)))
  (func $compute (result i32)
    (call $divide (i32.const 1) (i32.const 0)))
  (func (export "_start")
    (drop (call $compute))))
