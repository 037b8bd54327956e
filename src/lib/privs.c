#include <errno.h>
#include <stdbool.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cap-ng.h>
#include "privs.h"

/* The effective and permitted sets, by capget alone: libcap-ng's
 * capng_get_caps_process reads /proc/self/status twice besides, for the
 * bounding and ambient sets, which this leaves as they are (and which cost
 * milliseconds in an emulated guest, at every start). */
static int caps_now(struct __user_cap_data_struct now[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return syscall(SYS_capget, &hdr, now) < 0 ? -errno : 0;
}

static bool permitted(const struct __user_cap_data_struct now[2], int cap)
{
	return cap >= 0 && cap < 64 && now[cap / 32].permitted & (1u << (cap % 32));
}

int privs_limit(const int *keep, size_t n)
{
	struct __user_cap_data_struct now[2] = { { 0 } };

	if (caps_now(now) < 0)
		return -EPERM;
	if (!now[0].permitted && !now[1].permitted && !now[0].effective && !now[1].effective)
		return 0;               /* nothing to drop */
	capng_clear(CAPNG_SELECT_CAPS);
	/* what it has of keep: one it lacks is refused by what needs it,
	 * with a message that names it, not here */
	for (size_t i = 0; i < n; i++)
		if (permitted(now, keep[i]) &&
		    capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, (unsigned)keep[i]) < 0)
			return -EINVAL;
	if (capng_apply(CAPNG_SELECT_CAPS) < 0)
		return -EPERM;
	return 0;
}
