#!/usr/bin/env bash
# bench/prepare_carry.sh - run on the development machine before a GPU call.
# Fills .carry/ (git-ignored) with what the GPU machine lacks and cannot
# fetch (it has no network): the PyTorch peer script, a subset of the real
# data, and the sources of cJSON (Debian's source package, for dvren_render)
# and stb_image_write.h and stb_image.h (Debian's libstb-dev). Name .carry in the call's carry.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
C=.carry
rm -rf $C
mkdir -p $C/data $C/include/stb $C/include/cjson $C/src
cp "$SHARED/peers/torch_dense_grid.py" $C/
for d in ct_head mr_head hydrogen_atom iron_protein lego stent; do cp -r "$SHARED/data/$d" $C/data/; done
cp /usr/include/stb/stb_image_write.h /usr/include/stb/stb_image.h $C/include/stb/
tarball=$(ls build*/third_party/cjson/cjson_*.orig.tar.gz 2>/dev/null | head -n 1 || true)
if [ -z "$tarball" ]; then
  # the same private deb-src fetch as tests/test_portability.sh
  t=$(mktemp -d)
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > $t/src.sources
  mkdir -p $t/lists/partial
  o="-o Dir::Etc::SourceList=$t/src.sources -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists=$t/lists"
  apt-get $o update -q >/dev/null && (cd $t && apt-get $o source --download-only cjson >/dev/null 2>&1)
  tarball=$(ls $t/cjson_*.orig.tar.gz)
fi
tar -xzf "$tarball" -C $C/src --wildcards '*/cJSON.c' '*/cJSON.h' --strip-components=1
mv $C/src/cJSON.h $C/include/cjson/
du -sh $C
