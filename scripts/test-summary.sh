#!/usr/bin/env bash
# Prints the closing line of a test run from XCTest's log: "N passed, N failed".
log="$1"
passed=$(grep -c "^Test Case '.*' passed" "$log")
failed=$(grep -c "^Test Case '.*' failed" "$log")
echo "tests: $passed passed, $failed failed"
