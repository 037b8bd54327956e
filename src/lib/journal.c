#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include "atomic-file.h"
#include "journal.h"
#include "root-path.h"
#include "sysfs.h"
#include "util.h"

/* 2: each entry's driver_module; 3: its vfio_driver (the driver it is
 * handed to: vfio-pci or a variant).  Versions 1 and 2 are read still. */
#define JOURNAL_FORMAT 3

static const char *const step_names[] = {
	"recorded", "override", "unbound", "probed", "verified", "complete",
};

const char *journal_step_name(enum handover_step s)
{
	return s <= STEP_COMPLETE ? step_names[s] : "?";
}

static int step_parse(const char *s, enum handover_step *out)
{
	for (int i = 0; i <= STEP_COMPLETE; i++)
		if (strcmp(s, step_names[i]) == 0) {
			*out = (enum handover_step)i;
			return 0;
		}
	return -EBADMSG;
}

/* mkdir -p of ROOT/run/vfio-handover, inside the root (a link planted on
 * the way leads inside it too): the directory, open. */
static int open_dir(const char *root)
{
	int rootfd = root_dir_open(root), fd;

	if (rootfd < 0)
		return rootfd;
	fd = root_mkdir_p(rootfd, JOURNAL_DIR, 0755);
	close(rootfd);
	return fd;
}

struct journal_entry *journal_find(struct journal *j, const struct pci_addr *a)
{
	for (size_t i = 0; i < j->n; i++)
		if (pci_addr_cmp(&j->e[i].addr, a) == 0)
			return &j->e[i];
	return NULL;
}

