/* Lines of a VFIO setup made by hand (the operators' guide this tool
 * replaces, and the Proxmox and Arch wiki pages like it) in the files such
 * guides have people edit: found for check, refused by persist, taken out
 * by migrate with a note in their place, from which unpersist puts them
 * back byte for byte.
 *
 * The files, under the root:
 *   /etc/modprobe.d/ *.conf          options vfio-pci ids=, alias ... vfio-pci,
 *                                    blacklist, install M /bin/false, softdep
 *   /etc/modules, /etc/modules-load.d/ *.conf
 *                                    one module name a line, no arguments
 *   /etc/initramfs-tools/modules     a module and its arguments a line
 *   /etc/dracut.conf.d/ *.conf       kernel_cmdline=
 *   /etc/default/grub, /etc/default/grub.d/ *.cfg
 *                                    GRUB_CMDLINE_LINUX, GRUB_CMDLINE_LINUX_DEFAULT
 *   /etc/kernel/cmdline              (systemd-boot, Proxmox)
 * vfio-handover's own files and its managed block are not looked at.  The
 * kernel command line is reported, never edited: it takes effect through
 * update-grub or the boot loader's own tool, which the user runs. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "pci-host.h"
#include "persist.h"
#include "safety.h"

/* How a file is read. */
enum leftover_format {
	LF_MODPROBE,            /* kmod's configuration: directives, '\' continues a line */
	LF_MODULES_LOAD,        /* systemd-modules-load: one module name a line */
	LF_INITRAMFS,           /* initramfs-tools: a module name and its arguments a line */
	LF_DRACUT,              /* dracut.conf: shell assignments, kernel_cmdline= */
	LF_GRUB,                /* /etc/default/grub: shell assignments, GRUB_CMDLINE_LINUX* */
	LF_KERNEL_CMDLINE,      /* /etc/kernel/cmdline: the command line itself */
};

/* One entry of an ids= list: vendor:device[:subvendor[:subdevice[:class[:class_mask]]]],
 * as vfio-pci reads it (LEFTOVER_ANY: any). */
#define LEFTOVER_ANY 0xffffffffu
struct leftover_id {
	unsigned vendor, device, subvendor, subdevice, class, class_mask;
};

struct leftover {
	char file[128];         /* under the root: "/etc/modprobe.d/vfio.conf" */
	enum leftover_format format;
	unsigned line, nlines;  /* the physical lines: first (1-based), how many */
	enum check_id check;    /* CHECK_IDS_BINDING, CHECK_BLACKLIST, CHECK_SOFTDEP,
				 * CHECK_MODULE_LINE */
	bool fail;              /* it fights the hand-over persist writes: FAIL, and persist
				 * refuses; else WARN */
	bool vfio;              /* a line of a hand-made VFIO setup: migrate takes it out */
	bool cmdline;           /* on the kernel command line: reported, never edited */
	char *text;             /* the line (for the kernel command line: the word) */
	char *what;             /* what it does wrong */
	char *fix;
	char *replacement;      /* the line migrate leaves in its place; NULL: none */
	struct leftover_id *ids;/* the devices it names by ids (its intent, even where
				 * the line is broken) */
	size_t nids;
	char *modalias;         /* the pattern of an alias line to vfio-pci, or NULL */
};

/* What decides, beside a line's text, whether it is wrong. */
struct leftover_ctx {
	/* modules whose blacklisting keeps a host device without its driver:
	 * the usual GPU drivers and those of the host's display slots;
	 * NULL-terminated, '-' and '_' alike */
	const char *const *host_drivers;
	const char *kernel;     /* the target kernel release, for messages */
	bool virqfd_gone;       /* that kernel has no vfio_virqfd (merged into vfio, 6.2) */
};

/* The format of a file under the root, by its path; -1 for none of them. */
int leftovers_format_of(const char *file);
/* The lines of text (a file of that format at file) that are wrong:
 * *v malloc'ed (leftovers_free), in file order.  -ENOMEM only. */
int leftovers_parse(enum leftover_format fmt, const char *file, const char *text,
		    const struct leftover_ctx *ctx, struct leftover **v, size_t *n);

/* What a scan looks at. */
struct leftover_env {
	const char *root;               /* --root, NULL for / */
	const char *kernel;             /* target kernel release, NULL: the running one */
	const struct pci_host *host;    /* for the host's drivers (may be NULL) */
};
/* Every file above under the root, read (inside the root, a file that is
 * not a regular one, has a NUL byte or is over 1 MiB skipped) and parsed;
 * a file linked from another path of the list is read once, under its own
 * name.  -errno only for a failure of the scan itself. */
int leftovers_scan(const struct leftover_env *env, struct leftover **v, size_t *n);
void leftovers_free(struct leftover *v, size_t n);
/* Does the line name this function (by its ids, or an alias pattern that
 * matches its modalias)? */
bool leftover_names(const struct leftover *l, const struct pci_func *f);

/* "FILE:LINE: 'TEXT' WHAT (here: the functions of h it names)", the file
 * with root (NULL: /) before it; malloc'ed, NULL when out of memory. */
char *leftover_message(const struct leftover *l, const char *root, const struct pci_host *h);

/* The text of file with the lines of v that are in it (others skipped)
 * taken out: each physical line becomes migrate's note that quotes it,
 * followed, for a line with a replacement, by that line.  -EINVAL when a
 * line of v is not in text as it was read. */
int leftovers_take_out(const char *text, const char *file, const struct leftover *v, size_t n,
		       char **out);
/* The text with every note of migrate put back as the line it quotes
 * (byte for byte, its newline or its lack of one included).  -ENOMSG and
 * why when the line after a note of a changed line is not what migrate
 * left there (or the note quotes a line migrate never changes). */
int leftovers_put_back(const char *text, const char *file, char **out,
		       struct persist_problem *why);
/* Does text hold a note of migrate? */
bool leftovers_marked(const char *text);
/* The files migrate may have edited (modprobe.d, the module lists) that
 * exist under the root, as paths under it: a malloc'ed NULL-terminated
 * list (persist_free_list). */
int leftovers_editable_files(int rootfd, char ***list);
