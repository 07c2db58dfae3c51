#!/usr/bin/env bash
# `make fuzz`: libFuzzer over the parts that read untrusted bytes: the SSE parser, selectors and
# the publish body decoder. Each target runs for FUZZ_SECONDS (default 60); crashes land in
# .build-fuzz/. Not part of `make test`: fuzzing is open-ended by nature.
# (The YAML config loader is not here: it would need Yams built with the fuzzer; its own
# validation is covered by unit tests.)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
out=.build-fuzz
mkdir -p "$out"
core=(Sources/HeraldCore/SSE/SSEParser.swift Sources/HeraldCore/SSE/SSEEncoder.swift
      Sources/HeraldCore/Model/Selector.swift Sources/HeraldCore/Model/ChannelName.swift
      Sources/HeraldCore/Model/JSONText.swift Sources/HeraldCore/Model/JSONText+Fields.swift
      Sources/HeraldCore/Model/Event.swift Sources/HeraldCore/Model/Clock.swift)
for target in SSEParser Selector PublishBody; do
    echo "== fuzzing $target for ${seconds}s"
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name HeraldFuzz \
        "${core[@]}" "Tests/Fuzz/Fuzz$target.swift" -o "$out/fuzz-$target"
    mkdir -p "$out/corpus-$target"
    (cd "$out" && "./fuzz-$target" "corpus-$target" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 2>&1 | tail -n 12)
done
