/*
 * fuzz_cache.c - a libFuzzer target: the input is a program of cache
 * operations run by two threads in lockstep, checked against a model.
 *
 * The first byte says how many caches (two or three), whether ASan
 * tracking is off (so that the fast paths are fuzzed too) and whether the
 * second thread exits at the end ("the second thread" below); the next two
 * bytes of each cache configure it: object size, flags (plain, FA_ZERO,
 * FA_HARDENED, FA_CHECKED and mixes), a small chunk size, sometimes a
 * max_bytes cap, and options (remote_batch, thread_empty_chunks,
 * decay_ms, depot_bytes, all small, so that programs cross batches,
 * chunks and decay windows; a small depot also keeps the record of each
 * cache small, and the library does not reuse the records of destroyed
 * caches, so a process grows by each cache it creates). Each following pair of
 * bytes is one operation; the top bit of its first byte gives it to one of two
 * threads. The threads take turns in the order of the input, a turn being
 * the operations of one thread that follow each other (at most MAX_TURNS
 * turns and MAX_OPS operations: the rest of a longer input is not read),
 * so that a run is the same every time: alloc, free of an object the thread
 * holds, hand-over of an object to the other thread, free of an object the
 * other thread handed over (a remote free when the other thread allocated it),
 * bulk alloc and free, reserve, trim, stats, walk and check, and, on checked
 * caches, a deliberate double free that must be reported once and change
 * nothing.
 *
 * Every object is stamped over its whole size and verified before it is
 * freed. Stats are compared with the model whenever they are exact: the
 * calling thread's counts always are, the other thread's when it called
 * fa_cache_stats or fa_cache_trim after its last call on the cache (it is
 * parked meanwhile), a checked cache's always (one pool under a lock). At
 * the end, after the second thread exited, the main thread (the first)
 * checks the stats,
 * walks every cache against the model, runs fa_cache_check, frees every
 * object and expects trim to give every chunk back.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */

#include <fixalloc.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_report.h"
#include "fuzz_support.h"

#define MAX_CACHES 3
#define HEADER (1 + 2 * MAX_CACHES)
#define MAX_HELD 512 /* objects a thread holds */
#define MAX_BOX 128  /* objects handed to a thread, not yet taken */
/* Operations read from an input: the make targets' -max_len is
 * HEADER + 2 * MAX_OPS. */
#define MAX_OPS 1024
/* Turns read from an input: each costs two thread switches. */
#define MAX_TURNS 64
#define MAX_BULK 32
/* How long a waiting thread spins before it sleeps on the condition: a
 * turn of the other thread takes a few microseconds to a few hundred, and
 * a sleep and a wake-up cost more than most turns; bounded in time, not
 * in spins, so that a thread whose partner is not running (a loaded
 * machine) wastes little of its core. */
#define SPIN_NS 100000
#define FINISHED 2 /* the turn when every operation ran */

typedef struct object {
    unsigned char *p;
    uint32_t id;
    uint8_t k; /* the cache */
} object;

typedef struct cache_model {
    fa_cache *c;
    size_t size;
    size_t align;
    unsigned flags;
    bool capped; /* max_bytes set: allocations may fail with ENOMEM */
    size_t live;
    uint64_t allocs, frees;
    unsigned char *last_freed; /* checked caches: for the double free */
} cache_model;

typedef struct worker {
    object held[MAX_HELD];
    size_t nheld;
    object box[MAX_BOX]; /* handed over by the other thread */
    size_t nbox;
    /* A call on the cache since the thread's last stats or trim: its
     * published counts may be behind. */
    bool dirty[MAX_CACHES];
} worker;

typedef struct world {
    cache_model cm[MAX_CACHES];
    int ncaches;
    worker w[2];
    const uint8_t *ops; /* pairs of bytes, the input's */
    size_t nops;
    size_t pos; /* the next operation to run */
    uint32_t next_id;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int turn; /* 0, 1 or FINISHED */
    int sleepers;
} world;

static void fail(const char *what)
{
    fuzz_fail("fuzz_cache", what);
}

/* ---- objects ---- */

static void stamp(unsigned char *p, size_t size, uint32_t id)
{
    fuzz_stamp(p, 0, size, id);
}

