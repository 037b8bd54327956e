/* The journal's text is validated whole before anything uses it: every
 * form a journal_save never writes is refused, with where and what. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "journal.h"
#include "testlib.h"

/* A journal with two entries; ENTRY1 is the second one's text. */
#define DOC(top, entry1) \
	"{ \"format_version\": 1, \"pid\": 4242, " top "\"functions\": [ " \
	"{ \"address\": \"0000:01:00.0\", \"vendor_id\": \"10de\", \"device_id\": \"27b0\", " \
	"\"driver_before\": \"nvidia\", \"driver_override_before\": null, \"step\": \"verified\" }, " \
	entry1 " ] }"
#define ENTRY(addr, vid, did, drv, ovr, step) \
	"{ \"address\": " addr ", \"vendor_id\": " vid ", \"device_id\": " did ", " \
	"\"driver_before\": " drv ", \"driver_override_before\": " ovr ", \"step\": " step " }"
#define AUDIO(vid, did, drv, ovr, step) ENTRY("\"0000:01:00.1\"", vid, did, drv, ovr, step)
/* Version 2: driver_module with driver_before. */
#define V2(entry) "{ \"format_version\": 2, \"pid\": 1, \"functions\": [ " entry " ] }"
#define ENTRY2(drv, mod) \
	"{ \"address\": \"0000:01:00.0\", \"vendor_id\": \"10de\", \"device_id\": \"27b0\", " \
	"\"driver_before\": " drv ", \"driver_module\": " mod ", \"driver_override_before\": null, " \
	"\"step\": \"verified\" }"
/* Version 3: vfio_driver, the driver it is handed to. */
#define V3(entry) "{ \"format_version\": 3, \"pid\": 1, \"functions\": [ " entry " ] }"
#define ENTRY3(vfio) \
	"{ \"address\": \"0009:01:00.0\", \"vendor_id\": \"10de\", \"device_id\": \"2342\", " \
	"\"driver_before\": \"nvidia\", \"driver_module\": \"nvidia\", " \
	"\"driver_override_before\": null, \"vfio_driver\": " vfio ", \"step\": \"complete\" }"
#define GOOD_AUDIO AUDIO("\"10de\"", "\"22bc\"", "\"snd_hda_intel\"", "null", "\"verified\"")

static int parse(const char *text, char *why, size_t len)
{
	struct journal j;
	int err = journal_parse(text, strlen(text), &j, why, len);

	if (err == 0)
		journal_free(&j);
	else
		ck_assert_uint_eq(j.n, 0);
	return err;
}

START_TEST(valid_journals)
{
	static const char *const ok[] = {
		DOC("", GOOD_AUDIO),
		DOC("", AUDIO("\"10DE\"", "\"22BC\"", "null", "\"pci-stub\"", "\"recorded\"")),
		DOC("", AUDIO("\"10de\"", "\"22bc\"", "\"snd_hda_intel\"", "\"my driver.v2\"", "\"probed\"")),
		"{\"format_version\": 1, \"pid\": 1, \"functions\": []}\n\n",
		V2(ENTRY2("\"nvidia\"", "\"nvidia\"")),
		V2(ENTRY2("\"nvidia-gpu\"", "\"i2c_nvidia_gpu\"")),
		V2(ENTRY2("\"pcieport\"", "null")),
		V2(ENTRY2("null", "null")),
		V3(ENTRY3("\"nvgrace_gpu_vfio_pci\"")),
		V3(ENTRY3("\"vh-variant-vfio-pci\"")),
	};
	char why[512];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		ck_assert_msg(parse(ok[i], why, sizeof(why)) == 0, "%zu: refused: %s", i, why);
}
END_TEST

START_TEST(parse_gives_the_entries)
{
	const char *text = DOC("", AUDIO("\"10de\"", "\"22bc\"", "null", "\"pci-stub\"", "\"unbound\""));
	struct journal j;
	char why[512];

	ck_assert_int_eq(journal_parse(text, strlen(text), &j, why, sizeof(why)), 0);
	ck_assert_uint_eq(j.n, 2);
	ck_assert_str_eq(j.e[0].driver, "nvidia");
	ck_assert_str_eq(j.e[0].override, "");
	ck_assert_uint_eq(j.e[0].vendor, 0x10de);
	ck_assert_uint_eq(j.e[1].device, 0x22bc);
	ck_assert_str_eq(j.e[1].driver, "");
	ck_assert_str_eq(j.e[1].override, "pci-stub");
	ck_assert_int_eq(j.e[1].step, STEP_UNBOUND);
	/* before version 3 every hand-over was to vfio-pci */
	ck_assert_str_eq(j.e[1].vfio_driver, "vfio-pci");
	journal_free(&j);
	text = V3(ENTRY3("\"nvgrace_gpu_vfio_pci\""));
	ck_assert_int_eq(journal_parse(text, strlen(text), &j, why, sizeof(why)), 0);
	ck_assert_str_eq(j.e[0].vfio_driver, "nvgrace_gpu_vfio_pci");
	journal_free(&j);
}
END_TEST

