#!/bin/sh
# preload.sh - the "programs under LD_PRELOAD" section: real programs run
# on glibc's malloc (no preload) and with jemalloc, tcmalloc, mimalloc and
# fixalloc's drop-in malloc in LD_PRELOAD; wall time and peak RSS per
# program, medians of interleaved rounds, and geomeans as ratios to
# mimalloc. Markdown on stdout, progress on stderr.
#
#   sh bench/preload.sh [--quick] [--rounds N] [--programs a,b]
#                       [--allocators a,b] [--cpu N] [BUILD_DIR]
#
# BUILD_DIR (default build-bench) holds libfixalloc-malloc.so and the
# launcher bench/preload_run (bench/CMakeLists.txt builds both with
# FIXALLOC_BENCH=ON). --quick: 3 rounds on inputs a fifth the size.
# --cpu N pins every run to CPU N (default: no pinning). A program or a
# peer that is not installed is skipped with a line; a run whose output or
# exit status differs from glibc's is an error line in the table, and the
# script then exits 1 once the tables are printed.
# The add_* functions are called by name.
# shellcheck disable=SC2317
set -u
cd "$(dirname "$0")/.." || exit 2
root=$(pwd)

quick=0
rounds=""
programs="python3-dicts,python3-threads,lua5.4,sqlite3,gcc-O2,pipeline,perl,large-blocks"
allocators="glibc,jemalloc,tcmalloc,mimalloc,fixalloc"
cpu=""
build="build-bench"
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --rounds) rounds=$2; shift ;;
    --programs) programs=$2; shift ;;
    --allocators) allocators=$2; shift ;;
    --cpu) cpu=$2; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "preload: unknown option $1" >&2; exit 2 ;;
    *) build=$1 ;;
    esac
    shift
done
if [ $quick = 1 ]; then
    scale=20; rounds=${rounds:-3}; kind="quick run"
else
    scale=100; rounds=${rounds:-5}; kind="full run"
