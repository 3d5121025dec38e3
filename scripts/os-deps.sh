#!/usr/bin/env bash
# Install the OS packages docner needs, only where they are missing: a Java 17+ runtime
# (Spark 4.1) and Tesseract with English data. Debian/Ubuntu (apt-get); root or sudo.
set -euo pipefail

need=()
java_major() {
  java -version 2>&1 | sed -nE 's/.*version "([0-9]+)(\.[0-9]+)*.*".*/\1/p' | head -n1
}
if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ] 2>/dev/null || [ -z "$(java_major)" ]; then
  need+=(openjdk-17-jre-headless)
fi
if ! command -v tesseract >/dev/null 2>&1; then
  need+=(tesseract-ocr tesseract-ocr-eng)
elif ! tesseract --list-langs 2>/dev/null | grep -qx eng; then
  need+=(tesseract-ocr-eng)
fi
# Headless Chromium renders the HTML report in the tests (`docner report`), with a font for its text.
if ! command -v chromium >/dev/null 2>&1; then
  need+=(chromium fonts-dejavu-core)
fi

if [ ${#need[@]} -eq 0 ]; then
  echo "os-deps: java $(java_major) and tesseract (eng) present"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "os-deps: missing ${need[*]} and no apt-get here; install them with your package manager" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "os-deps: installing ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
