/* The supervisor's GPU list: where it is asked, the document's shapes, and
 * the GET against a server forked by the test on 127.0.0.1, good and
 * hostile (garbage, huge, slow, closed early, a 500, wrong shapes). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "aleph-supervisor.h"
#include "testlib.h"
#include "util.h"

/* What aleph-vm's about_system_usage() serves (exclude_none: no "model"
 * for a GPU the network's settings do not know). */
#define GPU_4000 "{\"vendor\": \"NVIDIA\", \"model\": \"RTX 4000 ADA\", \"device_name\": " \
	"\"AD104GL [RTX 4000 SFF Ada Generation]\", \"device_class\": \"0300\", " \
	"\"pci_host\": \"01:00.0\", \"device_id\": \"10de:27b0\", \"compatible\": true}"
#define GPU_H100 "{\"vendor\": \"NVIDIA\", \"device_name\": \"GH100 [H100 PCIe]\", " \
	"\"device_class\": \"0302\", \"pci_host\": \"0001:81:00.0\", \"device_id\": " \
	"\"10de:2331\", \"compatible\": false}"
#define USAGE(gpu) "{\"cpu\": {\"count\": 8}, \"mem\": {\"total_kB\": 1}, \"active\": true, " \
	"\"gpu\": " gpu "}"
#define GOOD USAGE("{\"devices\": [" GPU_4000 ", " GPU_H100 "], \"available_devices\": [" GPU_H100 "]}")

static int parse(const char *doc, struct aleph_gpus *g)
{
	char why[256] = "";
	int err = aleph_gpus_parse(doc, strlen(doc), g, why, sizeof(why));

	if (err)
		ck_assert_msg(why[0], "an error without a reason");
	return err;
}

START_TEST(document_of_aleph_vm)
{
	struct aleph_gpus g;
	struct pci_addr a = { 0, 1, 0, 0 }, h = { 1, 0x81, 0, 0 };
	const struct aleph_gpu *d;

	ck_assert_int_eq(parse(GOOD, &g), 0);
	ck_assert_uint_eq(g.n, 2);
	d = aleph_gpus_find(&g, &a);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->vendor, "NVIDIA");
	ck_assert_str_eq(d->model, "RTX 4000 ADA");
	ck_assert_str_eq(d->device_id, "10de:27b0");
	ck_assert_str_eq(d->pci_host, "01:00.0");
	ck_assert(d->compatible);
	ck_assert(!d->available);
	d = aleph_gpus_find(&g, &h);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->model, "");
	ck_assert(d->available);
	ck_assert(!d->compatible);
	aleph_gpus_free(&g);

	/* GPU support off: empty lists; available_devices may be absent or null */
	ck_assert_int_eq(parse(USAGE("{\"devices\": [], \"available_devices\": []}"), &g), 0);
	ck_assert_uint_eq(g.n, 0);
	aleph_gpus_free(&g);
	ck_assert_int_eq(parse(USAGE("{\"devices\": [" GPU_4000 "], \"available_devices\": null}"), &g), 0);
	ck_assert_uint_eq(g.n, 1);
	aleph_gpus_free(&g);
	/* control characters from the network do not reach a terminal */
	ck_assert_int_eq(parse(USAGE("{\"devices\": [{\"pci_host\": \"02:00.0\", \"device_name\": "
				     "\"x\\u001b[2Jy\"}]}"), &g), 0);
	ck_assert_str_eq(g.v[0].device_name, "x?[2Jy");
	aleph_gpus_free(&g);
}
END_TEST

static const char *const wrong_shapes[] = {
	"",
	"not json",
	"[]",
	"{\"gpu\": null}",
	"{\"cpu\": {}}",
	"{\"gpu\": {\"available_devices\": []}}",
	"{\"gpu\": {\"devices\": {}}}",
	"{\"gpu\": {\"devices\": [1]}}",
	"{\"gpu\": {\"devices\": [{\"vendor\": \"NVIDIA\"}]}}",
	"{\"gpu\": {\"devices\": [{\"pci_host\": 1}]}}",
	"{\"gpu\": {\"devices\": [{\"pci_host\": \"zz:00.0\"}]}}",
	"{\"gpu\": {\"devices\": [{\"pci_host\": \"01:00.8\"}]}}",
	"{\"gpu\": {\"devices\": [{\"pci_host\": \"01:00.0\", \"compatible\": \"yes\"}]}}",
	"{\"gpu\": {\"devices\": [{\"pci_host\": \"01:00.0\", \"vendor\": 4318}]}}",
	"{\"gpu\": {\"devices\": [], \"available_devices\": {}}}",
	"{\"gpu\": {\"devices\": [], \"available_devices\": [{}]}}",
	"{\"gpu\": {\"devices\": []}} trailing",
	"{\"gpu\": {\"devices\": [",
};

