/* The session's open files and directories, each kind in a ring under its
 * lock, so that those still open when the session ends (an abort, a crash
 * rule, an unmount with files open) are closed and freed. */
#ifndef DIOFS_OPEN_LIST_H
#define DIOFS_OPEN_LIST_H

#include <pthread.h>
#include <stddef.h>

/* The first member of what is listed. */
struct open_link {
	struct open_link *prev, *next;
};

struct open_list {
	struct open_link head;
	pthread_mutex_t lock;
};

#define OPEN_LIST_INIT(list) { { &(list).head, &(list).head }, PTHREAD_MUTEX_INITIALIZER }

static inline void open_list_add(struct open_list *l, struct open_link *e)
{
	pthread_mutex_lock(&l->lock);
	e->next = &l->head;
	e->prev = l->head.prev;
	l->head.prev->next = e;
	l->head.prev = e;
	pthread_mutex_unlock(&l->lock);
}

static inline void open_list_del(struct open_list *l, struct open_link *e)
{
	pthread_mutex_lock(&l->lock);
	e->prev->next = e->next;
	e->next->prev = e->prev;
	pthread_mutex_unlock(&l->lock);
}

/* The oldest entry, or NULL. */
static inline struct open_link *open_list_first(const struct open_list *l)
{
	return l->head.next == &l->head ? NULL : l->head.next;
}

/* close(entry) for every entry left in list, entries of type (link
 * first); close takes each off the list.  Once no worker runs. */
#define open_list_close_all(list, type, close) do {			\
	struct open_link *l_;						\
									\
	while ((l_ = open_list_first(list)))				\
		close((type *)l_);					\
} while (0)

#endif
