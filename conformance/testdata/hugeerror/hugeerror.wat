;; hugeerror is a broken plugin of the conformance gallery, written in
;; WebAssembly text: it answers every conversation with an error message
;; 60 MB long. Before the host limited replies (sdk/protocol, MaxReplyBytes
;; and MaxErrorBytes), 16 conversations of this made a 1.8 GB run folder. It
;; fails the limits check.
;;
;; Build: wat2wasm hugeerror.wat -o hugeerror.wasm (the .wasm is committed;
;; TestGallerySources rebuilds it when wat2wasm is on PATH and compares).
(module
  (memory (export "memory") 2)
  ;; NUL-terminated strings.
  (data (i32.const 0) "{\"name\":\"hugeerror\",\"version\":\"0.1.0\",\"abi\":1,\"kind\":\"extractor\",\"field\":\"ai_values\"}\00")
  (data (i32.const 1024) "{\"config_json\":\"{}\"}\00")
  (data (i32.const 1088) "{}\00")
  (data (i32.const 1152) "{\"error\":\"hugeerror takes no config: want {}\"}\00")
  (data (i32.const 1280) "{\"error\":\"\00")
  (data (i32.const 1408) "\"}\00")

  ;; grow makes the memory reach at least end bytes.
  (func $grow (param $end i32)
    (local $have i32)
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535)) (i32.const 16)))
                    (i32.const -1))
          (then unreachable)))))

  (func $strlen (param $p i32) (result i32)
    (local $n i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $n))

  ;; reply packs a NUL-terminated string's address and length.
  (func $reply (param $p i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $p)) (i64.const 32))
            (i64.extend_i32_u (call $strlen (local.get $p)))))

  ;; equals reports whether the n bytes at p are the string at s.
  (func $equals (param $p i32) (param $n i32) (param $s i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $n) (call $strlen (local.get $s))) (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $s) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  (func (export "vs_abi") (result i32) (i32.const 1))

  ;; vs_alloc: one request buffer at 64 KiB, grown to fit.
  (func (export "vs_alloc") (param $n i32) (result i32)
    (local $end i32)
    (local $have i32)
    (local.set $end (i32.add (i32.const 65536) (local.get $n)))
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535)) (i32.const 16)))
                    (i32.const -1))
          (then unreachable))))
    (i32.const 65536))

  (func (export "vs_describe") (result i64) (call $reply (i32.const 0)))

  (func (export "vs_configure") (param $p i32) (param $n i32) (result i64)
    (if (i32.or (call $equals (local.get $p) (local.get $n) (i32.const 1024))
                (call $equals (local.get $p) (local.get $n) (i32.const 1088)))
      (then (return (call $reply (i32.const 1088)))))
    (call $reply (i32.const 1152)))

  ;; vs_process builds its reply past the request: the prefix, 60000000 bytes of
  ;; "x", the suffix.
  (func (export "vs_process") (param $p i32) (param $n i32) (result i64)
    (local $out i32)
    (local $at i32)
    (local $plen i32)
    (local $slen i32)
    (local.set $out (i32.and (i32.add (i32.add (local.get $p) (local.get $n)) (i32.const 65535)) (i32.const -65536)))
    (local.set $plen (call $strlen (i32.const 1280)))
    (local.set $slen (call $strlen (i32.const 1408)))
    (call $grow (i32.add (local.get $out) (i32.add (i32.const 60000000) (i32.add (local.get $plen) (local.get $slen)))))
    (memory.copy (local.get $out) (i32.const 1280) (local.get $plen))
    (local.set $at (i32.add (local.get $out) (local.get $plen)))
    (memory.fill (local.get $at) (i32.const 120) (i32.const 60000000))
    (local.set $at (i32.add (local.get $at) (i32.const 60000000)))
    (memory.copy (local.get $at) (i32.const 1408) (local.get $slen))
    (local.set $at (i32.add (local.get $at) (local.get $slen)))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
            (i64.extend_i32_u (i32.sub (local.get $at) (local.get $out))))))
