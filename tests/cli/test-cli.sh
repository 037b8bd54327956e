#!/bin/sh
# Golden-file tests of the command line: each line of cli-cases builds an
# emulated sysfs layout, runs the installed-to-be binary on it, and compares
# stdout, stderr and the exit code with tests/cli/golden/<case>.txt.  It also
# proves that these commands write nothing: the tree and the root are
# snapshotted before and after every run.  And that no command writes
# outside the root: each case has a directory beside its root, "outside"
# (tests/cli/outside/<case>, else one file), that must never change; in a
# root's NAME.symlink, @OUTSIDE@ stands for its absolute path.
# UPDATE_GOLDEN=1 rewrites the golden files from what the binary prints now.
set -u

: "${VH_BIN:?}" "${MKFIXTURE:?}" "${TESTS_SRCDIR:?}"
cases="$TESTS_SRCDIR/cli-cases"
golden="$TESTS_SRCDIR/golden"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-cli.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
kernel=$(uname -r)
pass=0
fail=0

# shellcheck source=fake-kernels.sh
. "$TESTS_SRCDIR/fake-kernels.sh"
fake_kernels_setup || exit 99

# The lock files of ROOT/run/vfio-handover (and the directories made for
# them) coordinate runs; they hold no state: a run that changes nothing
# may still have taken a lock.
not_locks() {
	grep -v -e '/run/vfio-handover/lock\.' -e '/run d ' -e '/run/vfio-handover d '
}

snapshot() {
	# every path with its type, size, mode, link target and content hash
	# (a directory's size is its entries', which are listed themselves)
	find "$@" \( -type d -printf '%p %y %m\n' \) -o -printf '%p %y %s %m %l\n' | not_locks | sort
	find "$@" -type f -exec md5sum {} + | not_locks | sort
}

run_case() {
	name=$1 layout=$2 code=$3
	shift 3
	tree="$tmp/tree-$layout"
	# a case that writes gets a tree of its own
	case "$name" in rw-*) tree="$tmp/tree-$name" ;; esac
	# a link ROOT/etc/x -> ../../outside leads there when it is not confined
	root="$tmp/case-$name/root"
	outside="$tmp/case-$name/outside"
	if [ ! -d "$tree" ] && ! "$MKFIXTURE" "$layout" "$tree" >/dev/null; then
		echo "FAIL $name: mkfixture $layout failed"
		return 1
	fi
	mkdir -p "$root" "$outside"
	if [ -d "$TESTS_SRCDIR/outside/$name" ]; then
		cp -R "$TESTS_SRCDIR/outside/$name/." "$outside/"
		chmod -R u+w "$outside"
	else
		echo "outside the root" > "$outside/sentinel"
	fi
	if [ -d "$TESTS_SRCDIR/roots/$name" ]; then
		cp -R "$TESTS_SRCDIR/roots/$name/." "$root/"
		# (make distcheck's source tree is read-only, and cp keeps modes)
		chmod -R u+w "$root"
		# NAME.symlink holds a link's target: a tarball may drop a dangling link
		find "$root" -name '*.symlink' | while read -r l; do
			ln -s "$(sed "s|@OUTSIDE@|$outside|g" "$l")" "${l%.symlink}" && rm "$l"
		done
	fi
	fake_kernels "$root" || { echo "FAIL $name: depmod failed"; return 1; }
	snapshot "$tree" "$root" > "$tmp/before"
	snapshot "$outside" > "$tmp/outside-before"
	# shellcheck disable=SC2086
	VFIO_HANDOVER_NO_HWDB=1 ${VH_WRAP:-} "$VH_BIN" --sysfs "$tree" --root "$root" "$@" \
		> "$tmp/out" 2> "$tmp/err"
	rc=$?
	snapshot "$tree" "$root" > "$tmp/after"
	snapshot "$outside" > "$tmp/outside-after"
	{
		cat "$tmp/out"
		echo "--- stderr"
		cat "$tmp/err"
		echo "--- exit $rc"
		# what persist and unpersist leave in the root (its /lib and /usr
		# aside), and where a relative link planted in it led a run
		case "$name" in rw-persist*|rw-unpersist*|rw-migrate*|rw-*-link-relative)
			echo "--- files"
			(cd "$root" && for top in *; do case $top in lib|usr|'*') ;;
				*) find "$top" -printf '/%p %y %m\n' ;; esac; done | not_locks |
				sed 's|^/||' | sort)
			(cd "$root" && for top in *; do case $top in lib|usr|'*') ;;
				*) find "$top" -type f ;; esac; done | sort | while read -r f; do
				case /$f in */run/vfio-handover/lock.*) continue ;; esac
				echo "=== $f"
				# a lock file says who held it last: PID and run
				case $f in */lock.*) echo "(a lock file: who held it last, if anyone)" ;;
				*) cat "$f" ;; esac
			done) ;;
		esac
		# what apply records for check
		case "$name" in rw-apply*)
			echo "--- run/vfio-handover/apply.json"
			cat "$root/run/vfio-handover/apply.json" 2>/dev/null ;;
		esac
	} | sed -e "s|$tree|@SYSFS@|g" -e "s|$root|@ROOT@|g" -e "s|$outside|@OUTSIDE@|g" \
		-e "s|$kernel|@KERNEL@|g" \
		-e 's/^run \(update-initramfs -u -k all\|dracut --regenerate-all --force\)$/run @INITRAMFS@/' \
		-e 's|"elapsed_ms": [0-9]*|"elapsed_ms": @MS@|' \
		-e 's#"\(pid\|started_s\|ended_s\)": *[0-9][0-9]*#"\1":@N@#' > "$tmp/actual"
	[ -n "${UPDATE_GOLDEN:-}" ] && cp "$tmp/actual" "$golden/$name.txt"
	ok=0
	if [ "$rc" != "$code" ]; then
		echo "FAIL $name: exit $rc, expected $code"
		ok=1
	fi
	if ! diff -u "$golden/$name.txt" "$tmp/actual"; then
		echo "FAIL $name: output differs from tests/cli/golden/$name.txt"
		ok=1
	fi
	if ! diff -u "$tmp/outside-before" "$tmp/outside-after"; then
		echo "FAIL $name: the command changed files outside the root"
		ok=1
	fi
	# only rw-* cases may write (to the emulated tree and the root)
	case "$name" in
	rw-*) ;;
	*)	if ! diff -u "$tmp/before" "$tmp/after"; then
			echo "FAIL $name: the command changed the tree or the root"
			ok=1
		fi ;;
	esac
	[ $ok = 0 ] && echo "ok $name"
	return $ok
}

while read -r name layout code args; do
	case "$name" in ''|'#'*) continue ;; esac
	# arguments may be quoted in cli-cases (an empty selector: '')
	eval "set -- $args"
	if run_case "$name" "$layout" "$code" "$@"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
done < "$cases"

echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
