/* tools/stb_impl.c - the one translation unit holding the implementations
 * of stb_image_write and stb_image (PNG reading only; Debian's libstb-dev),
 * built without dvren's warning set because it is third-party code. */
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb/stb_image.h>
