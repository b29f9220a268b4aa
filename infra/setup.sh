#!/usr/bin/env bash
# Idempotent setup for a fresh machine: Debian packages (nginx, openssl), npm packages,
# the TypeScript build, Kafka's jars, and the corpus of real photographs for the local stack.
# Safe to run before every command; it does only what is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  log "Node.js >= 20 is required (found $(node --version))"; exit 1
fi

# Debian packages (nginx, openssl, GraphicsMagick, wrk, the nginx echo module, libjxl-tools and -dev, libheif's tools, jpegtran, butteraugli, chromium, prometheus, mtail, prometheus-node-exporter, llhttp's sources, libssl-dev, gcc, Ceph). A policy-rc.d that forbids service starts keeps the package's own
# nginx (80), Prometheus (9090), mtail (3903), node-exporter (9100) and Ceph's daemons from starting: Hearth runs its own instances.
apt_missing=()
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || apt_missing+=(nginx)
command -v openssl >/dev/null || apt_missing+=(openssl)
command -v gm >/dev/null || apt_missing+=(graphicsmagick)   # the resize benchmark's baseline
command -v wrk >/dev/null || apt_missing+=(wrk)   # the push benchmark's ceiling
[ -f /usr/lib/nginx/modules/ngx_http_echo_module.so ] || apt_missing+=(libnginx-mod-http-echo)   # echo_sleep: the push benchmark's slow proxy
command -v cjxl >/dev/null || apt_missing+=(libjxl-tools)   # lossless JPEG → JPEG XL
command -v jpegtran >/dev/null || apt_missing+=(libjpeg-turbo-progs)   # the lossless benchmark's baseline
command -v heif-convert >/dev/null || apt_missing+=(libheif-examples)   # libheif's heif-convert (libde265): phones' HEIC originals decoded; heif-enc makes the tests' HEIC photos
command -v butteraugli >/dev/null || apt_missing+=(butteraugli)   # the perceptual benchmark's second opinion
command -v chromium >/dev/null || apt_missing+=(chromium)   # the taste-test page's browser test
command -v promtool >/dev/null || apt_missing+=(prometheus)   # Prometheus and promtool: the stack's metrics, rules and their unit tests
command -v mtail >/dev/null || apt_missing+=(mtail)   # mtail: the cache nodes' access logs as Prometheus metrics (monitoring/mtail)
command -v prometheus-node-exporter >/dev/null || apt_missing+=(prometheus-node-exporter)   # its textfile collector: batch jobs' metrics files (lossless, scrub) for the stack's Prometheus
[ -f /usr/include/jxl/decode.h ] || apt_missing+=(libjxl-dev)   # hearth-jxl (verify, reconstruct) is built against it
[ -f /usr/share/llhttp/llhttp.c ] || apt_missing+=(node-llhttp)   # llhttp's C sources: the native push client's response parser
[ -f /usr/include/openssl/evp.h ] || apt_missing+=(libssl-dev)   # the native hint socket checks HMACs with OpenSSL (the 3.0 that node carries too)
# Ceph from Debian (16.2, Pacific): the monitor, manager, OSDs and RADOS Gateway that
# `hearth ceph up` and the S3 store's tests start themselves (ceph/cluster.ts).
for pkg in ceph-mon ceph-mgr ceph-osd radosgw ceph-common; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || apt_missing+=("$pkg")
done
command -v gcc >/dev/null || apt_missing+=(gcc)
command -v ip >/dev/null || apt_missing+=(iproute2)   # test hosts as network namespaces (netns/): the failure tests and `stack up --hosts`
command -v pkg-config >/dev/null || apt_missing+=(pkg-config)
if [ "${#apt_missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${apt_missing[*]}"
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; made_policy=1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
  [ "$made_policy" = 1 ] && rm -f "$policy"
fi

# npm ci only when the lockfile changed since the last install.
stamp=node_modules/.hearth-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

log "building (tsc -b)"
npx --no-install tsc -b
chmod +x dist/cli/hearth.js

# The lossless tier's verifier and the origin's reconstructor (image/native/hearth-jxl.c),
# rebuilt when its source changes.
verify_src=image/native/hearth-jxl.c
verify_bin=.cache/bin/hearth-jxl
verify_stamp=.cache/bin/.hearth-jxl.sha256
verify_want=$(sha256sum "$verify_src" | cut -d' ' -f1)
if [ ! -x "$verify_bin" ] || [ ! -f "$verify_stamp" ] || [ "$(cat "$verify_stamp")" != "$verify_want" ]; then
  log "building $verify_bin"
  mkdir -p .cache/bin
  # shellcheck disable=SC2046 # pkg-config prints several words on purpose
  gcc -O2 -Wall -Wextra -Werror -o "$verify_bin.tmp" "$verify_src" $(pkg-config --cflags --libs libjxl)
  mv "$verify_bin.tmp" "$verify_bin"
  echo "$verify_want" > "$verify_stamp"
fi

# The identity tier's matching engine (identity/native/hearth-match.c), a Node-API addon
# built for this machine's CPU (AVX2 where it has it), rebuilt when its source changes.
match_src=identity/native/hearth-match.c
match_bin=.cache/bin/hearth-match.node
match_stamp=.cache/bin/.hearth-match.sha256
match_want=$( (sha256sum "$match_src"; uname -m; grep -m1 '^flags' /proc/cpuinfo) | sha256sum | cut -d' ' -f1)
if [ ! -f "$match_bin" ] || [ ! -f "$match_stamp" ] || [ "$(cat "$match_stamp")" != "$match_want" ]; then
  log "building $match_bin"
  mkdir -p .cache/bin
  gcc -O3 -march=native -Wall -Wextra -Werror -shared -fPIC -I node_modules/node-api-headers/include -o "$match_bin.tmp" "$match_src"
  mv "$match_bin.tmp" "$match_bin"
  echo "$match_want" > "$match_stamp"
fi

# The warmer's native engine (warmer/native/: the push client and the hint socket around one
# header), a Node-API addon with llhttp compiled in. llhttp is built with hidden symbols and
# the addon linked -Bsymbolic: node exports its own llhttp (another version), which would
# otherwise win.
push_src=warmer/native
push_bin=.cache/bin/hearth-push.node
push_stamp=.cache/bin/.hearth-push.sha256
push_want=$( (sha256sum "$push_src"/*.c "$push_src"/*.h /usr/share/llhttp/*.c; uname -m) | sha256sum | cut -d' ' -f1)
if [ ! -f "$push_bin" ] || [ ! -f "$push_stamp" ] || [ "$(cat "$push_stamp")" != "$push_want" ]; then
  log "building $push_bin"
  obj=.cache/bin/hearth-push.o.d
  rm -rf "$obj"; mkdir -p "$obj"
  for f in llhttp api http; do
    gcc -O2 -fPIC -fvisibility=hidden -I /usr/share/include/llhttp -c "/usr/share/llhttp/$f.c" -o "$obj/llhttp-$f.o"
  done
  for f in "$push_src"/*.c; do
    gcc -O2 -Wall -Wextra -Werror -fPIC -fvisibility=hidden -I node_modules/node-api-headers/include -I /usr/share/include/llhttp -c "$f" -o "$obj/$(basename "$f" .c).o"
  done
  gcc -shared -Wl,-Bsymbolic -o "$push_bin.tmp" "$obj"/*.o -lpthread -lcrypto
  rm -rf "$obj"
  mv "$push_bin.tmp" "$push_bin"
  echo "$push_want" > "$push_stamp"
fi

# Apache Kafka and its runtime dependencies from Maven Central (for the local broker).
if ! ls .cache/kafka/libs/kafka_2.13-*.jar >/dev/null 2>&1; then
  log "fetching Apache Kafka jars (Maven Central)"
  mvn -q -B -f infra/kafka/pom.xml dependency:copy-dependencies -DoutputDirectory="$PWD/.cache/kafka/libs" -DincludeScope=runtime
fi

# Real photographs from Debian packages (see test/fixtures/photos/LICENSE.md and the
# packages' copyright files), unpacked, never installed.
photos=.cache/photos
if [ ! -f "$photos/.done" ]; then
  log "fetching photographs (mate-backgrounds, plasma-workspace-wallpapers)"
  mkdir -p "$photos/debs"
  (cd "$photos/debs" && apt-get download mate-backgrounds plasma-workspace-wallpapers 2>/dev/null \
     || { apt-get update -qq && apt-get download mate-backgrounds plasma-workspace-wallpapers; })
  for deb in "$photos"/debs/*.deb; do dpkg-deb -x "$deb" "$photos/x"; done
  mkdir -p "$photos/src"
  cp "$photos"/x/usr/share/backgrounds/mate/nature/*.jpg "$photos/src/"
  for d in "$photos"/x/usr/share/wallpapers/*/contents/images; do
    [ -f "$d/2560x1600.jpg" ] && cp "$d/2560x1600.jpg" "$photos/src/$(basename "$(dirname "$(dirname "$d")")").jpg"
  done
  mkdir -p "$photos/licenses"
  cp "$photos"/x/usr/share/doc/*/copyright "$photos/licenses/" 2>/dev/null || true
  rm -rf "$photos/debs" "$photos/x"
  touch "$photos/.done"
fi

# The store the local stack's origin serves (cached by its manifest).
node dist/cli/hearth.js corpus --src "$photos/src" --out .cache/corpus --ids-per-photo "${HEARTH_CORPUS_IDS:-25}" >/dev/null
