#!/bin/sh
# Every seed corpus (tests/fuzz/corpus/TARGET) through its fuzz target once,
# built without libFuzzer (tests/fuzz/replay.c): a broken property aborts.
# `make fuzz` is what searches for new inputs; this keeps the found ones.
set -eu
: "${FUZZ_CORPUS:?}" "${FUZZ_REPLAY_DIR:?}"

status=0
for dir in "$FUZZ_CORPUS"/*/; do
	t=$(basename "$dir")
	if ! "$FUZZ_REPLAY_DIR/replay-$t" "$dir"; then
		echo "FAIL: the corpus of $t (an input above broke a property)"
		status=1
	fi
done
exit $status
