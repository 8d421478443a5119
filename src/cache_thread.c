/*
 * cache_thread.c - the cache registry: ids, thread tables, exit, fork.
 * docs/design.md, "Threads: tables, exit, fork".
 */
#include "cache_impl.h"

#include <errno.h>
#include <string.h>

static fa_ttab unbound_table;

_Thread_local char *fa_tls_table = (char *)&unbound_table;
/* Set by thread_exit: this thread's table is gone for good. */
static _Thread_local bool tls_exiting;
/* Set while the thread gets its table: a call that the C runtime makes
 * meanwhile (pthread_setspecific may allocate, and malloc may be this
 * library) uses the direct entry instead of getting a second table. */
static _Thread_local bool tls_getting;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static fa_cache *reg_caches[FA_CACHE_SLOTS]; /* by id; NULL: free */
static uint32_t reg_hiwater;                 /* every id in use is below */
static fa_list_node *reg_tables;             /* every table */
static fa_list_node *reg_idle;               /* tables of exited threads */
static const fa_entry_ops *reg_ops;          /* the cache layer's hooks */
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static fa_thread_key reg_key;
static int reg_init_err;

static void thread_exit(void *arg);
static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);

void fa_registry_lock(void)
{
    pthread_mutex_lock(&reg_lock);
}

void fa_registry_unlock(void)
{
    pthread_mutex_unlock(&reg_lock);
}

static void registry_init(void)
{
    reg_init_err = fa_os_key_create(&reg_key, thread_exit);
    if (reg_init_err == 0) {
        reg_init_err = fa_os_atfork(fork_prepare, fork_parent, fork_child);
    }
}

static fa_tentry *table_entry(fa_ttab *t, uint32_t id)
{
    return (fa_tentry *)(void *)(t->entries + (size_t)id * FA_TENTRY_SIZE);
}

/* The table an entry lies in: tables are FA_TTAB_MAP-aligned. */
static fa_ttab *table_of(const fa_tentry *e)
{
    return (fa_ttab *)((uintptr_t)e & ~(FA_TTAB_MAP - 1));
}

/* ---- cache ids ---- */

int fa_registry_add(fa_cache *c, const fa_entry_ops *ops)
{
    pthread_once(&reg_once, registry_init);
    if (reg_init_err != 0) {
        return reg_init_err;
    }
    fa_registry_lock();
    reg_ops = ops;
    uint32_t id = 0;
    while (id < FA_CACHE_SLOTS && reg_caches[id] != NULL) {
        id++;
    }
    if (id == FA_CACHE_SLOTS) {
        fa_registry_unlock();
        return EAGAIN;
    }
    reg_caches[id] = c;
    if (id >= reg_hiwater) {
        reg_hiwater = id + 1;
    }
    c->id = id;
    c->toff = offsetof(fa_ttab, entries) + (size_t)id * FA_TENTRY_SIZE;
    fa_registry_unlock();
    return 0;
}

void fa_registry_remove(fa_cache *c)
{
    fa_registry_lock();
    FA_ASSERT(c->entries == NULL);
    reg_caches[c->id] = NULL;
    while (reg_hiwater > 0 && reg_caches[reg_hiwater - 1] == NULL) {
        reg_hiwater--;
    }
    fa_registry_unlock();
}

/* ---- binding entries ---- */

void fa_registry_bind(fa_cache *c, fa_tentry *e)
{
    fa_registry_lock();
    fa_list_push(&c->entries, &e->reg_link);
    c->nentries++;
    fa_registry_unlock();
}

void fa_entry_unbind_locked(fa_tentry *e)
{
    fa_cache *c = e->cache;
    fa_list_remove(&c->entries, &e->reg_link);
    c->nentries--;
    memset(e, 0, sizeof *e); /* an all-zero pool: every call misses */
}

bool fa_entry_idle_locked(const fa_tentry *e)
{
    const fa_ttab *t = table_of(e);
    return t->idle && !t->frozen;
}

bool fa_entry_frozen_locked(const fa_tentry *e)
{
    return table_of(e)->frozen;
}

/* ---- thread tables ---- */

