/*
 * test_model.c - randomized sequences of operations on the pool, the cache
 * and the heap, each checked against the one reference model (model.h).
 *
 * Seeds: FIXALLOC_TEST_SEED=<seed> runs that seed first in every config
 * (each failure names its seed); FIXALLOC_TEST_VERBOSE=1 prints what each
 * run reached; FIXALLOC_TEST_SCALE (percent) scales the steps.
 */
#include <stdint.h>
#include <stdlib.h>

#include "model.h"
#include "model_layers.h"
#include "test_util.h"

/* 48 pool configs, 3 seeds each. */
START_TEST(model_pool)
{
    size_t steps = tu_scaled(10000, 300);
    for (uint64_t k = 0; k < 3; k++) {
        uint64_t seed = tu_seed(0x5EED0000ull + (uint64_t)_i * 1000, k);
        model_run(&model_pool_layer, _i, seed, steps);
    }
}
END_TEST

/* 7 cache configs, 2 seeds each. */
START_TEST(model_cache)
{
    size_t steps = tu_scaled(8000, 400);
    for (uint64_t k = 0; k < 2; k++) {
        uint64_t seed = tu_seed(0xCAC4E000ull, (uint64_t)_i * 10 + k);
        model_run(&model_cache_layer, _i, seed, steps);
    }
}
END_TEST

/* The default heap and 4 heaps of their own, one seed each. */
START_TEST(model_heap)
{
    size_t steps = tu_scaled(40000, 1500);
    uint64_t seed = tu_seed(0x4EA90000ull, 100 + (uint64_t)_i);
    model_run(&model_heap_layer, _i, seed, steps);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, model_pool, 0, model_pool_configs);
    suite_add_tcase(s, tc);

    tc = tcase_create("cache");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, model_cache, 0, model_cache_configs);
    suite_add_tcase(s, tc);

    tc = tcase_create("heap");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, model_heap, 0, model_heap_configs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(suite(), false);
}
