/* plugins/external/external.c - the "external" saliency model (kind
 * DVREN_PLUGIN_SALIENCY, interface "dvren.saliency/1"): runs a program of
 * the user's on the preview PNG and reads back the importance map it writes
 * as a NumPy .npy file. It lets a learned model without a C implementation
 * (a DINOv3 ViT in Python: examples/saliency/dinov3_saliency.py) drive the
 * foveated render today.
 *
 * Parameters:
 *   command  (string, required) a command line, run with /bin/sh -c, in
 *            which {image} (the preview PNG), {output} (the .npy to write),
 *            {width} and {height} (the preview's size in pixels) are
 *            replaced; the two paths are inserted single-quoted for the
 *            shell (a ' inside becomes '\''), so write {image}, not
 *            '{image}'. It must contain {output}. Example:
 *              python3 examples/saliency/dinov3_saliency.py {image} {output}
 *   timeout  (float, seconds, default 120) the longest the command may run;
 *            then its whole process group gets SIGTERM, and SIGKILL half a
 *            second later, and compute() returns DVREN_ERROR_TIMEOUT.
 *   normalize (bool, default true) min-max the map to [0, 1] (a flat map
 *            becomes 0 everywhere, with a [WARN] line); false: the values
 *            must already lie in [0, 1].
 *
 * What the program gets and must give:
 *   - stdin is /dev/null; stdout and stderr go to files in a private
 *     temporary folder (mkdtemp under $TMPDIR, else /tmp), where {output}
 *     also lies; the folder and everything in it is removed before
 *     compute() returns, whatever happened. The command runs in its own
 *     process group; processes it leaves running in that group when it exits
 *     are killed (they could still write into the folder).
 *   - it writes a 2-D .npy (format 1.0, 2.0 or 3.0; numpy.lib.format):
 *     dtype float32 or float64 ('<f4', '<f8', or big-endian), C order
 *     (fortran_order False), shape (H, W) of the preview, or any other 2-D
 *     size, which is resized bilinearly to H x W (pixel centres aligned,
 *     borders clamped: OpenCV's INTER_LINEAR; a DINOv3 ViT-x/16 gives a grid
 *     of one value per 16x16 patch, (H/16, W/16), and this is the upsampling
 *     that puts it back on the image). The map is normalised after resizing,
 *     so that it spans [0, 1] exactly.
 *
 * Errors (each names the command as given and, where it applies, the file
 * and the field):
 *   IO       the command was not found or not executable (/bin/sh exit
 *            status 127 / 126), with the last lines of its stderr; the
 *            temporary folder cannot be made; the program exited 0 but wrote
 *            no {output}; fork or waitpid failed
 *   PLUGIN   the command exited with another non-zero status, or was killed
 *            by a signal, with the last lines of its stderr (its stdout when
 *            stderr is empty)
 *   TIMEOUT  it ran past `timeout`
 *   FORMAT   a malformed .npy (naming the field: magic, version, header,
 *            descr/dtype, fortran_order, shape, data size), a value that is
 *            NaN or infinite (naming its row and column), or with
 *            normalize false, the first value outside [0, 1]
 *   UNSUPPORTED on Windows (the program is run with fork/exec: POSIX only)
 *
 * Devices: the model is the external program, which runs on whatever it
 * chooses; there is no device source. On a GPU context (in->memory DEVICE)
 * the map read from the file is copied to the device through the host
 * service "dvren.host.cuda/1": driver_proc("cuMemcpyHtoDAsync") on the
 * context's stream, then driver_proc("cuStreamSynchronize"). That copy is
 * the model's output going where the caller wants it, not a CPU fallback of
 * a GPU model.
 *
 * Threads: compute() blocks the calling thread (the context's) while the
 * program runs, polling waitid() with a sleep of at most 25 ms; the child
 * calls only async-signal-safe functions between fork() and exec(). */
#if !defined(_WIN32) && !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700 /* fork, mkdtemp, nftw, kill, clock_gettime */
#endif
#include "dvren.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(_WIN32)
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#endif

