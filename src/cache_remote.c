/*
 * cache_remote.c - outboxes and inboxes: objects freed by other threads on
 * their way back. docs/design.md, "Remote frees".
 */
#include "cache_impl.h"

/* Pushes the chain head..tail onto entry to's inbox. Release order: the
 * owner, which takes the inbox with acquire, sees the carriers. */
static void inbox_push(fa_tentry *to, void *head, void *tail)
{
    void *old = atomic_load_explicit(&to->inbox, memory_order_relaxed);
    do {
        ((fa_carrier *)tail)->next = old;
    } while (!atomic_compare_exchange_weak_explicit(
        &to->inbox, &old, head, memory_order_release, memory_order_relaxed));
}

void fa_inbox_push_one(const fa_cache *c, fa_tentry *to, void *obj)
{
    fa_carrier *k = obj;
    if (c->carry > 0) {
        k->n = 0; /* a carrier of nothing */
    }
    inbox_push(to, k, k);
}

void fa_outbox_send(fa_tentry *e)
{
    if (e->out_n == 0) {
        return;
    }
    inbox_push(fa_entry_of_pool(e->out_to), e->out_head, e->out_tail);
    e->out_to = NULL;
    e->out_head = e->out_tail = NULL;
    e->out_n = 0;
}

/* An object of the inbox into e's pool. Its freeing thread saw its chunk
 * in the chunk map with a header naming the pool (free_slow, or owner_of),
 * and the chunk stays the pool's while the object is live (only empty
 * chunks move): nothing is asked again. */
static inline void take_one(fa_tentry *e, void *obj)
{
    if (!fa_pool_try_free(&e->pool, obj)) {
        fa_pool_free_owned(&e->pool, obj, fa_chunk_of(&e->pool, obj));
    }
}

void fa_inbox_take(fa_tentry *e)
{
    bool carries = e->cache->carry != 0;
    fa_carrier *k =
        atomic_exchange_explicit(&e->inbox, NULL, memory_order_acquire);
    while (k != NULL) {
        fa_carrier *next = k->next;
        if (carries) {
            size_t n = k->n;
            for (size_t i = 0; i < n; i++) {
                take_one(e, k->objs[i]);
            }
            e->taken += n;
        }
        take_one(e, k); /* after its words are read */
        e->taken++;
        k = next;
    }
}
