#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kmodules.h"
#include "persist-target.h"
#include "root-path.h"
#include "util.h"

/* Drivers a GPU's functions are commonly claimed by at boot. */
static const char *const usual_gpu_modules[] = {
	"nouveau", "nvidia", "nvidia_drm", "amdgpu", "radeon", "snd_hda_intel", NULL,
};

const char *const *persist_usual_gpu_modules(void)
{
	return usual_gpu_modules;
}

int persist_chain_from_link(const char *target, char *buf, size_t len)
{
	const char *p = strstr(target, "/pci");
	size_t used = 0;

	buf[0] = '\0';
	if (!p)
		return -EINVAL;
	p = strchr(p + 1, '/');          /* past "pciDDDD:BB" */
	while (p && *p == '/') {
		const char *e = strchr(p + 1, '/');
		size_t n = e ? (size_t)(e - p - 1) : strlen(p + 1);
		char comp[64];
		struct pci_addr a;

		if (n == 0 || n >= sizeof(comp))
			return -EINVAL;
		memcpy(comp, p + 1, n);
		comp[n] = '\0';
		if (pci_addr_parse(comp, &a) < 0)
			return -EINVAL;
		if (used + n + 2 > len)
			return -ENAMETOOLONG;
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "/" : "", comp);
		p = e;
	}
	return used ? 0 : -EINVAL;
}

int persist_fn_load(struct sysfs *sfs, const struct pci_func *f, struct persist_fn *out)
{
	char target[4096];
	int err;

	memset(out, 0, sizeof(*out));
	out->addr = f->addr;
	out->vendor = f->vendor;
	out->device = f->device;
	out->subvendor = f->subvendor;
	out->subdevice = f->subdevice;
	err = sysfs_phys_slot(sfs, &f->addr, out->phys_slot, sizeof(out->phys_slot));
	if (err < 0)
		return err;
	/* without its place, apply can still find the device at its address */
	if (sysfs_dev_path(sfs, &f->addr, target, sizeof(target)) == 0 &&
	    persist_chain_from_link(target, out->path, sizeof(out->path)) < 0)
		out->path[0] = '\0';
	return 0;
}