static const dvren_param_desc external_params[] = {
    DVREN_PARAM(.type = DVREN_PARAM_STRING, .name = "command",
                .doc = "command line run with /bin/sh -c; {image}, {output}, {width}, {height} are replaced (paths "
                       "single-quoted); it must write a 2-D float32/float64 .npy to {output}",
                .unit = "", .flags = DVREN_PARAM_REQUIRED),
    DVREN_PARAM(.type = DVREN_PARAM_FLOAT, .name = "timeout",
                .doc = "longest run; then the command's process group is killed and the call fails", .unit = "s",
                .default_number = 120.0,
                .flags = DVREN_PARAM_HAS_MIN | DVREN_PARAM_MIN_EXCLUSIVE | DVREN_PARAM_HAS_MAX, .min_value = 0.0,
                .max_value = 1e6),
    DVREN_PARAM(.type = DVREN_PARAM_BOOL, .name = "normalize",
                .doc = "min-max the map to [0, 1]; false: its values must already be in [0, 1]", .unit = "",
                .default_number = 1),
};

typedef struct external_instance {
    const char* command; /* the parameter's string: valid until destroy */
    double timeout_s;
    int normalize;
} external_instance;

static dvren_status external_create(const dvren_host* h, const dvren_params* p, void** out)
{
    external_instance* s;
    const char* cmd = h->param_string(p, "command");
    if (!cmd || !*cmd)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, "e.g. \"python3 my_model.py {image} {output}\"",
                       "parameter 'command' is empty");
    if (!strstr(cmd, "{output}"))
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, "the program must write its map to the path {output} stands for",
                       "parameter 'command' = \"%.300s\" has no {output}", cmd);
    s = (external_instance*)h->alloc(h, sizeof *s);
    if (!s) return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
    memset(s, 0, sizeof *s);
    s->command = cmd;
    s->timeout_s = h->param_number(p, "timeout");
    s->normalize = h->param_number(p, "normalize") != 0.0;
    *out = s;
    return DVREN_OK;
}

static void external_destroy(const dvren_host* h, void* inst) { h->free(h, inst, sizeof(external_instance)); }

static dvren_status external_describe(const dvren_host* h, void* inst, dvren_instance_info* info)
{
    (void)h;
    (void)inst;
    info->block_size = 0;
    return DVREN_OK;
}

static dvren_status external_bind(const dvren_host* h, void* inst, const void* const* buffers, void* block)
{
    (void)h;
    (void)inst;
    (void)buffers;
    (void)block;
    return DVREN_OK; /* never called for saliency models */
}

#if defined(_WIN32)

static dvren_status external_compute(const dvren_host* h, void* inst, const dvren_saliency_input* in, float* map)
{
    (void)inst;
    (void)in;
    (void)map;
    return h->fail(h, DVREN_ERROR_UNSUPPORTED, "run the model on Linux or macOS, or write its map yourself",
                   "the external model runs programs with fork/exec, which Windows does not have");
}

#else /* POSIX */

/* ---- .npy, strictly ----------------------------------------------------- */

#define EXTERNAL_NPY_MAX_DIM (1u << 20)
#define EXTERNAL_NPY_MAX_COUNT (1u << 28)

typedef struct external_npy {
    uint32_t rows, cols;
    int f64;                   /* 8-byte elements, else 4 */
    int swap;                  /* big-endian data on this little-endian host, or the reverse */
    const unsigned char* data; /* rows * cols elements */
} external_npy;

static int external_host_big_endian(void)
{
    const uint32_t one = 1u;
    return *(const unsigned char*)&one == 0;
}

static const char* external_skip_space(const char* p, const char* end)
{
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    return p;
}

/* A quoted Python string literal (no escapes) into out (cap bytes); the
 * position after it, or NULL. */
static const char* external_quoted(const char* p, const char* end, char* out, size_t cap)
{
    char q;
    size_t n = 0;
    if (p >= end || (*p != '\'' && *p != '"')) return NULL;
    q = *p++;
    while (p < end && *p != q && *p != '\\') {
        if (n + 1 < cap) out[n++] = *p;
        ++p;
    }
    if (p >= end || *p != q) return NULL;
    out[n] = 0;
    return p + 1;
}

