#!/bin/sh
# The Ansible collection contrib/ansible, linted as Galaxy would take it:
# Debian's ansible-lint with the production profile (the collection and
# this directory's playbooks), then ansible-test sanity on a copy at
# ansible_collections/vfio_handover/gpu.  ansible-test runs its tests
# from the local Python; those it runs only in a virtual environment it
# fills from PyPI (ansible-doc, import, pep8, pylint, runtime-metadata,
# validate-modules, yamllint) cannot run offline and are left out, by name
# (SANITY_OFFLINE below), then run without it: Debian's pycodestyle,
# pylint, voluptuous (validate-modules) and yamllint through ansible-test's
# own settings, plugins and scripts, and ansible-doc.  Exit 77 (SKIP)
# without ansible-lint or ansible-test; in CI that counts as a failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
collection=$here/../../contrib/ansible
for t in ansible-lint ansible-test ansible-galaxy; do
	command -v $t >/dev/null 2>&1 ||
		{ echo "SKIP: $t not found (apt-get install ansible-lint ansible-core)"; exit 77; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-ansible-lint.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0
fail=0
check() {	# WHAT COMMAND...
	what=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then
		pass=$((pass + 1)); echo "ok $what"
	else
		fail=$((fail + 1)); echo "FAIL $what"; sed 's/^/    | /' "$tmp/out"
	fi
}

# the tests that need a virtual environment filled from PyPI
SANITY_OFFLINE="ansible-doc import pep8 pylint runtime-metadata validate-modules yamllint"

coll=$tmp/ansible_collections/vfio_handover/gpu
mkdir -p "$coll"
# the files the collection's tarball holds: what ansible-galaxy builds
(cd "$collection" && tar -cf - --exclude=tests/output .) | tar -C "$coll" -xf -
export ANSIBLE_COLLECTIONS_PATH="$tmp" ANSIBLE_LOCAL_TEMP="$tmp/ansible-local" HOME="$tmp/home" \
	ANSIBLE_NOCOLOR=1 NO_COLOR=1 ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=0
mkdir -p "$HOME"

check "ansible-lint --profile production: the collection" sh -c \
	"cd '$coll' && ansible-lint --nocolor --profile production 2>&1 | tee /dev/stderr | grep -q '^Passed with production profile: 0 failure(s), 0 warning(s)'"
mkdir -p "$tmp/playbooks"
cp "$here"/*.yml "$tmp/playbooks/"
check "ansible-lint --profile production: tests/ansible's playbooks" sh -c \
	"cd '$tmp/playbooks' && ansible-lint --nocolor --profile production *.yml 2>&1 | tee /dev/stderr | grep -q '^Passed with production profile: 0 failure(s), 0 warning(s)'"

tests=$(cd "$coll" && ansible-test sanity --list-tests 2>/dev/null)
run=""
for t in $tests; do
	case " $SANITY_OFFLINE " in *" $t "*) continue ;; esac
	run="$run --test $t"
done
echo "ansible-test sanity runs:$(echo "$run" | sed 's/--test //g')"
echo "ansible-test sanity leaves out (PyPI): $SANITY_OFFLINE"
# shellcheck disable=SC2086
check "ansible-test sanity ($(echo $run | wc -w | awk '{print $1 / 2}') tests)" sh -c \
	"cd '$coll' && ansible-test sanity --local --python $(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])') $run"

# The tests ansible-test runs only from PyPI, run here with Debian's own
# packages and ansible-test's own settings and plugins (Debian's versions,
# not the pinned ones: pycodestyle 2.10 for 2.9.1, pylint 2.16 for 2.15.5);
# what tests/sanity/ignore-X.Y.txt lists is left out, as ansible-test does.
sanity=$(/usr/bin/python3 -c 'import ansible_test, os; print(os.path.join(os.path.dirname(ansible_test.__file__), "_util/controller/sanity"))')
ignores=$coll/tests/sanity/ignore-$(ansible --version | sed -n '1s/.*core \([0-9]*\.[0-9]*\).*/\1/p').txt
py=$(cd "$coll" && find plugins -name "*.py" | sort | tr "\n" " ")
unignored() {	# TEST: the output ($tmp/raw) less the lines ignored for TEST
	while read -r path code _; do
		case $code in "$1":*) echo "${path}:0:0: E${code#"$1":}" ;; esac
	done <"$ignores" >"$tmp/ignored"
	grep -v -F -f "$tmp/ignored" "$tmp/raw" || true
}
if /usr/bin/python3 -c 'import pycodestyle' 2>/dev/null; then
	# shellcheck disable=SC2086
	check "pep8 (pycodestyle, ansible-test's settings)" sh -c "cd '$coll' && /usr/bin/python3 -m pycodestyle \
		--max-line-length 160 --config /dev/null --ignore $(paste -sd, "$sanity/pep8/current-ignore.txt") $py"
else
	fail=$((fail + 1)); echo "FAIL pep8: no pycodestyle (apt-get install pycodestyle)"
fi
if /usr/bin/python3 -c 'import pylint' 2>/dev/null; then
	# shellcheck disable=SC2086
	check "pylint (ansible-test's collection.cfg and plugins)" sh -c "cd '$tmp' && \
		ANSIBLE_TEST_MODULES_PATH=/usr/lib/python3/dist-packages/ansible/modules \
		ANSIBLE_TEST_MODULE_UTILS_PATH=/usr/lib/python3/dist-packages/ansible/module_utils \
		PYTHONPATH='$tmp:$sanity/pylint/plugins' /usr/bin/python3 -m pylint \
		--rcfile '$sanity/pylint/config/collection.cfg' --load-plugins deprecated,string_format,unwanted \
		$(for f in $py; do printf 'ansible_collections/vfio_handover/gpu/%s ' "$f"; done)"
else
	fail=$((fail + 1)); echo "FAIL pylint: no pylint (apt-get install pylint)"
fi
if /usr/bin/python3 -c 'import voluptuous' 2>/dev/null; then
	# shellcheck disable=SC2086
	(cd "$coll" && PYTHONPATH="$sanity/validate-modules:$tmp" /usr/bin/python3 \
		"$sanity/validate-modules/validate.py" --format plain --arg-spec \
		--collection ansible_collections/vfio_handover/gpu --collection-version 1.0.0 \
		--plugin-type module $(echo "$py" | tr " " "\n" | grep "^plugins/modules/")) >"$tmp/raw" 2>&1
	unignored validate-modules >"$tmp/left"
	check "validate-modules (ansible-test's, less tests/sanity's ignores)" sh -c \
		"cat '$tmp/left'; [ ! -s '$tmp/left' ]"
else
	fail=$((fail + 1)); echo "FAIL validate-modules: no voluptuous (apt-get install python3-voluptuous)"
fi
for m in handover facts; do
	check "ansible-doc vfio_handover.gpu.$m renders" ansible-doc --json "vfio_handover.gpu.$m"
done
# (the YAML files; the modules' documentation blocks are ansible-doc's above)
check "yamllint (ansible-test's default.yml)" sh -c "cd '$coll' && yamllint -s -c '$sanity/yamllint/config/default.yml' \
	\$(find . -name '*.yml' -o -name '*.yaml')"

echo "ansible-lint: $pass passed, $fail failed"
[ $fail -eq 0 ]
