/*
 * fuzz_heap.c - a libFuzzer target: the input is a program of heap and
 * malloc-family operations, checked step by step against a model.
 *
 * Three heaps: the default one (through fa_malloc and friends) and up to
 * two of the target's own, of configs the first three bytes choose
 * (FA_ZERO, FA_CHECKED, FA_HARDENED, a max_bytes cap), on the fuzz page
 * source (fuzz_support.h); the first byte also says whether ASan tracking
 * is off, whether the heaps of our own are destroyed at the end or emptied
 * by frees, and whether the default heap is trimmed (once by a trim
 * operation, and at the end).
 * Each following triple of bytes (at most MAX_OPS: the rest of a longer
 * input is not read) is one operation: fa_malloc or
 * fa_heap_malloc, calloc, aligned_alloc (8 to FA_HEAP_ALIGN_MAX), realloc
 * (grow, shrink, to 0, of large blocks, into another heap), free,
 * free_sized, usable_size and heap_of, trim, stats, check, the destruction
 * of a heap of its own (its objects leave the model) and its re-creation,
 * the error paths (sizes that overflow, bad alignments) and, on checked
 * heaps, a deliberate double free that must be reported once. Sizes
 * cover every class and large blocks of up to a few MiB, biased to class
 * boundaries and powers of two.
 *
 * Every object is stamped with a pattern of its id and verified: whole
 * when small, its ends and a word every 64 KiB when large. A realloc
 * keeps the first min(old, new) bytes; calloc and FA_ZERO heaps give
 * zeros. Stats (live objects, live bytes) are compared with the model,
 * those of the default heap from where they were when the input began;
 * every object left is freed at the end, where every heap must check.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */

#include <fixalloc.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_report.h"
#include "fuzz_support.h"

#define HEAPS 3 /* the default heap, and two of the target's own */
#define HEADER 3
#define MAX_OBJS 512
/* Operations read from an input: the make targets' -max_len is
 * HEADER + 3 * MAX_OPS. */
#define MAX_OPS 256
/* Bytes the model's objects may ask for at once. */
#define MAX_BYTES ((size_t)48 << 20)
/* Objects up to this size are stamped and verified whole. */
#define WHOLE 1024
#define EDGE 256
/* Between the stamped words of a large object: most of its pages are
 * never touched, so a large allocation costs no page faults. */
#define STRIDE 65536

typedef struct object {
    unsigned char *p;
    size_t size; /* asked for: what fa_free_sized gets */
    uint32_t id;
    int heap;
    bool aligned; /* from aligned_alloc: not for fa_free_sized */
    /* A large block, or may be one: a request above FA_SMALL_MAX, or an
     * alignment that no class gives (a block of a few pages then). */
    bool maybe_large;
} object;

typedef struct heap_model {
    fa_heap *h;
    fa_heap_config cfg;
    int ci;      /* the index of cfg in configs[] */
    int tracked; /* its pools are annotated for ASan */
    /* The default heap's counters when the input began. */
    size_t base_live, base_bytes;
} heap_model;

typedef struct model {
    heap_model hm[HEAPS];
    object objs[MAX_OBJS];
    size_t n;
    size_t bytes;
    uint32_t next_id;
    /* Trim operations on the default heap in this input, and how many of
     * them trim it (do_trim). */
    int default_trims, default_trims_max;
} model;

static void fail(const char *what)
{
    fuzz_fail("fuzz_heap", what);
}

/* ---- patterns: whole when small, ends and a word every STRIDE when large */

/* Calls fn(from, to, ...) on each stamped range of an object of `size`
 * bytes, cut at `limit`: ranges empty after the cut are passed too. */
#define EACH_RANGE(size, limit, fn, ...)                                       \
    do {                                                                       \
        size_t lim_ = (limit) < (size) ? (limit) : (size);                     \
        if ((size) <= WHOLE) {                                                 \
            fn(0, lim_, __VA_ARGS__);                                          \
            break;                                                             \
        }                                                                      \
        fn(0, EDGE < lim_ ? EDGE : lim_, __VA_ARGS__);                         \
        for (size_t pg_ = STRIDE; pg_ < (size)-EDGE; pg_ += STRIDE) {          \
            fn(pg_, pg_ + 8 < lim_ ? pg_ + 8 : lim_, __VA_ARGS__);             \
        }                                                                      \
        fn((size)-EDGE, lim_, __VA_ARGS__);                                    \
    } while (0)

