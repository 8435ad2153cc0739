;; A plugin whose _initialize (a WASI reactor's initialiser, which the host
;; runs when it instantiates the module) loops forever. Loading it must fail
;; within the start-up deadline, not hang. The exports are otherwise those of
;; a protocol v1 plugin, so that only the loop is wrong.
(module
  (memory (export "memory") 1)
  (func (export "_initialize")
    (loop $forever (br $forever)))
  (func (export "vs_abi") (result i32) (i32.const 1))
  (func (export "vs_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "vs_describe") (result i64) (i64.const 0))
  (func (export "vs_configure") (param i32 i32) (result i64) (i64.const 0))
  (func (export "vs_process") (param i32 i32) (result i64) (i64.const 0)))