static void verify(const object *o, size_t size)
{
    if (!fuzz_stamped(o->p, 0, size, o->id)) {
        fail("an object's contents changed while it was live");
    }
}

/* A fresh object: checks it, stamps it, counts it. */
static object adopt(world *W, int k, unsigned char *p)
{
    cache_model *cm = &W->cm[k];
    if ((uintptr_t)p % cm->align != 0) {
        fail("a misaligned object");
    }
    if (!fuzz_zero(p, 0, (cm->flags & FA_ZERO) ? cm->size : sizeof(void *))) {
        fail("an object does not read as zero where it must");
    }
    if (p == cm->last_freed) {
        cm->last_freed = NULL; /* handed out again: no double free now */
    }
    object o = {p, W->next_id++, (uint8_t)k};
    stamp(p, cm->size, o.id);
    cm->live++;
    cm->allocs++;
    return o;
}

/* Checks an object about to be freed and counts the free. */
static void release(world *W, const object *o)
{
    cache_model *cm = &W->cm[o->k];
    verify(o, cm->size);
    if (cm->live == 0) {
        fail("the model freed more than it allocated");
    }
    cm->live--;
    cm->frees++;
    if (cm->flags & FA_CHECKED) {
        cm->last_freed = o->p;
    }
}

/* ---- taking turns ---- */

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

NO_COVERAGE static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Waits for thread t's turn: true then, false when every operation ran. */
NO_COVERAGE static bool wait_turn(world *W, int t)
{
    int turn = 0;
    uint64_t until = now_ns() + SPIN_NS;
    for (unsigned i = 1; i % 64 != 0 || now_ns() < until; i++) {
        turn = atomic_load_explicit(&W->turn, memory_order_acquire);
        if (turn == t || turn == FINISHED) {
            return turn == t;
        }
        relax();
    }
    pthread_mutex_lock(&W->mu);
    for (;;) {
        turn = atomic_load_explicit(&W->turn, memory_order_acquire);
        if (turn == t || turn == FINISHED) {
            break;
        }
        W->sleepers++;
        pthread_cond_wait(&W->cv, &W->mu);
        W->sleepers--;
    }
    pthread_mutex_unlock(&W->mu);
    return turn == t;
}

/* Gives the turn to thread `next`, or FINISHED. */
NO_COVERAGE static void give_turn(world *W, int next)
{
    pthread_mutex_lock(&W->mu);
    atomic_store_explicit(&W->turn, next, memory_order_release);
    if (W->sleepers > 0) {
        pthread_cond_broadcast(&W->cv);
    }
    pthread_mutex_unlock(&W->mu);
}

/* ---- operations ---- */

/* alloc; `must` when a reserve promised it */
static void do_alloc(world *W, int t, int k, bool must)
{
    worker *w = &W->w[t];
    cache_model *cm = &W->cm[k];
    if (w->nheld == MAX_HELD) {
        return;
    }
    w->dirty[k] = true;
    errno = 0;
    unsigned char *p = fa_cache_alloc(cm->c);
    if (p == NULL) {
        if (cm->capped && errno == ENOMEM && !must) {
            return;
        }
        fail("alloc failed");
    }
    w->held[w->nheld++] = adopt(W, k, p);
}

static object take(object *list, size_t *n, size_t i)
{
    object o = list[i];
    list[i] = list[--*n];
    return o;
}

static void do_free_held(world *W, int t, unsigned pick)
{
    worker *w = &W->w[t];
    if (w->nheld == 0) {
        return;
    }
    object o = take(w->held, &w->nheld, pick % w->nheld);
    release(W, &o);
    w->dirty[o.k] = true;
    fa_cache_free(W->cm[o.k].c, o.p);
}

static void do_give(world *W, int t, unsigned pick)
{
    worker *w = &W->w[t];
    worker *to = &W->w[1 - t];
    if (w->nheld == 0 || to->nbox == MAX_BOX) {
        return;
    }
    to->box[to->nbox++] = take(w->held, &w->nheld, pick % w->nheld);
}

