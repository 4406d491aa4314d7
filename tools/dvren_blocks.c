/* tools/dvren_blocks.c - look at, convert and edit block worlds
 * (tools/dvren_blocks.h; the formats: docs/blocks.md, "World files").
 *
 *   dvren_blocks info <world>                                    (see --help; docs/tools.md)
 *   dvren_blocks convert <in> -o <out.json>
 *   dvren_blocks place <world> X Y Z <ID | L0,L1,...> -o <out.json>
 *   dvren_blocks remove <world> X Y Z -o <out.json>
 *   dvren_blocks labels <world> -o <out.npy>
 *
 * A world is any file dvren_blocks_load reads: .json (dvren.blocks/1),
 * .npy (a uint8 (X, Y, Z) label volume or a float32/float64 (N, 3 + M)
 * block list), .vox (MagicaVoxel). `info` prints one "key value ..." line
 * per fact on stdout. The other commands write their output whole and
 * atomically (dvren_blocks_save / dvren_blocks_save_labels), only after the
 * operation succeeded: a failure leaves no file, partial or whole; the
 * output may be the input file.
 *
 * Exit status: 0 done; 1 the operation failed (a world that cannot be
 * read or is invalid, a position outside the grid, air to remove, a
 * material id or a logit count that does not fit the world, an output that
 * cannot be written); 2 bad usage (an unknown command or option, a missing
 * or extra argument, a coordinate or logit that is not a number, an output
 * name without the right extension). Messages on stderr name the file, the
 * field and the problem. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DVREN_BLOCKS_IMPLEMENTATION
#include "dvren_blocks.h"

typedef struct db_options {
    const char* cmd;
    const char* pos[6]; /* the positional arguments after the command */
    int npos;
    const char* out;
    const char* materials;
    float label_logit;
} db_options;

static void db_usage(FILE* f)
{
    fprintf(f,
            "usage: dvren_blocks COMMAND WORLD [arguments] [options]\n"
            "  info WORLD                          size, scale, origin, materials, block count, visible faces and,\n"
            "                                      per material, the blocks whose argmax it is ('key value' lines)\n"
            "  convert WORLD -o OUT.json           any readable world to a dvren.blocks/1 JSON file\n"
            "  place WORLD X Y Z ID -o OUT.json    place a block of material id ID (1..M; logit --label-logit, 0 for\n"
            "                                      the others) at cell (X, Y, Z), replacing a block there\n"
            "  place WORLD X Y Z L0,L1,... -o OUT.json\n"
            "                                      the same with the block's M logits\n"
            "  remove WORLD X Y Z -o OUT.json      remove the block at (X, Y, Z) (the last block takes its index)\n"
            "  labels WORLD -o OUT.npy             the argmax label volume: uint8 (X, Y, Z), 0 air, 1..M\n"
            "WORLD: .json (dvren.blocks/1), .npy (uint8 label volume (X, Y, Z) or float32/float64 block list\n"
            "       (N, 3 + M)), .vox (MagicaVoxel; z up in the file, y up here). docs/blocks.md has the formats.\n"
            "options:\n"
            "  -o FILE              the output (written atomically; it may be WORLD itself)\n"
            "  --materials FILE     a JSON {\"materials\": [...]} replacing the default table of a world that\n"
            "                       brings none (.npy, .json without \"materials\")\n"
            "  --label-logit L      the logit of a label's material when reading labels and ids (default 10)\n"
            "  -h, --help           this text\n"
            "exit status: 0 done, 1 the operation failed (bad world, position, id; output not written),\n"
            "             2 bad usage\n");
}

