/*
 * sizeclass.c - the size-class table and its maps.
 * docs/design.md, "Size classes".
 */
#include "sizeclass.h"

#include <pthread.h>

const uint32_t fa_class_size[FA_SIZE_CLASSES] = {
    8,     16,    24,    32,    40,    48,    56,   64,  /* the 8-byte grain */
    80,    96,    112,   128,                            /* the 16-byte grain */
    144,   160,   176,   192,   208,   224,   240,  256, /* 128 - 256 */
    288,   320,   352,   384,   416,   464,   512,       /* 256 - 512 */
    560,   624,   688,   752,   832,   928,   1024,      /* 512 - 1 KiB */
    1152,  1296,  1456,  1632,  1824,  2048,             /* 1 - 2 KiB */
    2304,  2576,  2896,  3248,  3648,  4096,             /* 2 - 4 KiB */
    4592,  5152,  5792,  6496,  7296,  8192,             /* 4 - 8 KiB */
    9200,  10320, 11584, 13008, 14592, 16384,            /* 8 - 16 KiB */
    18384, 20640, 23168, 26000, 29184, 32768,            /* 16 - 32 KiB */
};

_Static_assert(FA_SIZE_CLASSES < 256, "class indices are bytes");
_Static_assert(sizeof fa_class_size / sizeof fa_class_size[0] ==
                   FA_SIZE_CLASSES,
               "FA_SIZE_CLASSES counts the table");
_Static_assert(FA_SMALL_MAX == (size_t)1 << FA_CLASS_ALIGN_LOG_MAX,
               "the largest class is a power of two");

uint8_t fa_class_of_granule[FA_GRANULES];
uint8_t fa_class_aligned[FA_CLASS_ALIGN_LOG_MAX + 1][FA_SIZE_CLASSES];

static pthread_once_t classes_once = PTHREAD_ONCE_INIT;

/*
 * Whether class cls may serve requests of granule g. In libfixalloc-malloc
 * (FIXALLOC_GLIBC_ALIGN), blocks above 8 bytes are aligned to 16, as
 * glibc's are and as compiled programs count on: clang stores into a
 * new'd 40-byte object with 16-byte vector moves. Requests of 17-24,
 * 33-40 and 49-56 bytes then skip the classes 24, 40 and 56 for the next
 * one. Elsewhere every class serves what fits (fixalloc.h, "Alignment").
 */
static bool class_serves(size_t cls, size_t g)
{
#ifdef FIXALLOC_GLIBC_ALIGN
    if (g > (8 >> FA_GRANULE_SHIFT) && fa_class_align(cls) < 16) {
        return false;
    }
#endif
    return fa_class_size[cls] >= (g << FA_GRANULE_SHIFT);
}

static void build_maps(void)
{
    size_t cls = 0;
    for (size_t g = 0; g < FA_GRANULES; g++) {
        while (!class_serves(cls, g)) {
            cls++;
        }
        fa_class_of_granule[g] = (uint8_t)cls;
    }
    for (size_t lg = 0; lg <= FA_CLASS_ALIGN_LOG_MAX; lg++) {
        size_t next = FA_SIZE_CLASSES; /* none above */
        for (size_t c = FA_SIZE_CLASSES; c-- > 0;) {
            if (fa_class_align(c) >= ((size_t)1 << lg)) {
                next = c;
            }
            fa_class_aligned[lg][c] = (uint8_t)next;
        }
    }
}

void fa_size_classes_init(void)
{
    pthread_once(&classes_once, build_maps);
}

size_t fa_size_class(size_t n)
{
    fa_size_classes_init();
    return n <= FA_SMALL_MAX ? fa_class_of(n) : FA_SIZE_CLASSES;
}

size_t fa_size_class_size(size_t cls)
{
    return cls < FA_SIZE_CLASSES ? fa_class_size[cls] : 0;
}
