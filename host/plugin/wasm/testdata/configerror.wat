;; A plugin that refuses its configuration with an error message of 5,000
;; bytes, over the protocol's 4 KiB limit (JSON encoding: the reply is
;; {"error":"eee…"}). Loading it must fail with a short error, not quote
;; the message whole.
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"error\":\"")
  (data (i32.const 16384) "{\"name\":\"configerror\",\"abi\":1,\"kind\":\"extractor\",\"field\":\"ai_values\"}")
  (func (export "vs_abi") (result i32) (i32.const 1))
  (func (export "vs_alloc") (param i32) (result i32) (i32.const 32768))
  (func (export "vs_describe") (result i64) (i64.const 70368744177733)) ;; 16384<<32 | 69
  (func (export "vs_configure") (param i32 i32) (result i64)
    (memory.fill (i32.const 10) (i32.const 101) (i32.const 5000)) ;; 'e'
    (i32.store16 (i32.const 5010) (i32.const 0x7d22))             ;; "}
    (i64.const 5012))
  (func (export "vs_process") (param i32 i32) (result i64) (i64.const 0)))