/* Found inside the root: /sbin -> usr/sbin is the image's own. */
static bool path_exists(int rootfd, const char *path)
{
	int fd = root_open(rootfd, path, O_PATH, 0);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

bool persist_detect_dracut(const char *root)
{
	int rootfd = root_dir_open(root);
	bool dracut;

	if (rootfd < 0)
		return false;
	dracut = (path_exists(rootfd, "/usr/bin/dracut") || path_exists(rootfd, "/usr/sbin/dracut") ||
		  path_exists(rootfd, "/sbin/dracut")) &&
		 !path_exists(rootfd, "/usr/sbin/update-initramfs") &&
		 !path_exists(rootfd, "/sbin/update-initramfs");
	close(rootfd);
	return dracut;
}

/* One initramfs module list (or dracut.conf.d file) serves the initramfs of
 * every installed kernel: vfio_virqfd goes in only when none of them lacks
 * it.  On a kernel without it the line does harm (initramfs-tools: "Module
 * vfio_virqfd not found" at every boot; dracut: an error), and
 * leaving it out costs nothing: vfio_pci depends on it where it exists. */
static void virqfd_everywhere(const char *root, struct persist_facts *pf)
{
	enum kmod_where w;
	char **rel;

	pf->virqfd_lacking[0] = '\0';
	if (kmodules_releases(root, &rel) < 0)
		return;
	for (size_t i = 0; rel[i] && pf->has_virqfd; i++) {
		/* a directory without a module index (what a removed kernel
		 * leaves) builds no initramfs */
		if (strcmp(rel[i], pf->kernel) == 0 ||
		    kmodules_lookup(root, rel[i], "vfio_virqfd", &w, NULL, 0) < 0 || w != KMOD_ABSENT)
			continue;
		pf->has_virqfd = false;
		snprintf(pf->virqfd_lacking, sizeof(pf->virqfd_lacking), "%s", rel[i]);
	}
	kmodules_free_list(rel);
}

int persist_facts_kernel(const char *root, const char *kernel_opt, struct persist_facts *pf,
			 char *why, size_t len)
{
	enum kmod_where w;
	int err;

	if (kernel_opt) {
		snprintf(pf->kernel, sizeof(pf->kernel), "%s", kernel_opt);
		pf->kernel_from = "--kernel";
	} else if (!root_is_host(root)) {
		err = kmodules_newest_release(root, pf->kernel, sizeof(pf->kernel));
		if (err < 0) {
			snprintf(why, len, "no kernel under %s/lib/modules: %s; pass --kernel VERSION",
				 root, strerror(-err));
			return err;
		}
		pf->kernel_from = "newest under --root";
	} else {
		kmodules_running_release(pf->kernel, sizeof(pf->kernel));
		pf->kernel_from = "running";
	}
	pf->dracut = persist_detect_dracut(root);
	err = kmodules_lookup(root, pf->kernel, "vfio-pci", &w, NULL, 0);
	if (err == -ENOPKG) {
		snprintf(why, len, "libkmod cannot be loaded; install it (on Debian: libkmod2)");
		return err;
	}
	if (err < 0) {
		snprintf(why, len, "cannot read the module index of kernel %s under %s/lib/modules/%s: %s; "
			 "run depmod %s", pf->kernel, root_is_host(root) ? "" : root, pf->kernel,
			 strerror(-err), pf->kernel);
		return err;
	}
	if (w == KMOD_ABSENT) {
		snprintf(why, len, "kernel %s has no vfio-pci (neither a module nor built in); "
			 "install its modules package or pick another with --kernel", pf->kernel);
		return -ENOENT;
	}
	pf->vfio_builtin = w == KMOD_BUILTIN;
	err = kmodules_lookup(root, pf->kernel, "vfio_virqfd", &w, NULL, 0);
	if (err < 0)
		return err;
	pf->has_virqfd = w != KMOD_ABSENT;
	if (pf->has_virqfd)
		virqfd_everywhere(root, pf);
	return 0;
}

static bool in_set(const struct pci_addr *fns, size_t n, const struct pci_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (pci_addr_cmp(&fns[i], a) == 0)
			return true;
	return false;
}

void persist_facts_ids(const struct pci_host *h, const struct pci_addr *fns, size_t n,
		       struct persist_facts *pf)
{
	pf->ids_exclusive = true;
	pf->ids_reason[0] = '\0';
	for (size_t i = 0; i < n && pf->ids_exclusive; i++) {
		const struct pci_func *f = pci_host_find(h, &fns[i]);

		for (size_t k = 0; f && k < h->nfuncs; k++) {
			const struct pci_func *o = &h->funcs[k];
			char ab[PCI_ADDR_LEN];

			if (o->vendor != f->vendor || o->device != f->device || in_set(fns, n, &o->addr))
				continue;
			snprintf(pf->ids_reason, sizeof(pf->ids_reason),
				 "%04x:%04x is also %s, which stays on the host", f->vendor, f->device,
				 pci_addr_fmt(&o->addr, ab));
			pf->ids_exclusive = false;
			break;
		}
	}
}

static int add_module(char ***v, size_t *n, const char *name)
{
	char *m, **nv;

	for (size_t i = 0; i < *n; i++)
		if (kmodules_name_eq((*v)[i], name))
			return 0;
	m = strdup(name);
	nv = realloc(*v, (*n + 2) * sizeof(**v));
	if (!m || !nv) {
		free(m);
		if (nv)
			*v = nv;
		return -ENOMEM;
	}
	for (char *p = m; *p; p++)
		if (*p == '-')
			*p = '_';
	nv[(*n)++] = m;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

int persist_facts_softdeps(struct sysfs *sfs, const struct pci_host *h, struct journal *j,
			   const struct pci_addr *fns, size_t n, struct persist_facts *pf)
{
	size_t count = 0;
	int err = 0;

	while (pf->softdeps && pf->softdeps[count])
		count++;
	for (size_t i = 0; i < n && !err; i++) {
		const struct pci_func *f = pci_host_find(h, &fns[i]);
		const struct journal_entry *je = journal_find(j, &fns[i]);
		const char *drv = f ? f->driver : "";
		char mod[128];

		if ((f && f->vfio) || strcmp(drv, "pci-stub") == 0)
			drv = je ? je->driver : "";
		if (!drv[0] || strcmp(drv, "vfio-pci") == 0 || strcmp(drv, "pci-stub") == 0)
			continue;
		/* a built-in driver has no module to order: nothing to write */
		if (sysfs_driver_module(sfs, drv, mod, sizeof(mod)) == 0)
			err = add_module(&pf->softdeps, &count, mod);
	}
	for (size_t i = 0; usual_gpu_modules[i] && !err; i++)
		err = add_module(&pf->softdeps, &count, usual_gpu_modules[i]);
	return err;
}

int persist_facts_add_softdeps(struct persist_facts *pf, char *const *mods)
{
	size_t count = 0;
	int err = 0;

	while (pf->softdeps && pf->softdeps[count])
		count++;
	for (size_t i = 0; mods && mods[i] && !err; i++)
		err = add_module(&pf->softdeps, &count, mods[i]);
	return err;
}

int persist_facts_add_variant(struct persist_facts *pf, const char *module)
{
	size_t n = 0;
	char **nv, *m;

	for (; pf->variants && pf->variants[n]; n++)
		if (kmodules_name_eq(pf->variants[n], module))
			return 0;
	m = strdup(module);
	nv = m ? realloc(pf->variants, (n + 2) * sizeof(*nv)) : NULL;
	if (!nv) {
		free(m);
		return -ENOMEM;
	}
	nv[n] = m;
	nv[n + 1] = NULL;
	pf->variants = nv;
	return 0;
}

static void free_list(char ***v)
{
	for (size_t i = 0; *v && (*v)[i]; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
}

void persist_facts_free(struct persist_facts *pf)
{
	free_list(&pf->softdeps);
	free_list(&pf->variants);
}