/* Version 1 marked no run complete: its "verified" is taken as the end of
 * a whole hand-over (a failed bind then leaves it alone); version 2 says. */
START_TEST(complete_steps)
{
	const char *v1 = DOC("", GOOD_AUDIO);
	const char *v2 = V2("{ \"address\": \"0000:01:00.0\", \"vendor_id\": \"10de\", "
			    "\"device_id\": \"27b0\", \"driver_before\": null, \"driver_module\": null, "
			    "\"driver_override_before\": null, \"step\": \"verified\" }, "
			    "{ \"address\": \"0000:01:00.1\", \"vendor_id\": \"10de\", "
			    "\"device_id\": \"22bc\", \"driver_before\": null, \"driver_module\": null, "
			    "\"driver_override_before\": null, \"step\": \"complete\" }");
	struct journal j;
	char why[512];

	ck_assert_int_eq(journal_parse(v1, strlen(v1), &j, why, sizeof(why)), 0);
	ck_assert_int_eq(j.e[0].step, STEP_COMPLETE);
	ck_assert_int_eq(j.e[1].step, STEP_COMPLETE);
	journal_free(&j);
	ck_assert_msg(journal_parse(v2, strlen(v2), &j, why, sizeof(why)) == 0, "%s", why);
	ck_assert_int_eq(j.e[0].step, STEP_VERIFIED);
	ck_assert_int_eq(j.e[1].step, STEP_COMPLETE);
	ck_assert_str_eq(journal_step_name(j.e[1].step), "complete");
	journal_free(&j);
}
END_TEST

