/*
 * test_death.c - misuse that the default error handler must turn into an
 * abort, and the message it prints before:
 *   fixalloc: <kind> in pool '<name>' at <addr>: <detail>
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixalloc.h"
#include "test_util.h"

/* ------------------------------------------------------------------ */
/* Misuse scenarios: a setup that prepares the bad call, then the call. */

typedef enum action { DO_FREE, DO_CHECK, DO_ALLOC, DO_DESTROY } action;

typedef struct misuse {
    fa_pool *pool;
    action act;       /* the bad call */
    void *ptr;        /* DO_FREE: freed into pool */
    const void *addr; /* the address the message should name ... */
    const void *alt;  /* ... or this one (the slot of an interior ptr) */
    const char *name; /* the pool's name */
    fa_error_kind kind;
} misuse;

typedef void (*setup_fn)(misuse *m);

static fa_pool pool_a, pool_b;

static void init_flags_or_die(fa_pool *p, size_t size, size_t chunk,
                              const char *name, unsigned flags)
{
    fa_config c;
    memset(&c, 0, sizeof c);
    c.size = size;
    c.chunk_size = chunk;
    c.name = name;
    c.flags = flags;
    if (fa_pool_init(p, &c) != 0) {
        fprintf(stderr, "fa_pool_init failed\n");
        _exit(3);
    }
}

static void init_or_die(fa_pool *p, size_t size, size_t chunk, const char *name)
{
    init_flags_or_die(p, size, chunk, name, 0);
}

static void *alloc_or_die(fa_pool *p)
{
    void *o = fa_pool_alloc(p);
    if (o == NULL) {
        fprintf(stderr, "fa_pool_alloc failed\n");
        _exit(3);
    }
    return o;
}

/* An object of pool A freed into pool B (which holds chunks of its own). */
static void setup_foreign(misuse *m)
{
    init_or_die(&pool_a, 64, 0, "death-A");
    init_or_die(&pool_b, 64, 0, "death-B");
    void *x = alloc_or_die(&pool_a);
    (void)alloc_or_die(&pool_b);
    m->pool = &pool_b;
    m->act = DO_FREE;
    m->ptr = x;
    m->addr = m->alt = x;
    m->name = "death-B";
    m->kind = FA_ERR_FOREIGN;
}

/* The same into a pool B that has never allocated. */
static void setup_foreign_empty(misuse *m)
{
    init_or_die(&pool_a, 32, 0, "death-A");
    init_or_die(&pool_b, 32, 0, "death-B2");
    void *x = alloc_or_die(&pool_a);
    m->pool = &pool_b;
    m->act = DO_FREE;
    m->ptr = x;
    m->addr = m->alt = x;
    m->name = "death-B2";
    m->kind = FA_ERR_FOREIGN;
}

/* A pointer into the middle of an object of a full chunk that is not the
 * current one: 64-byte objects, 63 per 4 KiB chunk, 64 allocated. */
static void setup_interior_full(misuse *m)
{
    init_or_die(&pool_a, 64, 4096, "death-interior");
    void *first = alloc_or_die(&pool_a);
    for (int i = 1; i < 63 + 1; i++) {
        (void)alloc_or_die(&pool_a);
    }
    m->pool = &pool_a;
    m->act = DO_FREE;
    m->ptr = (char *)first + 8;
    m->addr = m->ptr;
    m->alt = first;
    m->name = "death-interior";
    m->kind = FA_ERR_INTERIOR;
}

/* The same in a chunk that is partly free (and not the current one). */
static void setup_interior_partial(misuse *m)
{
    void *v[63 + 1];
    init_or_die(&pool_a, 64, 4096, "death-interior2");
    for (int i = 0; i < 63 + 1; i++) {
        v[i] = alloc_or_die(&pool_a);
    }
    /* Fewer frees in a row than make a chunk the current one. */
    for (int i = 0; i < 5; i++) {
        fa_pool_free(&pool_a, v[i]);
    }
    m->pool = &pool_a;
    m->act = DO_FREE;
    m->ptr = (char *)v[30] + 33;
    m->addr = m->ptr;
    m->alt = v[30];
    m->name = "death-interior2";
    m->kind = FA_ERR_INTERIOR;
}

