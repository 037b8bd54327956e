/* The compiled-in model table and the Aleph supervisor.env reader. */
#include <check.h>
#include "testlib.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "aleph.h"
#include "models.h"

START_TEST(models_every_id)
{
	/* every id of the shared table, with its model */
	static const struct { unsigned dev; const char *model; } ids[] = {
		{ 0x26b9, "L40S" }, { 0x2b85, "RTX 5090" }, { 0x2b87, "RTX 5090" },
		{ 0x2b8c, "RTX 5090" }, { 0x2684, "RTX 4090" }, { 0x2685, "RTX 4090" },
		{ 0x2204, "RTX 3090" }, { 0x2203, "RTX 3090" }, { 0x27b0, "RTX 4000 ADA" },
		{ 0x27b2, "RTX 4000 ADA" }, { 0x2330, "H100" }, { 0x2331, "H100" },
		{ 0x2321, "H100" }, { 0x2336, "H100" }, { 0x2337, "H100" }, { 0x2338, "H100" },
		{ 0x2339, "H100" }, { 0x233d, "H100" }, { 0x2313, "H100" }, { 0x20b5, "A100" },
		{ 0x20f1, "A100" }, { 0x20b1, "A100" }, { 0x20b0, "A100" }, { 0x20b2, "A100" },
		{ 0x2080, "A100" }, { 0x2081, "A100" }, { 0x20b8, "A100" },
	};

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		const struct gpu_model *m = gpu_model_find(0x10de, ids[i].dev);
		ck_assert_msg(m, "10de:%04x not in the table", ids[i].dev);
		ck_assert_str_eq(m->name, ids[i].model);
	}
	ck_assert_uint_eq(gpu_models_count, 7);
}
END_TEST

START_TEST(models_rows)
{
	const struct gpu_model *m = gpu_model_find(0x10de, 0x27b0);

	ck_assert_str_eq(m->tier, "standard");
	ck_assert_int_eq(m->vcpu, 3);
	ck_assert_int_eq(m->ram_gb, 18);
	ck_assert_int_eq(m->vram_gb, 20);
	ck_assert_double_eq_tol(m->aleph_per_hour, 0.84, 1e-9);
	m = gpu_model_find(0x10de, 0x2330);
	ck_assert_str_eq(m->tier, "premium");
	ck_assert_int_eq(m->vcpu, 24);
	ck_assert_double_eq_tol(m->aleph_per_hour, 13.33, 1e-9);
	/* audio functions are not GPUs, unknown ids are unknown */
	ck_assert_ptr_null(gpu_model_find(0x10de, 0x22bc));
	ck_assert(gpu_model_is_audio(0x10de, 0x22bc));
	ck_assert(gpu_model_is_audio(0x10de, 0x22e8));
	ck_assert_ptr_null(gpu_model_find(0x10de, 0x2687));   /* no such device */
	ck_assert_ptr_null(gpu_model_find(0x1002, 0x27b0));   /* right device, wrong vendor */
}
END_TEST

static char root[] = "/tmp/vh-aleph-XXXXXX";

START_TEST(aleph_env)
{
	struct aleph_env e;

	ck_assert_ptr_nonnull(mkdtemp(root));
	ck_assert_int_eq(aleph_env_read(root, &e), 0);
	ck_assert(!e.present);
	write_supervisor_env(root, "# node\nALEPH_VM_ENABLE_GPU_SUPPORT=False\n"
		  "export ALEPH_VM_PAYMENT_RECEIVER_ADDRESS=\"0x1234567890abcdef1234567890ABCDEF12345678\"\n"
		  "ALEPH_VM_ENABLE_GPU_SUPPORT = True\n");
	ck_assert_int_eq(aleph_env_read(root, &e), 0);
	ck_assert(e.present);
	ck_assert(e.has_gpu_support);
	ck_assert_str_eq(e.gpu_support, "True");          /* the last one wins */
	ck_assert(aleph_truthy(e.gpu_support));
	ck_assert(e.has_receiver);
	ck_assert(aleph_address_valid(e.receiver));
	write_supervisor_env(root, "ALEPH_VM_PAYMENT_RECEIVER_ADDRESS=\nOTHER=1\n");
	ck_assert_int_eq(aleph_env_read(root, &e), 0);
	ck_assert(!e.has_gpu_support);
	ck_assert(!e.has_receiver);
	ck_assert(!aleph_truthy("False"));
	ck_assert(!aleph_address_valid("0x12"));
	ck_assert(!aleph_address_valid("1234567890abcdef1234567890ABCDEF1234567890"));
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("models");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, models_every_id);
	tcase_add_test(tc, models_rows);
	tcase_add_test(tc, aleph_env);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
