#!/bin/sh
# The Ansible collection contrib/ansible, linted as Galaxy would take it:
# Debian's ansible-lint with the production profile (the collection and
# this directory's playbooks), then ansible-test sanity on a copy at
# ansible_collections/vfio_handover/gpu.  ansible-test runs its tests
# from the local Python; those it runs only in a virtual environment it
# fills from PyPI (ansible-doc, import, pep8, pylint, runtime-metadata,
# validate-modules, yamllint) cannot run offline and are left out, by name
# (SANITY_OFFLINE below).  Exit 77 (SKIP) without ansible-lint or
# ansible-test; in CI that counts as a failure.
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

echo "ansible-lint: $pass passed, $fail failed"
[ $fail -eq 0 ]