/* A free-list link overwritten into a cycle, found by fa_pool_check. */
static void setup_corrupt(misuse *m)
{
    void *v[4];
    init_or_die(&pool_a, 64, 4096, "death-corrupt");
    for (int i = 0; i < 4; i++) {
        v[i] = alloc_or_die(&pool_a);
    }
    fa_pool_free(&pool_a, v[1]);
    fa_pool_free(&pool_a, v[2]);
    tu_open_freed(v[2], sizeof v[2]);
    memcpy(v[2], &v[2], sizeof v[2]); /* the link points to itself */
    m->pool = &pool_a;
    m->act = DO_CHECK;
    m->ptr = NULL;
    m->addr = m->alt = NULL; /* the address a check names is its business */
    m->name = "death-corrupt";
    m->kind = FA_ERR_CORRUPT;
}

/* Checked mode: an object freed twice. */
static void setup_double_free(misuse *m)
{
    init_flags_or_die(&pool_a, 48, 0, "death-double", FA_CHECKED);
    void *x = alloc_or_die(&pool_a);
    (void)alloc_or_die(&pool_a);
    fa_pool_free(&pool_a, x);
    m->pool = &pool_a;
    m->act = DO_FREE;
    m->ptr = x;
    m->addr = m->alt = x;
    m->name = "death-double";
    m->kind = FA_ERR_DOUBLE_FREE;
}

/* Checked mode: a byte of a freed object changed, found on reuse. */
static void setup_write_after_free(misuse *m)
{
    init_flags_or_die(&pool_a, 48, 0, "death-waf", FA_CHECKED);
    unsigned char *x = alloc_or_die(&pool_a);
    (void)alloc_or_die(&pool_a);
    fa_pool_free(&pool_a, x);
    tu_open_freed(x + 30, 1);
    x[30] ^= 0xFF;
    m->pool = &pool_a;
    m->act = DO_ALLOC;
    m->addr = m->alt = x;
    m->name = "death-waf";
    m->kind = FA_ERR_WRITE_AFTER_FREE;
}

/* Checked mode: objects still live at destroy. */
static void setup_leak(misuse *m)
{
    init_flags_or_die(&pool_a, 48, 0, "death-leak", FA_CHECKED);
    void *x = alloc_or_die(&pool_a);
    m->pool = &pool_a;
    m->act = DO_DESTROY;
    m->addr = m->alt = x;
    m->name = "death-leak";
    m->kind = FA_ERR_LEAK;
}

/* Hardened mode: a freed object's link overwritten to point outside. */
static char planted[64];

static void setup_hardened(misuse *m)
{
    init_flags_or_die(&pool_a, 64, 0, "death-hard", FA_HARDENED);
    void *v[3];
    for (int i = 0; i < 3; i++) {
        v[i] = alloc_or_die(&pool_a);
    }
    fa_pool_free(&pool_a, v[0]);
    fa_pool_free(&pool_a, v[1]);
    void *target = planted;
    tu_open_freed(v[1], sizeof target);
    memcpy(v[1], &target, sizeof target);
    /* the next allocations follow the link */
    m->pool = &pool_a;
    m->act = DO_ALLOC;
    m->addr = m->alt = NULL;
    m->name = "death-hard";
    m->kind = FA_ERR_CORRUPT;
}

static void commit(const misuse *m)
{
    switch (m->act) {
    case DO_FREE: fa_pool_free(m->pool, m->ptr); break;
    case DO_CHECK: (void)fa_pool_check(m->pool); break;
    case DO_ALLOC:
        (void)fa_pool_alloc(m->pool);
        (void)fa_pool_alloc(m->pool);
        break;
    case DO_DESTROY: fa_pool_destroy(m->pool); break;
    }
}

static void no_core(void)
{
    struct rlimit rl = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &rl);
}

static const struct {
    const char *what;
    setup_fn setup;
} scenarios[] = {
    {"foreign free", setup_foreign},
    {"foreign free into an empty pool", setup_foreign_empty},
    {"interior free, full chunk", setup_interior_full},
    {"interior free, partial chunk", setup_interior_partial},
    {"check of a corrupted free list", setup_corrupt},
    {"checked double free", setup_double_free},
    {"checked write after free", setup_write_after_free},
    {"checked leak at destroy", setup_leak},
    {"hardened overwritten link", setup_hardened},
};
#define N_SCENARIOS (int)(sizeof scenarios / sizeof scenarios[0])

/* ------------------------------------------------------------------ */
/* In-process death tests: Check expects SIGABRT. */

START_TEST(death_default_handler)
{
    misuse m;
    no_core();
    scenarios[_i].setup(&m);
    commit(&m);
    TU_FAIL("%s did not abort", scenarios[_i].what);
}
END_TEST

/* A custom handler installed, then the default restored with NULL. */
START_TEST(death_default_restored)
{
    misuse m;
    no_core();
    fa_set_error_handler(tu_record_handler);
    fa_set_error_handler(NULL);
    setup_foreign(&m);
    commit(&m);
    TU_FAIL("foreign free after restoring the default did not abort");
}
END_TEST

