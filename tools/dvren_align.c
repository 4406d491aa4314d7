/* tools/dvren_align.c - register photographs by FFT phase correlation
 * (dvren_register, dvren.h >>register; the "phase_correlation" plugin).
 *
 *   dvren_align MANIFEST.csv|MANIFEST.json [options]      (see --help; docs/tools.md)
 *   dvren_align --ref REFERENCE MOVING... [options]
 *
 * Input: scenes, each a reference image and the moving images to register
 * against it. A CSV manifest has the header `scene,reference,moving` (the
 * columns in any order) and one row per moving image; a JSON manifest is
 * {"scenes": [{"name": ..., "reference": ..., "moving": [...]}, ...]}.
 * Paths in a manifest are relative to the manifest's folder. `--ref A B C`
 * is one scene (named after A's file name) with reference A and moving
 * images B, C, ... Images are read by tools/dvren_raw.h: camera RAW files
 * through LibRaw (the mosaic, with its CFA pattern), PNG of 8 or 16 bits,
 * PPM/PGM, .npy.
 *
 * Per scene the reference and every moving image are loaded and checked to
 * have one size, channel count, sample type and CFA pattern (the message
 * names the file that differs), then registered with one dvren_register
 * call: on the GPU (--device cuda) the reference is transformed once and
 * the moving images go through batched FFTs sized to the free memory (or
 * --memory-limit). A progress line per scene goes to stderr.
 *
 * Output: one row per moving image (CSV, or JSON by the output's
 * extension; CSV on stdout without -o): scene, file, dy, dx, peak,
 * confidence, dy_r, dx_r, dy_g, dx_g, dy_b, dx_b (empty / null when the
 * images have no colour planes), cfa_dy, cfa_dx, cfa_aligned, time_ms.
 * It is written once, whole and atomically (dvren_file_write_atomic), after
 * every scene succeeded: any error leaves no file, partial or whole.
 *
 * Pattern (--pattern): auto (default) takes a RAW file's pattern from the
 * file and none for PNG/PPM/.npy; a Bayer or X-Trans name makes a
 * single-channel PNG/PPM/.npy a mosaic of that layout; a RAW file whose
 * own pattern differs from the one given is an error (LibRaw reads the
 * layout from the file, after cropping the margins, so a different name
 * would pair unlike colours), except `none`, which correlates a RAW
 * mosaic as one plane.
 *
 * Exit status: 0 done; 1 failed (an unreadable or malformed file, sizes or
 * patterns that differ within a scene, a bad manifest, no GPU for --device
 * cuda, not enough memory for one image, an output that cannot be written);
 * 2 bad usage. Messages on stderr name the file (and the manifest's line or
 * field) and the problem. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#define DVREN_IMPLEMENTATION
#include "dvren.h"
#define DVREN_CUDA_IMPLEMENTATION
#include "dvren_cuda.h"
#define DVREN_RAW_IMPLEMENTATION
#include "dvren_raw.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DA_MAX_MANIFEST ((long)64 << 20) /* bytes: larger manifests are refused */

/* ---------------------------------------------------------------- options */

typedef struct da_options {
    const char* manifest;   /* NULL with --ref */
    const char** ref;       /* --ref A B C...: argv entries (ref[0] the reference) */
    int nref;
    const char* out;        /* NULL: CSV on stdout */
    int json;               /* the output is JSON (by -o's extension) */
    const char* method;     /* integer | parabolic | upsampled (NULL: the plugin's default) */
    long upsample;          /* 0: the plugin's default */
    const char* window;     /* hann | none (NULL: default) */
    double epsilon;         /* < 0: the plugin's default */
    double band;            /* < 0: the plugin's default */
    int pattern_auto;       /* 1: each file's own pattern */
    dvren_cfa pattern;      /* when !pattern_auto */
    int grey;
    const char* device;     /* "cpu", "cuda" or "cuda:N" */
    uint64_t memory_limit;  /* bytes, 0: what is free */
    long threads;           /* -1: default */
} da_options;

static void da_usage(FILE* f)
{
    fprintf(f,
            "usage: dvren_align MANIFEST.csv|MANIFEST.json [options]\n"
            "       dvren_align --ref REFERENCE MOVING... [options]\n"
            "Registers each scene's moving images against its reference by FFT phase correlation on the\n"
            "colour-filter-array mosaic (no demosaicing); one dvren_register call per scene.\n"
            "  MANIFEST.csv        header 'scene,reference,moving', one row per moving image\n"
            "  MANIFEST.json       {\"scenes\": [{\"name\": S, \"reference\": R, \"moving\": [M, ...]}, ...]}\n"
            "                      (paths relative to the manifest's folder)\n"
            "  --ref A B C...      one scene: reference A, moving images B, C, ... (named after A)\n"
            "images: camera RAW (LibRaw: DNG, NEF, CR2, ARW, RAF, KDC, ...), PNG 8/16-bit, PPM/PGM, .npy\n"
            "        (uint8, uint16 or float32, (H, W) or (H, W, 3))\n"
            "options:\n"
            "  -o OUT.csv|OUT.json one row per moving image, written atomically after every scene\n"
            "                      succeeded (default: CSV on stdout)\n"
            "  --method M          integer | parabolic | upsampled (default upsampled: 1/upsample px)\n"
            "  --upsample N        upsampling factor of the upsampled method, 1..1000 (default 100)\n"
            "  --window W          hann | none (default hann)\n"
            "  --epsilon E         regularisation of the cross-power's normalisation, relative to the\n"
            "                      spectra's RMS amplitudes, 0..1 (default 0.02; 0: plain phase correlation)\n"
            "  --band F            fraction of each plane's Nyquist frequency kept, 0..1 (default 0: all;\n"
            "                      about 0.4 for mosaics whose planes alias strongly)\n"
            "  --pattern P         auto | none | RGGB | BGGR | GRBG | GBRG | xtrans (default auto: a RAW\n"
            "                      file's own pattern, none for PNG/PPM/.npy; a pattern other than a RAW\n"
            "                      file's own is an error, except none: the mosaic as one plane)\n"
            "  --grey              RGB images as one grey plane (the mean of R, G, B)\n"
            "  --device D          cpu | cuda | cuda:N (a GPU or an error, never the CPU instead)\n"
            "  --memory-limit B    working memory allowed, bytes, K/M/G suffixes (default: what is free)\n"
            "  --threads N         CPU threads, FFTW's and dvren's (default 0: one per processor)\n"
            "  -h, --help          this text\n"
            "output columns: scene, file, dy, dx, peak, confidence, dy_r, dx_r, dy_g, dx_g, dy_b, dx_b,\n"
            "  cfa_dy, cfa_dx, cfa_aligned, time_ms (shifts in mosaic pixels: reference(y, x) ~\n"
            "  moving(y - dy, x - dx); docs/registration.md)\n"
            "exit status: 0 done, 1 failed (bad file or manifest, no GPU, output not written), 2 bad usage\n");
}


