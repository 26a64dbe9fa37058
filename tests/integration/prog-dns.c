/* SPDX-License-Identifier: MIT */
/* prog-dns.c -- a C program for t0011: every name-service call the shim hooks.
 *
 * Usage: prog-dns NAME
 *
 * Prints one line per call, with errors as symbolic names so that the test
 * can compare them with the trace:
 *
 *	getaddrinfo NAME 80: 127.0.0.1:80 ...      (AF_INET, SOCK_STREAM hints)
 *	getaddrinfo NAME 80: EAI_NONAME            (or another EAI_* name)
 *	gethostbyname NAME: h_name=... 127.0.0.1   (or HOST_NOT_FOUND ...)
 *	gethostbyname_r NAME: ...                  (same format)
 *	gethostbyname2 NAME AF_INET: ...
 *	getnameinfo 127.0.0.1:80: host=... serv=80
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const char *eai_name(int e)
{
	switch (e) {
	case EAI_NONAME:
		return "EAI_NONAME";
	case EAI_AGAIN:
		return "EAI_AGAIN";
	case EAI_FAIL:
		return "EAI_FAIL";
	case EAI_FAMILY:
		return "EAI_FAMILY";
	case EAI_SERVICE:
		return "EAI_SERVICE";
	case EAI_NODATA:
		return "EAI_NODATA";
	case EAI_SYSTEM:
		return "EAI_SYSTEM";
	default:
		return "EAI_OTHER";
	}
}

static const char *herr_name(int e)
{
	switch (e) {
	case HOST_NOT_FOUND:
		return "HOST_NOT_FOUND";
	case TRY_AGAIN:
		return "TRY_AGAIN";
	case NO_RECOVERY:
		return "NO_RECOVERY";
	case NO_DATA:
		return "NO_DATA";
	default:
		return "H_OTHER";
	}
}

static void print_hostent(const char *what, const char *name, const struct hostent *h, int herr)
{
	char addr[INET6_ADDRSTRLEN];

	printf("%s %s:", what, name);
	if (!h) {
		printf(" %s\n", herr_name(herr));
		return;
	}
	printf(" h_name=%s", h->h_name);
	for (char **a = h->h_addr_list; *a; a++) {
		inet_ntop(h->h_addrtype, *a, addr, sizeof(addr));
		printf(" %s", addr);
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(80) };
	struct hostent he, *h;
	char buf[4096], host[NI_MAXHOST], serv[NI_MAXSERV];
	const char *name;
	int r, herr = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s NAME\n", argv[0]);
		return 2;
	}
	name = argv[1];

	r = getaddrinfo(name, "80", &hints, &res);
	printf("getaddrinfo %s 80:", name);
	if (r != 0) {
		printf(" %s\n", eai_name(r));
	} else {
		for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
			struct sockaddr_in *in = (struct sockaddr_in *)ai->ai_addr;
			char a[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
			printf(" %s:%d", a, ntohs(in->sin_port));
		}
		printf("\n");
		freeaddrinfo(res);
	}

	h = gethostbyname(name);
	print_hostent("gethostbyname", name, h, h_errno);

	h = NULL;
	r = gethostbyname_r(name, &he, buf, sizeof(buf), &h, &herr);
	print_hostent("gethostbyname_r", name, r == 0 ? h : NULL, herr);

	h = gethostbyname2(name, AF_INET);
	print_hostent("gethostbyname2", name, h, h_errno);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r = getnameinfo((struct sockaddr *)&sa, sizeof(sa), host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICSERV);
	if (r != 0)
		printf("getnameinfo 127.0.0.1:80: %s\n", eai_name(r));
	else
		printf("getnameinfo 127.0.0.1:80: host=%s serv=%s\n", host, serv);
	return 0;
}
