/* bind --aleph and rollback --aleph on an Aleph node: restart the supervisor
 * (aleph-vm looks for GPUs only when it starts), then ask it, within
 * --timeout, whether it lists the GPUs handed over, or no longer lists
 * those given back.  What aleph-vm does is in aleph-supervisor.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "aleph-supervisor.h"
#include "cli-handover.h"
#include "json-out.h"
#include "log.h"
#include "safety.h"
#include "util.h"

#define UNIT "aleph-vm-supervisor.service"

/* What a failure here leaves: the command's own work is done. */
static const char *stays(bool handed_over)
{
	return handed_over ? "the hand-over stays: the GPUs are on vfio-pci" :
			     "the give-back stays: the GPUs are on their host drivers";
}

/* The display functions among fns, as they are now. */
static size_t display_functions(struct cli *cli, const struct pci_addr *fns, size_t n,
				struct pci_func **out)
{
	struct pci_func *v = calloc(n ? n : 1, sizeof(*v));
	size_t k = 0;

	*out = v;
	for (size_t i = 0; v && i < n; i++)
		if (pci_func_load_needs(cli->sfs, &fns[i], &v[k], 0) == 0 && pci_base_class(&v[k]) == 0x03)
			k++;
	return k;
}

/* Functions on this host the supervisor's detection raises on: it then
 * does not start at all.  An error when the run fails for it, else a
 * warning. */
static void name_raising_functions(struct cli *cli, enum log_level level)
{
	char ab[PCI_ADDR_LEN], sb[PCI_SLOT_LEN], fix[128];
	struct pci_func f;

	for (size_t i = 0; i < cli->host.nfuncs; i++) {
		if (pci_func_load_needs(cli->sfs, &cli->host.funcs[i].addr, &f, 0) < 0 ||
		    !aleph_detection_raises(&f))
			continue;
		pci_addr_fmt(&f.addr, ab);
		pci_slot_fmt(&f.addr, sb);
		log_check(level, MSG_SUPERVISOR_UNKNOWN_VENDOR, check_id_name(CHECK_ALEPH_VENDOR),
			  log_fixf(fix, sizeof(fix), "give it back: vfio-handover rollback --aleph %s", sb),
			  "%s [%04x:%04x] is a display controller on vfio-pci from a vendor aleph-vm does "
			  "not know (it knows 10de, 1002, 8086): its GPU detection raises on it and the "
			  "supervisor stops at start", ab, f.vendor, f.device);
	}
}

static void print_gpus(const struct aleph_endpoint *ep, const struct aleph_gpus *g)
{
	char ab[PCI_ADDR_LEN];

	log_info("restarted " UNIT ": it answers at %s and sees %zu GPU%s%s", ep->url, g->n,
		 g->n == 1 ? "" : "s", g->n ? ":" : "");
	for (size_t i = 0; i < g->n; i++) {
		const struct aleph_gpu *d = &g->v[i];

		log_info("  %s %s %s [%s]: %s%s, %s, %s", pci_addr_fmt(&d->addr, ab), d->vendor,
			 d->device_name, d->device_id, d->model[0] ? "model " : "no model",
			 d->model, d->compatible ? "compatible" : "not compatible",
			 d->available ? "available" : "in use");
	}
}

/* A display function the supervisor answers without: why, when it can be
 * told, and what to do. */
static void not_listed(const struct aleph_env *env, const struct aleph_gpus *g,
		       const struct pci_func *f)
{
	bool support = env->has_gpu_support && aleph_truthy(env->gpu_support);
	char ab[PCI_ADDR_LEN], sb[PCI_SLOT_LEN], why[256] = "", fix[384];

	pci_addr_fmt(&f->addr, ab);
	pci_slot_fmt(&f->addr, sb);
	if (!aleph_detects_class(f->class)) {
		snprintf(why, sizeof(why), ": %s is a display controller of class %04x, and aleph-vm "
			 "offers only VGA (0300) and 3D (0302) controllers", ab, f->class >> 8);
		log_fixf(fix, sizeof(fix), "give the GPU back: vfio-handover rollback --aleph %s; "
			 "lend it through another VM manager (libvirt)", sb);
	} else if (!support) {
		snprintf(why, sizeof(why), ": ALEPH_VM_ENABLE_GPU_SUPPORT is %s in %s, so the "
			 "supervisor looks for no GPU", env->has_gpu_support ? env->gpu_support :
			 "not set", ALEPH_SUPERVISOR_ENV);
		log_fixf(fix, sizeof(fix), "run vfio-handover persist --aleph %s, then systemctl "
			 "restart aleph-vm-supervisor; or give the GPU back: vfio-handover rollback "
			 "--aleph %s", sb, sb);
	} else {
		log_fixf(fix, sizeof(fix), "see journalctl -u aleph-vm-supervisor (it keeps the "
			 "functions lspci -nnk shows on vfio-pci, of class 0300 or 0302), then run "
			 "systemctl restart aleph-vm-supervisor; or give the GPU back: vfio-handover "
			 "rollback --aleph %s", sb);
	}
	log_error(MSG_SUPERVISOR_NOT_LISTED, fix, "the Aleph supervisor answers but does not list "
		  "%s (it sees %zu GPU%s)%s; %s", ab, g->n, g->n == 1 ? "" : "s", why, stays(true));
}