fi
launcher=$build/bench/preload_run
fixalloc_lib=$root/$build/libfixalloc-malloc.so
case $build in /*) fixalloc_lib=$build/libfixalloc-malloc.so ;; esac
for f in "$launcher" "$fixalloc_lib"; do
    if [ ! -e "$f" ]; then
        echo "preload: $f not found: build with -DFIXALLOC_BENCH=ON" >&2
        exit 2
    fi
done
pin=""
[ -n "$cpu" ] && pin="-c $cpu"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
skipped=""
note() { skipped="$skipped
- $*"; }

# --- the allocators: NAME and the library preloaded ("" for glibc) -------
ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
find_lib() {
    p=$("$ldconfig" -p 2>/dev/null | awk -v n="$1" '$1 == n { print $NF; exit }')
    [ -z "$p" ] && [ -e "/usr/lib/x86_64-linux-gnu/$1" ] &&
        p=/usr/lib/x86_64-linux-gnu/$1
    echo "$p"
}
lib_of() {
    case $1 in
    glibc) echo "" ;;
    jemalloc) find_lib libjemalloc.so.2 ;;
    tcmalloc) find_lib libtcmalloc_minimal.so.4 ;;
    mimalloc) find_lib libmimalloc.so.2 ;;
    fixalloc) echo "$fixalloc_lib" ;;
    esac
}
pkg_of() {
    case $1 in
    jemalloc) echo libjemalloc-dev ;;
    tcmalloc) echo libgoogle-perftools-dev ;;
    mimalloc) echo libmimalloc-dev ;;
    esac
}
allocs=""
versions=""
for a in $(echo "$allocators" | tr , ' '); do
    case $a in
    glibc|jemalloc|tcmalloc|mimalloc|fixalloc) ;;
    *) echo "preload: unknown allocator $a" >&2; exit 2 ;;
    esac
    lib=$(lib_of "$a")
    if [ "$a" != glibc ] && [ -z "$lib" ]; then
        note "$a: not installed, skipped (apt-get install $(pkg_of "$a"))"
        continue
    fi
    allocs="$allocs $a"
    case $a in
    glibc) v="glibc $(getconf GNU_LIBC_VERSION 2>/dev/null | cut -d' ' -f2)" ;;
    fixalloc) v="fixalloc $(git -C "$root" describe --always --dirty 2>/dev/null)" ;;
    *) pkg=$(dpkg-query -S "$(readlink -f "$lib")" 2>/dev/null | cut -d: -f1)
       v="$a ${pkg:+$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null)}" ;;
    esac
    versions="$versions${versions:+, }$v"
done
base=mimalloc
case " $allocs " in *" mimalloc "*) ;; *) base=glibc ;; esac

# --- the programs: $work/run-NAME, each a script ending in exec ----------
n() { echo $(( $1 * scale / 100 )); }

have() {
    if command -v "$1" >/dev/null 2>&1; then return 0; fi
    note "$2: $1 not installed, skipped"
    return 1
}

add_python3_dicts() {
    have /usr/bin/python3 python3-dicts || return 1
    cat >"$work/dicts.py" <<'EOF'
import sys, hashlib, collections
n = int(sys.argv[1])
d = {}
for i in range(n):
    k = str(i * 7919 % 1000003) * (i % 5 + 1)
    d[k] = [i, k[::-1], {"id": i, "tag": k[:4]}]
groups = collections.defaultdict(list)
for k, v in d.items():
    groups[v[2]["tag"]].append(v[0])
words = " ".join(k[:6] for k in d).split()
counts = collections.Counter(w[:3] for w in words)
for k in list(d)[::2]:
    del d[k]
rows = sorted(("%s:%d" % (k, v[0]) for k, v in d.items()), key=len)
h = hashlib.sha256("\n".join(rows).encode()).hexdigest()
print(len(d), len(groups), len(counts), counts.most_common(3), h)
EOF
    echo "PYTHONMALLOC=malloc exec /usr/bin/python3 '$work/dicts.py' $(n 90000)"
}

add_python3_threads() {
    have /usr/bin/python3 python3-threads || return 1
    cat >"$work/threads.py" <<'EOF'
import sys, threading, hashlib
n = int(sys.argv[1])
out = [None] * 4
def work(t):
    d = {}
    for i in range(n):
        key = "%d-%d" % (t, i * 31 % n)
        d[key] = d.get(key, "") + str(i)[-3:]
        if i % 3 == 0:
            d.pop("%d-%d" % (t, (i // 2) * 31 % n), None)
    lst = sorted(d.items())
    out[t] = hashlib.sha256(repr(lst).encode()).hexdigest()[:16], len(lst)
ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(out)
EOF
    echo "PYTHONMALLOC=malloc exec /usr/bin/python3 '$work/threads.py' $(n 60000)"
}

add_lua5_4() {
    have lua5.4 lua5.4 || return 1
    cat >"$work/churn.lua" <<'EOF'
local n = tonumber(arg[1])
local t = {}
for i = 1, n do t[i] = string.rep(tostring(i * 7919 % 100003), i % 5 + 1) end
local m = {}
for i = 1, n do
  local k = t[i]:sub(1, 6)
  local e = m[k]
  if e then e[#e + 1] = i else m[k] = {i} end
  if i % 4 == 0 then m[t[i // 2]:sub(1, 6)] = nil end
end
local parts = {}
for i = 1, n, 7 do parts[#parts + 1] = t[i]:upper() .. "/" .. #t[i] end
local s = table.concat(parts, ",")
local cnt, sum = 0, 0
for k, v in pairs(m) do cnt = cnt + 1; sum = sum + #v end
table.sort(t)
local words = {}
for w in s:gmatch("[^,]+") do words[#words + 1] = w:reverse() end
table.sort(words)
print(cnt, sum, #s, t[1], t[#t], words[1], words[#words])
EOF
    echo "exec lua5.4 '$work/churn.lua' $(n 170000)"
}

add_sqlite3() {
    have sqlite3 sqlite3 || return 1
    cat >"$work/q.sql" <<EOF
create table t(a integer primary key, b text, c real, d text);
with recursive s(x) as (select 1 union all select x + 1 from s where x < $(n 160000))
insert into t select x, 'k' || (x * 37 % 1009), x * 0.5,
    hex(x * 7919 % 100003) || '-' || x from s;
create index tb on t(b);
create index td on t(d);
select count(*), sum(c), min(b), max(b) from t;
select b, count(*), sum(c) from t group by b order by count(*) desc, b limit 5;
select substr(d, 1, 2), count(*) from t group by 1 order by 1 limit 5;
delete from t where a % 3 = 0;
update t set d = d || 'x' where a % 5 = 0;
vacuum;
select count(*), sum(a), max(d) from t;
EOF
    echo "exec sqlite3 :memory: '.read $work/q.sql'"
}

add_gcc_O2() {
    have gcc gcc-O2 || return 1
    # Three of the library's sources (one in the quick run) at -O2; the
    # output is the objects' digest.
    if [ "$quick" = 1 ]; then
        srcs="pool.c"
    else
        srcs="pool.c cache.c malloc.c"
    fi
    mkdir -p "$work/obj"
    for s in $srcs; do cp "$root/src/$s" "$work/obj/"; done
    cp "$root"/src/*.h "$work/obj/"
    cp -r "$root/include" "$work/obj/include"
    echo "cd '$work/obj' && rm -f *.o &&"
    echo "gcc -O2 -D_GNU_SOURCE -Iinclude -c $srcs &&"
    echo "exec sha256sum *.o"
}

add_pipeline() {
    have sort pipeline || return 1
    have awk pipeline || return 1
    awk -v n="$(n 400000)" 'BEGIN {
        x = 12345
        for (i = 0; i < n; i++) {
            x = (x * 1103515245 + 12345) % 2147483648
            printf "%d w%d %s\n", x % 5000, int(x / 7) % 20000,
                substr("abcdefghijklmnopqrstuvwxyz", x % 26 + 1, x % 9 + 1)
        }
    }' >"$work/in.txt"
    cat <<EOF
export LC_ALL=C
in='$work/in.txt'
sort -k2,2 -k1,1n "\$in" |
    awk '{ c[\$2]++; s[\$2] += \$1 } END { for (k in c) print k, c[k], s[k] }' |
    sort -k3,3nr -k1,1 | head -n 5
cut -d' ' -f3 "\$in" | sort | uniq -c | sort -k1,1nr -k2,2 | head -n 5
awk '{ print \$3 \$2 }' "\$in" | sort -u | wc -l
EOF
}

add_perl() {
    have perl perl || return 1
    cat >"$work/words.pl" <<'EOF'
use strict; use warnings;
my $n = shift;
my (%h, @a);
my $x = 42;
for my $i (1 .. $n) {
    $x = ($x * 1103515245 + 12345) % 2147483648;
    my $w = join("", map { chr(97 + ($x >> $_) % 26) } 0 .. ($x % 7 + 2));
    $h{$w} .= "$i,";
    push @a, "$w:$i";
    delete $h{substr($w, 0, 3)} if $i % 5 == 0;
}
my @k = sort { length($h{$b}) <=> length($h{$a}) || $a cmp $b } keys %h;
my %r; $r{reverse $_}++ for @a;
my $s = join("|", @a[0 .. 9]); $s =~ s/(\d+)/$1*2/ge;
printf "%d %d %s %s %s\n", scalar(keys %h), scalar(keys %r), $k[0], $k[-1], $s;
EOF
    echo "exec perl '$work/words.pl' $(n 210000)"
}

add_large_blocks() {
    # Large blocks: 32 KiB to 4 MiB, replaced at random, some grown by
    # realloc (bench/large_blocks.c).
    echo "exec '$build/bench/bench_large_blocks' $(n 20000)"
}

progs=""
for p in $(echo "$programs" | tr , ' '); do
    f=add_$(echo "$p" | tr .- __)
    if ! command -v "$f" >/dev/null 2>&1; then
        echo "preload: unknown program $p" >&2
        exit 2
    fi
    if "$f" >"$work/run-$p"; then
        progs="$progs $p"
    fi
done

# --- the runs ------------------------------------------------------------
# run PROG ALLOC OUT: one run; prints "SECONDS MAXRSS_KIB STATUS".
run() {
    lib=$(lib_of "$2")
    # shellcheck disable=SC2086
    "$launcher" $pin ${lib:+-p "$lib"} -o "$3" -e "$3.err" -- \
        sh "$work/run-$1"
}

started=$(date +%s)
: >"$work/runs"
: >"$work/errors"
# Untimed: each program once on glibc, whose output and status are the
# reference (and the files are in the page cache after it).
for p in $progs; do
    # shellcheck disable=SC2046
    set -- $(run "$p" glibc "$work/ref-$p")
    if [ "$3" != 0 ] || [ ! -s "$work/ref-$p" ]; then
        echo "$p - - - - - fails-on-glibc:$3" >>"$work/runs"
        { echo "- $p fails without any preload (status $3):"
          tail -n 3 "$work/ref-$p.err" | sed 's/^/      /'; } >>"$work/errors"
    fi
    echo "$3" >"$work/ref-$p.status"
done

# Interleaved rounds: in round r, each program runs once on every
# allocator, in an order rotated by r.
nalloc=$(echo "$allocs" | wc -w)
r=1
while [ $r -le "$rounds" ]; do
    echo "preload: round $r of $rounds" >&2
    for p in $progs; do
        grep -q "^$p .*fails-on-glibc" "$work/runs" && continue
        order=$(echo "$allocs" | awk -v r="$r" '{
            for (i = 0; i < NF; i++) printf "%s ", $((i + r - 1) % NF + 1) }')
        for a in $order; do
            # shellcheck disable=SC2046
            set -- $(run "$p" "$a" "$work/out")
            verdict=ok
            if [ "$3" != "$(cat "$work/ref-$p.status")" ]; then
                verdict=status:$3
            elif ! cmp -s "$work/out" "$work/ref-$p"; then
                verdict=differs
            fi
            echo "$p $a $r $1 $2 $3 $verdict" >>"$work/runs"
            if [ "$verdict" != ok ] && ! grep -q "^- $p on $a:" "$work/errors"; then
                { echo "- $p on $a: $verdict (round $r); diff against glibc's output:"
                  diff "$work/ref-$p" "$work/out" | head -n 4 | sed 's/^/      /'
                  tail -n 3 "$work/out.err" | sed 's/^/      stderr: /'
                } >>"$work/errors"
            fi
        done
    done
    r=$((r + 1))
done
elapsed=$(( $(date +%s) - started ))
[ "$nalloc" -gt 0 ] || exit 2

# --- the tables ----------------------------------------------------------
cmd="sh bench/preload.sh"
[ $quick = 1 ] && cmd="$cmd --quick"
[ "$build" != build-bench ] && cmd="$cmd $build"
echo "## Programs under LD_PRELOAD"
echo
fmt -w 76 <<EOF
Made by \`$cmd\` ($kind: $rounds interleaved rounds, ${elapsed} s, $(nproc)
CPUs${cpu:+, every run pinned to CPU $cpu}). Each program runs with glibc's
malloc (no preload) and with each other allocator in LD_PRELOAD; in round r
every allocator runs it once, in an order rotated by r. Wall time and peak
RSS (wait4's ru_maxrss: the largest process of the run) are medians over
the rounds; x $base is the median's ratio to $base's, and the geomean is
over the programs. Every run's output and exit status are checked against
glibc's; [README.md](README.md) describes the programs. Versions: $versions.
EOF
echo
awk -v allocs="$allocs" -v progs="$progs" -v base="$base" '
function median(s,   v, k, i, j, t) {
    k = split(s, v, " ")
    for (i = 2; i <= k; i++) {
        t = v[i] + 0
        for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]
        v[j + 1] = t
    }
    return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
}
function range(s,   v, k, i, lo, hi) {
    k = split(s, v, " ")
    lo = hi = v[1] + 0
    for (i = 2; i <= k; i++) {
        if (v[i] + 0 < lo) lo = v[i] + 0
        if (v[i] + 0 > hi) hi = v[i] + 0
    }
    return hi - lo
}
$7 ~ /^fails-on-glibc/ { bad[$1] = "fails without preload"; next }
{
    t[$1, $2] = t[$1, $2] " " $4
    m[$1, $2] = m[$1, $2] " " $5 / 1024
    if ($7 != "ok") { err[$1, $2] = $7; bad[$1] = bad[$1] " " $2 }
}
function table(title, unit, arr, fmt,   i, j, p, a, v, b, ratio, g, n, w, wp) {
    printf "### %s\n\n", title
    printf "| program |"
    for (j = 1; j <= na; j++) printf " %s |", A[j]
    printf "\n| --- |"
    for (j = 1; j <= na; j++) printf " ---: |"
    printf "\n"
    for (j = 1; j <= na; j++) { g[j] = 0; n[j] = 0; w[j] = 0; wp[j] = "" }
    for (i = 1; i <= np; i++) {
        p = P[i]
        printf "| %s |", p
        if (bad[p] == "fails without preload") {
            for (j = 1; j <= na; j++) printf " ERROR: fails without preload |"
            printf "\n"
            continue
        }
        b = ((p, base) in arr) ? median(arr[p, base]) : 0
        for (j = 1; j <= na; j++) {
            a = A[j]
            if ((p, a) in err) { printf " ERROR: %s |", err[p, a]; continue }
            if (!((p, a) in arr)) { printf " - |"; continue }
            v = median(arr[p, a])
            if (b > 0 && !((p, base) in err)) {
                ratio = v / b
                printf " " fmt " (%.2fx) |", v, ratio
                if (bad[p] == "") {
                    g[j] += log(ratio); n[j]++
                    if (ratio > w[j]) { w[j] = ratio; wp[j] = p }
                }
            } else {
                printf " " fmt " |", v
            }
        }
        printf "\n"
    }
    printf "| **geomean x %s** |", base
    for (j = 1; j <= na; j++)
        printf n[j] ? " **%.2fx** |" : " - |", exp(g[j] / (n[j] ? n[j] : 1))
    printf "\n"
    if (unit == "s") {
        printf "| worst x %s |", base
        for (j = 1; j <= na; j++)
            printf n[j] && A[j] != base ? " %.2fx %s |" : " - |", w[j], wp[j]
        printf "\n"
    }
    printf "\n"
}
END {
    na = split(allocs, A, " ")
    np = split(progs, P, " ")
    table("Wall time, seconds: median (x " base ")", "s", t, "%.3f")
    table("Peak RSS, MiB: median (x " base ")", "MiB", m, "%.1f")
    # The spread: the largest (max - min) / median of a time cell.
    sp = 0
    for (k in t) {
        split(k, kk, SUBSEP)
        if (kk[1] in bad && bad[kk[1]] != "") continue
        v = range(t[k]) / median(t[k])
        if (v > sp) { sp = v; spk = kk[1] " on " kk[2] }
    }
    if (sp > 0)
        printf "Largest spread of a time cell over its rounds (max - min, over the median): %.0f%% (%s).\n\n", 100 * sp, spk
}' "$work/runs"

status=0
if [ -s "$work/errors" ]; then
    echo "Errors (programs with an error are left out of the geomeans):"
    echo
    cat "$work/errors"
    echo
    status=1
fi
if [ -n "$skipped" ]; then
    echo "Skipped:$skipped"
    echo
fi
exit $status
