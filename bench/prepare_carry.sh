#!/usr/bin/env bash
# bench/prepare_carry.sh - run on the development machine before a GPU call.
# Fills .carry/ (git-ignored) with what the GPU machine lacks and cannot
# fetch (it has no network): the PyTorch peer script, a subset of the real
# data (gaussians/test_garden.npz among it, for bench/splats.sh), the wheels
# of gsplat 1.5.3 and of its pure-Python needs in $C/wheels (bench/splats.sh
# installs gsplat, and each need only where the machine's Python lacks it),
# and the sources of cJSON (Debian's source package, for dvren_render)
# and stb_image_write.h and stb_image.h (Debian's libstb-dev), and the
# headers and shared libraries of FFTW 3 (single precision, for the
# spectral_residual and phase_correlation plugins, with FFTW's threads
# library; Debian's libfftw3-dev) and of OpenEXR's C API
# (OpenEXRCore, for dvren_foveate; Debian's libopenexr-dev) and of LibRaw
# (the thread-safe libraw_r, for the RAW loaders of tools/dvren_raw.h;
# Debian's libraw-dev), which the GPU machine may lack: $C/include and
# $C/lib, which bench/gpu_env.sh puts first on the include, link and library
# paths. Name .carry in the call's carry.
#
# `bash bench/prepare_carry.sh meshes` instead fills only the two folders
# of bench/meshes.sh (warp-lang is too large for one call's carry, 64 MiB):
# warp-lang 1.19.0's wheel (py3-none-manylinux_2_28_x86_64, 149 MB; its
# only requirement, numpy, is on the GPU machine) is unpacked without what
# the CUDA path does not use (bin/warp-clang.so, warp's CPU compiler, which
# warp loads only when present; examples/ and tests/), packed as one
# .tar.xz (about 84 MB) and split into two halves:
#   .carry_meshes/   data/ct_head, warp part 1, warp.sha256 (the manifest)
#   .carry_meshes2/  warp part 2, warp.sha256, wheels/ (scikit-image 0.26.0
#                    cp312 and lazy-loader 0.6, 14 MB: the GPU machine's image
#                    has scikit-image; bench/meshes.sh installs these only
#                    where it does not import; its other needs, numpy, scipy,
#                    networkx, pillow, imageio, tifffile, packaging, are there)
# each under 64 MiB: one call carries each (bench/meshes.sh's header);
# .carry itself is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
if [ "${1:-}" = meshes ]; then
  WARP_VERSION=1.19.0
  M1=.carry_meshes M2=.carry_meshes2
  t=$(mktemp -d)
  trap 'rm -rf "$t"' EXIT
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d $t warp-lang==$WARP_VERSION ||
    { echo "prepare_carry: pip download of warp-lang==$WARP_VERSION failed (network?)" >&2; exit 1; }
  whl=$(ls $t/warp_lang-$WARP_VERSION-*.whl)
  mkdir -p $t/x
  (cd $t/x && python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(".")' "$whl")
  [ -f $t/x/warp/bin/warp.so ] || { echo "prepare_carry: $whl has no warp/bin/warp.so" >&2; exit 1; }
  rm -rf $t/x/warp/bin/warp-clang.so $t/x/warp/examples $t/x/warp/tests
  echo "warp-lang $WARP_VERSION from $(basename "$whl"), less bin/warp-clang.so, examples/, tests/" > $t/x/warp/CARRIED
  name=warp-lang-$WARP_VERSION-slim.tar.xz
  echo "prepare_carry: packing $name (xz, a few minutes)" >&2
  tar -C $t/x -cf - warp | xz -6 -T0 > $t/$name
  rm -rf $M1 $M2
  mkdir -p $M1/data $M2
  cp -r "$SHARED/data/ct_head" $M1/data/
  half=$(( ($(stat -c %s $t/$name) + 1) / 2 ))
  split -b $half -d -a 1 $t/$name $t/$name.part
  mv $t/$name.part0 $M1/
  mv $t/$name.part1 $M2/
  # manifest: the archive's sha256 and size, then each part's
  { echo "$(sha256sum < $t/$name | cut -d' ' -f1) $(stat -c %s $t/$name) $name"
    for f in $M1/$name.part0 $M2/$name.part1; do echo "$(sha256sum < $f | cut -d' ' -f1) $(stat -c %s $f) $(basename $f)"; done
  } > $M1/warp.sha256
  cp $M1/warp.sha256 $M2/
  mkdir -p $M2/wheels
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d $M2/wheels scikit-image==0.26.0 lazy-loader==0.6 ||
    { echo "prepare_carry: pip download of scikit-image's wheels failed (network?)" >&2; exit 1; }
  du -sh $M1 $M2
  exit 0
fi
C=.carry
rm -rf $C
mkdir -p $C/data $C/include/stb $C/include/cjson $C/include/OpenEXR $C/include/libraw $C/lib $C/src
cp "$SHARED/peers/torch_dense_grid.py" $C/
for d in ct_head mr_head hydrogen_atom iron_protein lego stent voxels registration gaussians; do cp -r "$SHARED/data/$d" $C/data/; done
cp /usr/include/stb/stb_image_write.h /usr/include/stb/stb_image.h $C/include/stb/
# FFTW and OpenEXRCore: the headers the sources include, and each library
# under its link name (lib*.so, for -l) and its soname (for the loader),
# copied as files (a link might not travel); both need only libc, libm and
# libz (objdump -p: NEEDED), which every machine has
L=/usr/lib/x86_64-linux-gnu
cp /usr/include/fftw3.h $C/include/
cp /usr/include/OpenEXR/openexr*.h /usr/include/OpenEXR/OpenEXRConfig.h $C/include/OpenEXR/
for pair in libfftw3f.so:libfftw3f.so.3 libfftw3f_threads.so:libfftw3f_threads.so.3 \
  libOpenEXRCore.so:libOpenEXRCore-3_1.so.30; do
  soname=${pair#*:}
  [ -e $L/$soname ] || { echo "prepare_carry: $L/$soname is missing (apt-get install libfftw3-dev libopenexr-dev)" >&2; exit 1; }
  cp -L $L/$soname $C/lib/$soname
  cp -L $L/$soname $C/lib/${pair%%:*}
done
# LibRaw (0.20, about 1 MiB): libraw_r needs (objdump -p: NEEDED) libjpeg.so.62
# and liblcms2.so.2, which a minimal Ubuntu with CUDA may lack, so they come
# too (for the loader only: nothing links them by name); its other needs,
# libstdc++, libgcc_s and libgomp (OpenMP), come with the GPU machine's
# compiler, and libc and libm are everywhere
cp /usr/include/libraw/*.h $C/include/libraw/
[ -e $L/libraw_r.so.20 ] || { echo "prepare_carry: $L/libraw_r.so.20 is missing (apt-get install libraw-dev)" >&2; exit 1; }
cp -L $L/libraw_r.so.20 $C/lib/libraw_r.so.20
cp -L $L/libraw_r.so.20 $C/lib/libraw_r.so
for soname in libjpeg.so.62 liblcms2.so.2; do cp -L $L/$soname $C/lib/$soname; done
# Wheels for bench/splats.sh (about 9 MB): gsplat 1.5.3 (pure Python; its CUDA
# sources compile on first use on the GPU machine) and its requirements
# (METADATA Requires-Dist: ninja, numpy, jaxtyping, rich>=12, torch; its code
# also imports packaging and typing_extensions) less numpy and torch, with
# rich's own (markdown-it-py, mdurl, pygments) and jaxtyping's (wadler-lindig).
# All are py3-none-any except ninja (py3-none-manylinux2014_x86_64: a
# binary, for any CPython 3 on x86-64 Linux). The GPU machine's image has all
# of them today; they come in case it stops having one. Pinned for Python 3.12
# (the GPU machine's; markdown-it-py 4 and jaxtyping 0.3 need >= 3.10).
mkdir -p $C/wheels
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d $C/wheels \
  gsplat==1.5.3 ninja==1.13.2 rich==15.0.0 markdown-it-py==4.3.0 mdurl==0.1.2 pygments==2.21.0 \
  jaxtyping==0.3.11 wadler-lindig==0.1.8 packaging==26.4 typing-extensions==4.16.0 ||
  { echo "prepare_carry: pip download of gsplat's wheels failed (network?)" >&2; exit 1; }
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