/* The supervisor answered: does it list what it should? */
static int compare(const struct aleph_env *env, const struct aleph_gpus *g,
		   const struct pci_func *disp, size_t n, bool handed_over)
{
	char ab[PCI_ADDR_LEN], sb[PCI_SLOT_LEN], fix[256];
	int wrong = 0;

	for (size_t i = 0; i < n; i++) {
		const struct aleph_gpu *d = aleph_gpus_find(g, &disp[i].addr);

		pci_addr_fmt(&disp[i].addr, ab);
		pci_slot_fmt(&disp[i].addr, sb);
		if (!handed_over && d) {
			log_error(MSG_SUPERVISOR_STILL_LISTED, "another supervisor may answer on that "
				  "port: see systemctl status aleph-vm-supervisor and journalctl -u "
				  "aleph-vm-supervisor, then run systemctl restart aleph-vm-supervisor",
				  "the Aleph supervisor still lists %s after its restart; %s", ab,
				  stays(false));
			wrong++;
		} else if (handed_over && d && !d->compatible) {
			log_warn(MSG_SUPERVISOR_INCOMPATIBLE,
				 log_fixf(fix, sizeof(fix), "nothing to do for the hand-over; to offer "
					  "it on Aleph, use a GPU model the network lists (vfio-handover "
					  "check %s names the model)", sb),
				 "the Aleph supervisor sees %s but not as compatible: %s is not among the "
				 "GPUs the Aleph network's settings list, and the node will not offer it",
				 ab, d->device_id);
		} else if (handed_over && !d) {
			not_listed(env, g, &disp[i]);
			wrong++;
		}
	}
	return wrong ? EXIT_FAILED : EXIT_DONE;
}

/* `systemctl is-active UNIT`'s answer ("active", "activating", "failed",
 * ...), read within timeout_ms; -errno when systemctl cannot be run. */
static int unit_state(int timeout_ms, char *state, size_t len)
{
	char *argv[] = { "systemctl", "is-active", UNIT, NULL };
	int n = spawn_read(NULL, argv, NULL, false, timeout_ms, state, len);

	if (n < 0)
		return n;
	state[strcspn(state, "\n")] = '\0';
	return 0;
}

/* Restarts the supervisor if it runs or is (re)starting, as try-restart
 * does: EXIT_DONE; -1 when it is not running (nothing to confirm with);
 * EXIT_FAILED with the message.  systemctl is exec'd without a shell, its
 * output on stderr under --json. */
static int restart(struct cli *cli, bool handed_over)
{
	char *restart[] = { "systemctl", "try-restart", UNIT, NULL };
	char state[64], fix[192];
	int rc = unit_state((int)(cli->timeout * 1000), state, sizeof(state));

	if (rc < 0) {
		log_error(MSG_SUPERVISOR_RESTART, "restart aleph-vm-supervisor yourself (systemctl "
			  "restart aleph-vm-supervisor)", "cannot run systemctl: %s; %s",
			  strerror(-rc), stays(handed_over));
		return EXIT_FAILED;
	}
	/* activating: starting, or waiting to be restarted after a failure */
	if (strcmp(state, "active") && strcmp(state, "reloading") && strcmp(state, "activating")) {
		log_warn(MSG_SUPERVISOR_NOT_RUNNING,
			 log_fixf(fix, sizeof(fix), "start it (systemctl start aleph-vm-supervisor): it "
				  "looks for GPUs when it starts%s", strcmp(state, "failed") ? "" :
				  "; why it failed: journalctl -u aleph-vm-supervisor"),
			 UNIT " is %s: not restarted, and no supervisor confirms the GPUs",
			 state[0] ? state : "in no state systemctl names");
		if (!strcmp(state, "failed"))
			name_raising_functions(cli, LOGL_WARN);
		return -1;
	}
	rc = cli_spawn(restart, cli->json);
	if (rc) {
		log_error(MSG_SUPERVISOR_RESTART, "see journalctl -u aleph-vm-supervisor",
			  "systemctl try-restart " UNIT " failed (%s %d); %s",
			  rc < 0 ? "error" : "status", rc < 0 ? -rc : rc, stays(handed_over));
		return EXIT_FAILED;
	}
	return EXIT_DONE;
}

/* --json: what the supervisor was asked and what it saw.  confirmed: 1, 0,
 * or -1 for not asked; g NULL: no answer. */