/* An argument that is an option ("-o", "--x"; "-" alone is a file name). */
static int da_is_option(const char* a) { return a[0] == '-' && a[1]; }

/* Bytes with an optional K, M, G or T suffix (powers of 1024, "KB",
 * "KiB" too). Returns 0, or -1 when s is no such size. */
static int da_bytes(const char* s, uint64_t* out)
{
    char* end;
    unsigned long long v;
    unsigned shift = 0;
    if (!*s || !isdigit((unsigned char)s[0])) return -1;
    v = strtoull(s, &end, 10);
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'K': shift = 10; break;
        case 'M': shift = 20; break;
        case 'G': shift = 30; break;
        case 'T': shift = 40; break;
        default: return -1;
        }
        ++end;
        if (*end == 'i' || *end == 'I') {
            ++end;
            if (toupper((unsigned char)*end) != 'B') return -1;
        }
        if (toupper((unsigned char)*end) == 'B') ++end;
        if (*end) return -1;
    }
    if (shift && v > (UINT64_MAX >> shift)) return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

/* Returns 0 to run, 1 for --help (exit 0), -1 on a bad command line (exit 2). */
static int da_parse(int argc, char** argv, da_options* o)
{
    int i;
    memset(o, 0, sizeof *o);
    o->pattern_auto = 1;
    o->epsilon = -1.0;
    o->band = -1.0;
    o->threads = -1;
    o->device = "cpu";
    for (i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        if (!da_is_option(a)) {
            if (o->manifest) {
                fprintf(stderr, "dvren_align: a second manifest '%s' (the first is '%s'; see --help)\n", a, o->manifest);
                return -1;
            }
            o->manifest = a;
            continue;
        }
        if (!strcmp(a, "--grey") || !strcmp(a, "--gray")) {
            o->grey = 1;
            continue;
        }
        if (!strcmp(a, "--ref")) {
            if (o->ref) {
                fprintf(stderr, "dvren_align: --ref given twice\n");
                return -1;
            }
            o->ref = (const char**)(argv + i + 1);
            while (i + 1 < argc && !da_is_option(argv[i + 1])) ++i, ++o->nref;
            if (o->nref < 2) {
                fprintf(stderr, "dvren_align: --ref needs a reference and at least one moving image, got %d file%s\n",
                        o->nref, o->nref == 1 ? "" : "s");
                return -1;
            }
            continue;
        }
        if (strcmp(a, "-o") && strcmp(a, "--method") && strcmp(a, "--upsample") && strcmp(a, "--window") &&
            strcmp(a, "--epsilon") && strcmp(a, "--band") && strcmp(a, "--pattern") && strcmp(a, "--device") && strcmp(a, "--memory-limit") &&
            strcmp(a, "--threads")) {
            fprintf(stderr, "dvren_align: unknown option '%s' (see --help)\n", a);
            return -1;
        }
        v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v || !*v) {
            fprintf(stderr, "dvren_align: %s needs a value\n", a);
            return -1;
        }
        ++i;
        if (!strcmp(a, "-o")) {
            o->out = v;
            if (dvren_io_ends_with(v, ".json")) o->json = 1;
            else if (!dvren_io_ends_with(v, ".csv")) {
                fprintf(stderr, "dvren_align: -o '%s': the output must be a .csv or .json file\n", v);
                return -1;
            }
        } else if (!strcmp(a, "--method")) {
            if (strcmp(v, "integer") && strcmp(v, "parabolic") && strcmp(v, "upsampled")) {
                fprintf(stderr, "dvren_align: --method '%s' is not one of integer, parabolic, upsampled\n", v);
                return -1;
            }
            o->method = v;
        } else if (!strcmp(a, "--window")) {
            if (strcmp(v, "hann") && strcmp(v, "none")) {
                fprintf(stderr, "dvren_align: --window '%s' is not one of hann, none\n", v);
                return -1;
            }
            o->window = v;
        } else if (!strcmp(a, "--upsample") || !strcmp(a, "--threads")) {
            char* end;
            long n = strtol(v, &end, 10);
            int up = !strcmp(a, "--upsample");
            if (end == v || *end || n < (up ? 1 : 0) || n > (up ? 1000 : 1024)) {
                fprintf(stderr, "dvren_align: %s '%s' is not an integer in %s\n", a, v, up ? "1..1000" : "0..1024");
                return -1;
            }
            if (up) o->upsample = n;
            else o->threads = n;
        } else if (!strcmp(a, "--epsilon") || !strcmp(a, "--band")) {
            char* end;
            double e = strtod(v, &end);
            if (end == v || *end || !(e >= 0.0 && e <= 1.0)) {
                fprintf(stderr, "dvren_align: %s '%s' is not a number in 0..1\n", a, v);
                return -1;
            }
            if (!strcmp(a, "--band")) o->band = e;
            else o->epsilon = e;
        } else if (!strcmp(a, "--pattern")) {
            if (!strcmp(v, "auto")) {
                o->pattern_auto = 1;
            } else if (dvren_cfa_parse(NULL, v, &o->pattern) != DVREN_OK) {
                fprintf(stderr, "dvren_align: --pattern '%s' is not one of auto, none, RGGB, BGGR, GRBG, GBRG, xtrans\n", v);
                return -1;
            } else {
                o->pattern_auto = 0;
            }
        } else if (!strcmp(a, "--device")) {
            const char* d = v;
            if (strcmp(d, "cpu") && strcmp(d, "cuda")) {
                const char* p = d + 5;
                int ok = !strncmp(d, "cuda:", 5) && *p;
                for (; ok && *p; ++p) ok = isdigit((unsigned char)*p) != 0;
                if (!ok) {
                    fprintf(stderr, "dvren_align: --device '%s' is not one of cpu, cuda, cuda:N\n", d);
                    return -1;
                }
            }
            o->device = d;
        } else { /* --memory-limit */
            if (da_bytes(v, &o->memory_limit) || o->memory_limit == 0) {
                fprintf(stderr, "dvren_align: --memory-limit '%s' is not a size in bytes > 0 (e.g. 4000000, 512M, 2G)\n", v);
                return -1;
            }
        }
    }
    if (o->manifest && o->ref) {
        fprintf(stderr, "dvren_align: give a manifest or --ref, not both ('%s' and --ref %s)\n", o->manifest, o->ref[0]);
        return -1;
    }
    if (!o->manifest && !o->ref) {
        fprintf(stderr, "dvren_align: no input: give a manifest (.csv or .json) or --ref REFERENCE MOVING... (see --help)\n");
        return -1;
    }
    if (o->manifest && !dvren_io_ends_with(o->manifest, ".csv") && !dvren_io_ends_with(o->manifest, ".json")) {
        fprintf(stderr, "dvren_align: the manifest '%s' must be a .csv or .json file (images go after --ref)\n", o->manifest);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- scenes */

typedef struct da_file {
    char* label; /* as written in the manifest or on the command line (the output's "file") */
    char* path;  /* what is opened: label under the manifest's folder */
    int line;    /* the manifest's line (CSV), 0 otherwise */
} da_file;

typedef struct da_scene {
    char* name;
    da_file ref;
    da_file* moving;
    uint32_t count, cap;
} da_scene;

typedef struct da_job {
    const char* manifest; /* NULL with --ref */
    char* dir;            /* the manifest's folder with a trailing '/', or "" */
    da_scene* scenes;
    uint32_t count, cap;
} da_job;

static char* da_strdup(const char* s, size_t n)
{
    char* r = (char*)malloc(n + 1);
    if (!r) return NULL;
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

static void da_job_free(da_job* j)
{
    uint32_t i, k;
    for (i = 0; i < j->count; ++i) {
        da_scene* s = &j->scenes[i];
        free(s->name);
        free(s->ref.label);
        free(s->ref.path);
        for (k = 0; k < s->count; ++k) {
            free(s->moving[k].label);
            free(s->moving[k].path);
        }
        free(s->moving);
    }
    free(j->scenes);
    free(j->dir);
    memset(j, 0, sizeof *j);
}

/* Fills f from a path as written (resolved against the manifest's folder
 * unless absolute). Returns 0, or -1 (out of memory, said). */
static int da_file_set(const da_job* j, da_file* f, const char* text, size_t n, int line)
{
    size_t dl = (text[0] == '/' || !j->dir) ? 0 : strlen(j->dir);
    f->line = line;
    f->label = da_strdup(text, n);
    f->path = (char*)malloc(dl + n + 1);
    if (!f->label || !f->path) {
        fprintf(stderr, "dvren_align: out of memory\n");
        return -1;
    }
    if (dl) memcpy(f->path, j->dir, dl);
    memcpy(f->path + dl, text, n);
    f->path[dl + n] = 0;
    return 0;
}

/* The scene named name (n bytes), or a new one; NULL when out of memory. */
static da_scene* da_scene_get(da_job* j, const char* name, size_t n, int* created)
{
    uint32_t i;
    *created = 0;
    for (i = 0; i < j->count; ++i)
        if (strlen(j->scenes[i].name) == n && !memcmp(j->scenes[i].name, name, n)) return &j->scenes[i];
    if (j->count == j->cap) {
        uint32_t cap = j->cap ? 2 * j->cap : 8;
        da_scene* s = (da_scene*)realloc(j->scenes, cap * sizeof *s);
        if (!s) return NULL;
        j->scenes = s;
        j->cap = cap;
    }
    memset(&j->scenes[j->count], 0, sizeof j->scenes[0]);
    j->scenes[j->count].name = da_strdup(name, n);
    if (!j->scenes[j->count].name) return NULL;
    *created = 1;
    return &j->scenes[j->count++];
}

static da_file* da_scene_add(da_scene* s)
{
    if (s->count == s->cap) {
        uint32_t cap = s->cap ? 2 * s->cap : 8;
        da_file* m = (da_file*)realloc(s->moving, cap * sizeof *m);
        if (!m) return NULL;
        s->moving = m;
        s->cap = cap;
    }
    memset(&s->moving[s->count], 0, sizeof s->moving[0]);
    return &s->moving[s->count++];
}

/* CSV (RFC 4180): fields separated by commas, optionally in double quotes
 * ("" inside quotes is one quote); records end at LF, CRLF or CR. Reads one
 * record from *p into fields (pointers into a copy made in buf; at most
 * cap). Returns the field count, 0 for a blank line, -1 at the end, -2
 * for an unterminated quote, -3 for more than cap fields, -4 for text
 * after a closing quote. Blanks around fields are dropped. */
static int da_csv_record(const char** p, const char* end, char* buf, char** fields, int cap, int* line)
{
    const char* s = *p;
    char* w = buf;
    int n = 0, any = 0;
    if (s >= end) return -1;
    for (;;) {
        char* start;
        int quoted = 0;
        while (s < end && (*s == ' ' || *s == '\t')) ++s;
        start = w;
        if (s < end && *s == '"') {
            quoted = 1;
            ++s;
            for (;;) {
                if (s >= end) return -2;
                if (*s == '"') {
                    if (s + 1 < end && s[1] == '"') {
                        *w++ = '"';
                        s += 2;
                        continue;
                    }
                    ++s;
                    break;
                }
                if (*s == '\n') ++*line;
                *w++ = *s++;
            }
            while (s < end && (*s == ' ' || *s == '\t')) ++s;
            if (s < end && *s != ',' && *s != '\r' && *s != '\n') return -4;
        } else {
            while (s < end && *s != ',' && *s != '\n' && *s != '\r') *w++ = *s++;
            while (w > start && (w[-1] == ' ' || w[-1] == '\t')) --w;
        }
        *w++ = 0;
        if (quoted || w - start > 1) any = 1;
        if (n == cap) return -3;
        fields[n++] = start;
        if (s < end && *s == ',') {
            ++s;
            continue;
        }
        if (s < end && *s == '\r') ++s;
        if (s < end && *s == '\n') ++s;
        break;
    }
    *p = s;
    return any || n > 1 ? n : 0;
}

static int da_load_csv(da_job* j, const char* path, char* text, size_t size)
{
    const char* p = text;
    const char* end = text + size;
    char* buf = (char*)malloc(size + 1);
    char* f[8];
    int line = 0, n, col[3] = {-1, -1, -1}, ncol = 0, k, rc = -1;
    static const char* const names[3] = {"scene", "reference", "moving"};
    if (!buf) {
        fprintf(stderr, "dvren_align: out of memory\n");
        return -1;
    }
    if (size >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3; /* a UTF-8 byte-order mark */
    /* the header: the first line that is not blank */
    for (;;) {
        ++line;
        n = da_csv_record(&p, end, buf, f, 8, &line);
        if (n != 0) break;
    }
    if (n == -1) {
        fprintf(stderr, "dvren_align: %s: empty manifest: expected the header 'scene,reference,moving' and one row per "
                        "moving image\n", path);
        goto done;
    }
    if (n < 0) {
        fprintf(stderr, "dvren_align: %s:%d: header: %s (expected 'scene,reference,moving')\n", path, line,
                n == -2 ? "a quote that is not closed" : n == -3 ? "more than 8 columns" : "text after a closing quote");
        goto done;
    }
    ncol = n;
    for (k = 0; k < n; ++k) {
        int c, found = 0;
        for (c = 0; c < 3; ++c) {
            if (strcmp(f[k], names[c])) continue;
            if (col[c] >= 0) {
                fprintf(stderr, "dvren_align: %s:%d: header: column '%s' given twice\n", path, line, names[c]);
                goto done;
            }
            col[c] = k;
            found = 1;
        }
        if (!found) {
            fprintf(stderr, "dvren_align: %s:%d: header: unknown column '%s' (expected 'scene,reference,moving')\n", path,
                    line, f[k]);
            goto done;
        }
    }
    for (k = 0; k < 3; ++k) {
        if (col[k] < 0) {
            fprintf(stderr, "dvren_align: %s:%d: header: no column '%s' (expected 'scene,reference,moving')\n", path, line,
                    names[k]);
            goto done;
        }
    }
    for (;;) {
        int row = line + 1, created;
        da_scene* s;
        da_file* m;
        line = row;
        n = da_csv_record(&p, end, buf, f, 8, &line);
        if (n == -1) break;
        if (n == 0) continue;
        if (n == -2 || n == -4) {
            fprintf(stderr, "dvren_align: %s:%d: %s\n", path, row,
                    n == -2 ? "a quote that is not closed" : "text after a closing quote");
            goto done;
        }
        if (n != ncol) {
            fprintf(stderr, "dvren_align: %s:%d: %s%d field%s, the header has %d (scene,reference,moving)\n", path, row,
                    n < 0 ? "more than " : "", n < 0 ? 8 : n, n == 1 ? "" : "s", ncol);
            goto done;
        }
        for (k = 0; k < 3; ++k) {
            if (!*f[col[k]]) {
                fprintf(stderr, "dvren_align: %s:%d: field '%s' is empty\n", path, row, names[k]);
                goto done;
            }
        }
        s = da_scene_get(j, f[col[0]], strlen(f[col[0]]), &created);
        if (!s) {
            fprintf(stderr, "dvren_align: out of memory\n");
            goto done;
        }
        if (created) {
            if (da_file_set(j, &s->ref, f[col[1]], strlen(f[col[1]]), row)) goto done;
        } else if (strcmp(s->ref.label, f[col[1]])) {
            fprintf(stderr, "dvren_align: %s:%d: scene '%s' has reference '%s' here but '%s' on line %d\n", path, row, s->name,
                    f[col[1]], s->ref.label, s->ref.line);
            goto done;
        }
        m = da_scene_add(s);
        if (!m) {
            fprintf(stderr, "dvren_align: out of memory\n");
            goto done;
        }
        if (da_file_set(j, m, f[col[2]], strlen(f[col[2]]), row)) goto done;
    }
    if (j->count == 0) {
        fprintf(stderr, "dvren_align: %s: no rows after the header: nothing to register\n", path);
        goto done;
    }
    rc = 0;
done:
    free(buf);
    return rc;
}

/* The line (1-based) of the byte at offset off of text. */
static int da_line_of(const char* text, size_t off)
{
    int line = 1;
    size_t i;
    for (i = 0; i < off && text[i]; ++i)
        if (text[i] == '\n') ++line;
    return line;
}

static int da_load_json(da_job* j, const char* path, const char* text, size_t size)
{
    cJSON* root = cJSON_ParseWithLength(text, size);
    const cJSON *scenes, *it;
    int rc = -1, i = 0;
    if (!root) {
        const char* at = cJSON_GetErrorPtr();
        size_t off = at && at >= text && at <= text + size ? (size_t)(at - text) : 0;
        fprintf(stderr, "dvren_align: %s:%d: not valid JSON (near '%.20s')\n", path, da_line_of(text, off),
                at && at >= text && at <= text + size ? at : "");
        return -1;
    }
    if (!cJSON_IsObject(root)) {
        fprintf(stderr, "dvren_align: %s: the manifest must be an object {\"scenes\": [...]}\n", path);
        goto done;
    }
    for (it = root->child; it; it = it->next) {
        if (strcmp(it->string, "scenes")) {
            fprintf(stderr, "dvren_align: %s: unknown key '%s' (the manifest has \"scenes\" only)\n", path, it->string);
            goto done;
        }
    }
    scenes = cJSON_GetObjectItemCaseSensitive(root, "scenes");
    if (!cJSON_IsArray(scenes) || !scenes->child) {
        fprintf(stderr, "dvren_align: %s: scenes: %s\n", path,
                !scenes ? "missing (expected {\"scenes\": [{\"name\": ..., \"reference\": ..., \"moving\": [...]}]})"
                        : cJSON_IsArray(scenes) ? "empty: nothing to register" : "not an array");
        goto done;
    }
    for (it = scenes->child; it; it = it->next, ++i) {
        const cJSON *name, *ref, *mov, *m, *k;
        da_scene* s;
        int created, n = 0;
        if (!cJSON_IsObject(it)) {
            fprintf(stderr, "dvren_align: %s: scenes[%d]: not an object\n", path, i);
            goto done;
        }
        for (k = it->child; k; k = k->next) {
            if (strcmp(k->string, "name") && strcmp(k->string, "reference") && strcmp(k->string, "moving")) {
                fprintf(stderr, "dvren_align: %s: scenes[%d]: unknown key '%s' (name, reference, moving)\n", path, i,
                        k->string);
                goto done;
            }
        }
        name = cJSON_GetObjectItemCaseSensitive(it, "name");
        ref = cJSON_GetObjectItemCaseSensitive(it, "reference");
        mov = cJSON_GetObjectItemCaseSensitive(it, "moving");
        if (!cJSON_IsString(name) || !*name->valuestring) {
            fprintf(stderr, "dvren_align: %s: scenes[%d].name: %s\n", path, i,
                    !name ? "missing" : cJSON_IsString(name) ? "empty" : "not a string");
            goto done;
        }
        if (!cJSON_IsString(ref) || !*ref->valuestring) {
            fprintf(stderr, "dvren_align: %s: scenes[%d].reference: %s\n", path, i,
                    !ref ? "missing" : cJSON_IsString(ref) ? "empty" : "not a string");
            goto done;
        }
        if (!cJSON_IsArray(mov) || !mov->child) {
            fprintf(stderr, "dvren_align: %s: scenes[%d].moving: %s\n", path, i,
                    !mov ? "missing" : cJSON_IsArray(mov) ? "empty (at least one moving image)" : "not an array of paths");
            goto done;
        }
        s = da_scene_get(j, name->valuestring, strlen(name->valuestring), &created);
        if (!s) {
            fprintf(stderr, "dvren_align: out of memory\n");
            goto done;
        }
        if (!created) {
            fprintf(stderr, "dvren_align: %s: scenes[%d].name: scene '%s' is given twice\n", path, i, name->valuestring);
            goto done;
        }
        if (da_file_set(j, &s->ref, ref->valuestring, strlen(ref->valuestring), 0)) goto done;
        for (m = mov->child; m; m = m->next, ++n) {
            da_file* f;
            if (!cJSON_IsString(m) || !*m->valuestring) {
                fprintf(stderr, "dvren_align: %s: scenes[%d].moving[%d]: %s\n", path, i, n,
                        cJSON_IsString(m) ? "empty" : "not a string");
                goto done;
            }
            if (!(f = da_scene_add(s)) || da_file_set(j, f, m->valuestring, strlen(m->valuestring), 0)) {
                if (!f) fprintf(stderr, "dvren_align: out of memory\n");
                goto done;
            }
        }
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

static int da_load_manifest(da_job* j, const char* path)
{
    size_t size = 0, dl;
    const char* slash = strrchr(path, '/');
    char* text;
    int rc;
    j->manifest = path;
    dl = slash ? (size_t)(slash - path) + 1 : 0;
    j->dir = da_strdup(path, dl);
    if (!j->dir) {
        fprintf(stderr, "dvren_align: out of memory\n");
        return -1;
    }
    {
        char err[256];
        text = dvren_io_read_file(path, (size_t)DA_MAX_MANIFEST, &size, err, sizeof err);
        if (!text) {
            fprintf(stderr, "dvren_align: %s: the manifest: %s\n", path, err);
            return -1;
        }
    }
    rc = dvren_io_ends_with(path, ".json") ? da_load_json(j, path, text, size) : da_load_csv(j, path, text, size);
    free(text);
    return rc;
}

/* --ref A B C: one scene named after A's file name without its extension. */
static int da_load_ref(da_job* j, const char** files, int n)
{
    const char* base = strrchr(files[0], '/');
    const char* dot;
    size_t len;
    int created, k;
    da_scene* s;
    base = base ? base + 1 : files[0];
    dot = strrchr(base, '.');
    len = dot && dot > base ? (size_t)(dot - base) : strlen(base);
    if (!len) base = files[0], len = strlen(files[0]);
    s = da_scene_get(j, base, len, &created);
    if (!s || da_file_set(j, &s->ref, files[0], strlen(files[0]), 0)) {
        if (!s) fprintf(stderr, "dvren_align: out of memory\n");
        return -1;
    }
    for (k = 1; k < n; ++k) {
        da_file* f = da_scene_add(s);
        if (!f || da_file_set(j, f, files[k], strlen(files[k]), 0)) {
            if (!f) fprintf(stderr, "dvren_align: out of memory\n");
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- output */

typedef struct da_buf {
    char* p;
    size_t n, cap;
    int failed;
} da_buf;

static void da_put(da_buf* b, const char* fmt, ...) DVREN_PRINTF(2, 3);
static void da_put(da_buf* b, const char* fmt, ...)
{
    va_list ap;
    int n;
    if (b->failed) return;
    for (;;) {
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        n = vsnprintf(b->p ? b->p + b->n : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            b->n += (size_t)n;
            return;
        }
        {
            size_t cap = b->cap ? 2 * b->cap : 4096;
            char* q;
            while (cap - b->n <= (size_t)n) cap *= 2;
            q = (char*)realloc(b->p, cap);
            if (!q) {
                b->failed = 1;
                return;
            }
            b->p = q;
            b->cap = cap;
        }
    }
}

/* A number for the output: up to `digits` decimals, trailing zeros
 * dropped, no "-0" ("3", "-0.25", "1.234567"). */
static const char* da_num(char* s, size_t cap, double v, int digits)
{
    char* e;
    snprintf(s, cap, "%.*f", digits, v);
    if (strchr(s, '.')) {
        e = s + strlen(s) - 1;
        while (*e == '0') *e-- = 0;
        if (*e == '.') *e = 0;
    }
    if (!strcmp(s, "-0")) strcpy(s, "0");
    return s;
}

/* A CSV field: quoted when it holds a comma, a quote or a line break. */
static void da_csv_text(da_buf* b, const char* s)
{
    const char* c;
    if (!strpbrk(s, ",\"\r\n") && s[0] != ' ' && (!*s || s[strlen(s) - 1] != ' ')) {
        da_put(b, "%s", s);
        return;
    }
    da_put(b, "\"");
    for (c = s; *c; ++c) da_put(b, *c == '"' ? "\"\"" : "%c", *c);
    da_put(b, "\"");
}

/* A JSON string (RFC 8259). */
static void da_json_text(da_buf* b, const char* s)
{
    const unsigned char* c;
    da_put(b, "\"");
    for (c = (const unsigned char*)s; *c; ++c) {
        if (*c == '"' || *c == '\\') da_put(b, "\\%c", *c);
        else if (*c == '\n') da_put(b, "\\n");
        else if (*c == '\t') da_put(b, "\\t");
        else if (*c == '\r') da_put(b, "\\r");
        else if (*c < 0x20) da_put(b, "\\u%04x", *c);
        else da_put(b, "%c", *c);
    }
    da_put(b, "\"");
}

#define DA_SHIFT_DIGITS 6 /* decimals of shifts: far below the 1/100 px of the upsampled method */

/* One row per moving image: the CSV line, or the JSON object ("first":
 * no comma before it). */
static void da_row(da_buf* b, int json, int first, const char* scene, const char* file, const dvren_register_result* r,
                   double time_ms)
{
    char n[20][40];
    static const char* const keys[6] = {"dy_r", "dx_r", "dy_g", "dx_g", "dy_b", "dx_b"};
    int c, colour = r->channel_count == 3;
    if (json) {
        da_put(b, "%s\n    {\"scene\": ", first ? "" : ",");
        da_json_text(b, scene);
        da_put(b, ", \"file\": ");
        da_json_text(b, file);
        da_put(b, ", \"dy\": %s, \"dx\": %s, \"peak\": %s, \"confidence\": %s", da_num(n[0], 40, r->dy, DA_SHIFT_DIGITS),
               da_num(n[1], 40, r->dx, DA_SHIFT_DIGITS), da_num(n[2], 40, r->peak, 6), da_num(n[3], 40, r->confidence, 6));
        for (c = 0; c < 6; ++c) {
            double v = c % 2 ? r->channel_dx[c / 2] : r->channel_dy[c / 2];
            da_put(b, ", \"%s\": %s", keys[c], colour ? da_num(n[4 + c], 40, v, DA_SHIFT_DIGITS) : "null");
        }
        da_put(b, ", \"cfa_dy\": %ld, \"cfa_dx\": %ld, \"cfa_aligned\": %s, \"time_ms\": %s}", (long)r->cfa_dy,
               (long)r->cfa_dx, r->cfa_aligned ? "true" : "false", da_num(n[10], 40, time_ms, 3));
        return;
    }
    da_csv_text(b, scene);
    da_put(b, ",");
    da_csv_text(b, file);
    da_put(b, ",%s,%s,%s,%s", da_num(n[0], 40, r->dy, DA_SHIFT_DIGITS), da_num(n[1], 40, r->dx, DA_SHIFT_DIGITS),
           da_num(n[2], 40, r->peak, 6), da_num(n[3], 40, r->confidence, 6));
    for (c = 0; c < 6; ++c) {
        double v = c % 2 ? r->channel_dx[c / 2] : r->channel_dy[c / 2];
        da_put(b, ",%s", colour ? da_num(n[4 + c], 40, v, DA_SHIFT_DIGITS) : "");
    }
    da_put(b, ",%ld,%ld,%u,%s\n", (long)r->cfa_dy, (long)r->cfa_dx, (unsigned)(r->cfa_aligned != 0),
           da_num(n[10], 40, time_ms, 3));
}

/* ---------------------------------------------------------------- images */

/* "manifest.csv:4: " or "manifest.json: scenes 's': " before a file's messages. */
static void da_where(char* s, size_t cap, const da_job* j, const da_scene* sc, const da_file* f)
{
    if (!j->manifest) s[0] = 0;
    else if (f->line) snprintf(s, cap, "%s:%d: ", j->manifest, f->line);
    else snprintf(s, cap, "%s: scene '%s': ", j->manifest, sc->name);
}

static const char* da_dtype(dvren_dtype d)
{
    return d == DVREN_DTYPE_U8 ? "uint8" : d == DVREN_DTYPE_U16 ? "uint16" : d == DVREN_DTYPE_F32 ? "float32" : "other";
}

/* The pattern an image is registered with (see the file's comment), or
 * -1 with the reason said. Only camera RAW files bring their own pattern
 * (dvren_raw_image.cfa: NONE for PNG, PGM/PPM, .npy and monochrome RAWs). */
static int da_pattern_of(const da_options* o, const dvren_raw_image* im, const char* where, const char* file,
                         dvren_cfa* out)
{
    dvren_cfa own = im->cfa;
    if (o->pattern_auto) {
        *out = own;
        return 0;
    }
    if (!strcmp(im->format, "raw") && own != DVREN_CFA_NONE && o->pattern != own && o->pattern != DVREN_CFA_NONE) {
        fprintf(stderr, "dvren_align: %s%s: the RAW file's pattern is %s, --pattern says %s (LibRaw reads the layout "
                        "from the file: use --pattern auto, or none for the mosaic as one plane)\n", where, file,
                dvren_cfa_name(own), dvren_cfa_name(o->pattern));
        return -1;
    }
    if (o->pattern != DVREN_CFA_NONE && im->channels != 1) {
        fprintf(stderr, "dvren_align: %s%s: --pattern %s needs a single-channel mosaic, the image has %u channels\n", where,
                file, dvren_cfa_name(o->pattern), (unsigned)im->channels);
        return -1;
    }
    *out = o->pattern;
    return 0;
}

/* ---------------------------------------------------------------- main */

/* The context's log: warnings to stderr; errors reach the user once, as
 * this program's message from dvren_last_error. */
static void da_log(void* user, dvren_log_level level, const char* line)
{
    if (level != DVREN_LOG_ERROR) dvren_log_to_file(user, level, line);
}

int main(int argc, char** argv)
{
    da_options o;
    da_job job;
    da_buf out, info; /* info: the JSON output's "scenes" */
    dvren_context_desc cd;
    dvren_context* ctx = NULL;
    dvren_params* params = NULL;
    dvren_stage* model = NULL;
    dvren_raw_image* images = NULL;
    const void** moving = NULL;
    dvren_register_result* results = NULL;
    uint32_t s, k, loaded = 0, rows = 0, cap_images = 0;
    int pr, rc = 1;

    memset(&job, 0, sizeof job);
    memset(&out, 0, sizeof out);
    memset(&info, 0, sizeof info);
    pr = da_parse(argc, argv, &o);
    if (pr == 1) {
        da_usage(stdout);
        return 0;
    }
    if (pr < 0) return 2;

    if (o.manifest ? da_load_manifest(&job, o.manifest) : da_load_ref(&job, o.ref, o.nref)) goto done;

    /* the context: CUDA gets CUDA or an error (dvren_context_create never falls back) */
    memset(&cd, 0, sizeof cd);
    cd.log = da_log;
    cd.log_level = DVREN_LOG_WARN;
    if (o.threads >= 0) cd.threads = (uint32_t)o.threads;
    if (!strncmp(o.device, "cuda", 4)) {
        cd.device = DVREN_DEVICE_CUDA;
        cd.backend = dvren_cuda_backend();
        if (o.device[4] == ':') cd.device_index = (uint32_t)strtoul(o.device + 5, NULL, 10);
    }
    if (dvren_context_create(&cd, &ctx)) {
        fprintf(stderr, "dvren_align: --device %s: %s\n", o.device, dvren_last_error(NULL));
        goto done;
    }
    if (dvren_params_create(ctx, &params) ||
        (o.method && dvren_params_set_string(params, "method", o.method)) ||
        (o.upsample && dvren_params_set_number(params, "upsample", (double)o.upsample)) ||
        (o.window && dvren_params_set_string(params, "window", o.window)) ||
        (o.epsilon >= 0.0 && dvren_params_set_number(params, "epsilon", o.epsilon)) ||
        (o.band >= 0.0 && dvren_params_set_number(params, "band", o.band)) ||
        (o.threads >= 0 && dvren_params_set_number(params, "threads", (double)o.threads)) ||
        dvren_stage_create(ctx, DVREN_PLUGIN_REGISTRATION, "phase_correlation", params, &model)) {
        fprintf(stderr, "dvren_align: %s\n", dvren_last_error(ctx));
        goto done;
    }

    if (o.json) {
        /* the parameters in effect: given, else the plugin's defaults */
        const dvren_plugin_desc* pd = dvren_stage_plugin(model);
        const char *method = o.method, *window = o.window;
        double upsample = (double)o.upsample, epsilon = o.epsilon, band = o.band;
        char e[3][40];
        uint32_t i;
        for (i = 0; pd && i < pd->param_count; ++i) {
            const dvren_param_desc* q = dvren_plugin_param(pd, i);
            if (!q || !q->name) continue;
            if (!method && !strcmp(q->name, "method")) method = q->default_string;
            if (!window && !strcmp(q->name, "window")) window = q->default_string;
            if (!o.upsample && !strcmp(q->name, "upsample")) upsample = q->default_number;
            if (epsilon < 0.0 && !strcmp(q->name, "epsilon")) epsilon = q->default_number;
            if (band < 0.0 && !strcmp(q->name, "band")) band = q->default_number;
        }
        da_put(&out, "{\n  \"format\": \"dvren.align/1\",\n  \"device\": ");
        da_json_text(&out, o.device);
        da_put(&out, ",\n  \"method\": ");
        da_json_text(&out, method ? method : "");
        da_put(&out, ", \"upsample\": %s, \"window\": ", da_num(e[0], 40, upsample, 0));
        da_json_text(&out, window ? window : "");
        da_put(&out, ", \"epsilon\": %s, \"band\": %s, \"pattern\": \"%s\", \"grey\": %s,\n  \"results\": [",
               epsilon >= 0.0 ? da_num(e[1], 40, epsilon, 12) : "null", band >= 0.0 ? da_num(e[2], 40, band, 12) : "null",
               o.pattern_auto ? "auto" : dvren_cfa_name(o.pattern), o.grey ? "true" : "false");
    }
    else da_put(&out, "scene,file,dy,dx,peak,confidence,dy_r,dx_r,dy_g,dx_g,dy_b,dx_b,cfa_dy,cfa_dx,cfa_aligned,time_ms\n");

    for (s = 0; s < job.count; ++s) {
        const da_scene* sc = &job.scenes[s];
        dvren_register_input in;
        dvren_register_report rep;
        dvren_cfa cfa = DVREN_CFA_NONE, c;
        char where[1024];
        double t0 = dvren__now_ms(), t_load;
        uint32_t n = sc->count + 1;
        if (n > cap_images) {
            free(images);
            free((void*)moving);
            free(results);
            images = (dvren_raw_image*)calloc(n, sizeof *images);
            moving = (const void**)calloc(n, sizeof *moving);
            results = (dvren_register_result*)calloc(n, sizeof *results);
            cap_images = n;
            if (!images || !moving || !results) {
                fprintf(stderr, "dvren_align: out of memory\n");
                cap_images = 0;
                goto done;
            }
        }
        /* load and check: every image like the reference */
        for (k = 0; k < n; ++k) {
            const da_file* f = k ? &sc->moving[k - 1] : &sc->ref;
            const dvren_raw_image* r0 = &images[0];
            dvren_raw_image* im = &images[k];
            da_where(where, sizeof where, &job, sc, f);
            if (dvren_raw_load(ctx, f->path, im)) {
                fprintf(stderr, "dvren_align: %s%s\n", where, dvren_last_error(ctx));
                goto done;
            }
            loaded = k + 1;
            if (da_pattern_of(&o, im, where, f->path, &c)) goto done;
            if (!k) {
                cfa = c;
                continue;
            }
            if (im->width != r0->width || im->height != r0->height || im->channels != r0->channels) {
                fprintf(stderr, "dvren_align: %s%s: %u x %u, %u channel%s, but the scene's reference %s is %u x %u, %u "
                                "channel%s\n", where, f->path, (unsigned)im->width, (unsigned)im->height,
                        (unsigned)im->channels, im->channels == 1 ? "" : "s", sc->ref.path, (unsigned)r0->width,
                        (unsigned)r0->height, (unsigned)r0->channels, r0->channels == 1 ? "" : "s");
                goto done;
            }
            if (im->dtype != r0->dtype) {
                fprintf(stderr, "dvren_align: %s%s: samples are %s, but the scene's reference %s has %s\n", where,
                        f->path, da_dtype(im->dtype), sc->ref.path, da_dtype(r0->dtype));
                goto done;
            }
            if (c != cfa || (c == DVREN_CFA_XTRANS && memcmp(im->xtrans, r0->xtrans, sizeof im->xtrans))) {
                fprintf(stderr, "dvren_align: %s%s: pattern %s%s, but the scene's reference %s has %s\n", where, f->path,
                        dvren_cfa_name(c), c == cfa ? " (another X-Trans layout)" : "", sc->ref.path, dvren_cfa_name(cfa));
                goto done;
            }
        }
        t_load = dvren__now_ms() - t0;

        memset(&in, 0, sizeof in);
        in.struct_size = sizeof in;
        in.width = images[0].width;
        in.height = images[0].height;
        in.channels = images[0].channels;
        in.dtype = images[0].dtype;
        in.memory = DVREN_MEMORY_HOST;
        in.reference = images[0].data;
        for (k = 1; k < n; ++k) moving[k - 1] = images[k].data;
        in.moving = moving;
        in.count = n - 1;
        in.cfa = cfa;
        if (cfa == DVREN_CFA_XTRANS && images[0].cfa == DVREN_CFA_XTRANS) memcpy(in.xtrans, images[0].xtrans, sizeof in.xtrans);
        in.grey = o.grey && in.channels == 3 && cfa == DVREN_CFA_NONE;
        in.memory_limit = o.memory_limit;
        memset(&rep, 0, sizeof rep);
        rep.struct_size = sizeof rep;
        for (k = 0; k < in.count; ++k) results[k].struct_size = sizeof results[k];
        if (dvren_register(model, &in, results, &rep)) {
            fprintf(stderr, "dvren_align: scene '%s' (%s and %u moving image%s): %s\n", sc->name, sc->ref.path,
                    (unsigned)in.count, in.count == 1 ? "" : "s", dvren_last_error(ctx));
            goto done;
        }
        for (k = 0; k < in.count; ++k)
            da_row(&out, o.json, rows++ == 0, sc->name, sc->moving[k].label, &results[k], rep.milliseconds / in.count);
        if (o.json) {
            char e[4][40];
            da_put(&info, "%s\n    {\"name\": ", s ? "," : "");
            da_json_text(&info, sc->name);
            da_put(&info, ", \"reference\": ");
            da_json_text(&info, sc->ref.label);
            da_put(&info, ", \"images\": %u, \"width\": %u, \"height\": %u, \"channels\": %u, \"dtype\": \"%s\", "
                   "\"pattern\": \"%s\", \"grey\": %s, \"batch_size\": %u, \"batches\": %u, \"peak_bytes\": %s, "
                   "\"limit_bytes\": %s, \"load_ms\": %s, \"register_ms\": %s}", (unsigned)in.count, (unsigned)in.width,
                   (unsigned)in.height, (unsigned)in.channels, da_dtype(in.dtype), dvren_cfa_name(cfa),
                   in.grey ? "true" : "false", (unsigned)rep.batch_size, (unsigned)rep.batches,
                   da_num(e[0], 40, (double)rep.peak_bytes, 0), da_num(e[1], 40, (double)rep.limit_bytes, 0),
                   da_num(e[2], 40, t_load, 3), da_num(e[3], 40, rep.milliseconds, 3));
        }
        fprintf(stderr, "dvren_align: scene %s: %u image%s of %u x %u%s%s, pattern %s, batch size %u (%u batch%s), "
                        "peak %.1f MiB, load %.1f ms, register %.1f ms\n",
                sc->name, (unsigned)in.count, in.count == 1 ? "" : "s", (unsigned)in.width, (unsigned)in.height,
                in.channels == 3 ? " RGB" : "", in.grey ? " (grey)" : "", dvren_cfa_name(cfa),
                (unsigned)rep.batch_size, (unsigned)rep.batches, rep.batches == 1 ? "" : "es",
                (double)rep.peak_bytes / 1048576.0, t_load, rep.milliseconds);
        for (k = 0; k < loaded; ++k) dvren_raw_free(&images[k]);
        loaded = 0;
    }
    if (o.json) {
        da_put(&out, "\n  ],\n  \"scenes\": [");
        if (info.p) da_put(&out, "%s", info.p);
        da_put(&out, "\n  ]\n}\n");
    }
    if (out.failed || info.failed) {
        fprintf(stderr, "dvren_align: out of memory for the output\n");
        goto done;
    }
    if (o.out) {
        if (dvren_file_write_atomic(ctx, o.out, out.p, out.n)) {
            fprintf(stderr, "dvren_align: -o %s\n", dvren_last_error(ctx));
            goto done;
        }
    } else if (fwrite(out.p, 1, out.n, stdout) != out.n || fflush(stdout)) {
        fprintf(stderr, "dvren_align: cannot write to stdout\n");
        goto done;
    }
    rc = 0;
done:
    for (k = 0; k < loaded; ++k) dvren_raw_free(&images[k]);
    free(images);
    free((void*)moving);
    free(results);
    free(out.p);
    free(info.p);
    dvren_stage_destroy(model);
    dvren_params_destroy(params);
    dvren_context_destroy(ctx);
    da_job_free(&job);
    return rc;
}
