;; A plugin whose start section (run by instantiation itself, before any
;; export can be called) loops forever. Loading it must fail within the
;; start-up deadline, not hang.
(module
  (memory (export "memory") 1)
  (func $forever
    (loop $l (br $l)))
  (start $forever)
  (func (export "vs_abi") (result i32) (i32.const 1))
  (func (export "vs_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "vs_describe") (result i64) (i64.const 0))
  (func (export "vs_configure") (param i32 i32) (result i64) (i64.const 0))
  (func (export "vs_process") (param i32 i32) (result i64) (i64.const 0)))