/* A table for the calling thread: an exited thread's, with every pool in
 * it, or a new one from the OS (zeroed); NULL when the OS refuses. */
static fa_ttab *table_get(void)
{
    fa_registry_lock();
    fa_ttab *t = NULL;
    if (reg_idle != NULL) {
        t = fa_list_entry(reg_idle, fa_ttab, idle_link);
        fa_list_remove(&reg_idle, &t->idle_link);
        t->idle = false;
    }
    fa_registry_unlock();
    if (t == NULL) {
        t = fa_os_map(FA_TTAB_MAP, FA_TTAB_MAP);
        if (t == NULL) {
            return NULL;
        }
        fa_registry_lock();
        fa_list_push(&reg_tables, &t->link);
        fa_registry_unlock();
    }
    return t;
}

/* Puts a table no thread uses on the idle list. */
static void table_idle(fa_ttab *t)
{
    fa_registry_lock();
    t->idle = true;
    fa_list_push(&reg_idle, &t->idle_link);
    fa_registry_unlock();
}

fa_tentry *fa_thread_entry(const fa_cache *c)
{
    char *tab = fa_tls_table;
    if (tab == (char *)&unbound_table) {
        if (tls_exiting || tls_getting) {
            return NULL;
        }
        tls_getting = true;
        fa_ttab *t = table_get();
        if (t != NULL && fa_os_key_set(&reg_key, t) != 0) {
            table_idle(t);
            t = NULL;
        }
        tls_getting = false;
        if (t == NULL) {
            return NULL;
        }
        fa_tls_table = tab = (char *)t;
    }
    return (fa_tentry *)(void *)(tab + c->toff);
}

void fa_thread_each_entry(void (*fn)(fa_tentry *e, void *arg), void *arg)
{
    char *tab = fa_tls_table;
    if (tab == (char *)&unbound_table) {
        return;
    }
    fa_registry_lock();
    for (uint32_t id = 0; id < reg_hiwater; id++) {
        fa_tentry *e = table_entry((fa_ttab *)(void *)tab, id);
        if (e->cache != NULL) {
            fn(e, arg);
        }
    }
    fa_registry_unlock();
}

/* The thread key's destructor: every entry of the exiting thread settles
 * (its outbox goes, its inbox comes in, its empty chunks leave), and the
 * table waits for the next new thread. */
static void thread_exit(void *arg)
{
    fa_ttab *t = arg;
    fa_registry_lock();
    for (uint32_t id = 0; id < reg_hiwater; id++) {
        fa_tentry *e = table_entry(t, id);
        if (e->cache != NULL) {
            reg_ops->retire(e->cache, e);
        }
    }
    fa_registry_unlock();
    tls_exiting = true;
    fa_tls_table = (char *)&unbound_table;
    table_idle(t);
}

/* ---- fork ---- */

/* Before fork: the registry lock, then every cache's locks by ascending
 * id, so that the child finds every shared structure consistent. */
static void fork_prepare(void)
{
    fa_registry_lock();
    for (uint32_t id = 0; id < reg_hiwater; id++) {
        if (reg_caches[id] != NULL) {
            reg_ops->lock(reg_caches[id]);
        }
    }
}

static void fork_release(void)
{
    for (uint32_t id = reg_hiwater; id-- > 0;) {
        if (reg_caches[id] != NULL) {
            reg_ops->unlock(reg_caches[id]);
        }
    }
    fa_registry_unlock();
}

static void fork_parent(void)
{
    fork_release();
}

/* In the child only the forking thread exists. The tables of the other
 * threads that were running may hold a pool halfway through a change: they
 * are frozen, never used again (their chunks stay mapped, their objects
 * counted live). Idle tables were consistent and stay available. */
static void fork_child(void)
{
    fa_ttab *self = (fa_ttab *)(void *)fa_tls_table;
    for (fa_list_node *n = reg_tables; n != NULL; n = n->next) {
        fa_ttab *t = fa_list_entry(n, fa_ttab, link);
        if (t != self && !t->idle) {
            t->frozen = true;
        }
    }
    fork_release();
}