/* Frees an object handed over (bit 0 of pick clear), or keeps it. */
static void do_receive(world *W, int t, unsigned pick)
{
    worker *w = &W->w[t];
    if (w->nbox == 0) {
        return;
    }
    object o = take(w->box, &w->nbox, (pick >> 1) % w->nbox);
    if ((pick & 1) && w->nheld < MAX_HELD) {
        w->held[w->nheld++] = o;
        return;
    }
    release(W, &o);
    w->dirty[o.k] = true;
    fa_cache_free(W->cm[o.k].c, o.p);
}

static void do_alloc_bulk(world *W, int t, int k, unsigned arg)
{
    worker *w = &W->w[t];
    cache_model *cm = &W->cm[k];
    size_t n = arg % (MAX_BULK + 1);
    if (n > MAX_HELD - w->nheld) {
        n = MAX_HELD - w->nheld;
    }
    void *out[MAX_BULK];
    w->dirty[k] = true;
    errno = 0;
    size_t got = fa_cache_alloc_bulk(cm->c, out, n);
    if (got > n || (got < n && !(cm->capped && errno == ENOMEM))) {
        fail("bulk alloc fell short");
    }
    for (size_t i = 0; i < got; i++) {
        w->held[w->nheld++] = adopt(W, k, out[i]);
    }
}

/* Frees objects of cache k, the thread's own and handed-over ones mixed,
 * with a NULL among them when arg says so. */
static void do_free_bulk(world *W, int t, int k, unsigned arg)
{
    worker *w = &W->w[t];
    void *objs[MAX_BULK + 1];
    size_t n = 0;
    size_t want = arg % (MAX_BULK + 1);
    for (size_t i = w->nheld; i-- > 0 && n < want;) {
        if (w->held[i].k == k && (arg & 64 || n % 2 == 0)) {
            object o = take(w->held, &w->nheld, i);
            release(W, &o);
            objs[n++] = o.p;
        }
    }
    for (size_t i = w->nbox; i-- > 0 && n < want;) {
        if (w->box[i].k == k) {
            object o = take(w->box, &w->nbox, i);
            release(W, &o);
            objs[n++] = o.p;
        }
    }
    if (arg & 128) {
        objs[n++] = NULL;
    }
    w->dirty[k] = true;
    fa_cache_free_bulk(W->cm[k].c, objs, n);
}

static void do_reserve(world *W, int t, int k, unsigned arg)
{
    worker *w = &W->w[t];
    cache_model *cm = &W->cm[k];
    size_t n = arg % 48;
    w->dirty[k] = true;
    int err = fa_cache_reserve(cm->c, n);
    if (err == ENOMEM && cm->capped) {
        return;
    }
    if (err != 0) {
        fail("reserve failed");
    }
    /* The promise: n allocations without a source call, so without
     * failing even under a cap. */
    for (size_t i = 0; i < n && (arg & 128); i++) {
        do_alloc(W, t, k, true);
    }
}

static void compare_stats(const cache_model *cm, const fa_cache_counters *s)
{
    if (s->live != cm->live || s->allocs != cm->allocs ||
        s->frees != cm->frees) {
        fprintf(stderr,
                "fuzz_cache: stats live %zu allocs %llu frees %llu, "
                "model %zu %llu %llu\n",
                s->live, (unsigned long long)s->allocs,
                (unsigned long long)s->frees, cm->live,
                (unsigned long long)cm->allocs, (unsigned long long)cm->frees);
        fail("stats differ from the model");
    }
}

static void do_stats(world *W, int t, int k)
{
    cache_model *cm = &W->cm[k];
    fa_cache_counters s;
    fa_cache_stats(cm->c, &s);
    W->w[t].dirty[k] = false;
    if (!W->w[1 - t].dirty[k] || (cm->flags & FA_CHECKED)) {
        compare_stats(cm, &s);
    } else if (s.allocs > cm->allocs) {
        fail("stats count more allocations than were made");
    }
}

static void do_trim(world *W, int t, int k)
{
    fa_cache_trim(W->cm[k].c);
    W->w[t].dirty[k] = false; /* trim publishes the caller's counts */
    /* The chunk of the last freed object may be gone: a free of it is a
     * foreign pointer now, no longer a double free. */
    W->cm[k].last_freed = NULL;
}