static void stamp_range(size_t from, size_t to, unsigned char *p, uint32_t id)
{
    if (from < to) {
        fuzz_stamp(p, from, to, id);
    }
}

static void stamped_range(size_t from, size_t to, const unsigned char *p,
                          uint32_t id)
{
    if (from < to && !fuzz_stamped(p, from, to, id)) {
        fail("an object's contents changed while it was live");
    }
}

static void zero_range(size_t from, size_t to, const unsigned char *p)
{
    if (from < to && !fuzz_zero(p, from, to)) {
        fail("an object that must read as zeros does not");
    }
}

static void stamp(unsigned char *p, size_t size, uint32_t id)
{
    EACH_RANGE(size, size, stamp_range, p, id);
}

/* Checks the positions below `limit` stamped for an object of `size`. */
static void verify(const unsigned char *p, size_t size, size_t limit,
                   uint32_t id)
{
    EACH_RANGE(size, limit, stamped_range, p, id);
}

static void verify_zero(const unsigned char *p, size_t size)
{
    EACH_RANGE(size, size, zero_range, p);
}

/* ---- sizes ---- */

/* A size from two bytes: a class boundary, a power of two of up to 1 MiB
 * (each give or take a byte or two: 1 MiB and more is a block of two
 * chunks from the fuzz source, and a realloc that grows one by half goes
 * past that), any small size, or a large one of up to 288 KiB in steps of
 * 16 bytes: a large block's pages are faulted in by a realloc's copy and a
 * calloc's clearing, so they are kept few where a power of two does not
 * ask for more. (Powers of two up to 4 MiB, asked for before, took about
 * a third of the time of a replay of the target's corpus, most of it
 * mapping and faulting in blocks of four chunks.) */
static size_t pick_size(uint8_t a, uint8_t b)
{
    size_t delta = (size_t)(a & 3);
    size_t s;
    switch (a >> 6) {
    case 0: s = fa_size_class_size(b % FA_SIZE_CLASSES); break;
    case 1: s = (size_t)1 << (b % 21); break;
    case 2: return (((size_t)(a & 63) << 8) | b) % (FA_SMALL_MAX + 1);
    default: return FA_SMALL_MAX + 1 + ((((size_t)(a & 63) << 8) | b) << 4);
    }
    return delta == 0 ? s - 1 : s + delta - 1; /* -1, 0, +1, +2 */
}

/* ---- the model ---- */

static fa_heap *heap_at(const model *m, int k)
{
    return m->hm[k].h;
}

static int pick_heap(const model *m, uint8_t op)
{
    int k = (op & 3) % HEAPS;
    return m->hm[k].h != NULL ? k : 0;
}

static bool capped(const model *m, int k)
{
    return m->hm[k].cfg.max_bytes != 0;
}

static size_t natural_align(size_t n)
{
    if (n <= FA_SMALL_MAX && fa_size_class_size(fa_size_class(n)) % 16 != 0) {
        return 8;
    }
    return 16;
}

/* A fresh object of heap k for n bytes (align 0: as fa_malloc's): checks
 * it, stamps it, adds it. */
static void adopt(model *m, int k, unsigned char *p, size_t n, size_t align,
                  bool zero)
{
    if (p == NULL) {
        fail("adopt of NULL");
    }
    size_t want = align != 0 ? align : natural_align(n);
    if ((uintptr_t)p % want != 0) {
        fail("a misaligned object");
    }
    size_t usable = fa_usable_size(p);
    if (usable < n) {
        fail("fa_usable_size is below the size asked for");
    }
    if (align == 0 && n <= FA_SMALL_MAX && usable != fa_good_size(n)) {
        fail("fa_usable_size differs from fa_good_size");
    }
    if (fa_heap_of(p) != heap_at(m, k)) {
        fail("fa_heap_of names another heap");
    }
    if (zero || (m->hm[k].cfg.flags & FA_ZERO)) {
        verify_zero(p, n);
    }
    object o = {p, n,          m->next_id++,
                k, align != 0, align != 0 || usable > FA_SMALL_MAX};
    stamp(p, n, o.id);
    if (usable > n) {
        p[usable - 1] = 0x5a; /* the usable size is usable */
    }
    m->objs[m->n++] = o;
    m->bytes += n;
}

