;; A plugin that starts and says it speaks ABI 1, then loops forever in
;; vs_describe. With a per-call deadline longer than the start-up deadline,
;; loading it must fail at the start-up deadline: the start-up deadline
;; bounds the whole of loading, not each call of it.
(module
  (memory (export "memory") 1)
  (func (export "vs_abi") (result i32) (i32.const 1))
  (func (export "vs_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "vs_describe") (result i64)
    (loop $forever (br $forever))
    (i64.const 0))
  (func (export "vs_configure") (param i32 i32) (result i64) (i64.const 0))
  (func (export "vs_process") (param i32 i32) (result i64) (i64.const 0)))