START_TEST(document_of_another_shape)
{
	struct aleph_gpus g;

	ck_assert_int_eq(parse(wrong_shapes[_i], &g), -EBADMSG);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_ptr_null(g.v);
}
END_TEST

static int endpoint(const char *host, const char *port, struct aleph_endpoint *ep)
{
	struct aleph_env env = { .present = true };
	char why[512] = "";
	int err;

	snprintf(env.supervisor_host, sizeof(env.supervisor_host), "%s", host);
	snprintf(env.supervisor_port, sizeof(env.supervisor_port), "%s", port);
	err = aleph_endpoint_get(&env, ep, why, sizeof(why));
	if (err)
		ck_assert_msg(strstr(why, "ALEPH_VM_SUPERVISOR_"), "no setting named: %s", why);
	return err;
}

START_TEST(where_the_supervisor_is_asked)
{
	struct aleph_endpoint ep;

	ck_assert_int_eq(endpoint("", "", &ep), 0);
	ck_assert_str_eq(ep.url, "http://127.0.0.1:4020/about/usage/system");
	ck_assert_int_eq(endpoint("0.0.0.0", "4021", &ep), 0);
	ck_assert_str_eq(ep.url, "http://127.0.0.1:4021/about/usage/system");
	ck_assert_int_eq(endpoint("localhost", "", &ep), 0);
	ck_assert_str_eq(ep.host, "127.0.0.1:4020");
	ck_assert_int_eq(endpoint("127.0.0.2", "", &ep), 0);
	ck_assert_str_eq(ep.host, "127.0.0.2:4020");
	ck_assert_int_eq(endpoint("::", "", &ep), 0);
	ck_assert_str_eq(ep.url, "http://[::1]:4020/about/usage/system");
	ck_assert_int_eq(endpoint("[::1]", "8080", &ep), 0);
	ck_assert_str_eq(ep.host, "[::1]:8080");
	ck_assert_int_eq(endpoint("", "0", &ep), -EINVAL);
	ck_assert_int_eq(endpoint("", "65536", &ep), -EINVAL);
	ck_assert_int_eq(endpoint("", "40x", &ep), -EINVAL);
	ck_assert_int_eq(endpoint("", "-1", &ep), -EINVAL);
	/* no name is looked up */
	ck_assert_int_eq(endpoint("crn.example.org", "", &ep), -EINVAL);
	/* TEST-NET-1: not this host's; nothing is sent there */
	ck_assert_int_eq(endpoint("192.0.2.1", "", &ep), -EADDRNOTAVAIL);
}
END_TEST

/* ------------------------------------------------ the server -- */

enum serve_mode {
	SERVE_REPLY,      /* the reply, then close */
	SERVE_DRIP,       /* the reply 7 bytes at a time, 5 ms apart */
	SERVE_SILENT,     /* read the request, answer nothing, stay open */
	SERVE_CLOSE,      /* read the request, close without answering */
	SERVE_FLOOD,      /* a 200 without length, then bytes until the peer goes */
	SERVE_KEEP_OPEN,  /* the reply, then stay open (a keep-alive server) */
};

struct server {
	pid_t pid;
	char port[8];
};