/* Whether an allocation of n bytes of heap k may fail. */
static bool may_fail(const model *m, int k, size_t n)
{
    return capped(m, k) || n > ((size_t)1 << 40);
}

static void failed(const model *m, int k, size_t n, int want_errno)
{
    if (errno != want_errno) {
        fail("a failed allocation set the wrong errno");
    }
    if (want_errno == ENOMEM && !may_fail(m, k, n)) {
        fail("an allocation failed");
    }
}

static bool room(const model *m, size_t n)
{
    return m->n < MAX_OBJS && n <= MAX_BYTES - m->bytes;
}

static void do_malloc(model *m, int k, size_t n)
{
    if (!room(m, n)) {
        return;
    }
    errno = 0;
    void *p = k == 0 ? fa_malloc(n) : fa_heap_malloc(heap_at(m, k), n);
    if (p == NULL) {
        failed(m, k, n, ENOMEM);
        return;
    }
    adopt(m, k, p, n, 0, false);
}

static void do_calloc(model *m, int k, size_t n, uint8_t arg)
{
    size_t count = 1 + (arg & 7);
    size_t each = n / count;
    if (!room(m, count * each)) {
        return;
    }
    errno = 0;
    void *p = k == 0 ? fa_calloc(count, each)
                     : fa_heap_calloc(heap_at(m, k), count, each);
    if (p == NULL) {
        failed(m, k, count * each, ENOMEM);
        return;
    }
    adopt(m, k, p, count * each, 0, true);
}

static void do_aligned(model *m, int k, size_t n, uint8_t arg)
{
    size_t align = (size_t)8 << (arg % 15); /* 8 .. FA_HEAP_ALIGN_MAX */
    if (!room(m, n)) {
        return;
    }
    errno = 0;
    void *p;
    if (k == 0 && (arg & 128)) {
        int err = fa_posix_memalign(&p, align, n);
        if (err != 0) {
            errno = err;
            p = NULL;
        }
    } else if (k == 0) {
        p = fa_aligned_alloc(align, n);
    } else {
        p = fa_heap_aligned_alloc(heap_at(m, k), align, n);
    }
    if (p == NULL) {
        failed(m, k, n, ENOMEM);
        return;
    }
    adopt(m, k, p, n, align, false);
}

static object take(model *m, size_t i)
{
    object o = m->objs[i];
    m->objs[i] = m->objs[--m->n];
    m->bytes -= o.size;
    return o;
}

static void do_double_free(model *m, const object *o)
{
    int before = fuzz_reports_total();
    int doubles = fuzz_reports(FA_ERR_DOUBLE_FREE);
    fa_free(o->p);
    if (fuzz_reports_total() != before + 1 ||
        fuzz_reports(FA_ERR_DOUBLE_FREE) != doubles + 1) {
        fail("a double free in a checked heap was not reported once");
    }
    (void)m;
}

/* Frees an object: fa_free, or fa_free_sized when `sized` and the object
 * came from malloc, calloc or realloc; a deliberate double free after it
 * on checked heaps when `twice`. */
static void do_free(model *m, unsigned pick, bool sized, bool twice)
{
    if (m->n == 0) {
        return;
    }
    object o = take(m, pick % m->n);
    verify(o.p, o.size, o.size, o.id);
    /* A small object's chunk stays after its free; a large block may
     * go back to the source at once. */
    bool small = !o.maybe_large;
    if (sized && !o.aligned) {
        fa_free_sized(o.p, o.size);
    } else {
        fa_free(o.p);
    }
    if (twice && (m->hm[o.heap].cfg.flags & FA_CHECKED) && small) {
        do_double_free(m, &o);
    }
}

