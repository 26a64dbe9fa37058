/* SPDX-License-Identifier: MIT */
/* prog-threads-fork.c -- a C program for t0006: threads, non-blocking
 * connect + poll, then fork.
 *
 * Usage: prog-threads-fork PORT
 *
 * Two pthreads each open a non-blocking TCP socket to 127.0.0.1:PORT, wait
 * for the connect with poll() and getsockopt(SO_ERROR), send
 * "GET /echo?t=N" (N = 1, 2) with Connection: close, and read the response
 * to EOF with poll() between reads. After both have joined, the process
 * forks; the child does "GET /echo?child=1" on a blocking socket and exits 0,
 * the parent waits for it. Output (deterministic, printed by the main thread
 * in a fixed order):
 *
 *	thread 1: echo:t=1
 *	thread 2: echo:t=2
 *	child: echo:child=1
 *	child exited 0
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int port;

struct job {
	int n;
	char body[256];
	int ok;
};

/* The body of an HTTP response held in @resp (NUL-terminated), or "". */
static const char *body_of(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");

	return p ? p + 4 : "";
}

static void chomp_copy(char *dst, size_t n, const char *src)
{
	size_t len;

	snprintf(dst, n, "%s", src);
	len = strlen(dst);
	while (len > 0 && (dst[len - 1] == '\n' || dst[len - 1] == '\r'))
		dst[--len] = '\0';
}

static int wait_for(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do {
		r = poll(&p, 1, 10000);
	} while (r < 0 && errno == EINTR);
	return r == 1 ? 0 : -1;
}

/* One request on a non-blocking socket. @return 0 and the body in @j->body. */
static int nonblocking_request(struct job *j)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	char req[128], resp[4096];
	size_t off = 0, len;
	int fd, err = 0, r = -1;
	socklen_t elen = sizeof(err);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		goto out;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EINPROGRESS) {
			fprintf(stderr, "connect: %s\n", strerror(errno));
			goto out;
		}
		if (wait_for(fd, POLLOUT) < 0)
			goto out;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0) {
			fprintf(stderr, "SO_ERROR: %s\n", strerror(err));
			goto out;
		}
	}
	snprintf(req, sizeof(req),
		 "GET /echo?t=%d HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", j->n);
	len = strlen(req);
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_for(fd, POLLOUT) < 0)
				goto out;
			continue;
		}
		if (n < 0)
			goto out;
		off += (size_t)n;
	}
	off = 0;
	for (;;) {
		ssize_t n = recv(fd, resp + off, sizeof(resp) - 1 - off, 0);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_for(fd, POLLIN) < 0)
				goto out;
			continue;
		}
		if (n < 0)
			goto out;
		if (n == 0 || off + (size_t)n >= sizeof(resp) - 1) {
			off += (size_t)n;
			break;
		}
		off += (size_t)n;
	}
	resp[off] = '\0';
	chomp_copy(j->body, sizeof(j->body), body_of(resp));
	r = 0;
out:
	close(fd);
	return r;
}

static void *worker(void *arg)
{
	struct job *j = arg;

	j->ok = nonblocking_request(j) == 0;
	return NULL;
}

/* The child's request, on a blocking socket. */
static int child_request(char *body, size_t n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	const char *req =
		"GET /echo?child=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	char resp[4096];
	size_t off = 0;
	ssize_t r;
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return -1;
	}
	while (off < sizeof(resp) - 1 && (r = read(fd, resp + off, sizeof(resp) - 1 - off)) > 0)
		off += (size_t)r;
	resp[off] = '\0';
	close(fd);
	chomp_copy(body, n, body_of(resp));
	return 0;
}

int main(int argc, char **argv)
{
	struct job jobs[2] = { { .n = 1 }, { .n = 2 } };
	pthread_t th[2];
	int status = 0;
	pid_t pid;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	port = (int)strtol(argv[1], NULL, 10);
	for (int i = 0; i < 2; i++) {
		if (pthread_create(&th[i], NULL, worker, &jobs[i]) != 0)
			return 1;
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		if (!jobs[i].ok)
			return 1;
		printf("thread %d: %s\n", jobs[i].n, jobs[i].body);
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		char body[256];

		if (child_request(body, sizeof(body)) < 0)
			exit(1);
		printf("child: %s\n", body);
		exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 1;
	printf("child exited %d\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
