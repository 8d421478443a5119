/*
 * test_foreign.c - frees of pointers the library never handed out: from
 * malloc, into memory that is not mapped or not readable, into another
 * pool's chunk. Each is reported, with the report the README promises,
 * and nothing else happens: no fault, no read of the pointer's memory
 * before the chunk map (pools, caches) or the address map (heaps) shows
 * that a chunk or block starts where the pointer's would-be header is.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fixalloc.h"
#include "test_util.h"

#define CHUNK ((size_t)65536)

/* Plain, hardened and checked pools: the loop tests' index. */
static const unsigned modes[] = {0, FA_HARDENED, FA_CHECKED};
#define NMODES ((int)(sizeof modes / sizeof modes[0]))

static void expect_foreign(const char *object, const char *name,
                           const char *detail)
{
    TU_INT_EQ(tu_err.count, 1);
    TU_INT_EQ(tu_err.kind, FA_ERR_FOREIGN);
    TU_STR_EQ(tu_err.object, object);
    TU_STR_EQ(tu_err.pool, name);
    TU_STR_EQ(tu_err.detail, detail);
}

/* `align` bytes aligned to `align` with protection `prot`, to unmap with
 * munmap(r, align). */
static char *region(size_t align, int prot)
{
    char *m = mmap(NULL, 2 * align, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    TU_CHECK(m != MAP_FAILED);
    char *r = (char *)(((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1));
    if (r > m) {
        TU_INT_EQ(munmap(m, (size_t)(r - m)), 0);
    }
    if (r + align < m + 2 * align) {
        TU_INT_EQ(munmap(r + align, (size_t)(m + 2 * align - (r + align))), 0);
    }
    return r;
}

/* An address of `align` bytes aligned to `align` that nothing maps now.
 * The caller maps nothing before it uses it. */
static char *unmapped(size_t align)
{
    char *r = region(align, PROT_NONE);
    TU_INT_EQ(munmap(r, align), 0);
    return r;
}

static fa_pool pool;

/* A pool of the mode with objects in two chunks, so that a free of its
 * own objects can leave the fast path too. */
static void pool_setup(int i)
{
    fa_config cfg = tu_config(64);
    cfg.chunk_size = CHUNK;
    cfg.flags = modes[i];
    cfg.name = "own";
    tu_pool_init_ok(&pool, &cfg);
    size_t per = tu_pool_stats(&pool).slots_per_chunk;
    for (size_t k = 0; k <= per; k++) {
        TU_NOT_NULL(fa_pool_alloc(&pool));
    }
}

/* Frees `p`, which no chunk of the pool holds: one report, and the pool
 * unchanged and still usable. */
static void pool_free_foreign(void *p)
{
    fa_stats before = tu_pool_stats(&pool);
    fa_error_handler old = tu_errors_install();
    fa_pool_free(&pool, p);
    expect_foreign("pool", "own", "no chunk of this pool holds it");
    fa_set_error_handler(old);
    fa_stats after = tu_pool_stats(&pool);
    TU_EQ(after.live, before.live);
    TU_EQ(after.frees, before.frees);
    TU_NOT_NULL(fa_pool_alloc(&pool));
}

static void pool_done(void)
{
    tu_errors_install(); /* checked pools report their live objects */
    fa_pool_destroy(&pool);
}

START_TEST(pool_free_of_malloc_pointer)
{
    pool_setup(_i);
    char *m = malloc(64);
    TU_NOT_NULL(m);
    pool_free_foreign(m);
    free(m);
    pool_done();
}
END_TEST

START_TEST(pool_free_into_unmapped_memory)
{
    pool_setup(_i);
    char *r = unmapped(CHUNK);
    pool_free_foreign(r + 4096 + 64);
    pool_free_foreign(r + 64);
    pool_done();
}
END_TEST

START_TEST(pool_free_into_inaccessible_memory)
{
    pool_setup(_i);
    char *r = region(CHUNK, PROT_NONE);
    pool_free_foreign(r + 4096 + 64);
    pool_free_foreign(r + 64);
    TU_INT_EQ(munmap(r, CHUNK), 0);
    pool_done();
}
END_TEST

START_TEST(pool_free_into_another_pools_chunk)
{
    pool_setup(_i);
    fa_pool other;
    fa_config cfg = tu_config(64);
    cfg.chunk_size = CHUNK;
    cfg.flags = modes[_i];
    tu_pool_init_ok(&other, &cfg);
    void *x = fa_pool_alloc(&other);
    TU_NOT_NULL(x);
    pool_free_foreign(x);
    fa_pool_free(&other, x);
    fa_pool_destroy(&other);
    pool_done();
}
END_TEST

/* A cache's slow free asks the chunk map too. */
START_TEST(cache_free_into_unmapped_memory)
{
    fa_config cfg = tu_config(64);
    cfg.chunk_size = CHUNK;
    cfg.flags = modes[_i];
    cfg.name = "own";
    fa_cache *c = fa_cache_create(&cfg);
    TU_NOT_NULL(c);
    void *a = fa_cache_alloc(c);
    TU_NOT_NULL(a);
    char *r = unmapped(CHUNK);
    fa_error_handler old = tu_errors_install();
    fa_cache_free(c, r + 4096 + 64);
    if (modes[_i] & FA_CHECKED) { /* its one pool, under the lock */
        expect_foreign("pool", "own", "no chunk of this pool holds it");
    } else {
        expect_foreign("cache", "own", "no pool of this cache holds it");
    }
    fa_set_error_handler(old);
    fa_cache_free(c, a);
    fa_cache_destroy(c);
}
END_TEST

/* ---- heaps without checked mode ---- */

#define NO_HEAP "no heap holds it (freed already, or never a heap's)"

static fa_heap *heap;
static void *in_default_heap;

/* A heap that is not checked, with a class chunk and a large block. */
static void heap_setup(void)
{
    fa_heap_config cfg = {.name = "own"};
    heap = fa_heap_create(&cfg);
    TU_NOT_NULL(heap);
    TU_NOT_NULL(fa_heap_malloc(heap, 64));
    TU_NOT_NULL(fa_heap_malloc(heap, 100000));
    in_default_heap = fa_malloc(64); /* the default heap too */
    TU_NOT_NULL(in_default_heap);
}

static void heap_done(void)
{
    fa_free(in_default_heap);
    fa_heap_destroy(heap);
}

/* fa_free, fa_realloc, fa_free_sized and fa_usable_size of p: each
 * reports, none reads p's memory. */
static void heap_calls_on_foreign(void *p)
{
    fa_error_handler old = tu_errors_install();
    fa_free(p);
    expect_foreign("heap", "unnamed", NO_HEAP);
    tu_errors_reset();
    errno = 0;
    TU_CHECK(fa_realloc(p, 100) == NULL);
    TU_INT_EQ(errno, EINVAL);
    expect_foreign("heap", "unnamed", NO_HEAP);
    tu_errors_reset();
    TU_CHECK(fa_heap_realloc(heap, p, 100) == NULL);
    expect_foreign("heap", "unnamed", NO_HEAP);
    tu_errors_reset();
    fa_free_sized(p, 64);
    expect_foreign("heap", "unnamed", NO_HEAP);
    tu_errors_reset();
    TU_EQ(fa_usable_size(p), 0);
    expect_foreign("heap", "unnamed", NO_HEAP);
    fa_set_error_handler(old);
}

START_TEST(heap_calls_on_malloc_pointer)
{
    heap_setup();
    char *m = malloc(64);
    TU_NOT_NULL(m);
    heap_calls_on_foreign(m);
    free(m);
    heap_done();
}
END_TEST

START_TEST(heap_calls_on_unmapped_memory)
{
    heap_setup();
    char *r = unmapped(FA_HEAP_CHUNK);
    heap_calls_on_foreign(r + 64);
    heap_calls_on_foreign(r + 4096 + 64);
    heap_done();
}
END_TEST

START_TEST(heap_calls_on_inaccessible_memory)
{
    heap_setup();
    char *r = region(FA_HEAP_CHUNK, PROT_NONE);
    heap_calls_on_foreign(r + 64);
    TU_INT_EQ(munmap(r, FA_HEAP_CHUNK), 0);
    heap_done();
}
END_TEST

/* Readable memory that no heap holds, where a would-be header could be
 * read without a fault: the address map decides. */
START_TEST(heap_free_of_readable_memory_no_heap_holds)
{
    heap_setup();
    char *r = region(FA_HEAP_CHUNK, PROT_READ | PROT_WRITE);
    fa_error_handler old = tu_errors_install();
    fa_free(r + 64);
    expect_foreign("heap", "unnamed", NO_HEAP);
    fa_set_error_handler(old);
    TU_INT_EQ(munmap(r, FA_HEAP_CHUNK), 0);
    heap_done();
}
END_TEST

/* An object of a pool (not a heap's) whose chunks are aligned as a heap's:
 * its chunk header is a real one, but no heap's. */
START_TEST(heap_free_of_a_pools_object)
{
    heap_setup();
    fa_pool other;
    fa_config cfg = tu_config(64);
    cfg.chunk_size = FA_HEAP_CHUNK;
    cfg.name = "other";
    tu_pool_init_ok(&other, &cfg);
    void *p = fa_pool_alloc(&other);
    TU_NOT_NULL(p);
    heap_calls_on_foreign(p);
    TU_EQ(tu_pool_stats(&other).live, 1);
    fa_pool_free(&other, p);
    fa_pool_destroy(&other);
    heap_done();
}
END_TEST

/* fa_free guesses the pool of the class the thread last freed into: the
 * guess outlives the heap it named, and then names a pool of the next
 * heap (whose caches take the freed slots in every table), or nothing. */
START_TEST(heap_free_after_the_guessed_heap_is_gone)
{
    fa_heap_config cfg = {.name = "first"};
    for (int round = 0; round < 3; round++) {
        fa_heap *h = fa_heap_create(&cfg);
        TU_NOT_NULL(h);
        void *objs[200];
        for (size_t i = 0; i < 200; i++) {
            objs[i] = fa_heap_malloc(h, 16 + (i % 4) * 48);
            TU_NOT_NULL(objs[i]);
        }
        for (size_t i = 0; i < 200; i++) {
            fa_free(objs[i]);
        }
        fa_heap_counters st;
        fa_heap_stats(h, &st);
        TU_EQ(st.small_live, 0);
        TU_CHECK(fa_heap_check(h));
        fa_heap_destroy(h);
    }
}
END_TEST

static Suite *foreign_suite(void)
{
    Suite *s = suite_create("foreign");
    TCase *tc = tcase_create("pool");
    tcase_add_loop_test(tc, pool_free_of_malloc_pointer, 0, NMODES);
    tcase_add_loop_test(tc, pool_free_into_unmapped_memory, 0, NMODES);
    tcase_add_loop_test(tc, pool_free_into_inaccessible_memory, 0, NMODES);
    tcase_add_loop_test(tc, pool_free_into_another_pools_chunk, 0, NMODES);
    tcase_add_loop_test(tc, cache_free_into_unmapped_memory, 0, NMODES);
    suite_add_tcase(s, tc);
    tc = tcase_create("heap");
    tcase_add_test(tc, heap_calls_on_malloc_pointer);
    tcase_add_test(tc, heap_calls_on_unmapped_memory);
    tcase_add_test(tc, heap_calls_on_inaccessible_memory);
    tcase_add_test(tc, heap_free_of_readable_memory_no_heap_holds);
    tcase_add_test(tc, heap_free_of_a_pools_object);
    tcase_add_test(tc, heap_free_after_the_guessed_heap_is_gone);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(foreign_suite(), true);
}