static void set_json(struct cli *cli, const char *url, bool restarted, int confirmed,
		     const struct aleph_gpus *g, const struct pci_func *disp, size_t n)
{
	struct json_object *o, *a;
	char ab[PCI_ADDR_LEN];

	if (!cli->doc)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "supervisor_url", json_str_or_null(url));
	json_object_object_add(o, "restarted", json_object_new_boolean(restarted));
	json_object_object_add(o, "confirmed",
			       confirmed < 0 ? NULL : json_object_new_boolean(confirmed));
	a = NULL;
	if (g) {
		a = json_object_new_array();
		for (size_t i = 0; i < g->n; i++)
			json_object_array_add(a, json_object_new_string(pci_addr_fmt(&g->v[i].addr, ab)));
	}
	json_object_object_add(o, "gpus", a);
	a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(pci_addr_fmt(&disp[i].addr, ab)));
	json_object_object_add(o, "display_functions", a);
	json_set(cli, "aleph", o);
}

void cli_aleph_keys(struct cli *cli)
{
	json_set(cli, "aleph", NULL);
}

int cli_aleph_after(struct cli *cli, const struct pci_addr *fns, size_t nfns, bool handed_over)
{
	static const char addr_fix[] = "set ALEPH_VM_SUPERVISOR_HOST and ALEPH_VM_SUPERVISOR_PORT in "
		ALEPH_SUPERVISOR_ENV " to the numeric address of this host and the port the "
		"supervisor listens on (127.0.0.1 and 4020 when unset)";
	struct aleph_endpoint ep;
	struct aleph_env env;
	struct aleph_gpus g = { 0 };
	struct pci_func *disp = NULL;
	char why[512], list[512] = "";
	int rc, err, attempts;
	size_t n;

	if (aleph_env_read(cli->root, &env) < 0 || !env.present)
		return EXIT_DONE;
	if (!cli->aleph) {
		if (!cli->dry_run)
			log_info("this is an Aleph node: aleph-vm detects GPUs only when its supervisor "
				 "starts; run systemctl restart aleph-vm-supervisor, or pass --aleph next time");
		return EXIT_DONE;
	}
	n = display_functions(cli, fns, nfns, &disp);
	for (size_t i = 0, len = 0; i < n && len < sizeof(list); i++) {
		char ab[PCI_ADDR_LEN];
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? " " : "",
					pci_addr_fmt(&disp[i].addr, ab));
	}
	err = aleph_endpoint_get(&env, &ep, why, sizeof(why));
	if (cli->dry_run) {
		cli_plan(cli, "run", NULL, NULL, NULL, "systemctl try-restart " UNIT,
			 "run systemctl try-restart " UNIT);
		/* a wait changes nothing: said, not planned */
		if (!err)
			log_info("then wait up to %g s for %s to %s %s", cli->timeout, ep.url,
				 handed_over ? "list" : "no longer list", n ? list : "(no display function)");
		else
			log_warn(MSG_SUPERVISOR_ADDRESS, addr_fix, "after its restart the supervisor "
				 "could not be asked, and the run would exit 1: %s", why);
		set_json(cli, err ? NULL : ep.url, false, -1, NULL, disp, n);
		free(disp);
		return EXIT_DONE;
	}
	rc = restart(cli, handed_over);
	if (rc) {
		set_json(cli, err ? NULL : ep.url, false, rc < 0 ? -1 : 0, NULL, disp, n);
		free(disp);
		return rc < 0 ? EXIT_DONE : rc;
	}
	if (err) {
		log_error(MSG_SUPERVISOR_ADDRESS, addr_fix, "restarted " UNIT ", but cannot ask it which "
			  "GPUs it sees: %s; %s", why, stays(handed_over));
		set_json(cli, NULL, true, 0, NULL, disp, n);
		free(disp);
		return EXIT_FAILED;
	}
	err = aleph_supervisor_wait(&ep, monotonic_ms() + (long)(cli->timeout * 1000), &g, why,
				    sizeof(why), &attempts);
	log_debug("asked the supervisor %d times", attempts);
	if (err) {
		log_error(MSG_SUPERVISOR_NO_ANSWER, "see systemctl status aleph-vm-supervisor and "
			  "journalctl -u aleph-vm-supervisor; a supervisor slow to start needs a larger "
			  "--timeout", "the Aleph supervisor did not answer at %s within %g s of its "
			  "restart (last try: %s); %s", ep.url, cli->timeout, why, stays(handed_over));
		name_raising_functions(cli, LOGL_ERROR);
		set_json(cli, ep.url, true, 0, NULL, disp, n);
		free(disp);
		return EXIT_FAILED;
	}
	print_gpus(&ep, &g);
	rc = compare(&env, &g, disp, n, handed_over);
	set_json(cli, ep.url, true, rc == EXIT_DONE, &g, disp, n);
	aleph_gpus_free(&g);
	free(disp);
	return rc;
}
