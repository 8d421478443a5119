/*
 * misuse.c - a program that misuses pooled memory in the way its argument
 * names, for the tests that run it under Valgrind memcheck and under ASan
 * and expect each tool to report the misuse as it would for malloc.
 *
 *   misuse write-after-free | read-after-free | double-free | uninitialised
 *          | leak | ok
 */
#include <fixalloc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fa_pool pool;
static volatile char sink;
static char *volatile lost;
void *volatile kept;

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "ok";
    fa_config cfg = {.size = 48, .name = "misuse"};
    if (fa_pool_init(&pool, &cfg) != 0) {
        return 2;
    }
    char *a = fa_pool_alloc(&pool);
    char *b = fa_pool_alloc(&pool);
    memset(a, 1, 48);
    memset(b, 2, 48);
    if (strcmp(what, "write-after-free") == 0) {
        fa_pool_free(&pool, a);
        a[16] = 'x';
        a = NULL;
    } else if (strcmp(what, "read-after-free") == 0) {
        fa_pool_free(&pool, a);
        sink = a[16];
        a = NULL;
    } else if (strcmp(what, "double-free") == 0) {
        fa_pool_free(&pool, a);
        fa_pool_free(&pool, b);
        fa_pool_free(&pool,
                     a); /* not the head of the list: only a tool sees it */
        a = b = NULL;
    } else if (strcmp(what, "uninitialised") == 0) {
        char *c = fa_pool_alloc(&pool);
        if (c[20] == 42) { /* never written: a decision on garbage */
            puts("42");
        }
        fa_pool_free(&pool, c);
    } else if (strcmp(what, "leak") == 0) {
        fa_pool_free(&pool, a);
        fa_pool_free(&pool, b);
        lost = fa_pool_alloc(&pool);
        lost = NULL; /* the only pointer is gone */
        /* One malloc block still in use: memcheck skips its leak search
         * when the malloc heap is empty, pooled blocks or not. */
        kept = malloc(1);
        return 0; /* no destroy: the pool's objects stay allocated */
    }
    fa_pool_free(&pool, a);
    fa_pool_free(&pool, b);
    fa_pool_destroy(&pool);
    puts("misuse: done");
    return 0;
}
