#!/usr/bin/env bash
# Makes sure an OpenJDK 17 and Maven are available for the real Apache
# Cassandra 5.0 and Apache Kafka 4.x test servers (their jars come from Maven
# Central). Source it: it exports JAVA_HOME (a JDK 17: Cassandra 5.0 runs on
# 11 or 17, never on 24+; Kafka 4 needs 17+), puts its java first on PATH and
# sets EXAM_JAR_CACHE, the folder outside the checkout where downloaded jars
# are kept between runs. Installs Debian's openjdk-17-jdk-headless and maven
# when missing; fails loudly when it cannot.
set -euo pipefail
_ej_sudo=""; [ "$(id -u)" -ne 0 ] && _ej_sudo="sudo"

_ej_find_jdk17() {
  local d
  for d in /usr/lib/jvm/java-17-openjdk-* /usr/lib/jvm/openjdk-17 /usr/lib/jvm/temurin-17-*; do
    if [ -x "$d/bin/java" ]; then
      if "$d/bin/java" -version 2>&1 | grep -q 'version "17\.'; then echo "$d"; return 0; fi
    fi
  done
  return 1
}

if [ -z "${JAVA_HOME:-}" ] || ! "${JAVA_HOME}/bin/java" -version 2>&1 | grep -q 'version "17\.'; then
  if ! JAVA_HOME=$(_ej_find_jdk17); then
    echo "ensure-java: installing Debian's openjdk-17-jdk-headless" >&2
    $_ej_sudo apt-get update -qq
    $_ej_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless >/dev/null
    JAVA_HOME=$(_ej_find_jdk17) || { echo "ensure-java: no OpenJDK 17 after installing it" >&2; exit 1; }
  fi
fi
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"
if ! command -v mvn >/dev/null 2>&1; then
  echo "ensure-java: installing Debian's maven" >&2
  $_ej_sudo apt-get update -qq
  $_ej_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven >/dev/null
fi
command -v mvn >/dev/null 2>&1 || { echo "ensure-java: Maven (mvn) is missing" >&2; exit 1; }
export EXAM_JAR_CACHE="${EXAM_JAR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/examhall/jars}"
mkdir -p "$EXAM_JAR_CACHE"
unset _ej_sudo