/* Parses a .npy file held in buf. Errors: FORMAT naming path and field. */
static dvren_status external_npy_parse(const dvren_host* h, const char* path, const unsigned char* buf, size_t size,
                                       external_npy* out)
{
    static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    const char *p, *end;
    char descr[32] = "", key[32];
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0, ndim = 0;
    unsigned long long dims[8];
    size_t hlen, start, need;
    const char* hint = "write it with numpy.save(path, array.astype(numpy.float32))";
    memset(out, 0, sizeof *out);
    if (size < 10 || memcmp(buf, magic, 6) != 0)
        return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: not a .npy file (magic \\x93NUMPY missing)", path);
    if (buf[6] < 1 || buf[6] > 3)
        return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: .npy version %u.%u is not 1, 2 or 3", path,
                       (unsigned)buf[6], (unsigned)buf[7]);
    if (buf[6] == 1) {
        hlen = (size_t)buf[8] | ((size_t)buf[9] << 8);
        start = 10;
    } else {
        if (size < 12) return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: header: the file ends in it", path);
        hlen = (size_t)buf[8] | ((size_t)buf[9] << 8) | ((size_t)buf[10] << 16) | ((size_t)buf[11] << 24);
        start = 12;
    }
    if (hlen > size - start)
        return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: header: %zu bytes announced, the file ends before", path,
                       hlen);
    p = (const char*)buf + start;
    end = p + hlen;
    /* the dict literal, then spaces / padding and one newline */
    p = external_skip_space(p, end);
    if (p >= end || *p++ != '{') return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: header: no '{'", path);
    for (;;) {
        p = external_skip_space(p, end);
        if (p < end && *p == '}') {
            ++p;
            break;
        }
        p = external_quoted(p, end, key, sizeof key);
        if (!p) return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: header: a key is not a quoted string", path);
        p = external_skip_space(p, end);
        if (p >= end || *p++ != ':')
            return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: header: no ':' after '%s'", path, key);
        p = external_skip_space(p, end);
        if (strcmp(key, "descr") == 0) {
            p = external_quoted(p, end, descr, sizeof descr);
            if (!p)
                return h->fail(h, DVREN_ERROR_FORMAT, hint,
                               "%s: field 'descr' (dtype) is not a simple type string such as '<f4'", path);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if ((size_t)(end - p) >= 4 && memcmp(p, "True", 4) == 0) {
                fortran = 1;
                p += 4;
            } else if ((size_t)(end - p) >= 5 && memcmp(p, "False", 5) == 0) {
                p += 5;
            } else {
                return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: field 'fortran_order' is not True or False", path);
            }
            have_fortran = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (p >= end || *p++ != '(')
                return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: field 'shape' is not a tuple", path);
            for (;;) {
                unsigned long long v = 0;
                int digits = 0;
                p = external_skip_space(p, end);
                if (p < end && *p == ')') {
                    ++p;
                    break;
                }
                while (p < end && *p >= '0' && *p <= '9' && digits < 12) {
                    v = v * 10u + (unsigned long long)(*p++ - '0');
                    ++digits;
                }
                if (!digits || ndim >= 8)
                    return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: field 'shape' is not a tuple of sizes", path);
                dims[ndim++] = v;
                p = external_skip_space(p, end);
                if (p < end && *p == ',') ++p;
                else if (p >= end || *p != ')')
                    return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: field 'shape' is not a tuple of sizes", path);
            }
            have_shape = 1;
        } else {
            return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: header: unknown field '%s'", path, key);
        }
        p = external_skip_space(p, end);
        if (p < end && *p == ',') ++p;
        else if (p >= end || *p != '}')
            return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: header: fields not separated by ','", path);
    }
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
    if (p != end) return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: header: text after the closing '}'", path);
    if (!have_descr || !have_fortran || !have_shape)
        return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: header: field '%s' is missing", path,
                       !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    if ((descr[0] != '<' && descr[0] != '>' && descr[0] != '=') || (strcmp(descr + 1, "f4") && strcmp(descr + 1, "f8")))
        return h->fail(h, DVREN_ERROR_FORMAT, hint, "%s: field 'descr' (dtype) is '%s', not float32 or float64 "
                       "('<f4' or '<f8')", path, descr);
    if (fortran)
        return h->fail(h, DVREN_ERROR_FORMAT, "save numpy.ascontiguousarray(map)",
                       "%s: field 'fortran_order' is True: the map must be in C order", path);
    if (ndim != 2)
        return h->fail(h, DVREN_ERROR_FORMAT, "save a 2-D array (H, W)", "%s: field 'shape' has %d dimensions, not 2",
                       path, ndim);
    if (dims[0] < 1 || dims[1] < 1 || dims[0] > EXTERNAL_NPY_MAX_DIM || dims[1] > EXTERNAL_NPY_MAX_DIM ||
        dims[0] * dims[1] > EXTERNAL_NPY_MAX_COUNT)
        return h->fail(h, DVREN_ERROR_FORMAT, NULL, "%s: field 'shape' (%llu, %llu) is empty or too large", path,
                       dims[0], dims[1]);
    out->rows = (uint32_t)dims[0];
    out->cols = (uint32_t)dims[1];
    out->f64 = descr[2] == '8';
    out->swap = descr[0] != '=' && (descr[0] == '>') != external_host_big_endian();
    need = (size_t)dims[0] * (size_t)dims[1] * (out->f64 ? 8u : 4u);
    if (size - start - hlen != need)
        return h->fail(h, DVREN_ERROR_FORMAT, NULL, "%s: data: %zu bytes, shape (%u, %u) of '%s' needs %zu", path,
                       size - start - hlen, (unsigned)out->rows, (unsigned)out->cols, descr, need);
    out->data = buf + start + hlen;
    return DVREN_OK;
}