/* A whole decimal integer in int32's range. */
static int db_int(const char* what, const char* s, int32_t* out)
{
    char* end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < INT32_MIN || v > INT32_MAX) {
        fprintf(stderr, "dvren_blocks: %s: '%s' is not an integer\n", what, s);
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

/* A finite float32. */
static int db_float(const char* what, const char* s, size_t len, float* out)
{
    char buf[64], *end;
    float v;
    if (len == 0 || len >= sizeof buf) {
        fprintf(stderr, "dvren_blocks: %s: '%.*s' is not a number\n", what, (int)(len < 60 ? len : 60), s);
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = 0;
    v = strtof(buf, &end);
    if (end == buf || *end || !isfinite(v)) {
        fprintf(stderr, "dvren_blocks: %s: '%s' is not a finite float32 number\n", what, buf);
        return -1;
    }
    *out = v;
    return 0;
}

/* An argument that is an option: "-x..." but not a negative number ("-1"). */
static int db_is_option(const char* a) { return a[0] == '-' && a[1] && !(a[1] >= '0' && a[1] <= '9') && a[1] != '.'; }

/* Returns 0 to run, 1 for --help (exit 0), -1 on a bad command line (exit 2). */
static int db_parse(int argc, char** argv, db_options* o)
{
    int i;
    memset(o, 0, sizeof *o);
    for (i = 1; i < argc; ++i) {
        const char* a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
        if (db_is_option(a)) {
            const char* v = i + 1 < argc ? argv[i + 1] : NULL;
            if (strcmp(a, "-o") && strcmp(a, "--materials") && strcmp(a, "--label-logit")) {
                fprintf(stderr, "dvren_blocks: unknown option '%s' (see --help)\n", a);
                return -1;
            }
            if (!v || !*v) {
                fprintf(stderr, "dvren_blocks: %s needs a value\n", a);
                return -1;
            }
            ++i;
            if (!strcmp(a, "-o")) o->out = v;
            else if (!strcmp(a, "--materials")) o->materials = v;
            else {
                if (db_float("--label-logit", v, strlen(v), &o->label_logit)) return -1;
                if (!(o->label_logit > 0.0f)) {
                    fprintf(stderr, "dvren_blocks: --label-logit must be > 0, got %s\n", v);
                    return -1;
                }
            }
            continue;
        }
        if (!o->cmd) {
            o->cmd = a;
            continue;
        }
        if (o->npos == (int)(sizeof o->pos / sizeof *o->pos)) {
            fprintf(stderr, "dvren_blocks: too many arguments ('%s'; see --help)\n", a);
            return -1;
        }
        o->pos[o->npos++] = a;
    }
    if (!o->cmd) {
        fprintf(stderr, "dvren_blocks: no command (info, convert, place, remove, labels; see --help)\n");
        return -1;
    }
    {
        static const struct {
            const char* name;
            int npos;
            const char* ext; /* of -o; NULL: no output */
            const char* args;
        } cmds[] = {{"info", 1, NULL, "WORLD"},
                    {"convert", 1, ".json", "WORLD -o OUT.json"},
                    {"place", 5, ".json", "WORLD X Y Z ID|L0,L1,... -o OUT.json"},
                    {"remove", 4, ".json", "WORLD X Y Z -o OUT.json"},
                    {"labels", 1, ".npy", "WORLD -o OUT.npy"}};
        size_t c;
        for (c = 0; c < sizeof cmds / sizeof *cmds; ++c) {
            if (strcmp(o->cmd, cmds[c].name)) continue;
            if (o->npos != cmds[c].npos) {
                fprintf(stderr, "dvren_blocks %s: %d arguments given, %d expected: %s %s\n", o->cmd, o->npos, cmds[c].npos, o->cmd,
                        cmds[c].args);
                return -1;
            }
            if (!cmds[c].ext && o->out) {
                fprintf(stderr, "dvren_blocks %s: writes no file: -o is not an option here\n", o->cmd);
                return -1;
            }
            if (cmds[c].ext && !o->out) {
                fprintf(stderr, "dvren_blocks %s: no output: give -o OUT%s\n", o->cmd, cmds[c].ext);
                return -1;
            }
            if (cmds[c].ext && !dvren_io_ends_with(o->out, cmds[c].ext)) {
                fprintf(stderr, "dvren_blocks %s: the output '%s' must be a %s file\n", o->cmd, o->out, cmds[c].ext);
                return -1;
            }
            return 0;
        }
    }
    fprintf(stderr, "dvren_blocks: unknown command '%s' (info, convert, place, remove, labels; see --help)\n", o->cmd);
    return -1;
}

/* The library's error of an editing function ("dvren_blocks_place:
 * position: ...") with the world's file in the function's place. */
static void db_edit_error(const dvren_blocks_world* w, const char* file)
{
    const char* rest = strstr(w->error, ": ");
    fprintf(stderr, "dvren_blocks: %s%s\n", file, rest ? rest : w->error);
}

static int db_info(const dvren_blocks_world* w, const char* file)
{
    uint64_t* count = (uint64_t*)calloc((size_t)w->material_count + 1, sizeof *count);
    uint32_t k, m;
    if (!count) {
        fprintf(stderr, "dvren_blocks: %s: out of memory\n", file);
        return 1;
    }
    for (k = 0; k < w->block_count; ++k) count[dvren_blocks_argmax(w, k)]++;
    printf("file %s\n", file);
    printf("size %ld %ld %ld\n", (long)w->size[0], (long)w->size[1], (long)w->size[2]);
    printf("cells %llu\n", (unsigned long long)w->size[0] * (unsigned long long)w->size[1] * (unsigned long long)w->size[2]);
    printf("scale %.9g\n", (double)w->scale);
    printf("origin %.9g %.9g %.9g\n", (double)w->origin[0], (double)w->origin[1], (double)w->origin[2]);
    printf("materials %lu\n", (unsigned long)w->material_count);
    printf("blocks %lu\n", (unsigned long)w->block_count);
    printf("visible_faces %llu\n", (unsigned long long)dvren_blocks_visible_faces(w, NULL, NULL, 0));
    for (m = 0; m < w->material_count; ++m) {
        const dvren_blocks_material* q = &w->materials[m];
        printf("material %lu %s blocks %llu top %g %g %g side %g %g %g bottom %g %g %g\n", (unsigned long)m + 1, q->name,
               (unsigned long long)count[m + 1], (double)q->top[0], (double)q->top[1], (double)q->top[2], (double)q->side[0],
               (double)q->side[1], (double)q->side[2], (double)q->bottom[0], (double)q->bottom[1], (double)q->bottom[2]);
    }
    free(count);
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char** argv)
{
    db_options o;
    dvren_blocks_load_options lo;
    dvren_blocks_world w;
    const char* file;
    int pr, rc = 1;
    int32_t xyz[3] = {0, 0, 0}, id = 0;
    float logits[DVREN_BLOCKS_MAX_MATERIALS];
    uint32_t nlogits = 0;

    pr = db_parse(argc, argv, &o);
    if (pr > 0) {
        db_usage(stdout);
        return 0;
    }
    if (pr < 0) return 2;
    file = o.pos[0];
    /* the command line's numbers before any file is read: bad ones are bad usage */
    if (!strcmp(o.cmd, "place") || !strcmp(o.cmd, "remove")) {
        if (db_int("X", o.pos[1], &xyz[0]) || db_int("Y", o.pos[2], &xyz[1]) || db_int("Z", o.pos[3], &xyz[2])) return 2;
    }
    if (!strcmp(o.cmd, "place")) {
        const char* s = o.pos[4];
        if (strchr(s, ',')) {
            /* logits, comma-separated; their count is checked against the world's M below */
            for (;;) {
                const char* c = strchr(s, ',');
                size_t len = c ? (size_t)(c - s) : strlen(s);
                if (nlogits == DVREN_BLOCKS_MAX_MATERIALS) {
                    fprintf(stderr, "dvren_blocks: logits: more than %d in '%s'\n", DVREN_BLOCKS_MAX_MATERIALS, o.pos[4]);
                    return 2;
                }
                if (db_float("logit", s, len, &logits[nlogits])) return 2;
                nlogits++;
                if (!c) break;
                s = c + 1;
            }
        } else if (db_int("material id", s, &id)) {
            return 2;
        }
    }
    memset(&lo, 0, sizeof lo);
    lo.label_logit = o.label_logit;
    lo.materials_path = o.materials;
    if (dvren_blocks_load(&w, file, &lo)) {
        fprintf(stderr, "dvren_blocks: %s\n", w.error);
        return 1;
    }
    if (!strcmp(o.cmd, "info")) {
        rc = db_info(&w, file);
    } else if (!strcmp(o.cmd, "place")) {
        if (nlogits) {
            if (nlogits != w.material_count) {
                fprintf(stderr, "dvren_blocks: %s: logits: %lu given, the world has %lu materials\n", file, (unsigned long)nlogits,
                        (unsigned long)w.material_count);
                goto done;
            }
            if (dvren_blocks_place(&w, xyz[0], xyz[1], xyz[2], logits)) {
                db_edit_error(&w, file);
                goto done;
            }
        } else {
            if (id < 1 || (uint32_t)id > w.material_count) {
                fprintf(stderr, "dvren_blocks: %s: material: id %ld is outside 1..%lu\n", file, (long)id, (unsigned long)w.material_count);
                goto done;
            }
            if (dvren_blocks_place_material(&w, xyz[0], xyz[1], xyz[2], (uint32_t)id, o.label_logit > 0.0f ? o.label_logit : 10.0f)) {
                db_edit_error(&w, file);
                goto done;
            }
        }
    } else if (!strcmp(o.cmd, "remove")) {
        if (dvren_blocks_remove(&w, xyz[0], xyz[1], xyz[2])) {
            db_edit_error(&w, file);
            goto done;
        }
    }
    if (!strcmp(o.cmd, "convert") || !strcmp(o.cmd, "place") || !strcmp(o.cmd, "remove")) {
        if (dvren_blocks_save(&w, o.out)) {
            fprintf(stderr, "dvren_blocks: %s\n", w.error);
            goto done;
        }
        rc = 0;
    } else if (!strcmp(o.cmd, "labels")) {
        if (dvren_blocks_save_labels(&w, o.out)) {
            fprintf(stderr, "dvren_blocks: %s\n", w.error);
            goto done;
        }
        rc = 0;
    }
done:
    dvren_blocks_free(&w);
    return rc;
}
