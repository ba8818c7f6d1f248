;; The FastCDC inner loop of ./chunker.ts, assembled by scripts/build.mjs.
;; It must agree with findCutReference byte for byte (a property test checks it).
;;
;; Memory (imported and shared, so that hash workers read chunks where they lie):
;;   [0, 1024)     GEAR[i]       u32 little-endian
;;   [1024, 2048)  GEAR[i] << 1
;;   [2048, ...)   input blocks, owned by the caller (and, past them, a
;;                 staging area: core/staging.ts)
;;
;; Two bytes per step (FastCDC 2020, "rolling two bytes"):
;;   h' = (h << 2) + (GEAR[b] << 1) equals h_next << 1, so testing h' against
;;   mask << 1 tests h_next against mask. That is exact only because the masks
;;   never use bit 31 (see chunker.ts).
(module
  (import "env" "memory" (memory 1 65536 shared))
  (global $h (mut i32) (i32.const 0))

  ;; Scans bytes [i, stop) under mask m, continuing the rolling hash in $h.
  ;; Returns (cut | 0x80000000) when a byte matched, else stop.
  (func $scan (param $i i32) (param $stop i32) (param $m i32) (result i32)
    (local $h i32) (local $m2 i32)
    (local.set $h (global.get $h))
    (local.set $m2 (i32.shl (local.get $m) (i32.const 1)))
    (block $pairs_done
      (loop $pairs
        (br_if $pairs_done (i32.ge_u (i32.add (local.get $i) (i32.const 1)) (local.get $stop)))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 2))
          (i32.load offset=1024 (i32.shl (i32.load8_u (local.get $i)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $m2)))
          (then (return (i32.or (i32.add (local.get $i) (i32.const 1)) (i32.const 0x80000000)))))
        (local.set $h (i32.add (local.get $h)
          (i32.load (i32.shl (i32.load8_u offset=1 (local.get $i)) (i32.const 2)))))
        (if (i32.eqz (i32.and (local.get $h) (local.get $m)))
          (then (return (i32.or (i32.add (local.get $i) (i32.const 2)) (i32.const 0x80000000)))))
        (local.set $i (i32.add (local.get $i) (i32.const 2)))
        (br $pairs)))
    (if (i32.lt_u (local.get $i) (local.get $stop))
      (then
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
          (i32.load (i32.shl (i32.load8_u (local.get $i)) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (if (i32.eqz (i32.and (local.get $h) (local.get $m)))
          (then (return (i32.or (local.get $i) (i32.const 0x80000000)))))))
    (global.set $h (local.get $h))
    (local.get $stop))

  ;; find(i, mid, end, maskS, maskL): the chunk end for a scan starting at i
  ;; (= chunk start + min) with the hash at 0.
  (func (export "find") (param $i i32) (param $mid i32) (param $end i32) (param $ms i32) (param $ml i32) (result i32)
    (local $r i32)
    (global.set $h (i32.const 0))
    (local.set $r (call $scan (local.get $i) (local.get $mid) (local.get $ms)))
    (if (i32.lt_s (local.get $r) (i32.const 0))
      (then (return (i32.and (local.get $r) (i32.const 0x7fffffff)))))
    (i32.and (call $scan (local.get $mid) (local.get $end) (local.get $ml)) (i32.const 0x7fffffff)))

  ;; copy(dst, src, n): memory.copy within the shared memory. A typed-array
  ;; copy out of shared memory goes byte by byte whenever source and target are
  ;; differently aligned (V8's relaxed memcpy, ~4x slower); this is a memmove.
  (func (export "copy") (param $dst i32) (param $src i32) (param $n i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $n)))
)