int journal_add(struct journal *j, const struct journal_entry *e)
{
	struct journal_entry *v;

	if (journal_find(j, &e->addr))
		return 0;
	v = realloc(j->e, (j->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	j->e = v;
	j->e[j->n++] = *e;
	return 0;
}

void journal_remove(struct journal *j, const struct pci_addr *a)
{
	struct journal_entry *e = journal_find(j, a);

	if (!e)
		return;
	memmove(e, e + 1, (size_t)(j->e + j->n - (e + 1)) * sizeof(*e));
	j->n--;
}

/* The file on disk as a run last read or wrote it: its text, and the
 * entries that text holds. */
struct journal_seen {
	char *text;          /* NULL: there was none */
	struct journal disk;
};

static void seen_free(struct journal_seen *seen)
{
	if (!seen)
		return;
	free(seen->text);
	free(seen->disk.e);
	free(seen);
}

void journal_free(struct journal *j)
{
	free(j->e);
	j->e = NULL;
	j->n = 0;
	seen_free(j->seen);
	j->seen = NULL;
}

static struct json_object *entry_json(const struct journal_entry *e)
{
	struct json_object *o = json_object_new_object();
	char buf[PCI_ADDR_LEN], id[8];

	json_object_object_add(o, "address", json_object_new_string(pci_addr_fmt(&e->addr, buf)));
	snprintf(id, sizeof(id), "%04x", e->vendor & 0xffffu);
	json_object_object_add(o, "vendor_id", json_object_new_string(id));
	snprintf(id, sizeof(id), "%04x", e->device & 0xffffu);
	json_object_object_add(o, "device_id", json_object_new_string(id));
	json_object_object_add(o, "driver_before", e->driver[0] ? json_object_new_string(e->driver) : NULL);
	if (e->module_known)
		json_object_object_add(o, "driver_module",
				       e->module[0] ? json_object_new_string(e->module) : NULL);
	json_object_object_add(o, "driver_override_before",
			       e->override[0] ? json_object_new_string(e->override) : NULL);
	json_object_object_add(o, "vfio_driver",
			       json_object_new_string(e->vfio_driver[0] ? e->vfio_driver : "vfio-pci"));
	json_object_object_add(o, "step", json_object_new_string(journal_step_name(e->step)));
	return o;
}

static size_t live_entries(const struct journal *j)
{
	size_t live = 0;

	for (size_t i = 0; i < j->n; i++)
		live += !j->e[i].gone;
	return live;
}

/* The journal into dfd (JOURNAL_DIR); *written (may be NULL) gets a copy
 * of the text written (NULL when the file was removed, or no memory). */
static int save_at(int dfd, const struct journal *j, char **written)
{
	struct json_object *doc, *arr;
	const char *text;
	int err;

	if (written)
		*written = NULL;
	if (!live_entries(j))
		return unlinkat(dfd, "state.json", 0) < 0 && errno != ENOENT ? -errno : 0;
	doc = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(doc, "format_version", json_object_new_int(JOURNAL_FORMAT));
	json_object_object_add(doc, "pid", json_object_new_int((int)getpid()));
	for (size_t i = 0; i < j->n; i++)
		if (!j->e[i].gone)
			json_object_array_add(arr, entry_json(&j->e[i]));
	json_object_object_add(doc, "functions", arr);
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	err = atomic_write_at(dfd, "state.json", text);
	if (!err && written)
		*written = strdup(text);        /* NULL: not remembered */
	json_object_put(doc);
	return err;
}

int journal_save(const char *root, const struct journal *j)
{
	int dfd = open_dir(root), err;

	if (dfd < 0)
		return dfd;
	err = save_at(dfd, j, NULL);
	close(dfd);
	return err;
}

/* A value from the journal, for a message: printable, quoted, cut short.
 * The file may hold anything; the terminal must not get it raw. */
static const char *quote(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	buf[o++] = '"';
	for (; *s && o + 6 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
	}
	if (*s && o + 4 < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* What went wrong, and where: "functions[1] (0000:01:00.1): step: ...". */
struct parse_ctx {
	char *why;
	size_t whylen;
	int64_t version;            /* format_version */
	long index;                 /* entry being read, -1: the document */
	char addr[PCI_ADDR_LEN];    /* its address once known to be one */
};

__attribute__((format(printf, 3, 4)))
static int invalid(struct parse_ctx *c, const char *field, const char *fmt, ...)
{
	char where[64] = "";
	size_t n = 0;
	va_list ap;

	if (!c->why || !c->whylen)
		return -EBADMSG;
	if (c->index >= 0)
		snprintf(where, sizeof(where), "functions[%ld]%s%s%s: ", c->index,
			 c->addr[0] ? " (" : "", c->addr, c->addr[0] ? ")" : "");
	n = (size_t)snprintf(c->why, c->whylen, "%s%s%s", where, field ? field : "",
			     field ? ": " : "");
	if (n < c->whylen) {
		va_start(ap, fmt);
		vsnprintf(c->why + n, c->whylen - n, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

/* key's value: a string (NULL for null when nullable), no NUL inside. */
static int get_string(struct parse_ctx *c, struct json_object *o, const char *key,
		      bool nullable, const char **out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return invalid(c, key, "missing");
	if (!v && nullable) {
		*out = NULL;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return invalid(c, key, "not a string%s", nullable ? " or null" : "");
	*out = json_object_get_string(v);
	if (strlen(*out) != (size_t)json_object_get_string_len(v))
		return invalid(c, key, "holds a NUL character");
	return 0;
}

/* A positive integer of at most max. */
static int get_int(struct parse_ctx *c, struct json_object *o, const char *key, int64_t max,
		   int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return invalid(c, key, "missing");
	if (!json_object_is_type(v, json_type_int))
		return invalid(c, key, "not an integer");
	*out = json_object_get_int64(v);
	if (*out < 1 || *out > max)
		return invalid(c, key, "%" PRId64 " is not between 1 and %" PRId64, *out, max);
	return 0;
}

/* Only the keys journal_save writes: a misspelt one is not silently a
 * missing one. */
static int known_keys(struct parse_ctx *c, struct json_object *o, const char *const *keys)
{
	char q[80];

	json_object_object_foreach(o, key, val) {
		const char *const *k;

		(void)val;
		for (k = keys; *k && strcmp(*k, key) != 0; k++)
			;
		if (!*k)
			return invalid(c, NULL, "unknown key %s", quote(key, q, sizeof(q)));
	}
	return 0;
}

static bool four_hex_digits(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return s[4] == '\0';
}

/*
 * What an exact restore of a driver_override needs.  The kernel keeps what
 * was written up to its first newline, shows it back followed by one, and
 * shows an unset one as "(null)"; the read back strips trailing newlines
 * and spaces, and reads at most sizeof(override) - 1 bytes, so a value
 * that fills them may have been cut.  So: no newline, not "(null)", not
 * ending in a space, shorter than the read.  Control characters and bytes
 * past ASCII are refused too: --dry-run and the messages print the value,
 * and no driver's name has them, so such an override matches no driver.
 */
bool journal_override_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > JOURNAL_OVERRIDE_MAX || s[n - 1] == ' ' || strcmp(s, "(null)") == 0)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static int parse_ids(struct parse_ctx *c, struct json_object *o, struct journal_entry *e)
{
	static const char *const keys[] = { "vendor_id", "device_id" };
	unsigned *out[] = { &e->vendor, &e->device };
	char q[80];

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *v;
		int err = get_string(c, o, keys[i], false, &v);

		if (err)
			return err;
		if (!four_hex_digits(v))
			return invalid(c, keys[i], "%s is not four hex digits", quote(v, q, sizeof(q)));
		*out[i] = (unsigned)strtoul(v, NULL, 16);
	}
	return 0;
}

bool journal_module_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(((struct journal_entry *)0)->module))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

/* driver_module: absent in version 1 (not known), null for none. */
static int parse_module(struct parse_ctx *c, struct json_object *o, struct journal_entry *e)
{
	const char *mod;
	char q[80];
	int err;

	if (!json_object_object_get_ex(o, "driver_module", NULL))
		return 0;
	if (c->version < 2)
		return invalid(c, NULL, "driver_module is not in a version 1 journal");
	err = get_string(c, o, "driver_module", true, &mod);
	if (err)
		return err;
	if (mod && !journal_module_valid(mod))
		return invalid(c, "driver_module", "%s is not a module name", quote(mod, q, sizeof(q)));
	if (mod && !e->driver[0])
		return invalid(c, "driver_module", "%s without a driver_before", quote(mod, q, sizeof(q)));
	snprintf(e->module, sizeof(e->module), "%s", mod ? mod : "");
	e->module_known = true;
	return 0;
}

static int parse_before(struct parse_ctx *c, struct json_object *o, struct journal_entry *e)
{
	const char *drv, *ovr;
	char q[80];
	int err;

	err = get_string(c, o, "driver_before", true, &drv);
	if (err)
		return err;
	if (drv && !sysfs_valid_driver_name(drv))
		return invalid(c, "driver_before", "%s is not a driver name", quote(drv, q, sizeof(q)));
	snprintf(e->driver, sizeof(e->driver), "%s", drv ? drv : "");
	err = parse_module(c, o, e);
	if (err)
		return err;
	err = get_string(c, o, "driver_override_before", true, &ovr);
	if (err)
		return err;
	if (ovr && !journal_override_valid(ovr))
		return invalid(c, "driver_override_before", "%s is not a driver_override that can "
			       "be restored exactly", quote(ovr, q, sizeof(q)));
	snprintf(e->override, sizeof(e->override), "%s", ovr ? ovr : "");
	return 0;
}

/* vfio_driver: from version 3; before, every hand-over was to vfio-pci. */
static int parse_vfio_driver(struct parse_ctx *c, struct json_object *o, struct journal_entry *e)
{
	const char *drv = "vfio-pci";
	char q[80];
	int err;

	if (c->version >= 3) {
		err = get_string(c, o, "vfio_driver", false, &drv);
		if (err)
			return err;
		if (!sysfs_valid_driver_name(drv) || strlen(drv) >= sizeof(e->vfio_driver))
			return invalid(c, "vfio_driver", "%s is not a driver name", quote(drv, q, sizeof(q)));
	} else if (json_object_object_get_ex(o, "vfio_driver", NULL)) {
		return invalid(c, NULL, "vfio_driver is not in a version %" PRId64 " journal", c->version);
	}
	snprintf(e->vfio_driver, sizeof(e->vfio_driver), "%s", drv);
	return 0;
}

static int parse_entry(struct parse_ctx *c, struct json_object *o, struct journal *j,
		       struct journal_entry *e)
{
	static const char *const keys[] = {
		"address", "vendor_id", "device_id", "driver_before", "driver_module",
		"driver_override_before", "vfio_driver", "step", NULL,
	};
	const char *addr, *step;
	char ab[PCI_ADDR_LEN], q[80];
	int err;

	memset(e, 0, sizeof(*e));
	if (!json_object_is_type(o, json_type_object))
		return invalid(c, NULL, "not an object");
	err = get_string(c, o, "address", false, &addr);
	if (err)
		return err;
	/* canonical, as the kernel and journal_save write it */
	if (pci_addr_parse(addr, &e->addr) || strcmp(pci_addr_fmt(&e->addr, ab), addr) != 0)
		return invalid(c, "address", "%s is not a PCI address (dddd:bb:dd.f, lowercase)",
			       quote(addr, q, sizeof(q)));
	snprintf(c->addr, sizeof(c->addr), "%s", ab);
	if (journal_find(j, &e->addr))
		return invalid(c, "address", "a second entry for %s", ab);
	err = known_keys(c, o, keys);
	if (!err)
		err = parse_ids(c, o, e);
	if (!err)
		err = parse_before(c, o, e);
	if (!err)
		err = parse_vfio_driver(c, o, e);
	if (!err)
		err = get_string(c, o, "step", false, &step);
	if (!err && (step_parse(step, &e->step) || (c->version < 2 && e->step == STEP_COMPLETE)))
		err = invalid(c, "step", "%s is not a step (recorded, override, unbound, probed, "
			      "verified%s)", quote(step, q, sizeof(q)), c->version < 2 ? "" : ", complete");
	/* version 1 marked no run complete: its last step is taken as one */
	if (!err && c->version < 2 && e->step == STEP_VERIFIED)
		e->step = STEP_COMPLETE;
	return err;
}

static int parse_doc(struct parse_ctx *c, struct json_object *doc, struct journal *j)
{
	static const char *const keys[] = { "format_version", "pid", "functions", NULL };
	struct json_object *arr;
	int64_t pid;
	int err;

	if (!json_object_is_type(doc, json_type_object))
		return invalid(c, NULL, "not a JSON object");
	err = known_keys(c, doc, keys);
	if (!err)
		err = get_int(c, doc, "format_version", INT32_MAX, &c->version);
	if (!err && c->version > JOURNAL_FORMAT)
		err = invalid(c, "format_version", "%" PRId64 " is not a version this vfio-handover "
			      "reads (1 to %d)", c->version, JOURNAL_FORMAT);
	if (!err)
		err = get_int(c, doc, "pid", INT32_MAX, &pid);
	if (err)
		return err;
	if (!json_object_object_get_ex(doc, "functions", &arr))
		return invalid(c, "functions", "missing");
	if (!json_object_is_type(arr, json_type_array))
		return invalid(c, "functions", "not an array");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct journal_entry e;

		c->index = (long)i;
		c->addr[0] = '\0';
		err = parse_entry(c, json_object_array_get_idx(arr, i), j, &e);
		if (!err)
			err = journal_add(j, &e);
		if (err)
			return err;
	}
	return 0;
}

int journal_parse(const char *text, size_t len, struct journal *j, char *why, size_t whylen)
{
	struct parse_ctx c = { .why = why, .whylen = whylen, .index = -1 };
	struct json_tokener *tok;
	struct json_object *doc;
	size_t end;
	int err;

	memset(j, 0, sizeof(*j));
	if (why && whylen)
		why[0] = '\0';
	if (memchr(text, '\0', len))
		return invalid(&c, NULL, "holds a NUL byte");
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	doc = json_tokener_parse_ex(tok, text, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!doc) {
		err = invalid(&c, NULL, "not JSON (%s at byte %zu)",
			      json_tokener_error_desc(json_tokener_get_error(tok)), end);
		json_tokener_free(tok);
		return err;
	}
	json_tokener_free(tok);
	while (end < len && isspace((unsigned char)text[end]))
		end++;
	err = end < len ? invalid(&c, NULL, "text after the JSON document, at byte %zu", end) :
			  parse_doc(&c, doc, j);
	json_object_put(doc);
	if (err)
		journal_free(j);
	return err;
}

/* ROOT/run/vfio-handover/state.json, found inside the root: *text NULL
 * when there is none. */
static int copy_entries(struct journal *to, const struct journal *from)
{
	to->e = NULL;
	to->n = 0;
	if (!from->n)
		return 0;
	to->e = malloc(from->n * sizeof(*to->e));
	if (!to->e)
		return -ENOMEM;
	memcpy(to->e, from->e, from->n * sizeof(*to->e));
	to->n = from->n;
	return 0;
}

/* Remember the file as j now has it: text (NULL: none), and disk, the
 * entries it holds.  Without memory nothing is remembered, and the next
 * update parses what it reads. */
static void seen_set(struct journal *j, const char *text, const struct journal *disk)
{
	struct journal_seen *seen = calloc(1, sizeof(*seen));

	seen_free(j->seen);
	j->seen = NULL;
	if (!seen || (text && !(seen->text = strdup(text))) || copy_entries(&seen->disk, disk) < 0) {
		seen_free(seen);
		return;
	}
	j->seen = seen;
}

static void seen_forget(struct journal *j)
{
	seen_free(j->seen);
	j->seen = NULL;
}

/* The journal of the text read at dirfd's path (text NULL: there is none),
 * parsed unless it is, byte for byte, the text j saw last. */
static int journal_of_text(const char *text, size_t len, const struct journal *seen_by,
			   struct journal *j, char *why, size_t whylen)
{
	const struct journal_seen *seen = seen_by ? seen_by->seen : NULL;
	int err;

	memset(j, 0, sizeof(*j));
	if (why && whylen)
		why[0] = '\0';
	if (seen && (text ? seen->text && strlen(seen->text) == len &&
			    memcmp(seen->text, text, len) == 0 : !seen->text))
		return copy_entries(j, &seen->disk);
	if (!text)
		return 0;
	err = journal_parse(text, len, j, why, whylen);
	if (!err)
		seen_set(j, text, j);
	return err;
}

/* state.json at path inside rootfd; *text NULL when there is none. */
static int read_state_at(int rootfd, const char *path, char **text, size_t *len)
{
	int err = root_read_file(rootfd, path, 0, JOURNAL_MAX_SIZE, text, len, NULL);

	if (err == -ENOENT) {
		*text = NULL;
		*len = 0;
		return 0;
	}
	return err;
}

int journal_load(const char *root, struct journal *j, char *why, size_t whylen)
{
	char *text = NULL;
	size_t len = 0;
	int rootfd = root_dir_open(root), err;

	memset(j, 0, sizeof(*j));
	if (why && whylen)
		why[0] = '\0';
	if (rootfd < 0)
		return rootfd == -ENOENT ? 0 : rootfd;
	err = read_state_at(rootfd, JOURNAL_DIR "/state.json", &text, &len);
	close(rootfd);
	if (!err)
		err = journal_of_text(text, len, NULL, j, why, whylen);
	if (!err && !text)
		seen_set(j, NULL, j);
	free(text);
	return err;
}

static bool owned_by(const struct pci_addr *owned, size_t n, const struct pci_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (pci_addr_cmp(&owned[i], a) == 0)
			return true;
	return false;
}

/* The journal's own lock, held only while it is read, merged and written
 * (a run never waits on another lock while it holds this one). */
static int lock_journal(int dfd)
{
	int fd = openat(dfd, "lock.journal", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
	long deadline = monotonic_ms() + JOURNAL_LOCK_MS;
	int err;

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		struct timespec ts = { 0, 2 * 1000000L };

		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK || monotonic_ms() >= deadline) {
			err = errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			close(fd);
			return err;
		}
		nanosleep(&ts, NULL);
	}
	return fd;
}

int journal_update(const char *root, struct journal *j, const struct pci_addr *owned, size_t n)
{
	struct journal disk = { 0 }, merged = { 0 };
	int dfd = open_dir(root), lockfd, err;
	char *text = NULL, *written = NULL;
	size_t len = 0;

	if (dfd < 0)
		return dfd;
	lockfd = lock_journal(dfd);
	if (lockfd < 0) {
		close(dfd);
		return lockfd;
	}
	/* as it is on disk now: parsed again only when another run (or a
	 * hand) changed it since this run last read or wrote it */
	err = read_state_at(dfd, "state.json", &text, &len);
	if (!err)
		err = journal_of_text(text, len, j, &disk, NULL, 0);
	/* what other runs journaled, as it is on disk; ours, as we have it */
	for (size_t i = 0; !err && i < disk.n; i++)
		if (!owned_by(owned, n, &disk.e[i].addr))
			err = journal_add(&merged, &disk.e[i]);
	for (size_t i = 0; !err && i < j->n; i++)
		if (!j->e[i].gone && owned_by(owned, n, &j->e[i].addr))
			err = journal_add(&merged, &j->e[i]);
	if (!err)
		err = save_at(dfd, &merged, &written);
	/* as written (or removed), still under the lock */
	if (!err && (written || !live_entries(&merged)))
		seen_set(j, written, &merged);
	else
		seen_forget(j);
	free(written);
	free(text);
	journal_free(&disk);
	journal_free(&merged);
	close(lockfd);
	close(dfd);
	return err;
}
