/* The Aleph supervisor's GPU list over HTTP on this host: one small GET on a
 * TCP socket (no HTTP library for one request to loopback), bounded in
 * time and size, parsed with json-c.  What aleph-vm serves: aleph-supervisor.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include "aleph-supervisor.h"
#include "util.h"

/* the status line and headers of a small JSON answer */
#define HEADERS_MAX (64u * 1024)
#define GPUS_MAX 1024
#define ATTEMPT_MS 2000
#define RETRY_MS 100

__attribute__((format(printf, 4, 5)))
static int fail(char *why, size_t whylen, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

bool aleph_detects_class(unsigned class24)
{
	unsigned c = class24 >> 8;

	return c == 0x0300 || c == 0x0302;
}

const char *aleph_vendor_name(unsigned vendor)
{
	switch (vendor) {
	case 0x10de: return "NVIDIA";
	case 0x1002: return "AMD";
	case 0x8086: return "Intel";
	default: return NULL;
	}
}

bool aleph_detection_raises(const struct pci_func *f)
{
	return aleph_detects_class(f->class) && strcmp(f->driver, "vfio-pci") == 0 &&
	       !aleph_vendor_name(f->vendor);
}

/* ---------------------------------------------------------- endpoint -- */

static bool is_local_address(int family, const void *a)
{
	struct ifaddrs *ifs, *i;
	bool found = false;

	if (family == AF_INET && (ntohl(((const struct in_addr *)a)->s_addr) >> 24) == 127)
		return true;
	if (family == AF_INET6 && IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)a))
		return true;
	if (getifaddrs(&ifs) < 0)
		return false;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != family)
			continue;
		if (family == AF_INET)
			found = !memcmp(&((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, a,
					sizeof(struct in_addr));
		else
			found = !memcmp(&((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, a,
					sizeof(struct in6_addr));
	}
	freeifaddrs(ifs);
	return found;
}

int aleph_endpoint_get(const struct aleph_env *env, struct aleph_endpoint *ep,
		       char *why, size_t whylen)
{
	const char *host = env->supervisor_host[0] ? env->supervisor_host : "127.0.0.1";
	const char *port_text = env->supervisor_port;
	unsigned long port = ALEPH_SUPERVISOR_PORT;
	char name[sizeof(env->supervisor_host)], shown[INET6_ADDRSTRLEN];
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ep->addr;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ep->addr;
	size_t n;

	memset(ep, 0, sizeof(*ep));
	if (port_text[0]) {
		char *end;

		errno = 0;
		port = strtoul(port_text, &end, 10);
		if (!isdigit((unsigned char)port_text[0]) || *end || errno || port == 0 || port > 65535)
			return fail(why, whylen, -EINVAL, "ALEPH_VM_SUPERVISOR_PORT=%s in %s is not a "
				    "port number (1 to 65535)", port_text, ALEPH_SUPERVISOR_ENV);
	}
	/* "[::1]" as in a URL, or "::1" as aiohttp takes it */
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
		snprintf(name, sizeof(name), "%.*s", (int)(n - 2), host + 1);
	else
		snprintf(name, sizeof(name), "%s", strcasecmp(host, "localhost") ? host : "127.0.0.1");
	if (inet_pton(AF_INET, name, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		/* listening on every address: loopback is one of them */
		if (s4->sin_addr.s_addr == htonl(INADDR_ANY))
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ep->addrlen = sizeof(*s4);
	} else if (inet_pton(AF_INET6, name, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
			s6->sin6_addr = in6addr_loopback;
		ep->addrlen = sizeof(*s6);
	} else {
		return fail(why, whylen, -EINVAL, "ALEPH_VM_SUPERVISOR_HOST=%s in %s is not a numeric "
			    "address, and vfio-handover looks no name up", host, ALEPH_SUPERVISOR_ENV);
	}
	if (ep->addr.ss_family == AF_INET)
		inet_ntop(AF_INET, &s4->sin_addr, shown, sizeof(shown));
	else
		inet_ntop(AF_INET6, &s6->sin6_addr, shown, sizeof(shown));
	if (!is_local_address(ep->addr.ss_family, ep->addr.ss_family == AF_INET ?
			      (const void *)&s4->sin_addr : (const void *)&s6->sin6_addr))
		return fail(why, whylen, -EADDRNOTAVAIL, "ALEPH_VM_SUPERVISOR_HOST=%s in %s is not an "
			    "address of this host: the supervisor cannot listen there, and "
			    "vfio-handover sends no request off this host", host, ALEPH_SUPERVISOR_ENV);
	if (ep->addr.ss_family == AF_INET6)
		snprintf(ep->host, sizeof(ep->host), "[%s]:%lu", shown, port);
	else
		snprintf(ep->host, sizeof(ep->host), "%s:%lu", shown, port);
	snprintf(ep->url, sizeof(ep->url), "http://%s%s", ep->host, ALEPH_USAGE_PATH);
	return 0;
}

/* ---------------------------------------------------------- document -- */

void aleph_gpus_free(struct aleph_gpus *g)
{
	free(g->v);
	g->v = NULL;
	g->n = 0;
}

const struct aleph_gpu *aleph_gpus_find(const struct aleph_gpus *g, const struct pci_addr *a)
{
	for (size_t i = 0; i < g->n; i++)
		if (!pci_addr_cmp(&g->v[i].addr, a))
			return &g->v[i];
	return NULL;
}

/* lspci's form: "01:00.0", or "0000:01:00.0" on a machine with domains */
static int parse_pci_host(const char *s, struct pci_addr *a)
{
	char full[PCI_ADDR_LEN];

	if (strlen(s) == 7) {
		snprintf(full, sizeof(full), "0000:%s", s);
		return pci_addr_parse(full, a);
	}
	return pci_addr_parse(s, a);
}

/* A string field, absent or null as "", its unprintable bytes as '?':
 * these texts end up on a terminal.  false: present and not a string. */
static bool copy_field(struct json_object *o, const char *key, char *buf, size_t len)
{
	struct json_object *v;

	buf[0] = '\0';
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return true;
	if (!json_object_is_type(v, json_type_string))
		return false;
	snprintf(buf, len, "%s", json_object_get_string(v));
	for (char *p = buf; *p; p++)
		if (!isprint((unsigned char)*p))
			*p = '?';
	return true;
}

static int parse_device(struct json_object *o, const char *list, size_t i, struct aleph_gpu *d,
			char *why, size_t whylen)
{
	struct json_object *v;

	memset(d, 0, sizeof(*d));
	if (!json_object_is_type(o, json_type_object))
		return fail(why, whylen, -EBADMSG, "gpu.%s[%zu] is not an object", list, i);
	if (!json_object_object_get_ex(o, "pci_host", &v) || !json_object_is_type(v, json_type_string))
		return fail(why, whylen, -EBADMSG, "gpu.%s[%zu] has no pci_host string", list, i);
	if (parse_pci_host(json_object_get_string(v), &d->addr) < 0)
		return fail(why, whylen, -EBADMSG, "gpu.%s[%zu].pci_host is not a PCI address", list, i);
	copy_field(o, "pci_host", d->pci_host, sizeof(d->pci_host));
	if (!copy_field(o, "vendor", d->vendor, sizeof(d->vendor)) ||
	    !copy_field(o, "model", d->model, sizeof(d->model)) ||
	    !copy_field(o, "device_name", d->device_name, sizeof(d->device_name)) ||
	    !copy_field(o, "device_class", d->device_class, sizeof(d->device_class)) ||
	    !copy_field(o, "device_id", d->device_id, sizeof(d->device_id)))
		return fail(why, whylen, -EBADMSG, "gpu.%s[%zu] has a field that is not a string", list, i);
	if (json_object_object_get_ex(o, "compatible", &v) && v) {
		if (!json_object_is_type(v, json_type_boolean))
			return fail(why, whylen, -EBADMSG, "gpu.%s[%zu].compatible is not a boolean",
				    list, i);
		d->compatible = json_object_get_boolean(v);
	}
	return 0;
}

/* gpu.LIST: an array (absent or null only where optional) */
static int get_list(struct json_object *gpu, const char *list, bool optional,
		    struct json_object **arr, char *why, size_t whylen)
{
	*arr = NULL;
	if ((!json_object_object_get_ex(gpu, list, arr) || !*arr) && optional)
		return 0;
	if (!*arr || !json_object_is_type(*arr, json_type_array))
		return fail(why, whylen, -EBADMSG, "gpu.%s is not a list", list);
	if (json_object_array_length(*arr) > GPUS_MAX)
		return fail(why, whylen, -EBADMSG, "gpu.%s lists more than %d devices", list, GPUS_MAX);
	return 0;
}

static int parse_gpus(struct json_object *root, struct aleph_gpus *g, char *why, size_t whylen)
{
	struct json_object *gpu, *devs, *avail;
	struct aleph_gpu d;
	size_t n;
	int err;

	if (!json_object_is_type(root, json_type_object))
		return fail(why, whylen, -EBADMSG, "the answer is not a JSON object");
	if (!json_object_object_get_ex(root, "gpu", &gpu) || !json_object_is_type(gpu, json_type_object))
		return fail(why, whylen, -EBADMSG, "the answer has no \"gpu\" object: it is not "
			    "aleph-vm's usage document");
	err = get_list(gpu, "devices", false, &devs, why, whylen);
	if (!err)
		err = get_list(gpu, "available_devices", true, &avail, why, whylen);
	if (err)
		return err;
	n = json_object_array_length(devs);
	g->v = calloc(n ? n : 1, sizeof(*g->v));
	if (!g->v)
		return fail(why, whylen, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		err = parse_device(json_object_array_get_idx(devs, i), "devices", i, &g->v[g->n], why, whylen);
		if (err)
			return err;
		g->n++;
	}
	for (size_t i = 0; avail && i < json_object_array_length(avail); i++) {
		struct aleph_gpu *hit;

		err = parse_device(json_object_array_get_idx(avail, i), "available_devices", i, &d,
				   why, whylen);
		if (err)
			return err;
		hit = (struct aleph_gpu *)aleph_gpus_find(g, &d.addr);
		if (hit)
			hit->available = true;
	}
	return 0;
}

int aleph_gpus_parse(const char *body, size_t len, struct aleph_gpus *g, char *why, size_t whylen)
{
	struct json_tokener *tok;
	struct json_object *root;
	size_t end;
	int err;

	memset(g, 0, sizeof(*g));
	if (len > ALEPH_REPLY_MAX)
		return fail(why, whylen, -EFBIG, "the answer is larger than %u bytes", ALEPH_REPLY_MAX);
	tok = json_tokener_new();
	if (!tok)
		return fail(why, whylen, -ENOMEM, "out of memory");
	root = json_tokener_parse_ex(tok, body, (int)len);
	end = json_tokener_get_parse_end(tok);
	while (root && end < len && isspace((unsigned char)body[end]))
		end++;
	if (!root || json_tokener_get_error(tok) != json_tokener_success || end != len)
		err = fail(why, whylen, -EBADMSG, "the answer is not one JSON document");
	else
		err = parse_gpus(root, g, why, whylen);
	json_object_put(root);
	json_tokener_free(tok);
	if (err)
		aleph_gpus_free(g);
	return err;
}

/* -------------------------------------------------------------- HTTP -- */

/* Until fd is ready for events, or -ETIMEDOUT at deadline_ms. */
static int wait_fd(int fd, short events, long deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		long left = deadline_ms - monotonic_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int http_connect(const struct aleph_endpoint *ep, long deadline, int *fdp)
{
	int fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int err = 0;
	socklen_t elen = sizeof(err);

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&ep->addr, ep->addrlen) < 0) {
		if (errno != EINPROGRESS) {
			err = -errno;
		} else {
			err = wait_fd(fd, POLLOUT, deadline);
			if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
				err = errno;
			if (err > 0)
				err = -err;
		}
	}
	if (err) {
		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

static int http_send(int fd, const char *req, size_t len, long deadline)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return -errno;
		w = wait_fd(fd, POLLOUT, deadline);
		if (w < 0)
			return (int)w;
	}
	return 0;
}

struct reply {
	char *buf;
	size_t len, cap;
	size_t body;        /* offset of the body; 0 until the headers end */
	long clen;          /* Content-Length, -1 when not given */
	int status;
};

/* The status line and the headers, once they are all in. */
static int parse_head(struct reply *r, char *why, size_t whylen)
{
	char *end = memmem(r->buf, r->len, "\r\n\r\n", 4), *line, *next;
	size_t skip = 4;

	if (!end) {
		end = memmem(r->buf, r->len, "\n\n", 2);
		skip = 2;
	}
	if (!end)
		return r->len > HEADERS_MAX ?
			fail(why, whylen, -EPROTO, "the answer's headers run past %u bytes", HEADERS_MAX) : 0;
	if (r->len < 12 || strncmp(r->buf, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)r->buf[7]) ||
	    r->buf[8] != ' ' || !isdigit((unsigned char)r->buf[9]) ||
	    !isdigit((unsigned char)r->buf[10]) || !isdigit((unsigned char)r->buf[11]))
		return fail(why, whylen, -EPROTO, "the answer is not HTTP");
	r->status = (r->buf[9] - '0') * 100 + (r->buf[10] - '0') * 10 + (r->buf[11] - '0');
	*end = '\0';
	r->body = (size_t)(end - r->buf) + skip;
	for (line = strchr(r->buf, '\n'); line; line = next) {
		char *v;

		line++;
		next = strchr(line, '\n');
		if (next)
			*next = '\0';
		v = strchr(line, ':');
		if (!v)
			continue;
		for (v++; *v == ' ' || *v == '\t'; v++)
			;
		if (!strncasecmp(line, "content-length:", 15)) {
			char *e;
			long n;

			errno = 0;
			n = strtol(v, &e, 10);
			while (*e == '\r' || *e == ' ' || *e == '\t')
				e++;
			if (!isdigit((unsigned char)*v) || *e || errno || n < 0 ||
			    (r->clen >= 0 && r->clen != n))
				return fail(why, whylen, -EPROTO, "the answer's Content-Length is not valid");
			r->clen = n;
		} else if (!strncasecmp(line, "transfer-encoding:", 18) && strcasestr(v, "chunked")) {
			return fail(why, whylen, -EPROTO, "the answer is chunked, to an HTTP/1.0 request");
		}
	}
	if (r->clen > (long)ALEPH_REPLY_MAX)
		return fail(why, whylen, -EFBIG, "the answer is larger than %u bytes", ALEPH_REPLY_MAX);
	return 0;
}

static bool reply_complete(const struct reply *r)
{
	return r->body && r->clen >= 0 && r->len - r->body >= (size_t)r->clen;
}

/* Until the peer closes, the announced body is in, or the deadline. */
static int http_read(int fd, struct reply *r, long deadline, char *why, size_t whylen)
{
	const size_t limit = HEADERS_MAX + ALEPH_REPLY_MAX;

	while (!reply_complete(r)) {
		ssize_t n;
		int err;

		if (r->cap - r->len < 4096 + 1) {
			size_t cap = r->cap ? r->cap * 2 : 16384;
			char *b;

			if (cap > limit + 1)
				cap = limit + 1;
			if (r->len >= limit)
				return fail(why, whylen, -EFBIG, "the answer is larger than %u bytes",
					    ALEPH_REPLY_MAX);
			b = realloc(r->buf, cap + 1);
			if (!b)
				return fail(why, whylen, -ENOMEM, "out of memory");
			r->buf = b;
			r->cap = cap;
		}
		n = read(fd, r->buf + r->len, r->cap - r->len);
		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return fail(why, whylen, -errno, "reading the answer failed: %s", strerror(errno));
		if (n < 0) {
			err = wait_fd(fd, POLLIN, deadline);
			if (err == -ETIMEDOUT)
				return fail(why, whylen, err, "no complete answer in time (%zu bytes came)",
					    r->len);
			if (err)
				return fail(why, whylen, err, "waiting for the answer failed: %s",
					    strerror(-err));
			continue;
		}
		r->len += (size_t)n;
		r->buf[r->len] = '\0';
		if (!r->body) {
			err = parse_head(r, why, whylen);
			if (err)
				return err;
		}
	}
	return 0;
}

int aleph_supervisor_get(const struct aleph_endpoint *ep, int timeout_ms, struct aleph_gpus *g,
			 char *why, size_t whylen)
{
	long deadline = monotonic_ms() + timeout_ms;
	struct reply r = { .clen = -1 };
	char req[512];
	size_t blen;
	int fd = -1, err, n;

	memset(g, 0, sizeof(*g));
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\nAccept: application/json\r\n"
		     "User-Agent: vfio-handover/%s\r\nConnection: close\r\n\r\n",
		     ALEPH_USAGE_PATH, ep->host, PACKAGE_VERSION);
	if (n < 0 || (size_t)n >= sizeof(req))
		return fail(why, whylen, -EINVAL, "the request does not fit");
	err = http_connect(ep, deadline, &fd);
	if (err == -ETIMEDOUT)
		return fail(why, whylen, err, "no connection within %d ms", timeout_ms);
	if (err)
		return fail(why, whylen, err, "%s", strerror(-err));
	err = http_send(fd, req, (size_t)n, deadline);
	if (err)
		fail(why, whylen, err, "sending the request failed: %s", strerror(-err));
	if (!err)
		err = http_read(fd, &r, deadline, why, whylen);
	close(fd);
	if (!err && !r.body)
		err = fail(why, whylen, -EPROTO, r.len ? "the connection closed within the answer's "
			   "headers" : "the connection closed with no answer");
	if (!err && r.status != 200)
		err = fail(why, whylen, -EPROTO, "HTTP status %d", r.status);
	blen = err ? 0 : r.len - r.body;
	if (!err && r.clen >= 0 && blen < (size_t)r.clen)
		err = fail(why, whylen, -EPROTO, "the connection closed early: %zu of %ld bytes",
			   blen, r.clen);
	if (!err && r.clen >= 0)
		blen = (size_t)r.clen;
	if (!err)
		err = aleph_gpus_parse(r.buf + r.body, blen, g, why, whylen);
	free(r.buf);
	return err;
}

int aleph_supervisor_wait(const struct aleph_endpoint *ep, long deadline_ms, struct aleph_gpus *g,
			  char *why, size_t whylen, int *attempts)
{
	char try_why[512];
	int err, last = -ETIMEDOUT;

	*attempts = 0;
	for (;;) {
		long left = deadline_ms - monotonic_ms();
		struct timespec ts = { 0, RETRY_MS * 1000000L };

		(*attempts)++;
		try_why[0] = '\0';
		err = aleph_supervisor_get(ep, (int)(left < 1 ? 1 : left > ATTEMPT_MS ? ATTEMPT_MS : left),
					   g, try_why, sizeof(try_why));
		if (!err)
			return 0;
		/* a try the deadline cut short (a sleep that overslept on a
		 * loaded host) says less than the one before it: the first
		 * try's reason is always kept */
		if (!(err == -ETIMEDOUT && left < RETRY_MS && *attempts > 1)) {
			last = err;
			if (why && whylen)
				snprintf(why, whylen, "%s", try_why);
		}
		left = deadline_ms - monotonic_ms();
		if (left <= RETRY_MS)
			return last;
		nanosleep(&ts, NULL);
	}
}