/* Reads one request; 0 when it is the GET aleph-vm serves, as HTTP/1.0. */
static int read_request(int c)
{
	char req[2048];
	size_t len = 0;

	while (len < sizeof(req) - 1) {
		ssize_t n = read(c, req + len, sizeof(req) - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	return strncmp(req, "GET /about/usage/system HTTP/1.0\r\n", 34) == 0 &&
	       strstr(req, "\r\nHost: 127.0.0.1:") && strstr(req, "\r\nConnection: close\r\n") ? 0 : -1;
}

static void serve_one(int c, enum serve_mode mode, const char *reply)
{
	static const char bad[] = "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
	static char flood[65536];
	size_t len = strlen(reply);

	if (read_request(c) < 0) {
		if (write(c, bad, sizeof(bad) - 1) < 0)
			return;
		return;
	}
	switch (mode) {
	case SERVE_REPLY:
	case SERVE_KEEP_OPEN:
		if (write(c, reply, len) < 0)
			return;
		if (mode == SERVE_KEEP_OPEN)
			pause();
		break;
	case SERVE_DRIP:
		for (size_t off = 0; off < len; off += 7) {
			struct timespec ts = { 0, 5 * 1000000L };
			if (write(c, reply + off, len - off < 7 ? len - off : 7) < 0)
				return;
			nanosleep(&ts, NULL);
		}
		break;
	case SERVE_SILENT:
		pause();
		break;
	case SERVE_CLOSE:
		break;
	case SERVE_FLOOD:
		memset(flood, ' ', sizeof(flood));
		if (write(c, "HTTP/1.0 200 OK\r\n\r\n{\"gpu\": ", 27) < 0)
			return;
		while (write(c, flood, sizeof(flood)) > 0)
			;
		break;
	}
}

/* A server on 127.0.0.1: the first `closes` connections are closed
 * unanswered, the rest served by mode. */
static void server_start(struct server *s, enum serve_mode mode, const char *reply, int closes)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l, 16), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
	snprintf(s->port, sizeof(s->port), "%u", ntohs(sa.sin_port));
	s->pid = fork();
	ck_assert_int_ge(s->pid, 0);
	if (s->pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		/* bounded: ends with the test, or by itself after a while */
		alarm(30);
		for (;;) {
			int c = accept(l, NULL, NULL);
			if (c < 0)
				_exit(1);
			if (closes > 0) {
				closes--;
				close(c);
				continue;
			}
			serve_one(c, mode, reply);
			close(c);
		}
	}
	close(l);
}

static void server_stop(struct server *s)
{
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
}

static int get(const struct server *s, int timeout_ms, struct aleph_gpus *g, char *why, size_t len)
{
	struct aleph_endpoint ep;

	ck_assert_int_eq(endpoint("127.0.0.1", s->port, &ep), 0);
	why[0] = '\0';
	return aleph_supervisor_get(&ep, timeout_ms, g, why, len);
}

#define OK_HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"

/* The good document in three framings: with Content-Length; without, the
 * close ending the body; bare newlines and a length padded with spaces. */
static void good_reply(size_t framing, char *buf, size_t len)
{
	if (framing == 0)
		snprintf(buf, len, OK_HEAD "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 strlen(GOOD), GOOD);
	else if (framing == 1)
		snprintf(buf, len, "HTTP/1.0 200 OK\r\n\r\n%s", GOOD);
	else
		snprintf(buf, len, "HTTP/1.0 200 OK\ncontent-length:   %zu  \nX-Other: a:b\n\n%s",
			 strlen(GOOD), GOOD);
}

START_TEST(get_answers)
{
	static const enum serve_mode modes[] = { SERVE_REPLY, SERVE_DRIP, SERVE_KEEP_OPEN };
	char reply[4096], why[256];
	struct aleph_gpus g;
	struct server s;

	for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
		for (size_t i = 0; i < 3; i++) {
			/* a keep-alive server needs the length to end the answer */
			if (modes[m] == SERVE_KEEP_OPEN && i == 1)
				continue;
			good_reply(i, reply, sizeof(reply));
			server_start(&s, modes[m], reply, 0);
			ck_assert_msg(get(&s, 3000, &g, why, sizeof(why)) == 0, "mode %zu framing %zu: %s",
				      m, i, why);
			ck_assert_uint_eq(g.n, 2);
			aleph_gpus_free(&g);
			server_stop(&s);
		}
	}
}
END_TEST

struct hostile {
	enum serve_mode mode;
	const char *reply;
	int err;
	const char *why;
};

