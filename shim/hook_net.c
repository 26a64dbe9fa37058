/* SPDX-License-Identifier: MIT */
/* hook_net.c -- records TCP and UDP traffic on AF_INET/AF_INET6 sockets as socket_call events.
 *
 * Every socket() of the right family and type gets a refcounted struct sock
 * in the fd table; every other hook asks the table first, so files, pipes
 * and Unix sockets cost one relaxed byte load. The table is kept right on
 * close, dup*, fcntl(F_DUPFD*) and close_range whether or not we record,
 * because a stale entry would make us record a file's reads as socket data.
 *
 * Pattern (shim/real.c rules): call the real function first, save errno,
 * record between shim_enter() and shim_leave(), restore errno, return the
 * real result. Nothing here changes what the program sees.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/json.h"
#include "shim/fdtab.h"
#include "shim/real.h"
#include "shim/shim.h"

/* "[" + INET6_ADDRSTRLEN + "]:" + 5 digits, rounded up. */
#define ADDR_MAX 64
/* Up to this many bytes spread over several iovecs are joined on the stack. */
#define GATHER_STACK 4096

struct sock {
	struct fd_obj obj; /* first: the fd table hands this pointer back */
	enum fd_kind kind; /* FD_TCP or FD_UDP */
	int family;
	atomic_int nonblock; /* informational: SOCK_NONBLOCK / F_SETFL O_NONBLOCK */
	atomic_int pending;  /* a connect returned EINPROGRESS; SO_ERROR not read yet */
	char conn[32];       /* "T.K", immutable */
	pthread_mutex_t lock; /* guards peer and local, which connect may rewrite */
	char peer[ADDR_MAX];
	char local[ADDR_MAX];
};

/* ---- errno names (shared with hook_dns.c through shim.h) ---- */

#define E(x) [x] = #x
static const char *const errno_names[] = {
	E(EPERM),        E(ENOENT),       E(ESRCH),           E(EINTR),        E(EIO),
	E(ENXIO),        E(E2BIG),        E(ENOEXEC),         E(EBADF),        E(ECHILD),
	E(EAGAIN),       E(ENOMEM),       E(EACCES),          E(EFAULT),       E(EBUSY),
	E(EEXIST),       E(EXDEV),        E(ENODEV),          E(ENOTDIR),      E(EISDIR),
	E(EINVAL),       E(ENFILE),       E(EMFILE),          E(ENOTTY),       E(EFBIG),
	E(ENOSPC),       E(ESPIPE),       E(EROFS),           E(EMLINK),       E(EPIPE),
	E(ERANGE),       E(ENAMETOOLONG), E(ENOSYS),          E(ENOTEMPTY),    E(ELOOP),
	E(ENOTSOCK),     E(EDESTADDRREQ), E(EMSGSIZE),        E(EPROTOTYPE),   E(ENOPROTOOPT),
	E(EPROTONOSUPPORT), E(ESOCKTNOSUPPORT), E(EOPNOTSUPP), E(EPFNOSUPPORT), E(EAFNOSUPPORT),
	E(EADDRINUSE),   E(EADDRNOTAVAIL), E(ENETDOWN),       E(ENETUNREACH),  E(ENETRESET),
	E(ECONNABORTED), E(ECONNRESET),   E(ENOBUFS),         E(EISCONN),      E(ENOTCONN),
	E(ESHUTDOWN),    E(ETIMEDOUT),    E(ECONNREFUSED),    E(EHOSTDOWN),    E(EHOSTUNREACH),
	E(EALREADY),     E(EINPROGRESS),  E(ENOTSUP_PLACEHOLDER_UNUSED_),
};
#undef E
