/*
 * fuzz_pool.c - a libFuzzer target: the input is a program of pool
 * operations, checked step by step against a model.
 *
 * The first bytes configure four pools (size, alignment, flags, a small
 * chunk size so that programs cross many chunks); each following pair of
 * bytes (at most MAX_OPS: the rest of a longer input is not read) is one
 * operation on one pool: alloc, free, bulk alloc, bulk free,
 * reserve, trim, walk, check, and, on checked pools, a deliberate double
 * free that must be reported and change nothing. Every live object is
 * stamped over its whole size and verified before it is freed; walks must
 * see exactly the model's live set, each object once. The pools take their
 * chunks from fuzz_source(), which keeps them from one input to the next.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */

#include <fixalloc.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_report.h"
#include "fuzz_support.h"

#define POOLS 4
/* Objects a pool holds at most, and operations read from an input (the
 * make targets' -max_len is POOLS + 2 * MAX_OPS): small enough that an
 * input, every object stamped and verified whole, runs in under a
 * millisecond under ASan (`make test` prints the rate: 1,400 to 2,400
 * executions a second, against 700 with 4096 and 512), large enough to
 * cross many of the small chunks. */
#define MAX_LIVE_SHIFT 10
#define MAX_LIVE (1 << MAX_LIVE_SHIFT)
#define MAX_OPS 256

typedef struct live {
    unsigned char *obj;
    uint32_t id;
} live;

typedef struct model {
    fa_pool pool[POOLS];
    size_t size[POOLS];
    live objs[POOLS][MAX_LIVE];
    size_t nlive[POOLS];
    uint32_t next_id;
    void *last_freed[POOLS];
} model;

static int reports;

static void count_report(const fa_error *err)
{
    (void)err;
    reports++;
}

static void fail(const char *what)
{
    fuzz_fail("fuzz_pool", what);
}

static void stamp(unsigned char *obj, size_t size, uint32_t id)
{
    fuzz_stamp(obj, 0, size, id);
}

static void verify(const unsigned char *obj, size_t size, uint32_t id)
{
    if (!fuzz_stamped(obj, 0, size, id)) {
        fail("an object's contents changed while it was live");
    }
}

static void setup(model *m, const uint8_t *cfg)
{
    static const size_t sizes[] = {1, 8, 16, 24, 40, 64, 100, 256, 1000, 3000};
    for (int k = 0; k < POOLS; k++) {
        uint8_t b = cfg[k];
        /* Bit 3 turns memory tracking off (under ASan), so that the fast
         * paths are fuzzed too. */
        if (b & 8) {
            setenv("FIXALLOC_TRACK", "0", 1);
        } else {
            unsetenv("FIXALLOC_TRACK");
        }
        fa_config c = {
            .size = sizes[b % 10],
            .align = (b / 10) % 3 == 0 ? 0 : (size_t)8 << ((b / 10) % 6),
            .chunk_size = (size_t)4096 << (b >> 7),
            .flags = (unsigned)((b >> 4) & 7),
            .name = "fuzz",
            .source = fuzz_source(),
        };
        if (fa_pool_init(&m->pool[k], &c) != 0) {
            c.align = 0;
            c.chunk_size = 0;
            if (fa_pool_init(&m->pool[k], &c) != 0) {
                fail("a valid config was refused");
            }
        }
        m->size[k] = c.size;
    }
}

static void do_alloc(model *m, int k)
{
    if (m->nlive[k] == MAX_LIVE) {
        return;
    }
    unsigned char *obj = fa_pool_alloc(&m->pool[k]);
    if (obj == NULL) {
        fail("alloc failed");
    }
    fa_stats st;
    fa_pool_stats(&m->pool[k], &st);
    if (((uintptr_t)obj & 7) != 0) {
        fail("a misaligned object");
    }
    if ((m->pool[k].flags & FA_ZERO) && !fuzz_zero(obj, 0, m->size[k])) {
        fail("an FA_ZERO object is not zero");
    }
    uint32_t id = m->next_id++;
    stamp(obj, m->size[k], id);
    m->objs[k][m->nlive[k]++] = (live){obj, id};
}

