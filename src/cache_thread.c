/*
 * cache_thread.c - the cache registry: ids, thread tables, thread exit, fork.
 * docs/design.md, "Threads: tables, exit, fork".
 */
#include "cache_impl.h"

#include <errno.h>
#include <string.h>

static fa_ttab unbound_table;

_Thread_local char *fa_tls_table = (char *)&unbound_table;
/* Set by thread_exit: this thread's table is gone for good. */
static _Thread_local bool tls_exiting;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static fa_cache *reg_caches[FA_CACHE_SLOTS]; /* by id; NULL: free */
static uint32_t reg_hiwater;                 /* every id in use is below */
static fa_list_node *reg_tables;             /* every thread's table */
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
    while (c->entries != NULL) {
        fa_entry_unbind_locked(fa_list_entry(c->entries, fa_tentry, reg_link));
    }
    reg_caches[c->id] = NULL;
    while (reg_hiwater > 0 && reg_caches[reg_hiwater - 1] == NULL) {
        reg_hiwater--;
    }
    fa_registry_unlock();
}

/* ---- binding entries ---- */

static void bind_entry(fa_cache *c, fa_tentry *e)
{
    fa_registry_lock();
    e->cache = c;
    fa_list_push(&c->entries, &e->reg_link);
    c->nentries++;
    fa_registry_unlock();
}

void fa_entry_unbind_locked(fa_tentry *e)
{
    fa_cache *c = e->cache;
    fa_list_remove(&c->entries, &e->reg_link);
    c->nentries--;
    memset(e, 0, sizeof *e); /* hot words NULL: every call misses */
}

/* ---- thread tables ---- */

static void table_unmap(fa_ttab *t)
{
    fa_os_unmap(t, FA_TTAB_MAP);
}

/* Maps the calling thread's table (zeroed); NULL when the OS refuses. */
static fa_ttab *table_new(void)
{
    fa_ttab *t = fa_os_map(FA_TTAB_MAP, FA_ALIGN_MAX);
    if (t == NULL) {
        return NULL;
    }
    if (fa_os_key_set(&reg_key, t) != 0) {
        table_unmap(t);
        return NULL;
    }
    fa_registry_lock();
    fa_list_push(&reg_tables, &t->link);
    fa_registry_unlock();
    fa_tls_table = (char *)t;
    return t;
}

fa_tentry *fa_thread_entry(fa_cache *c)
{
    char *tab = fa_tls_table;
    if (tab == (char *)&unbound_table) {
        if (tls_exiting) {
            return NULL;
        }
        fa_ttab *t = table_new();
        if (t == NULL) {
            return NULL;
        }
        tab = (char *)t;
    }
    fa_tentry *e = (fa_tentry *)(void *)(tab + c->toff);
    if (e->cache != c) {
        bind_entry(c, e);
    }
    return e;
}

fa_tentry *fa_thread_entry_peek(const fa_cache *c)
{
    fa_tentry *e = fa_tentry_at(c->toff);
    return e->cache == c ? e : NULL;
}

/* The pthread key's destructor: every magazine of the exiting thread goes
 * back to its cache's depot, then the table goes back to the OS. */
static void thread_exit(void *arg)
{
    fa_ttab *t = arg;
    fa_registry_lock();
    for (uint32_t id = 0; id < reg_hiwater; id++) {
        fa_tentry *e = table_entry(t, id);
        if (e->cache != NULL) {
            reg_ops->retire(e->cache, e);
            fa_entry_unbind_locked(e);
        }
    }
    fa_list_remove(&reg_tables, &t->link);
    fa_registry_unlock();
    tls_exiting = true;
    fa_tls_table = (char *)&unbound_table;
    table_unmap(t);
}

/* ---- fork ---- */

/* Before fork: the registry lock, then every depot lock by ascending id,
 * so that the child finds every structure consistent. */
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

/* In the child only the forking thread exists: the other threads' tables
 * go, their entries unbound (docs/design.md, "Threads: tables, exit, fork"). */
static void fork_child(void)
{
    fa_ttab *self = (fa_ttab *)(void *)fa_tls_table;
    fa_list_node *next;
    for (fa_list_node *n = reg_tables; n != NULL; n = next) {
        fa_ttab *t = fa_list_entry(n, fa_ttab, link);
        next = n->next;
        if (t == self) {
            continue;
        }
        for (uint32_t id = 0; id < reg_hiwater; id++) {
            fa_tentry *e = table_entry(t, id);
            if (e->cache != NULL) {
                reg_ops->abandon_locked(e->cache, e);
                fa_entry_unbind_locked(e);
            }
        }
        fa_list_remove(&reg_tables, &t->link);
        table_unmap(t);
    }
    fork_release();
}
