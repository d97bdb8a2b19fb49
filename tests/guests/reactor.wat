;; A library module: it has _initialize but no _start.
(module
  (memory (export "memory") 1)
  (func (export "_initialize")))
