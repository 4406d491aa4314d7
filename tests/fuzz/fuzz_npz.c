/* tests/fuzz/fuzz_npz.c - libFuzzer target: dense_grid's npz loader
 * (tests/fuzz/fuzz_dense_grid.h says how an input becomes files). */
#include "fuzz/fuzz_dense_grid.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    dvren_params p = {0};
    fz_run(data, size, "fz.npz", "npz", &p, 0);
    return 0;
}