static size_t collect(const world *W, int k, unsigned char **out)
{
    size_t n = 0;
    for (int t = 0; t < 2; t++) {
        const worker *w = &W->w[t];
        for (size_t i = 0; i < w->nheld; i++) {
            if (w->held[i].k == k) {
                out[n++] = w->held[i].p;
            }
        }
        for (size_t i = 0; i < w->nbox; i++) {
            if (w->box[i].k == k) {
                out[n++] = w->box[i].p;
            }
        }
    }
    return n;
}

/* Walks cache k (only while the other thread is parked) against the
 * model's live set, then checks it. */
static void do_walk_check(world *W, int k)
{
    static unsigned char *objs[2 * (MAX_HELD + MAX_BOX)];
    static void *slots[1 << 12];
    _Static_assert(2 * 2 * (MAX_HELD + MAX_BOX) <= 1 << 12, "set too small");
    size_t n = collect(W, k, objs);
    if (n != W->cm[k].live) {
        fail("the model lost count of its objects");
    }
    fuzz_walk w = {.seen = 0, .stray = false};
    fuzz_set_init(&w.live, slots, 12);
    for (size_t i = 0; i < n; i++) {
        fuzz_set_add(&w.live, objs[i]);
    }
    fa_cache_walk(W->cm[k].c, fuzz_walk_see, &w);
    if (w.stray) {
        fail("walk visited an object that is not live, or one twice");
    }
    if (w.seen != n) {
        fail("walk missed live objects");
    }
    if (!fa_cache_check(W->cm[k].c)) {
        fail("fa_cache_check failed");
    }
}

static void do_double_free(world *W, int k)
{
    cache_model *cm = &W->cm[k];
    if (!(cm->flags & FA_CHECKED) || cm->last_freed == NULL) {
        return;
    }
    int before = fuzz_reports_total();
    int doubles = fuzz_reports(FA_ERR_DOUBLE_FREE);
    fa_cache_free(cm->c, cm->last_freed);
    if (fuzz_reports_total() != before + 1 ||
        fuzz_reports(FA_ERR_DOUBLE_FREE) != doubles + 1) {
        fail("a double free in a checked cache was not reported once");
    }
}

static void step(world *W, int t, uint8_t op, uint8_t arg)
{
    int k = (op & 3) % W->ncaches;
    switch ((op >> 2) & 31) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4: do_alloc(W, t, k, false); break;
    case 5:
    case 6:
    case 7:
    case 8: do_free_held(W, t, arg); break;
    case 9:
    case 10:
    case 11: do_give(W, t, arg); break;
    case 12:
    case 13:
    case 14:
    case 15: do_receive(W, t, arg); break;
    case 16:
    case 17: do_alloc_bulk(W, t, k, arg); break;
    case 18:
    case 19: do_free_bulk(W, t, k, arg); break;
    case 20: do_reserve(W, t, k, arg); break;
    case 21: do_trim(W, t, k); break;
    case 22:
    case 23: do_stats(W, t, k); break;
    case 24: do_walk_check(W, k); break;
    case 25: do_double_free(W, k); break;
    default:
        if (arg & 1) {
            do_alloc(W, t, k, false);
        } else {
            do_free_held(W, t, arg >> 1);
        }
        break;
    }
}

typedef struct thread_arg {
    world *W;
    int t;
} thread_arg;

static int thread_of(const world *W, size_t i)
{
    return W->ops[2 * i] >> 7;
}

/* A thread: on each of its turns, runs its operations up to the next of
 * the other thread. */
static void *run(void *argp)
{
    thread_arg *a = argp;
    world *W = a->W;
    while (wait_turn(W, a->t)) {
        size_t i = W->pos;
        for (; i < W->nops && thread_of(W, i) == a->t; i++) {
            step(W, a->t, W->ops[2 * i], W->ops[2 * i + 1]);
        }
        W->pos = i;
        give_turn(W, i == W->nops ? FINISHED : 1 - a->t);
    }
    return NULL;
}