static const struct {
	const char *text;
	const char *why;        /* what the message must say */
} bad[] = {
	/* the examples */
	{ DOC("", AUDIO("\"10de\"", "\"22bc\"", "\"../../../etc\"", "null", "\"verified\"")),
	  "functions[1] (0000:01:00.1): driver_before: \"../../../etc\" is not a driver name" },
	{ DOC("", AUDIO("\"-001\"", "\"22bc\"", "\"snd_hda_intel\"", "null", "\"verified\"")),
	  "functions[1] (0000:01:00.1): vendor_id: \"-001\" is not four hex digits" },
	{ DOC("", AUDIO("\"10de\"", "\" fff\"", "\"snd_hda_intel\"", "null", "\"verified\"")),
	  "functions[1] (0000:01:00.1): device_id: \" fff\" is not four hex digits" },
	{ DOC("", AUDIO("\"0x12\"", "\"22bc\"", "\"snd_hda_intel\"", "null", "\"verified\"")),
	  "vendor_id: \"0x12\" is not four hex digits" },
	{ "{ \"format_version\": 4, \"pid\": 1, \"functions\": [] }",
	  "format_version: 4 is not a version this vfio-handover reads" },
	/* the driver handed to: a driver's name, from version 3, always there */
	{ V3(ENTRY3("\"../vfio-pci\"")), "functions[0] (0009:01:00.0): vfio_driver: \"../vfio-pci\" "
	  "is not a driver name" },
	{ V3(ENTRY3("null")), "functions[0] (0009:01:00.0): vfio_driver: " },
	{ V3(ENTRY2("\"nvidia\"", "\"nvidia\"")), "functions[0] (0000:01:00.0): vfio_driver: missing" },
	{ V2(ENTRY3("\"vfio-pci\"")), "vfio_driver is not in a version 2 journal" },
	{ "{ \"format_version\": 0, \"pid\": 1, \"functions\": [] }", "format_version: 0 is not" },
	{ "{ \"format_version\": \"1\", \"pid\": 1, \"functions\": [] }", "format_version: not an integer" },
	{ "{ \"format_version\": 1.0, \"pid\": 1, \"functions\": [] }", "format_version: not an integer" },
	{ "{ \"pid\": 1, \"functions\": [] }", "format_version: missing" },
	{ "{ \"format_version\": 1, \"pid\": 0, \"functions\": [] }", "pid: 0 is not between 1 and" },
	{ "{ \"format_version\": 1, \"pid\": -7, \"functions\": [] }", "pid: -7 is not" },
	{ "{ \"format_version\": 1, \"pid\": \"7\", \"functions\": [] }", "pid: not an integer" },
	{ "{ \"format_version\": 1, \"pid\": 99999999999, \"functions\": [] }", "pid: 99999999999 is not" },
	{ "{ \"format_version\": 1, \"functions\": [] }", "pid: missing" },
	{ "{ \"format_version\": 1, \"pid\": 1 }", "functions: missing" },
	{ "{ \"format_version\": 1, \"pid\": 1, \"functions\": {} }", "functions: not an array" },
	/* the document */
	{ "", "not JSON" },
	{ "{ \"format_version\": 1, ", "not JSON" },
	{ "[]", "not a JSON object" },
	{ "{ \"format_version\": 1, \"pid\": 1, \"functions\": [] } []", "at byte 51" },
	{ "{ \"format_version\": 1, \"pid\": 1, \"functions\": [] } x", "at byte 51" },
	{ "{ format_version: 1 }", "not JSON" },
	{ DOC("\"function\": [], ", GOOD_AUDIO), "unknown key \"function\"" },
	/* entries */
	{ DOC("", "7"), "functions[1]: not an object" },
	{ DOC("", ENTRY("\"../../etc\"", "\"10de\"", "\"22bc\"", "null", "null", "\"verified\"")),
	  "functions[1]: address: \"../../etc\" is not a PCI address" },
	{ DOC("", ENTRY("\"01:00.1\"", "\"10de\"", "\"22bc\"", "null", "null", "\"verified\"")),
	  "functions[1]: address: \"01:00.1\" is not a PCI address" },
	{ DOC("", ENTRY("\"0000:0A:00.1\"", "\"10de\"", "\"22bc\"", "null", "null", "\"verified\"")),
	  "functions[1]: address: \"0000:0A:00.1\" is not a PCI address" },
	{ DOC("", ENTRY("\"0000:01:00.8\"", "\"10de\"", "\"22bc\"", "null", "null", "\"verified\"")),
	  "is not a PCI address" },
	{ DOC("", ENTRY("\"0000:01:00.1 \"", "\"10de\"", "\"22bc\"", "null", "null", "\"verified\"")),
	  "is not a PCI address" },
	{ DOC("", ENTRY("null", "\"10de\"", "\"22bc\"", "null", "null", "\"verified\"")),
	  "functions[1]: address: not a string" },
	{ DOC("", ENTRY("\"0000:01:00.0\"", "\"10de\"", "\"22bc\"", "null", "null", "\"verified\"")),
	  "functions[1] (0000:01:00.0): address: a second entry for 0000:01:00.0" },
	{ DOC("", AUDIO("\"10de\"", "\"22bc0\"", "\"snd_hda_intel\"", "null", "\"verified\"")),
	  "device_id: \"22bc0\" is not four hex digits" },
	{ DOC("", AUDIO("\"10de\"", "\"2bc\"", "\"snd_hda_intel\"", "null", "\"verified\"")),
	  "device_id: \"2bc\" is not four hex digits" },
	{ DOC("", AUDIO("4318", "\"22bc\"", "\"snd_hda_intel\"", "null", "\"verified\"")),
	  "vendor_id: not a string" },
	{ DOC("", AUDIO("\"10de\"", "\"22bc\"", "\"\"", "null", "\"verified\"")),
	  "driver_before: \"\" is not a driver name" },
	{ DOC("", AUDIO("\"10de\"", "\"22bc\"", "\"..\"", "null", "\"verified\"")),
	  "driver_before: \"..\" is not a driver name" },
	{ DOC("", AUDIO("\"10de\"", "\"22bc\"", "\"snd/hda\"", "null", "\"verified\"")),
	  "driver_before: \"snd/hda\" is not a driver name" },
	{ DOC("", AUDIO("\"10de\"", "\"22bc\"", "\"nvidia\\u0000x\"", "null", "\"verified\"")),
	  "driver_before: holds a NUL character" },
	{ DOC("", AUDIO("\"10de\"", "\"22bc\"", "1", "null", "\"verified\"")),
	  "driver_before: not a string or null" },
	{ DOC("", AUDIO("\"10de\"", "\"22bc\"", "null", "\"vfio-pci\\nx\"", "\"verified\"")),
	  "driver_override_before: \"vfio-pci\\x0ax\" is not a driver_override that can be restored" },
	{ DOC("", AUDIO("\"10de\"", "\"22bc\"", "null", "\"(null)\"", "\"verified\"")),
	  "driver_override_before: \"(null)\" is not" },
	{ DOC("", AUDIO("\"10de\"", "\"22bc\"", "null", "\"pci-stub \"", "\"verified\"")),
	  "driver_override_before: \"pci-stub \" is not" },
	{ DOC("", AUDIO("\"10de\"", "\"22bc\"", "null", "\"\"", "\"verified\"")),
	  "driver_override_before: \"\" is not" },
	{ DOC("", AUDIO("\"10de\"", "\"22bc\"", "null", "\"\\u001b[2J\"", "\"verified\"")),
	  "driver_override_before: \"\\x1b[2J\" is not" },
	{ DOC("", AUDIO("\"10de\"", "\"22bc\"", "\"snd_hda_intel\"", "null", "\"done\"")),
	  "functions[1] (0000:01:00.1): step: \"done\" is not a step" },
	{ DOC("", AUDIO("\"10de\"", "\"22bc\"", "\"snd_hda_intel\"", "null", "null")),
	  "step: not a string" },
	{ DOC("", "{ \"address\": \"0000:01:00.1\", \"vendor_id\": \"10de\", \"device_id\": \"22bc\", "
		  "\"driver_befor\": null, \"driver_override_before\": null, \"step\": \"verified\" }"),
	  "functions[1] (0000:01:00.1): unknown key \"driver_befor\"" },
	{ DOC("", "{ \"address\": \"0000:01:00.1\", \"vendor_id\": \"10de\", \"device_id\": \"22bc\", "
		  "\"driver_override_before\": null, \"step\": \"verified\" }"),
	  "functions[1] (0000:01:00.1): driver_before: missing" },
	/* driver_module (version 2) */
	{ V2(ENTRY2("\"nvidia\"", "\"../nvidia\"")),
	  "functions[0] (0000:01:00.0): driver_module: \"../nvidia\" is not a module name" },
	{ V2(ENTRY2("\"nvidia\"", "\"nvidia.ko\"")), "driver_module: \"nvidia.ko\" is not a module name" },
	{ V2(ENTRY2("\"nvidia\"", "\"\"")), "driver_module: \"\" is not a module name" },
	{ V2(ENTRY2("\"nvidia\"", "7")), "driver_module: not a string or null" },
	{ V2(ENTRY2("null", "\"nvidia\"")), "driver_module: \"nvidia\" without a driver_before" },
	{ "{ \"format_version\": 1, \"pid\": 1, \"functions\": [ " ENTRY2("\"nvidia\"", "\"nvidia\"") " ] }",
	  "functions[0] (0000:01:00.0): driver_module is not in a version 1 journal" },
	/* "complete" (a whole run read back) is version 2's */
	{ DOC("", AUDIO("\"10de\"", "\"22bc\"", "\"snd_hda_intel\"", "null", "\"complete\"")),
	  "functions[1] (0000:01:00.1): step: \"complete\" is not a step" },
};