static void do_realloc(model *m, unsigned pick, size_t n, uint8_t arg)
{
    if (m->n == 0) {
        return;
    }
    size_t i = pick % m->n;
    object o = m->objs[i];
    if (arg & 1) {
        n = 0;
    } else if (arg & 2) {
        n = o.size + o.size / 2 + 1; /* grow by half */
    } else if (arg & 4) {
        n = o.size / 2; /* shrink by half */
    }
    if (n > o.size && n - o.size > MAX_BYTES - m->bytes) {
        return;
    }
    /* fa_realloc stays in p's heap; fa_heap_realloc moves p to its heap
     * when p does not stay in place. */
    int to = (arg & 8) ? pick_heap(m, (uint8_t)(arg >> 4)) : o.heap;
    errno = 0;
    unsigned char *q = (arg & 8) ? fa_heap_realloc(heap_at(m, to), o.p, n)
                                 : fa_realloc(o.p, n);
    if (q == NULL) {
        failed(m, to, n, ENOMEM);
        verify(o.p, o.size, o.size, o.id);
        return;
    }
    verify(q, o.size, n, o.id);
    int heap = q == o.p ? o.heap : to;
    /* A large block that grows by moving its pages (no copy) stays in its
     * heap at its new address, even when fa_heap_realloc names another. */
    if (q != o.p && o.maybe_large && fa_heap_of(q) == heap_at(m, o.heap)) {
        heap = o.heap;
    }
    size_t usable = fa_usable_size(q);
    if (usable < n) {
        fail("fa_usable_size after realloc is below the size asked for");
    }
    if (fa_heap_of(q) != heap_at(m, heap)) {
        fprintf(stderr,
                "fuzz_heap: realloc %p (%zu B, heap %d) to %zu B in heap "
                "%d: %p\n",
                (void *)o.p, o.size, o.heap, n, to, (void *)q);
        fail("realloc put the object in another heap");
    }
    if ((uintptr_t)q % natural_align(n) != 0) {
        fail("realloc returned a misaligned object");
    }
    m->bytes = m->bytes - o.size + n;
    o.p = q;
    o.size = n;
    o.heap = heap;
    o.aligned = false;
    o.maybe_large = (q == o.p && o.maybe_large) || usable > FA_SMALL_MAX;
    stamp(q, n, o.id);
    m->objs[i] = o;
}

static void do_inspect(model *m, unsigned pick)
{
    if (m->n == 0) {
        if (fa_usable_size(NULL) != 0 || fa_heap_of(NULL) != NULL) {
            fail("NULL has a size or a heap");
        }
        return;
    }
    const object *o = &m->objs[pick % m->n];
    if (fa_usable_size(o->p) < o->size) {
        fail("fa_usable_size is below the size asked for");
    }
    if (fa_heap_of(o->p) != heap_at(m, o->heap)) {
        fail("fa_heap_of names another heap");
    }
    verify(o->p, o->size, o->size, o->id);
}

static void do_stats(model *m, int k)
{
    fa_heap_counters s;
    fa_heap_stats(heap_at(m, k), &s);
    size_t live = 0, bytes = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (m->objs[i].heap == k) {
            live++;
            bytes += fa_usable_size(m->objs[i].p);
        }
    }
    heap_model *hm = &m->hm[k];
    if (s.live != hm->base_live + live ||
        s.live_bytes != hm->base_bytes + bytes) {
        fprintf(stderr,
                "fuzz_heap: heap %d live %zu (%zu B), model %zu (%zu B)\n", k,
                s.live, s.live_bytes, hm->base_live + live,
                hm->base_bytes + bytes);
        fail("heap stats differ from the model");
    }
    if (s.small_live + s.large_live != s.live || s.allocs - s.frees != s.live) {
        fail("heap stats disagree with themselves");
    }
    if (capped(m, k) && s.bytes_held > hm->cfg.max_bytes) {
        fail("a heap holds more than its cap");
    }
    /* large_bytes counts the blocks in use; the free ones kept for reuse
     * are held too. */
    if (s.bytes_held != s.chunk_bytes + s.large_bytes + s.large_kept_bytes) {
        fprintf(stderr,
                "fuzz_heap: held %zu, chunks %zu, large %zu, kept %zu\n",
                s.bytes_held, s.chunk_bytes, s.large_bytes, s.large_kept_bytes);
        fail("a heap's bytes held are not its chunks' and blocks'");
    }
}

