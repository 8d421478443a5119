/*
 * large_blocks.c - a program of large allocations for the LD_PRELOAD
 * section: 16 blocks of 32 KiB to 4 MiB live, one replaced at random at
 * each step, one in eight grown to twice its size with realloc, the first
 * and last bytes of each written. Prints a digest of what it wrote and
 * read back, the same on every allocator.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

int main(int argc, char **argv)
{
    long steps = argc > 1 ? atol(argv[1]) : 100000;
    uint64_t s = 88172645463325252ull, digest = 0;
    unsigned char *keep[16] = {NULL};
    size_t size[16] = {0};
    for (long i = 0; i < steps; i++) {
        int k = (int)(next_rand(&s) % 16);
        if (keep[k] != NULL) {
            digest += keep[k][0] + keep[k][size[k] - 1];
        }
        free(keep[k]);
        size_t n = 32768 + next_rand(&s) % (4u << 20);
        if (next_rand(&s) % 4 == 0) {
            n = 32768 + next_rand(&s) % 200000;
        }
        keep[k] = malloc(n);
        if (keep[k] == NULL) {
            return 1;
        }
        memset(keep[k], (int)(i & 0xff), 64);
        keep[k][n - 1] = (unsigned char)(i >> 3);
        size[k] = n;
        if (next_rand(&s) % 8 == 0) {
            unsigned char *q = realloc(keep[k], 2 * n);
            if (q == NULL) {
                return 1;
            }
            digest += q[0] + q[n - 1];
            q[2 * n - 1] = q[n - 1];
            keep[k] = q;
            size[k] = 2 * n;
        }
    }
    for (int k = 0; k < 16; k++) {
        free(keep[k]);
    }
    printf("%llu\n", (unsigned long long)digest);
    return 0;
}