/* ---- the second thread ----
 *
 * Thread 0 is the calling thread, whose pools live on from one input to
 * the next, as a program's main thread's do. Thread 1 is a helper that
 * serves inputs one after another, and exits at the end of the inputs whose
 * first byte has bits 2 and 3 clear (one in four: its pools then become
 * idle with objects still live, freed at the end from thread 0); the next
 * input starts a new one. A thread created and joined costs more under
 * ASan than a short input's operations. */

typedef struct helper {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *(*job)(void *); /* posted, NULL once done */
    void *arg;
    bool quit; /* exit after the job */
    bool alive;
    pthread_t th;
} helper;

static helper H = {.mu = PTHREAD_MUTEX_INITIALIZER,
                   .cv = PTHREAD_COND_INITIALIZER};

NO_COVERAGE static void *helper_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&H.mu);
    for (;;) {
        while (H.job == NULL) {
            pthread_cond_wait(&H.cv, &H.mu);
        }
        void *(*job)(void *) = H.job;
        void *arg = H.arg;
        pthread_mutex_unlock(&H.mu);
        job(arg);
        pthread_mutex_lock(&H.mu);
        H.job = NULL;
        pthread_cond_broadcast(&H.cv);
        if (H.quit) {
            break;
        }
    }
    pthread_mutex_unlock(&H.mu);
    return NULL;
}

/* Gives the helper a job (starting a helper when none runs); `quit`: it
 * exits after it. */
NO_COVERAGE static void helper_post(void *(*job)(void *), void *arg, bool quit)
{
    pthread_mutex_lock(&H.mu);
    H.job = job;
    H.arg = arg;
    H.quit = quit;
    pthread_cond_broadcast(&H.cv);
    pthread_mutex_unlock(&H.mu);
    if (!H.alive) {
        if (pthread_create(&H.th, NULL, helper_main, NULL) != 0) {
            fail("pthread_create failed");
        }
        H.alive = true;
    }
}

/* Waits for the helper's job to be done (and for the helper to exit when
 * it was to). */
NO_COVERAGE static void helper_wait(void)
{
    pthread_mutex_lock(&H.mu);
    while (H.job != NULL) {
        pthread_cond_wait(&H.cv, &H.mu);
    }
    bool quit = H.quit;
    pthread_mutex_unlock(&H.mu);
    if (quit) {
        pthread_join(H.th, NULL);
        H.alive = false;
    }
}

/* A helper's job: trims every cache, which hands over the objects it
 * gathered for other threads' pools, takes those others freed into its
 * own, gives its pool's empty chunks back and publishes its counts. */
static void *trim_all(void *arg)
{
    world *W = arg;
    for (int k = 0; k < W->ncaches; k++) {
        fa_cache_trim(W->cm[k].c);
    }
    return NULL;
}

/* ---- setup and the end ---- */

static void setup(world *W, const uint8_t *hdr)
{
    static const size_t sizes[] = {8, 16, 24, 40, 64, 100, 256, 1000};
    static const unsigned flags[] = {0,
                                     FA_ZERO,
                                     FA_HARDENED,
                                     FA_CHECKED,
                                     FA_ZERO | FA_HARDENED,
                                     FA_CHECKED | FA_ZERO,
                                     FA_CHECKED | FA_HARDENED,
                                     0};
    W->ncaches = 2 + (hdr[0] & 1);
    if (hdr[0] & 2) {
        setenv("FIXALLOC_TRACK", "0", 1);
    } else {
        unsetenv("FIXALLOC_TRACK");
    }
    for (int k = 0; k < W->ncaches; k++) {
        uint8_t b = hdr[1 + 2 * k];
        uint8_t o = hdr[2 + 2 * k];
        cache_model *cm = &W->cm[k];
        size_t chunk = (size_t)4096 << (b >> 7);
        fa_config cfg = {
            .size = sizes[b & 7],
            .chunk_size = chunk,
            .max_bytes = (b & 8) ? chunk * 6 : 0,
            .flags = flags[(b >> 4) & 7],
            .name = "fuzz",
            .source = fuzz_source(),
        };
        fa_cache_options opt = {
            .remote_batch = o & 7,
            .thread_empty_chunks = (o >> 3) & 3,
            .decay_ms = 1 + ((o >> 5) & 3),
            .depot_bytes = (o & 128) ? chunk * 4 : chunk,
        };
        cm->c = fa_cache_create_opts(&cfg, &opt);
        if (cm->c == NULL) {
            fail("a valid config was refused");
        }
        cm->size = cfg.size;
        cm->align = cfg.size >= 16 ? 16 : 8;
        cm->flags = cfg.flags;
        cm->capped = cfg.max_bytes != 0;
    }
}