START_TEST(invalid_journals)
{
	char why[512];

	ck_assert_msg(parse(bad[_i].text, why, sizeof(why)) == -EBADMSG, "%d: accepted: %s",
		      _i, bad[_i].text);
	ck_assert_msg(strstr(why, bad[_i].why) != NULL, "%d: says \"%s\", not \"%s\"", _i, why,
		      bad[_i].why);
}
END_TEST

/* A driver_override longer than an entry holds would come back cut. */
START_TEST(override_too_long)
{
	char ovr[sizeof(((struct journal_entry *)0)->override) + 8];
	char text[sizeof(ovr) + 512], why[512];

	memset(ovr, 'a', sizeof(ovr) - 1);
	ovr[sizeof(ovr) - 1] = '\0';
	snprintf(text, sizeof(text), "{ \"format_version\": 1, \"pid\": 1, \"functions\": [ "
		 "{ \"address\": \"0000:01:00.1\", \"vendor_id\": \"10de\", \"device_id\": \"22bc\", "
		 "\"driver_before\": null, \"driver_override_before\": \"%s\", \"step\": \"verified\" } ] }",
		 ovr);
	ck_assert_int_eq(parse(text, why, sizeof(why)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(why, "driver_override_before"));
	ovr[JOURNAL_OVERRIDE_MAX] = '\0';       /* the longest it records */
	snprintf(text, sizeof(text), "{ \"format_version\": 1, \"pid\": 1, \"functions\": [ "
		 "{ \"address\": \"0000:01:00.1\", \"vendor_id\": \"10de\", \"device_id\": \"22bc\", "
		 "\"driver_before\": null, \"driver_override_before\": \"%s\", \"step\": \"verified\" } ] }",
		 ovr);
	ck_assert_msg(parse(text, why, sizeof(why)) == 0, "%s", why);
}
END_TEST

/* A NUL byte in the file, and a message that says where without a why. */
START_TEST(nul_byte_and_no_why)
{
	static const char text[] = "{ \"format_version\": 1, \"pid\": 1, \"functions\": [] }\0 ";
	struct journal j;
	char why[128];

	ck_assert_int_eq(journal_parse(text, sizeof(text) - 1, &j, why, sizeof(why)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(why, "NUL byte"));
	ck_assert_int_eq(journal_parse(bad[0].text, strlen(bad[0].text), &j, NULL, 0), -EBADMSG);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, valid_journals);
	tcase_add_test(tc, parse_gives_the_entries);
	tcase_add_test(tc, complete_steps);
	tcase_add_loop_test(tc, invalid_journals, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, override_too_long);
	tcase_add_test(tc, nul_byte_and_no_why);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
