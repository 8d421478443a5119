/*
 * mt_realloc.c - a multi-threaded program for the drop-in malloc: threads
 * allocate objects of every size, grow and shrink them with realloc, hand
 * them to each other through a shared table and free what others made;
 * every object carries a pattern that is checked before each realloc and
 * free. Prints "intact", or "broken" and exits non-zero when a pattern
 * broke.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define SLOTS 512
#define OPS 200000 /* per thread and round; argv[1] may say fewer */

typedef struct item {
    unsigned char *p;
    size_t n;
    unsigned char tag;
} item;

static item table[SLOTS];
static pthread_mutex_t locks[SLOTS];
static int broken;
static int ops = OPS;

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int intact(const item *it)
{
    for (size_t i = 0; i < it->n; i++) {
        if (it->p[i] != (unsigned char)(it->tag + i)) {
            return 0;
        }
    }
    return 1;
}

static void fill(item *it, size_t from)
{
    for (size_t i = from; i < it->n; i++) {
        it->p[i] = (unsigned char)(it->tag + i);
    }
}

static size_t pick_size(uint64_t *s)
{
    uint64_t r = next_rand(s);
    switch (r % 8) {
    case 0: return 1 + r / 8 % 16;
    case 1: return 16 + r / 8 % 240;
    case 7: return 4096 + r / 8 % 200000; /* large blocks too */
    default: return 64 + r / 8 % 2000;
    }
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);
    for (int op = 0; op < ops; op++) {
        size_t k = next_rand(&s) % SLOTS;
        pthread_mutex_lock(&locks[k]);
        item *it = &table[k];
        if (it->p != NULL && !intact(it)) {
            broken = 1;
        }
        uint64_t r = next_rand(&s) % 4;
        if (it->p == NULL) {
            it->n = pick_size(&s);
            it->tag = (unsigned char)next_rand(&s);
            it->p = r == 0 ? calloc(1, it->n) : malloc(it->n);
            if (it->p == NULL) {
                broken = 1;
            } else {
                fill(it, 0);
            }
        } else if (r == 0) {
            free(it->p);
            it->p = NULL;
        } else {
            size_t n = pick_size(&s);
            unsigned char *q = realloc(it->p, n);
            if (q == NULL) {
                broken = 1;
            } else {
                size_t keep = n < it->n ? n : it->n;
                it->p = q;
                it->n = keep;
                if (!intact(it)) {
                    broken = 1;
                }
                it->n = n;
                fill(it, keep);
            }
        }
        pthread_mutex_unlock(&locks[k]);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        ops = atoi(argv[1]);
    }
    pthread_t t[THREADS];
    for (int k = 0; k < SLOTS; k++) {
        pthread_mutex_init(&locks[k], NULL);
    }
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < THREADS; i++) {
            pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
        }
        for (int i = 0; i < THREADS; i++) {
            pthread_join(t[i], NULL);
        }
    }
    for (int k = 0; k < SLOTS; k++) {
        if (table[k].p != NULL) {
            if (!intact(&table[k])) {
                broken = 1;
            }
            free(table[k].p);
        }
    }
    void *aligned = NULL;
    if (posix_memalign(&aligned, 4096, 10000) != 0 ||
        (uintptr_t)aligned % 4096 != 0) {
        broken = 1;
    }
    free(aligned);
    printf("%s\n", broken ? "broken" : "intact");
    return broken;
}
