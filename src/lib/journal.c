#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>
#include "atomic-file.h"
#include "journal.h"
#include "root-path.h"

#define JOURNAL_FORMAT 1
/* far more than the functions of any host take */
#define JOURNAL_MAX (16u << 20)

static const char *const step_names[] = { "recorded", "override", "unbound", "probed", "verified" };

const char *journal_step_name(enum handover_step s)
{
	return s <= STEP_VERIFIED ? step_names[s] : "?";
}

static int step_parse(const char *s, enum handover_step *out)
{
	for (int i = 0; i <= STEP_VERIFIED; i++)
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

void journal_free(struct journal *j)
{
	free(j->e);
	j->e = NULL;
	j->n = 0;
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
	json_object_object_add(o, "driver_override_before",
			       e->override[0] ? json_object_new_string(e->override) : NULL);
	json_object_object_add(o, "step", json_object_new_string(journal_step_name(e->step)));
	return o;
}

int journal_save(const char *root, const struct journal *j)
{
	struct json_object *doc, *arr;
	int dfd = open_dir(root), err;

	if (dfd < 0)
		return dfd;
	if (!j->n) {
		err = unlinkat(dfd, "state.json", 0) < 0 && errno != ENOENT ? -errno : 0;
		close(dfd);
		return err;
	}
	doc = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(doc, "format_version", json_object_new_int(JOURNAL_FORMAT));
	json_object_object_add(doc, "pid", json_object_new_int((int)getpid()));
	for (size_t i = 0; i < j->n; i++)
		json_object_array_add(arr, entry_json(&j->e[i]));
	json_object_object_add(doc, "functions", arr);
	err = atomic_write_at(dfd, "state.json",
			      json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
	close(dfd);
	return err;
}

static int get_str(struct json_object *o, const char *key, char *buf, size_t len, int nullable)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return -EBADMSG;
	if (!v && nullable) {
		buf[0] = '\0';
		return 0;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    snprintf(buf, len, "%s", json_object_get_string(v)) >= (int)len)
		return -EBADMSG;
	return 0;
}

static int parse_entry(struct json_object *o, struct journal_entry *e)
{
	char addr[32], vid[8], did[8], step[16];
	char *end;

	memset(e, 0, sizeof(*e));
	if (!json_object_is_type(o, json_type_object) ||
	    get_str(o, "address", addr, sizeof(addr), 0) || pci_addr_parse(addr, &e->addr) ||
	    get_str(o, "vendor_id", vid, sizeof(vid), 0) || get_str(o, "device_id", did, sizeof(did), 0) ||
	    get_str(o, "driver_before", e->driver, sizeof(e->driver), 1) ||
	    get_str(o, "driver_override_before", e->override, sizeof(e->override), 1) ||
	    get_str(o, "step", step, sizeof(step), 0) || step_parse(step, &e->step))
		return -EBADMSG;
	e->vendor = (unsigned)strtoul(vid, &end, 16);
	if (*end || strlen(vid) != 4)
		return -EBADMSG;
	e->device = (unsigned)strtoul(did, &end, 16);
	if (*end || strlen(did) != 4)
		return -EBADMSG;
	return 0;
}

/* ROOT/run/vfio-handover/state.json, found inside the root: *text NULL
 * when there is none. */
static int read_state(const char *root, char **text)
{
	int rootfd = root_dir_open(root), err;

	*text = NULL;
	if (rootfd < 0)
		return rootfd == -ENOENT ? 0 : rootfd;
	err = root_read_file(rootfd, JOURNAL_DIR "/state.json", 0, JOURNAL_MAX, text, NULL, NULL);
	close(rootfd);
	return err == -ENOENT ? 0 : err;
}

int journal_load(const char *root, struct journal *j)
{
	struct json_object *doc, *arr;
	char *text;
	int err;

	memset(j, 0, sizeof(*j));
	err = read_state(root, &text);
	if (err || !text)
		return err;
	doc = json_tokener_parse(text);
	free(text);
	if (!doc)
		return -EBADMSG;
	err = -EBADMSG;
	if (!json_object_object_get_ex(doc, "functions", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		goto out;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct journal_entry e;

		if (parse_entry(json_object_array_get_idx(arr, i), &e) < 0)
			goto out;
		if (journal_add(j, &e) < 0) {
			err = -ENOMEM;
			goto out;
		}
	}
	err = 0;
out:
	json_object_put(doc);
	if (err)
		journal_free(j);
	return err;
}

int journal_lock(const char *root, pid_t *holder)
{
	char buf[32];
	ssize_t n;
	int dfd, fd, err;

	*holder = 0;
	dfd = open_dir(root);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	err = -errno;
	close(dfd);
	if (fd < 0)
		return err;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		err = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			*holder = (pid_t)atoi(buf);
		}
		close(fd);
		return err;
	}
	/* say who holds it, for the message of the run that waits */
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

void journal_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