/* ------------------------------------------------------------------ */
/* The message: run the scenario in a child whose stderr is a pipe. */

typedef struct outcome {
    int status;
    char text[16384];
    misuse m; /* as the child set it up */
} outcome;

static void read_all(int fd, char *buf, size_t cap, size_t *len)
{
    *len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + *len, cap - *len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return;
        }
        *len += (size_t)r;
        if (*len == cap) {
            /* drain the rest so the child never blocks */
            char sink[256];
            while (read(fd, sink, sizeof sink) > 0) {
            }
            return;
        }
    }
}

static void run_child(setup_fn setup, outcome *out)
{
    int efd[2], mfd[2];
    TU_INT_EQ(pipe(efd), 0);
    TU_INT_EQ(pipe(mfd), 0);
    fflush(NULL);
    pid_t pid = fork();
    TU_INT_NE(pid, -1);
    if (pid == 0) {
        close(efd[0]);
        close(mfd[0]);
        no_core();
        misuse m;
        memset(&m, 0, sizeof m);
        setup(&m);
        /* Tell the parent what to expect, then misbehave. */
        if (write(mfd[1], &m, sizeof m) != (ssize_t)sizeof m) {
            _exit(4);
        }
        close(mfd[1]);
        dup2(efd[1], STDERR_FILENO);
        close(efd[1]);
        commit(&m);
        _exit(0); /* did not abort: the parent fails the test */
    }
    close(efd[1]);
    close(mfd[1]);
    size_t len;
    read_all(efd[0], out->text, sizeof out->text - 1, &len);
    out->text[len] = '\0';
    close(efd[0]);
    char buf[sizeof(misuse)];
    read_all(mfd[0], buf, sizeof buf, &len);
    close(mfd[0]);
    TU_ASSERT(len == sizeof buf, "the child did not report its setup");
    memcpy(&out->m, buf, sizeof buf);
    while (waitpid(pid, &out->status, 0) < 0) {
        TU_INT_EQ(errno, EINTR);
    }
}

START_TEST(message_default_handler)
{
    outcome *out = calloc(1, sizeof *out);
    TU_NOT_NULL(out);
    run_child(scenarios[_i].setup, out);
    const char *what = scenarios[_i].what;
    TU_ASSERT(WIFSIGNALED(out->status) && WTERMSIG(out->status) == SIGABRT,
              "%s: the child did not die of SIGABRT (status %#x); "
              "stderr:\n%s",
              what, (unsigned)out->status, out->text);

    const char *kind = fa_error_kind_name(out->m.kind);
    TU_NOT_NULL(kind);
    const char *line = strstr(out->text, "fixalloc: ");
    TU_ASSERT(line != NULL, "%s: no 'fixalloc: ' in stderr:\n%s", what,
              out->text);
    char want[256];
    snprintf(want, sizeof want, "fixalloc: %s in pool '%s'", kind, out->m.name);
    TU_ASSERT(strstr(out->text, want) != NULL, "%s: stderr lacks \"%s\":\n%s",
              what, want, out->text);
    if (out->m.addr != NULL) {
        char a1[320], a2[320];
        snprintf(a1, sizeof a1, "%s at %p: ", want, out->m.addr);
        snprintf(a2, sizeof a2, "%s at %p: ", want, out->m.alt);
        TU_ASSERT(strstr(out->text, a1) != NULL ||
                      strstr(out->text, a2) != NULL,
                  "%s: stderr lacks \"%s\":\n%s", what, a1, out->text);
        /* a detail follows */
        const char *d = strstr(out->text, a1);
        d = d != NULL ? d + strlen(a1) : strstr(out->text, a2) + strlen(a2);
        TU_ASSERT(*d != '\0' && *d != '\n', "%s: empty detail:\n%s", what,
                  out->text);
    }
    free(out);
}
END_TEST

/* ------------------------------------------------------------------ */

static Suite *death_suite(void)
{
    Suite *s = suite_create("death");
    TCase *tc = tcase_create("abort");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test_raise_signal(tc, death_default_handler, SIGABRT, 0,
                                     N_SCENARIOS);
    tcase_add_test_raise_signal(tc, death_default_restored, SIGABRT);
    suite_add_tcase(s, tc);

    tc = tcase_create("message");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, message_default_handler, 0, N_SCENARIOS);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* Death tests need a process each, whatever CK_FORK says. */
    return tu_run_suite(death_suite(), true);
}