/* Element i of the array as a double. */
static double external_npy_at(const external_npy* a, size_t i)
{
    unsigned char b[8];
    size_t n = a->f64 ? 8u : 4u, k;
    for (k = 0; k < n; ++k) b[k] = a->data[i * n + (a->swap ? n - 1 - k : k)];
    if (a->f64) {
        double d;
        memcpy(&d, b, 8);
        return d;
    } else {
        float f;
        memcpy(&f, b, 4);
        return (double)f;
    }
}

/* ---- running the program ---------------------------------------------------- */

static double external_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void external_sleep(double s)
{
    struct timespec t;
    t.tv_sec = (time_t)s;
    t.tv_nsec = (long)((s - (double)t.tv_sec) * 1e9);
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* Length of s single-quoted for the shell ('it'\''s'), and the text into
 * out when out is not NULL. */
static size_t external_quote(const char* s, char* out)
{
    size_t n = 0;
    if (out) out[n] = '\'';
    ++n;
    for (; *s; ++s) {
        if (*s == '\'') {
            if (out) memcpy(out + n, "'\\''", 4);
            n += 4;
        } else {
            if (out) out[n] = *s;
            ++n;
        }
    }
    if (out) out[n] = '\'';
    return n + 1;
}

/* The command with its placeholders replaced, into out (NULL: measure);
 * returns the length without the NUL. */
static size_t external_expand(const char* cmd, const char* image, const char* output, const char* w, const char* hgt,
                              char* out)
{
    size_t n = 0;
    while (*cmd) {
        const char* rep = NULL;
        size_t skip = 0, k;
        int quote = 0;
        if (strncmp(cmd, "{image}", 7) == 0) rep = image, skip = 7, quote = 1;
        else if (strncmp(cmd, "{output}", 8) == 0) rep = output, skip = 8, quote = 1;
        else if (strncmp(cmd, "{width}", 7) == 0) rep = w, skip = 7;
        else if (strncmp(cmd, "{height}", 8) == 0) rep = hgt, skip = 8;
        if (rep && quote) {
            n += external_quote(rep, out ? out + n : NULL);
        } else if (rep) {
            k = strlen(rep);
            if (out) memcpy(out + n, rep, k);
            n += k;
        } else {
            if (out) out[n] = *cmd;
            ++n;
            skip = 1;
        }
        cmd += skip;
    }
    if (out) out[n] = 0;
    return n;
}

/* The last `lines` lines of a text file joined with " | ", into out (cap
 * bytes; when longer, its end, after "..."): where a program says what went
 * wrong. "" when the file is empty or missing. */
static void external_tail(const char* path, int lines, char* out, size_t cap)
{
    char buf[4096], joined[4096 + 4096 / 2 * 3];
    size_t n, i, o = 0;
    long at;
    int seen = 0;
    FILE* f = fopen(path, "rb");
    out[0] = 0;
    if (!f || cap < 8) {
        if (f) fclose(f);
        return;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (at = ftell(f)) > (long)sizeof buf - 1)
        fseek(f, at - (long)(sizeof buf - 1), SEEK_SET);
    else
        fseek(f, 0, SEEK_SET);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) --n;
    for (i = n; i > 0; --i) /* back from the end over `lines` newlines */
        if (buf[i - 1] == '\n' && ++seen == lines) break;
    for (; i < n; ++i) {
        char c = buf[i];
        if (c == '\r') continue;
        if (c == '\n') {
            memcpy(joined + o, " | ", 3);
            o += 3;
        } else {
            joined[o++] = (c == '\t' || (unsigned char)c >= 32) ? c : '?';
        }
    }
    if (o < cap) {
        memcpy(out, joined, o);
        out[o] = 0;
    } else {
        memcpy(out, "...", 3);
        memcpy(out + 3, joined + o - (cap - 4), cap - 4);
        out[cap - 1] = 0;
    }
}

static int external_rm_cb(const char* path, const struct stat* sb, int flag, struct FTW* ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* 1 when child pid has ended, without reaping it: while it is an unreaped
 * zombie its pid stays reserved, so its process group id cannot name an
 * unrelated group when we signal the group afterwards. -1: waitid failed
 * (errno set). */
static int external_ended(pid_t pid)
{
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return errno == EINTR ? 0 : -1;
    return info.si_pid == pid;
}

/* Ends what is left of the process group of pid (the leader still
 * unreaped): SIGTERM, then SIGKILL after up to half a second when the
 * leader still runs (grace 0: at once); then reaps the leader into
 * *status. */
static void external_end_group(pid_t pid, double grace, int* status)
{
    double t0 = external_now();
    if (grace > 0.0) {
        if (kill(-pid, SIGTERM) != 0) kill(pid, SIGTERM);
        while (external_now() - t0 < grace && external_ended(pid) == 0) external_sleep(0.005);
    }
    if (kill(-pid, SIGKILL) != 0) kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
}

typedef int (*external_cu_htod_fn)(unsigned long long dst, const void* src, size_t bytes, void* stream);
typedef int (*external_cu_sync_fn)(void* stream);

/* Reads, checks, resizes and normalises the map at path into out (W*H
 * floats, host). label names the file in messages (the path alone would
 * name a file that is removed before the caller reads the message). */
static dvren_status external_read_map(const dvren_host* h, const external_instance* s, const char* path,
                                      const char* label, uint32_t W, uint32_t H, float* out)
{
    FILE* f = NULL;
    unsigned char* buf = NULL;
    float* src = NULL;
    size_t size = 0, i, n;
    long len;
    external_npy a;
    dvren_status st = DVREN_OK;
    double lo = 0.0, hi = 0.0;
    f = fopen(path, "rb");
    if (!f)
        return h->fail(h, DVREN_ERROR_IO, "the program must write its map to the path {output} stands for",
                       "command \"%.300s\" exited with status 0 but wrote no map to {output} ('%s')", s->command,
                       path);
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return h->fail(h, DVREN_ERROR_IO, NULL, "%s: cannot read its size: %s", label, strerror(errno));
    }
    if ((unsigned long)len > (unsigned long)(12u + 65536u) + (unsigned long)EXTERNAL_NPY_MAX_COUNT * 8u) {
        fclose(f);
        return h->fail(h, DVREN_ERROR_FORMAT, NULL, "%s: %ld bytes is too large for a 2-D map", label, len);
    }
    size = (size_t)len;
    buf = (unsigned char*)h->alloc(h, size ? size : 1);
    if (!buf) {
        fclose(f);
        return h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory reading %s (%zu bytes)", label, size);
    }
    if (fread(buf, 1, size, f) != size) {
        fclose(f);
        h->free(h, buf, size ? size : 1);
        return h->fail(h, DVREN_ERROR_IO, NULL, "%s: read failed", label);
    }
    fclose(f);
    st = external_npy_parse(h, label, buf, size, &a);
    if (st != DVREN_OK) goto cleanup;
    n = (size_t)a.rows * a.cols;
    src = (float*)h->alloc(h, n * sizeof(float));
    if (!src) {
        st = h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory for a %ux%u map", (unsigned)a.cols,
                     (unsigned)a.rows);
        goto cleanup;
    }
    for (i = 0; i < n; ++i) {
        double v = external_npy_at(&a, i);
        if (!isfinite(v)) {
            st = h->fail(h, DVREN_ERROR_FORMAT, "the program must write finite values",
                         "%s: the value at row %u, column %u is %s", label, (unsigned)(i / a.cols),
                         (unsigned)(i % a.cols), isnan(v) ? "NaN" : "infinite");
            goto cleanup;
        }
        if (!s->normalize && !(v >= 0.0 && v <= 1.0)) {
            st = h->fail(h, DVREN_ERROR_FORMAT, "set the parameter 'normalize' to true, or scale the map to [0, 1]",
                         "%s: the value at row %u, column %u is %g, outside [0, 1] (normalize is false)", label,
                         (unsigned)(i / a.cols), (unsigned)(i % a.cols), v);
            goto cleanup;
        }
        src[i] = (float)v;
    }
    if (a.rows != H || a.cols != W)
        h->log(h, DVREN_LOG_INFO, DVREN_TAG_STEP, "map of %u x %u (W x H) resized bilinearly to %u x %u",
               (unsigned)a.cols, (unsigned)a.rows, (unsigned)W, (unsigned)H);
    /* bilinear, pixel centres aligned, borders clamped (dvren.h); the
     * identity when the sizes match */
    dvren_resample_bilinear(src, a.cols, a.rows, W, H, out);
    for (i = 0; i < (size_t)W * H; ++i) {
        if (i == 0 || out[i] < lo) lo = out[i];
        if (i == 0 || out[i] > hi) hi = out[i];
    }
    n = (size_t)W * H;
    if (s->normalize) {
        if (hi > lo) {
            for (i = 0; i < n; ++i) {
                float v = (float)(((double)out[i] - lo) / (hi - lo));
                out[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
            }
        } else {
            h->log(h, DVREN_LOG_WARN, DVREN_TAG_STEP, "%s is flat (every value %g): the map is 0 everywhere", label,
                   lo);
            memset(out, 0, n * sizeof(float));
        }
    } else {
        for (i = 0; i < n; ++i) out[i] = out[i] < 0.0f ? 0.0f : (out[i] > 1.0f ? 1.0f : out[i]);
    }
cleanup:
    if (src) h->free(h, src, (size_t)a.rows * a.cols * sizeof(float));
    h->free(h, buf, size ? size : 1);
    return st;
}

static dvren_status external_compute(const dvren_host* h, void* inst, const dvren_saliency_input* in, float* map)
{
    const external_instance* s = (const external_instance*)inst;
    const dvren_host_cuda* cu = (const dvren_host_cuda*)h->get_interface(h, DVREN_HOST_CUDA);
    const char* tmp = getenv("TMPDIR");
    char dir[4096], out_path[4200], err_path[4200], log_path[4200], wbuf[16], hbuf[16], tail[1200];
    char* cmd = NULL;
    size_t cmd_len = 0, n;
    float* host_map = NULL;
    int have_dir = 0, status = 0, maxfd;
    double t0, nap = 0.001;
    pid_t pid;
    sigset_t none;
    dvren_status st = DVREN_OK;
    if (!in || !map || !in->image_path || !*in->image_path || in->width == 0 || in->height == 0)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, "write the preview as PNG and pass its path",
                       "compute() needs image_path, a size and a map");
    if (in->memory == DVREN_MEMORY_DEVICE && !cu)
        return h->fail(h, DVREN_ERROR_INVALID_ARGUMENT, NULL,
                       "the map is in device memory but the host offers no '%s' service", DVREN_HOST_CUDA);
    n = (size_t)in->width * in->height;
    if (!tmp || !*tmp) tmp = "/tmp";
    if ((size_t)snprintf(dir, sizeof dir, "%s/dvren-external-XXXXXX", tmp) >= sizeof dir)
        return h->fail(h, DVREN_ERROR_IO, NULL, "temporary folder name under '%s' (TMPDIR) is too long", tmp);
    if (!mkdtemp(dir))
        return h->fail(h, DVREN_ERROR_IO, "set TMPDIR to a writable folder", "cannot make a temporary folder '%s': %s",
                       dir, strerror(errno));
    have_dir = 1;
    snprintf(out_path, sizeof out_path, "%s/map.npy", dir);
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", dir);
    snprintf(log_path, sizeof log_path, "%s/stdout.txt", dir);
    snprintf(wbuf, sizeof wbuf, "%u", (unsigned)in->width);
    snprintf(hbuf, sizeof hbuf, "%u", (unsigned)in->height);
    cmd_len = external_expand(s->command, in->image_path, out_path, wbuf, hbuf, NULL) + 1;
    cmd = (char*)h->alloc(h, cmd_len);
    host_map = in->memory == DVREN_MEMORY_DEVICE ? (float*)h->alloc(h, n * sizeof(float)) : map;
    if (!cmd || !host_map) {
        st = h->fail(h, DVREN_ERROR_OUT_OF_MEMORY, NULL, "out of memory");
        goto cleanup;
    }
    external_expand(s->command, in->image_path, out_path, wbuf, hbuf, cmd);
    h->log(h, DVREN_LOG_INFO, DVREN_TAG_STEP, "running: %s", cmd);
    /* everything the child needs is ready before fork(): between fork and
     * exec it calls only async-signal-safe functions */
    maxfd = (int)sysconf(_SC_OPEN_MAX);
    if (maxfd < 0 || maxfd > 4096) maxfd = 4096;
    sigemptyset(&none);
    t0 = external_now();
    pid = fork();
    if (pid < 0) {
        st = h->fail(h, DVREN_ERROR_IO, NULL, "cannot start command \"%.300s\": fork: %s", s->command, strerror(errno));
        goto cleanup;
    }
    if (pid == 0) {
        int fd_in, fd_out, fd_err, fd;
        struct sigaction dfl;
        setpgid(0, 0);
        sigprocmask(SIG_SETMASK, &none, NULL);
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGPIPE, &dfl, NULL);
        sigaction(SIGTERM, &dfl, NULL);
        sigaction(SIGINT, &dfl, NULL);
        fd_in = open("/dev/null", O_RDONLY);
        fd_out = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        fd_err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd_in < 0 || fd_out < 0 || fd_err < 0) _exit(125);
        if (dup2(fd_in, 0) < 0 || dup2(fd_out, 1) < 0 || dup2(fd_err, 2) < 0) _exit(125);
        for (fd = 3; fd < maxfd; ++fd) close(fd);
        execl("/bin/sh", "sh", "-c", cmd, (char*)NULL);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: whichever runs first makes the group */
    for (;;) {
        int ended = external_ended(pid);
        if (ended < 0) {
            int e = errno;
            external_end_group(pid, 0.0, &status);
            st = h->fail(h, DVREN_ERROR_IO, e == ECHILD ? "the program ignores SIGCHLD; restore its default" : NULL,
                         "cannot wait for command \"%.300s\": waitid: %s", s->command, strerror(e));
            goto cleanup;
        }
        if (ended) {
            /* what the command left running in its group could still write
             * into the folder that is about to be removed */
            external_end_group(pid, 0.0, &status);
            break;
        }
        if (external_now() - t0 > s->timeout_s) {
            external_end_group(pid, 0.5, &status);
            st = h->fail(h, DVREN_ERROR_TIMEOUT, "raise the parameter 'timeout', or make the program faster",
                         "command \"%.300s\" ran longer than its timeout of %g s and was killed", s->command,
                         s->timeout_s);
            goto cleanup;
        }
        external_sleep(nap);
        nap = nap * 2.0 < 0.025 ? nap * 2.0 : 0.025;
    }
    h->log(h, DVREN_LOG_INFO, DVREN_TAG_TIMER, "command ran %.3f s", external_now() - t0);
    if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0)) {
        external_tail(err_path, 8, tail, sizeof tail);
        if (!tail[0]) external_tail(log_path, 8, tail, sizeof tail);
        if (WIFSIGNALED(status))
            st = h->fail(h, DVREN_ERROR_PLUGIN, NULL, "command \"%.300s\" was killed by signal %d; its output ends: %s",
                         s->command, WTERMSIG(status), tail[0] ? tail : "(nothing)");
        else if (WEXITSTATUS(status) == 127 || WEXITSTATUS(status) == 126)
            st = h->fail(h, DVREN_ERROR_IO, "check the program's name and PATH, and that it is executable",
                         "command \"%.300s\" %s (exit status %d from /bin/sh): %s", s->command,
                         WEXITSTATUS(status) == 127 ? "was not found" : "could not be executed", WEXITSTATUS(status),
                         tail[0] ? tail : "(no message)");
        else if (WEXITSTATUS(status) == 125 && !tail[0])
            st = h->fail(h, DVREN_ERROR_IO, NULL, "command \"%.300s\": cannot open /dev/null or files in '%s'",
                         s->command, dir);
        else
            st = h->fail(h, DVREN_ERROR_PLUGIN, NULL, "command \"%.300s\" failed with exit status %d; its stderr ends: %s",
                         s->command, WEXITSTATUS(status), tail[0] ? tail : "(nothing)");
        goto cleanup;
    }
    {
        char label[4700];
        snprintf(label, sizeof label, "the map of command \"%.300s\" ('%s')", s->command, out_path);
        st = external_read_map(h, s, out_path, label, in->width, in->height, host_map);
    }
    if (st != DVREN_OK) goto cleanup;
    if (in->memory == DVREN_MEMORY_DEVICE) {
        external_cu_htod_fn htod = (external_cu_htod_fn)(uintptr_t)cu->driver_proc(h, "cuMemcpyHtoDAsync");
        external_cu_sync_fn sync = (external_cu_sync_fn)(uintptr_t)cu->driver_proc(h, "cuStreamSynchronize");
        int rc;
        if (!htod || !sync) {
            st = h->fail(h, DVREN_ERROR_DEVICE, NULL, "the CUDA driver lacks cuMemcpyHtoDAsync or cuStreamSynchronize");
            goto cleanup;
        }
        rc = htod((unsigned long long)(uintptr_t)map, host_map, n * sizeof(float), cu->stream);
        if (rc == 0) rc = sync(cu->stream); /* host_map is freed below: the copy must be done */
        if (rc != 0) {
            st = h->fail(h, DVREN_ERROR_DEVICE, NULL, "copying the map to the GPU failed with CUDA error %d", rc);
            goto cleanup;
        }
    }
