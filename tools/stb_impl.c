/* tools/stb_impl.c - the one translation unit holding stb_image_write's
 * implementation (Debian's libstb-dev), built without dvren's warning set
 * because it is third-party code. */
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