static void do_check(model *m, int k)
{
    if (!fa_heap_check(heap_at(m, k))) {
        fail("fa_heap_check failed");
    }
}

/* The heaps of the target's own, one per config and tracking mode, kept
 * from one input to the next (as the default heap is): the library does
 * not reuse the memory of a destroyed heap's records (about 85 KiB a
 * heap), so a process that created and destroyed a heap per input would
 * run out of memory within seconds. A heap's pools take FIXALLOC_TRACK
 * when it is created, so an input gets a heap created with its own
 * setting: one created by an input before with the other would make the
 * input take other paths than it takes alone, and a crash found so would
 * not reproduce (a free-list push that lost the list's head went unseen
 * for minutes when the heaps were kept by config alone). A destruction
 * asked for by an input is real while DESTROY_BUDGET lasts (each
 * destroyed heap is created afresh when an input asks for its config
 * again); past it the heap's objects are freed and the heap trimmed
 * instead. At most 16 heaps exist at once (FA_CACHE_MAX /
 * FA_SIZE_CLASSES), the default one included: the heap of config
 * ALWAYS_UNTRACKED is untracked whatever the input says (checked, it
 * poisons its free objects itself), which leaves 15 of our own. */
#define CONFIGS 8
#define ALWAYS_UNTRACKED 5
#define DESTROY_BUDGET 1024

static const fa_heap_config configs[CONFIGS] = {
    {.flags = 0, .name = "plain"},
    {.flags = FA_ZERO, .name = "zero"},
    {.flags = FA_CHECKED, .name = "checked"},
    {.flags = FA_HARDENED, .max_bytes = (size_t)8 << 20, .name = "capped"},
    {.flags = FA_ZERO | FA_CHECKED, .name = "zero-checked"},
    {.flags = FA_CHECKED | FA_HARDENED,
     .max_bytes = (size_t)2 << 20,
     .name = "checked-capped"},
    {.flags = FA_ZERO | FA_HARDENED, .name = "zero-hardened"},
    {.flags = FA_ZERO, .max_bytes = (size_t)2 << 20, .name = "zero-capped"},
};
static fa_heap *kept[CONFIGS][2]; /* [config][tracked] */
/* The input's tracking mode: 0 when FIXALLOC_TRACK=0. */
static int tracking;
static int destroys;
/* Leak reports of checked heaps destroyed with live objects. */
static int allowed_leaks;

/* Makes heap k (1 or 2) one of config byte b, not the other slot's. */
static void heap_create(model *m, int k, uint8_t b)
{
    heap_model *hm = &m->hm[k];
    const heap_model *other = &m->hm[3 - k];
    int ci = b % CONFIGS;
    if (other->h != NULL && other->ci == ci) {
        ci = (ci + 1) % CONFIGS;
    }
    int tracked = ci == ALWAYS_UNTRACKED ? 0 : tracking;
    fa_heap **slot = &kept[ci][tracked];
    if (*slot == NULL) {
        /* Chunks and blocks of up to a chunk from the fuzz source: an
         * input's chunks cost no mmap, munmap or page fault. */
        fa_heap_config cfg = configs[ci];
        cfg.source = fuzz_source();
        if (tracked != tracking) {
            setenv("FIXALLOC_TRACK", "0", 1);
        }
        *slot = fa_heap_create(&cfg);
        if (*slot == NULL) {
            fail("fa_heap_create failed");
        }
        if (tracked != tracking) {
            unsetenv("FIXALLOC_TRACK");
        }
    }
    hm->h = *slot;
    hm->ci = ci;
    hm->tracked = tracked;
    hm->cfg = configs[ci];
    /* Every object of the inputs before was freed, or the heap is new. */
    fa_heap_counters s;
    fa_heap_stats(hm->h, &s);
    if (s.live != 0 || s.live_bytes != 0) {
        fail("a heap kept from the input before has live objects");
    }
    hm->base_live = hm->base_bytes = 0;
}

