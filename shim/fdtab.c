/* SPDX-License-Identifier: MIT */
/* fdtab.c -- per-fd kind and object table (see fdtab.h). */
#include "shim/fdtab.h"

#include <pthread.h>
#include <stddef.h>

#include "shim/shim.h"

SHIM_LARGE _Atomic uint8_t fdtab_kind_[FDTAB_MAX];
SHIM_LARGE static struct fd_obj *objs[FDTAB_MAX];
/* Objects change only on socket/close/dup paths, which are syscalls already;
 * the hot read()/write() check reads fdtab_kind_ without this lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void put_locked(struct fd_obj *o)
{
	if (o && atomic_fetch_sub(&o->refs, 1) == 1 && o->release)
		o->release(o);
}

void fdtab_set(int fd, enum fd_kind kind, struct fd_obj *obj)
{
	struct fd_obj *old;

	if ((unsigned)fd >= FDTAB_MAX)
		return;
	if (obj)
		atomic_fetch_add(&obj->refs, 1);
	pthread_mutex_lock(&lock);
	old = objs[fd];
	objs[fd] = obj;
	atomic_store_explicit(&fdtab_kind_[fd], (uint8_t)kind, memory_order_relaxed);
	pthread_mutex_unlock(&lock);
	put_locked(old);
}

struct fd_obj *fdtab_get(int fd)
{
	struct fd_obj *o;

	if ((unsigned)fd >= FDTAB_MAX)
		return NULL;
	pthread_mutex_lock(&lock);
	o = objs[fd];
	if (o)
		atomic_fetch_add(&o->refs, 1);
	pthread_mutex_unlock(&lock);
	return o;
}

void fdtab_put(struct fd_obj *o)
{
	put_locked(o);
}

void fdtab_clear(int fd)
{
	if ((unsigned)fd >= FDTAB_MAX || fdtab_kind(fd) == FD_NONE)
		return;
	fdtab_set(fd, FD_NONE, NULL);
}

void fdtab_dup(int oldfd, int newfd)
{
	struct fd_obj *o;

	if ((unsigned)newfd >= FDTAB_MAX)
		return;
	if (fdtab_kind(oldfd) == FD_NONE) {
		fdtab_clear(newfd);
		return;
	}
	o = fdtab_get(oldfd);
	fdtab_set(newfd, fdtab_kind(oldfd), o);
	fdtab_put(o);
}
