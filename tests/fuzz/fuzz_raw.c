/* tests/fuzz/fuzz_raw.c - libFuzzer target: dense_grid's raw loader. The
 * first 6 bytes of an input are the parameters (dims, dtype, endian,
 * channels, header_bytes), the rest is the file. */
#include "fuzz/fuzz_dense_grid.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    static const char* const dtypes[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f16", "f32", "f64"};
    dvren_params p = {0};
    if (size < 6) return 0;
    p.has_dims = 1;
    p.dims[0] = 1 + data[0] % 16;
    p.dims[1] = 1 + data[1] % 16;
    p.dims[2] = 1 + data[2] % 16;
    p.dtype = dtypes[data[3] % 9];
    p.endian = data[3] & 0x80 ? "big" : "little";
    p.channels = 1 + data[4] % 4;
    p.header_bytes = data[5];
    fz_run(data + 6, size - 6, "fz.raw", "raw", &p, 0);
    return 0;
}
