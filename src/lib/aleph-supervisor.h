/* The Aleph supervisor (aleph-vm) as a hand-over's confirmation: where it
 * listens, what GPUs its /about/usage/system endpoint lists, and the rule it
 * detects them by.  What aleph-vm does, from its source (aleph-im/aleph-vm):
 * - src/aleph/vm/pool.py, VmPool.setup(): GPUs are detected once, when the
 *   supervisor starts, and only with ALEPH_VM_ENABLE_GPU_SUPPORT.
 * - src/aleph/vm/resources.py, get_gpu_devices(): `lspci -mmnnn`; a function
 *   is kept when `lspci -s ADDR -nnk` says "Kernel driver in use: vfio-pci"
 *   and its class is 0300 (VGA) or 0302 (3D); get_vendor_name() then raises
 *   ValueError for a vendor other than 10de, 1002 and 8086, which ends the
 *   supervisor's start (run() calls pool.setup() before serving).
 * - src/aleph/vm/orchestrator/resources.py, about_system_usage(): the
 *   document's "gpu" object holds "devices" and "available_devices" (those
 *   no execution uses), each {vendor, model?, device_name, device_class,
 *   pci_host, device_id, compatible}; pci_host as lspci prints it ("01:00.0",
 *   the domain only on a machine with several).
 * - src/aleph/vm/conf.py: SUPERVISOR_HOST 127.0.0.1, SUPERVISOR_PORT 4020,
 *   read from ALEPH_VM_* variables (case-insensitive); the unit reads them
 *   from /etc/aleph-vm/supervisor.env. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include "aleph.h"
#include "pci-addr.h"
#include "pci-func.h"

#define ALEPH_SUPERVISOR_PORT 4020
#define ALEPH_USAGE_PATH "/about/usage/system"
/* a node's usage document is a few KiB; more is not one */
#define ALEPH_REPLY_MAX (1u << 20)

struct aleph_endpoint {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char url[192];               /* http://127.0.0.1:4020/about/usage/system */
	char host[160];              /* the Host header: "127.0.0.1:4020" */
};

/* Where the supervisor of env answers: ALEPH_VM_SUPERVISOR_HOST and _PORT,
 * else 127.0.0.1:4020; a wildcard host (0.0.0.0, ::) is asked on loopback.
 * Only a numeric address or "localhost" (no name is looked up), and only an
 * address of this host: vfio-handover never sends a request off it.
 * -EINVAL or -EADDRNOTAVAIL with why. */
int aleph_endpoint_get(const struct aleph_env *env, struct aleph_endpoint *ep,
		       char *why, size_t whylen);

struct aleph_gpu {
	struct pci_addr addr;        /* pci_host, the domain 0000 when not given */
	char pci_host[32];
	char vendor[32];
	char model[64];
	char device_name[128];
	char device_class[8];
	char device_id[16];
	bool compatible;
	bool available;              /* also in available_devices */
};

struct aleph_gpus {
	struct aleph_gpu *v;
	size_t n;
};

/* A /about/usage/system document: its gpu.devices, each marked available
 * when gpu.available_devices has it.  -EBADMSG with why on any other shape. */
int aleph_gpus_parse(const char *body, size_t len, struct aleph_gpus *g, char *why, size_t whylen);
void aleph_gpus_free(struct aleph_gpus *g);
const struct aleph_gpu *aleph_gpus_find(const struct aleph_gpus *g, const struct pci_addr *a);

/* One GET of the endpoint, within timeout_ms: 0 and *g, or -errno and why
 * (-ECONNREFUSED, -ETIMEDOUT, -EPROTO for an answer that is not HTTP 200,
 * -EFBIG past ALEPH_REPLY_MAX, -EBADMSG for a document of another shape). */
int aleph_supervisor_get(const struct aleph_endpoint *ep, int timeout_ms, struct aleph_gpus *g,
			 char *why, size_t whylen);

/* GET until an answer parses or deadline_ms (monotonic_ms()) passes: 0 and
 * *g, or the last attempt's -errno and why (but for a last one the deadline
 * cut too short to tell).  *attempts counts the GETs. */
int aleph_supervisor_wait(const struct aleph_endpoint *ep, long deadline_ms, struct aleph_gpus *g,
			  char *why, size_t whylen, int *attempts);

/* The supervisor's detection keeps this class (24 bits): VGA 0300, 3D 0302. */
bool aleph_detects_class(unsigned class24);
/* Its vendor table: "NVIDIA", "AMD", "Intel"; NULL where it raises. */
const char *aleph_vendor_name(unsigned vendor);
/* f is a function the detection raises on, which stops the supervisor's
 * start: of a class it keeps, on vfio-pci, from a vendor it does not know. */
bool aleph_detection_raises(const struct pci_func *f);
