/*
 * fuzz_support.h - what the fuzz targets share besides reports: a page
 * source that keeps chunks from one input to the next, and the stamps
 * that mark an object's contents with its id.
 */
#ifndef FUZZ_SUPPORT_H
#define FUZZ_SUPPORT_H

#include <fixalloc.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The harness's own loops over object bytes are not instrumented for
 * coverage: their comparisons would cost more than the library's calls
 * and guide nothing. ASan still checks every access. */
#define NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))

/*
 * A page source that keeps the blocks of up to 256 KiB given back to it
 * (up to 64 MiB in all) and hands them out again to a request of the same
 * size and a fitting alignment, so that an input's chunks cost no mmap,
 * munmap or page fault. A kept block is poisoned for ASan until it is handed
 * out again: a library that touched a block after giving it back is caught as
 * it would be by the munmap. A block fresh from the OS is handed out as
 * zeroed, a kept one as not (with what its last user left in it), so that
 * FA_ZERO is tested over both. It discards pages (as the OS source does,
 * so that trims purge pages inside chunks) by scribbling on them: a pool
 * that trusted what they held is caught. Locked: caches call it from any
 * thread.
 */
const fa_source *fuzz_source(void);

/*
 * Stamps: byte i of the object of id `id` holds byte i % 8 of the word
 * fuzz_word(id, i / 8), so that whole words are stamped and checked at
 * once (one ASan check a word, not eight). fuzz_stamp writes bytes
 * [from, to) of the pattern, fuzz_stamped checks them, fuzz_zero checks
 * that they are zero.
 */
static inline uint64_t fuzz_word(uint32_t id, size_t word)
{
    uint64_t x = ((uint64_t)id << 32 | (uint32_t)word) + 1;
    x *= UINT64_C(0x9e3779b97f4a7c15);
    return x ^ (x >> 29);
}

void fuzz_stamp(unsigned char *p, size_t from, size_t to, uint32_t id);
bool fuzz_stamped(const unsigned char *p, size_t from, size_t to, uint32_t id);
bool fuzz_zero(const unsigned char *p, size_t from, size_t to);

/*
 * A set of pointers, to check a walk against the model's live set in
 * linear time: fuzz_set_init over `slots` (a power of two, at least twice
 * the members), fuzz_set_add each live object, then fuzz_set_take each
 * object the walk visits: false when it is not a member, or was taken
 * already (a walk that visits an object twice).
 */
typedef struct fuzz_set {
    void **slot;
    unsigned bits;
} fuzz_set;

void fuzz_set_init(fuzz_set *s, void **slots, unsigned bits);
void fuzz_set_add(fuzz_set *s, void *p);
bool fuzz_set_take(fuzz_set *s, void *p);

/* A walk checked against the live set: pass fuzz_walk_see and the
 * fuzz_walk to the walk; afterwards `seen` must equal the live count and
 * `stray` be false (an object not live, or visited twice). */
typedef struct fuzz_walk {
    fuzz_set live;
    size_t seen;
    bool stray;
} fuzz_walk;

void fuzz_walk_see(void *obj, void *arg);

#endif /* FUZZ_SUPPORT_H */
