#!/usr/bin/env bash
# tests/test_embedded.sh - dvren.h carries copies of kernels/dvren_device.h
# and kernels/dvren_march.h (so that the header works without kernels/).
# Fails when a copy is stale, i.e. someone edited kernels/ (or the copy)
# without running ./build.sh gen.
cd "$(dirname "$0")/.."
name=test_embedded
region() { # name: the lines between the markers in dvren.h
  awk -v n="$1" '$0 ~ "^/\\* >>" n " end \\*/" {p=0} p {print} $0 ~ "^/\\* >>" n " begin" {p=1}' dvren.h
}
for pair in device:kernels/dvren_device.h march:kernels/dvren_march.h; do
  r=${pair%%:*} f=${pair#*:}
  if [ "$(region "$r" | wc -l)" -lt 10 ]; then
    echo "FAIL $name/$r: dvren.h has no '>>$r begin/end' region"
  elif region "$r" | cmp -s - "$f"; then
    echo "PASS $name/$r"
  else
    echo "FAIL $name/$r: dvren.h's copy of $f is stale: run ./build.sh gen ($(region "$r" | diff - "$f" | head -3 | tr '\n' ' '))"
  fi
done
if ./build.sh gen --check; then echo "PASS $name/gen_check"; else echo "FAIL $name/gen_check: ./build.sh gen --check reports dvren.h stale"; fi
