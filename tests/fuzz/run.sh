#!/bin/sh
# tests/fuzz/run.sh SRCDIR WORKDIR HARNESS... - what `make fuzz` runs.
#
# Runs each libFuzzer harness for FUZZ_SECONDS (default 60) seconds
# (-max_total_time), one after the other, on a fresh copy of its seed
# corpus SRCDIR/corpus/NAME (the copy, in WORKDIR/NAME/corpus, is where
# libFuzzer adds what it finds: the source tree is never written), with
# SRCDIR/NAME.dict when there is one.  Prints each harness's executions;
# exits 1 when any harness crashed, leaked, failed a check or timed out
# (an input slower than FUZZ_TIMEOUT, default 10 s), naming the input it
# saved (WORKDIR/NAME/crash-*, leak-*, timeout-*) and the end of its log.
# FUZZ_ARGS: more libFuzzer options (e.g. -jobs=2 or -seed=1).
set -u
srcdir=$1 work=$2
shift 2
seconds=${FUZZ_SECONDS:-60}
timeout=${FUZZ_TIMEOUT:-10}
# Leaks are errors (libFuzzer's -detect_leaks=1 is the default; say so),
# every UBSan report stops the run with a stack.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS

failed=""
for harness in "$@"; do
    name=$(basename "$harness")
    dir=$work/$name
    rm -rf "$dir"
    mkdir -p "$dir/corpus"
    [ -d "$srcdir/corpus/$name" ] && cp "$srcdir/corpus/$name"/* "$dir/corpus/"
    seeds=$(ls "$dir/corpus" | wc -l)
    dict=""
    [ -f "$srcdir/$name.dict" ] && dict=$srcdir/$name.dict
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
    "$harness" -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 \
        -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$dir/" \
        ${dict:+"-dict=$dict"} ${FUZZ_ARGS:-} "$dir/corpus" > "$dir/log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
    corpus=$(ls "$dir/corpus" | wc -l)
    if [ $rc -eq 0 ]; then
        echo "fuzz: $name: ${execs:-?} executions in $seconds s, corpus $seeds -> $corpus inputs"
    else
        echo "fuzz: $name: FAILED (exit status $rc) after ${execs:-?} executions; log $dir/log"
        for f in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*; do
            [ -f "$f" ] && echo "fuzz: $name: input saved in $f (rerun: $harness $f)"
        done
        tail -n 40 "$dir/log" | sed "s/^/fuzz: $name: /"
        failed="$failed $name"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: FAILED:$failed"
    exit 1
fi
echo "fuzz: every harness ran $seconds s without a crash, leak or timeout"