/* Destroys heap k (not the default): its objects are gone. Past the
 * budget: its objects are freed and it is trimmed. */
static void heap_destroy(model *m, int k)
{
    heap_model *hm = &m->hm[k];
    bool real = destroys < DESTROY_BUDGET;
    for (size_t i = m->n; i-- > 0;) {
        if (m->objs[i].heap == k) {
            if (real) {
                take(m, i);
            } else {
                do_free(m, (unsigned)i, (i & 1) != 0, false);
            }
        }
    }
    if (real) {
        destroys++;
        int leaks = fuzz_reports(FA_ERR_LEAK);
        fa_heap_destroy(hm->h);
        /* A checked heap reports the classes that still had live objects
         * as leaks, although a destroyed heap takes its objects with it. */
        if (fuzz_reports(FA_ERR_LEAK) != leaks &&
            !(hm->cfg.flags & FA_CHECKED)) {
            fail("an unchecked heap reported a leak at destroy");
        }
        allowed_leaks += fuzz_reports(FA_ERR_LEAK) - leaks;
        kept[hm->ci][hm->tracked] = NULL;
    } else {
        fa_heap_trim(hm->h);
    }
    hm->h = NULL;
}

/* The end of an input: heap k's objects are freed (it stays for the
 * inputs to come), or destroyed with it when `destroy`. */
static void heap_leave(model *m, int k, bool destroy)
{
    if (destroy) {
        heap_destroy(m, k);
        return;
    }
    for (size_t i = m->n; i-- > 0;) {
        if (m->objs[i].heap == k) {
            do_free(m, (unsigned)i, (i & 1) != 0, false);
        }
    }
    do_stats(m, k);
    m->hm[k].h = NULL;
}

/* Trims heap k. The default heap's source is the OS: a trim gives its
 * empty chunks and kept large blocks back with munmap, and the allocations
 * after it map and fault them in again, which cost more than the rest of
 * an input. So the default heap is trimmed only by the inputs whose first
 * byte asks for it (bits 16 and 32, one input in four), by DEFAULT_TRIMS trim
 * operations at most and at the end; the heaps of our own (on the fuzz source,
 * which costs no system call) at every trim operation. */
#define DEFAULT_TRIMS 1
#define TRIMS_DEFAULT(first) (((first)&48) == 48)

static void do_trim(model *m, int k)
{
    if (k == 0 && m->default_trims++ >= m->default_trims_max) {
        return;
    }
    fa_heap_trim(heap_at(m, k));
}

static void do_errors(model *m, uint8_t arg)
{
    void *p;
    errno = 0;
    if (fa_malloc(SIZE_MAX - (arg & 15)) != NULL || errno != ENOMEM) {
        fail("an impossible malloc did not fail with ENOMEM");
    }
    errno = 0;
    if (fa_calloc(SIZE_MAX / 2, 3 + (arg & 3)) != NULL || errno != ENOMEM) {
        fail("an overflowing calloc did not fail with ENOMEM");
    }
    errno = 0;
    if (fa_aligned_alloc(24, 8) != NULL || errno != EINVAL ||
        fa_aligned_alloc(FA_HEAP_ALIGN_MAX * 2, 8) != NULL) {
        fail("a bad alignment was taken");
    }
    if (fa_posix_memalign(&p, 4, 8) != EINVAL ||
        fa_posix_memalign(&p, 48, 8) != EINVAL) {
        fail("posix_memalign took a bad alignment");
    }
    int k = pick_heap(m, arg);
    errno = 0;
    if (fa_heap_malloc(heap_at(m, k), SIZE_MAX / 2 + (arg >> 4)) != NULL ||
        errno != ENOMEM) {
        fail("an impossible heap malloc did not fail with ENOMEM");
    }
    if (m->n > 0) {
        object *o = &m->objs[arg % m->n];
        errno = 0;
        if (fa_realloc(o->p, SIZE_MAX - 4096) != NULL || errno != ENOMEM) {
            fail("an impossible realloc did not fail with ENOMEM");
        }
        verify(o->p, o->size, o->size, o->id);
    }
}