static void do_free(model *m, int k, size_t pick)
{
    if (m->nlive[k] == 0) {
        return;
    }
    size_t i = pick % m->nlive[k];
    live l = m->objs[k][i];
    verify(l.obj, m->size[k], l.id);
    fa_pool_free(&m->pool[k], l.obj);
    m->objs[k][i] = m->objs[k][--m->nlive[k]];
    m->last_freed[k] = l.obj;
}

static void do_walk(model *m, int k)
{
    static void *slots[2 * MAX_LIVE]; /* half full at most */
    fuzz_walk w = {.seen = 0, .stray = false};
    fuzz_set_init(&w.live, slots, MAX_LIVE_SHIFT + 1);
    for (size_t i = 0; i < m->nlive[k]; i++) {
        fuzz_set_add(&w.live, m->objs[k][i].obj);
    }
    fa_pool_walk(&m->pool[k], fuzz_walk_see, &w);
    if (w.stray) {
        fail("walk visited an object that is not live, or one twice");
    }
    if (w.seen != m->nlive[k]) {
        fail("walk missed live objects");
    }
}

static void do_double_free(model *m, int k)
{
    if (!(m->pool[k].flags & FA_CHECKED) || m->last_freed[k] == NULL) {
        return;
    }
    for (size_t i = 0; i < m->nlive[k]; i++) {
        if (m->objs[k][i].obj == m->last_freed[k]) {
            return; /* handed out again since: not a double free */
        }
    }
    int before = reports;
    fa_pool_free(&m->pool[k], m->last_freed[k]);
    if (reports != before + 1) {
        fail("a double free in a checked pool was not reported");
    }
}

static void step(model *m, uint8_t op, uint8_t arg)
{
    int k = op & (POOLS - 1);
    switch ((op >> 2) % 10) {
    case 0:
    case 1:
    case 2: do_alloc(m, k); break;
    case 3:
    case 4: do_free(m, k, arg); break;
    case 5:
        for (int i = 0; i < arg % 64; i++) {
            do_alloc(m, k);
        }
        break;
    case 6:
        for (int i = 0; i < arg % 64; i++) {
            do_free(m, k, (size_t)arg * 7 + (size_t)i);
        }
        break;
    case 7:
        if (fa_pool_reserve(&m->pool[k], arg % 64u) != 0) {
            fail("reserve failed");
        }
        break;
    case 8: fa_pool_trim(&m->pool[k]); break;
    default:
        if (arg & 1) {
            do_walk(m, k);
        } else if (arg & 2) {
            do_double_free(m, k);
        }
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < POOLS) {
        return 0;
    }
    fa_set_error_handler(count_report);
    /* One model for every input, cleared: a fresh allocation each time
     * would stay in ASan's quarantine once freed (twice the target's
     * resident size). */
    static model storage;
    model *m = memset(&storage, 0, sizeof storage);
    setup(m, data);
    if (len > POOLS + 2 * MAX_OPS) {
        len = POOLS + 2 * MAX_OPS;
    }
    for (size_t i = POOLS; i + 1 < len; i += 2) {
        step(m, data[i], data[i + 1]);
    }
    for (int k = 0; k < POOLS; k++) {
        if (!fa_pool_check(&m->pool[k])) {
            fail("fa_pool_check failed");
        }
        fa_stats st;
        fa_pool_stats(&m->pool[k], &st);
        if (st.live != m->nlive[k]) {
            fail("stats.live differs from the model");
        }
        while (m->nlive[k] > 0) {
            do_free(m, k, 0);
        }
        fa_pool_trim(&m->pool[k]);
        fa_pool_stats(&m->pool[k], &st);
        if (st.chunks != 0) {
            fail("trim kept chunks after every object was freed");
        }
        fa_pool_destroy(&m->pool[k]);
    }
    fa_set_error_handler(NULL);
    return 0;
}