/* The end of an input, in thread 0: the helper, when it stays, trims
 * first (its counts then are exact), and again after thread 0 freed its
 * objects, so that every chunk can go back. */
static void finish(world *W, bool helper_stays)
{
    if (helper_stays) {
        helper_post(trim_all, W, false);
        helper_wait();
    }
    for (int k = 0; k < W->ncaches; k++) {
        cache_model *cm = &W->cm[k];
        fa_cache_counters s;
        fa_cache_stats(cm->c, &s);
        compare_stats(cm, &s);
        if (!(cm->flags & FA_CHECKED) && s.threads > 1u + helper_stays) {
            fail("pools of exited threads counted as running");
        }
        do_walk_check(W, k);
    }
    /* Every object goes, from the main thread: the second thread's are
     * remote frees into its pools (idle ones when it exited). */
    for (int t = 0; t < 2; t++) {
        worker *w = &W->w[t];
        while (w->nheld > 0) {
            object o = take(w->held, &w->nheld, w->nheld - 1);
            release(W, &o);
            fa_cache_free(W->cm[o.k].c, o.p);
        }
        while (w->nbox > 0) {
            object o = take(w->box, &w->nbox, w->nbox - 1);
            release(W, &o);
            fa_cache_free(W->cm[o.k].c, o.p);
        }
    }
    if (helper_stays) {
        trim_all(W); /* hands thread 1's objects to its pools */
        helper_post(trim_all, W, false);
        helper_wait();
    }
    for (int k = 0; k < W->ncaches; k++) {
        cache_model *cm = &W->cm[k];
        fa_cache_counters s;
        fa_cache_trim(cm->c);
        fa_cache_stats(cm->c, &s);
        compare_stats(cm, &s);
        if (s.pool.bytes_held != 0) {
            fail("trim kept chunks after every object was freed");
        }
        if (!fa_cache_check(cm->c)) {
            fail("fa_cache_check failed at the end");
        }
        fa_cache_destroy(cm->c);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < HEADER) {
        return 0;
    }
    /* One model for every input, cleared: a fresh allocation each time
     * would stay in ASan's quarantine once freed (twice the target's
     * resident size). */
    static world storage;
    world *W = memset(&storage, 0, sizeof storage);
    fuzz_reports_reset();
    pthread_mutex_init(&W->mu, NULL);
    pthread_cond_init(&W->cv, NULL);
    setup(W, data);
    W->ops = data + HEADER;
    for (int turns = 0; W->nops < MAX_OPS && W->nops < (len - HEADER) / 2;
         W->nops++) {
        if (W->nops == 0 ||
            thread_of(W, W->nops) != thread_of(W, W->nops - 1)) {
            if (turns++ == MAX_TURNS) {
                break;
            }
        }
    }
    atomic_store(&W->turn, W->nops == 0 ? FINISHED : thread_of(W, 0));
    bool helper_stays = (data[0] & 12) != 0;
    thread_arg args[2] = {{W, 0}, {W, 1}};
    helper_post(run, &args[1], !helper_stays);
    run(&args[0]);
    helper_wait();
    /* Reports are expected only from the deliberate double frees, each
     * checked where it was made. */
    int doubles = fuzz_reports(FA_ERR_DOUBLE_FREE);
    if (fuzz_reports_total() != doubles) {
        fail("an unexpected error report");
    }
    finish(W, helper_stays);
    if (fuzz_reports_total() != doubles) {
        fail("an unexpected error report at the end");
    }
    pthread_cond_destroy(&W->cv);
    pthread_mutex_destroy(&W->mu);
    fa_set_error_handler(NULL);
    unsetenv("FIXALLOC_TRACK");
    return 0;
}