static void step(model *m, uint8_t op, uint8_t a, uint8_t b)
{
    int k = pick_heap(m, op);
    size_t n = pick_size(a, b);
    unsigned pick = (unsigned)a << 8 | b;
    switch ((op >> 2) % 20) {
    case 0:
    case 1:
    case 2:
    case 3: do_malloc(m, k, n); break;
    case 4: do_calloc(m, k, n, (uint8_t)(op ^ b)); break;
    case 5: do_aligned(m, k, n % (FA_SMALL_MAX * 2), b); break;
    case 6:
    case 7: do_free(m, pick, false, false); break;
    case 8: do_free(m, pick, true, (op & 128) != 0); break;
    case 9:
    case 10:
    case 11: do_realloc(m, pick, n, (uint8_t)(b ^ a)); break;
    case 12: do_inspect(m, pick); break;
    case 13: do_trim(m, k); break;
    case 14: do_stats(m, k); break;
    case 15: do_check(m, k); break;
    case 16: {
        int own = 1 + (op & 1);
        if (m->hm[own].h != NULL) {
            heap_destroy(m, own);
        } else {
            heap_create(m, own, b);
        }
        break;
    }
    case 17: do_errors(m, b); break;
    default: do_free(m, pick, (b & 1) != 0, false); break;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* The default heap takes FIXALLOC_TRACK when it is first used: made here,
 * with tracking (the library's default), not by whichever input came
 * first, so that an input takes the same paths in every run. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    unsetenv("FIXALLOC_TRACK");
    if (fa_heap_default() == NULL) {
        fail("no default heap");
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < HEADER) {
        return 0;
    }
    /* One model for every input, cleared: a fresh allocation each time
     * would stay in ASan's quarantine once freed (twice the target's
     * resident size). */
    static model storage;
    model *m = memset(&storage, 0, sizeof storage);
    allowed_leaks = 0;
    fuzz_reports_reset();
    tracking = (data[0] & 4) == 0;
    if (!tracking) {
        setenv("FIXALLOC_TRACK", "0", 1);
    } else {
        unsetenv("FIXALLOC_TRACK");
    }
    m->default_trims_max = TRIMS_DEFAULT(data[0]) ? DEFAULT_TRIMS : 0;
    m->hm[0].h = fa_heap_default();
    if (m->hm[0].h == NULL) {
        fail("no default heap");
    }
    fa_heap_counters s;
    fa_heap_stats(m->hm[0].h, &s);
    m->hm[0].base_live = s.live;
    m->hm[0].base_bytes = s.live_bytes;
    for (int k = 1; k <= data[0] % HEAPS; k++) {
        heap_create(m, k, data[k]);
    }
    if (len > HEADER + 3 * MAX_OPS) {
        len = HEADER + 3 * MAX_OPS;
    }
    for (size_t i = HEADER; i + 2 < len; i += 3) {
        step(m, data[i], data[i + 1], data[i + 2]);
    }
    for (int k = 0; k < HEAPS; k++) {
        if (m->hm[k].h != NULL) {
            do_stats(m, k);
            do_check(m, k);
        }
    }
    /* The objects left: freed, or, for a heap of our own when the input
     * says so, gone with the heap. */
    for (int k = 1; k < HEAPS; k++) {
        if (m->hm[k].h != NULL) {
            heap_leave(m, k, (data[0] & 8) != 0);
        }
    }
    while (m->n > 0) {
        do_free(m, (unsigned)m->n - 1, (m->n & 1) != 0, false);
    }
    do_stats(m, 0);
    do_check(m, 0);
    if (TRIMS_DEFAULT(data[0])) {
        fa_heap_trim(m->hm[0].h);
    }
    if (fuzz_reports_total() !=
        fuzz_reports(FA_ERR_DOUBLE_FREE) + allowed_leaks) {
        fail("an unexpected error report");
    }
    fa_set_error_handler(NULL);
    unsetenv("FIXALLOC_TRACK");
    return 0;
}