static const struct hostile hostile[] = {
	{ SERVE_REPLY, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!", -EPROTO,
	  "HTTP status 500" },
	{ SERVE_REPLY, "HTTP/1.1 503 Service Unavailable\r\n\r\n" GOOD, -EPROTO, "HTTP status 503" },
	{ SERVE_REPLY, "garbage, not HTTP\r\n\r\n", -EPROTO, "not HTTP" },
	{ SERVE_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 10", -EPROTO, "within the answer's headers" },
	{ SERVE_CLOSE, "", -EPROTO, "closed with no answer" },
	{ SERVE_REPLY, OK_HEAD "Content-Length: 900\r\n\r\n{\"gpu\": {\"devices\": []}}", -EPROTO,
	  "closed early: 24 of 900 bytes" },
	{ SERVE_REPLY, OK_HEAD "Content-Length: 24\r\nContent-Length: 25\r\n\r\n{\"gpu\": {\"devices\": []}}",
	  -EPROTO, "Content-Length is not valid" },
	{ SERVE_REPLY, OK_HEAD "Content-Length: -1\r\n\r\n{}", -EPROTO, "Content-Length is not valid" },
	{ SERVE_REPLY, OK_HEAD "Content-Length: 99999999999\r\n\r\n{}", -EFBIG, "larger than" },
	{ SERVE_REPLY, OK_HEAD "Transfer-Encoding: chunked\r\n\r\n18\r\n{\"gpu\": {\"devices\": []}}\r\n0\r\n\r\n",
	  -EPROTO, "chunked" },
	{ SERVE_REPLY, OK_HEAD "\r\n{\"gpu\": {\"devices\": \"01:00.0\"}}", -EBADMSG, "gpu.devices is not a list" },
	{ SERVE_REPLY, OK_HEAD "\r\n<html>aleph</html>", -EBADMSG, "not one JSON document" },
	{ SERVE_FLOOD, "", -EFBIG, "larger than" },
	{ SERVE_SILENT, "", -ETIMEDOUT, "no complete answer in time" },
};

START_TEST(get_hostile_answers)
{
	const struct hostile *h = &hostile[_i];
	char why[256];
	struct aleph_gpus g;
	struct server s;
	long t0 = monotonic_ms();
	int err;

	server_start(&s, h->mode, h->reply, 0);
	err = get(&s, 700, &g, why, sizeof(why));
	server_stop(&s);
	ck_assert_msg(err == h->err, "%d: %d (%s)", _i, err, why);
	ck_assert_msg(strstr(why, h->why), "%d: '%s' does not say '%s'", _i, why, h->why);
	ck_assert_uint_eq(g.n, 0);
	/* bounded by the timeout, whatever the server does */
	ck_assert_int_lt(monotonic_ms() - t0, 700 + 1500);
}
END_TEST

/* A port with a socket bound to it and no listener: refused, for sure. */
static int refusing_port(char port[8])
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(port, 8, "%u", ntohs(sa.sin_port));
	return fd;
}

START_TEST(wait_until_it_answers)
{
	char why[256], reply[4096];
	struct aleph_endpoint ep;
	struct aleph_gpus g;
	struct server s;
	int attempts, err;
	long t0;

	/* restarting: the first three connections end unanswered */
	good_reply(0, reply, sizeof(reply));
	server_start(&s, SERVE_REPLY, reply, 3);
	ck_assert_int_eq(endpoint("127.0.0.1", s.port, &ep), 0);
	err = aleph_supervisor_wait(&ep, monotonic_ms() + 5000, &g, why, sizeof(why), &attempts);
	server_stop(&s);
	ck_assert_msg(err == 0, "%s", why);
	ck_assert_int_eq(attempts, 4);
	ck_assert_uint_eq(g.n, 2);
	aleph_gpus_free(&g);

	/* nothing listens: retried until the deadline, the last reason kept */
	int fd = refusing_port(s.port);
	ck_assert_int_eq(endpoint("127.0.0.1", s.port, &ep), 0);
	t0 = monotonic_ms();
	err = aleph_supervisor_wait(&ep, t0 + 600, &g, why, sizeof(why), &attempts);
	close(fd);
	ck_assert_int_eq(err, -ECONNREFUSED);
	ck_assert_str_eq(why, strerror(ECONNREFUSED));
	ck_assert_int_ge(attempts, 3);
	ck_assert_int_ge(monotonic_ms() - t0, 500);
	ck_assert_int_lt(monotonic_ms() - t0, 1500);
}
END_TEST

START_TEST(detection_rule)
{
	ck_assert(aleph_detects_class(0x030000));
	ck_assert(aleph_detects_class(0x030200));
	ck_assert(!aleph_detects_class(0x038000));
	ck_assert(!aleph_detects_class(0x030100));
	ck_assert(!aleph_detects_class(0x040300));
	ck_assert_str_eq(aleph_vendor_name(0x10de), "NVIDIA");
	ck_assert_str_eq(aleph_vendor_name(0x1002), "AMD");
	ck_assert_str_eq(aleph_vendor_name(0x8086), "Intel");
	ck_assert_ptr_null(aleph_vendor_name(0x1a03));
	ck_assert_ptr_null(aleph_vendor_name(0x1234));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("aleph-supervisor");
	TCase *tc = tcase_create("core");

	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, document_of_aleph_vm);
	tcase_add_loop_test(tc, document_of_another_shape, 0, (int)ARRAY_SIZE(wrong_shapes));
	tcase_add_test(tc, where_the_supervisor_is_asked);
	tcase_add_test(tc, get_answers);
	tcase_add_loop_test(tc, get_hostile_answers, 0, (int)ARRAY_SIZE(hostile));
	tcase_add_test(tc, wait_until_it_answers);
	tcase_add_test(tc, detection_rule);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