cleanup:
    if (have_dir) nftw(dir, external_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    if (cmd) h->free(h, cmd, cmd_len);
    if (host_map && host_map != map) h->free(h, host_map, n * sizeof(float));
    return st;
}

#endif /* POSIX */

static const dvren_instance_iface external_inst = {.struct_size = sizeof(dvren_instance_iface),
                                                   .create = external_create, .destroy = external_destroy,
                                                   .describe = external_describe, .bind = external_bind};
static const dvren_saliency_iface external_saliency = {.struct_size = sizeof(dvren_saliency_iface),
                                                       .wants = 0,
                                                       .flags = DVREN_SALIENCY_NEEDS_FILE,
                                                       .compute = external_compute};

DVREN_PLUGIN_INTERFACES(external_get_interface, external_inst, DVREN_IFACE_SALIENCY, external_saliency)

static const dvren_plugin_desc external_desc = {
    .struct_size = sizeof(dvren_plugin_desc),
    .kind = DVREN_PLUGIN_SALIENCY,
    .name = "external",
    .version = (1u << 16) | 0u,
    .summary = "runs a program of yours on the preview PNG and reads back its .npy importance map",
    .params = external_params,
    .param_count = sizeof external_params / sizeof external_params[0],
    .device_source_file = NULL,
    .get_interface = external_get_interface,
};

DVREN_PLUGIN_LIBRARY(&external_desc)
