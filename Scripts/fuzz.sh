#!/usr/bin/env bash
# `make fuzz`: libFuzzer over the parts that read untrusted bytes: the SSE parser, selectors,
# the publish body decoder and the YAML configuration loader. Each target runs for FUZZ_SECONDS (default 60); crashes land in
# .build-fuzz/. Not part of `make test`: fuzzing is open-ended by nature.
# The config loader target also builds Yams (and its C part, libyaml) with the sanitizers, from
# the checkout `swift build` made.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
out=.build-fuzz
mkdir -p "$out"
core=(Sources/HeraldCore/SSE/SSEParser.swift Sources/HeraldCore/SSE/SSEEncoder.swift
      Sources/HeraldCore/Model/Selector.swift Sources/HeraldCore/Model/ChannelName.swift
      Sources/HeraldCore/Model/JSONText.swift Sources/HeraldCore/Model/JSONText+Fields.swift
      Sources/HeraldCore/Model/Event.swift Sources/HeraldCore/Model/Clock.swift)
config=(Sources/HeraldCore/Config/ConfigLoader.swift Sources/HeraldCore/Config/ConfigReader.swift
        Sources/HeraldCore/Config/HeraldConfig.swift Sources/HeraldCore/Config/TokenConfig.swift
        Sources/HeraldCore/Routing/KeyTemplate.swift Sources/HeraldCore/Derived/AlertRule.swift)
yams=.build/checkouts/Yams/Sources
[ -d "$yams" ] || swift package resolve
if [ ! -f "$out/yams/libYams.a" ]; then
    mkdir -p "$out/yams"
    for c in "$yams"/CYaml/src/*.c; do
        clang -c -O1 -fsanitize=fuzzer-no-link,address -I "$yams/CYaml/include" "$c" -o "$out/yams/$(basename "$c" .c).o"
    done
    swiftc -sanitize=fuzzer,address -parse-as-library -O -D SWIFT_PACKAGE -module-name Yams -emit-module -emit-module-path "$out/yams/Yams.swiftmodule" \
        -emit-library -static -o "$out/yams/libYams.a" -I "$yams/CYaml/include" "$yams"/Yams/*.swift
fi
for target in SSEParser Selector PublishBody Config; do
    echo "== fuzzing $target for ${seconds}s"
    extra=()
    [ "$target" = Config ] && extra=("${config[@]}" -I "$out/yams" -I "$yams/CYaml/include" "$out/yams/libYams.a" "$out"/yams/*.o)
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name HeraldFuzz \
        "${core[@]}" "${extra[@]}" "Tests/Fuzz/Fuzz$target.swift" -o "$out/fuzz-$target" 2>&1 | grep -v "Cannot export local symbol" || true
    mkdir -p "$out/corpus-$target"
    (cd "$out" && "./fuzz-$target" "corpus-$target" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 2>&1 | tail -n 12)
done
