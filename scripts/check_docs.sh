#!/bin/sh
# check_docs.sh - catches drift between the documentation and the code.
#
#   sh scripts/check_docs.sh
#
# Checks, from the repository root (found from the script's own path):
#   1. docs/design.md's layer table has a row for every file of src/ and
#      none for a file that is gone; each row's "includes" column equals the
#      file's #include "..." lines and its "names" column equals the .c
#      files whose functions or variables the file's code names;
#   2. the #include graph has no circle, and the call graph between the .c
#      files has none but those listed in design.md's "Circles" table (each
#      of which must still exist);
#   3. every file of src/ opens with a header of at most four lines that
#      points to a section of design.md, and every section that any file
#      points to ("docs/design.md, \"Section\"") exists, once;
#   4. numbers quoted in design.md, README.md and include/fixalloc.h
#      ("`FA_NAME` (value)", design.md's table rows "| `FA_NAME` | value |",
#      and the phrases listed below) equal the #define values in src/ and
#      include/;
#   5. the size-class table of design.md lists fa_class_size of sizeclass.c;
#   6. the report line format in the docs equals error.c's;
#   7. every atomic variable of src/ and every file with _locked functions
#      is named in design.md;
#   8. no file of src/ but platform.c calls the OS services or the C-runtime
#      allocator that platform.h stands for;
#   9. every detail of the README's misuse table (its third column's
#      backticked texts, up to a number or <placeholder>) is checked word
#      for word by tests/test_reports.c.
# Prints one line per problem and exits 1 if there is any; otherwise prints
# one line "check_docs: OK (...)" and exits 0. Exit 2: not run from a
# checkout (files missing).
set -u
cd "$(dirname "$0")/.." || exit 2
design=docs/design.md
header=include/fixalloc.h
readme=README.md
for f in "$design" "$header" "$readme" src/error.c src/sizeclass.c; do
    [ -f "$f" ] || { echo "check_docs: $f is missing"; exit 2; }
done

tmp=${TMPDIR:-/tmp}/check_docs.$$
mkdir -p "$tmp" || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
problems=0
checks=0
problem() {
    echo "check_docs: $*"
    problems=$((problems + 1))
}

# ---- helpers ----

# The code of a C file without comments and string contents.
strip_c() {
    awk '{
        out = ""; s = $0
        while (s != "") {
            if (inc) {
                i = index(s, "*/")
                if (i == 0) { s = "" } else { s = substr(s, i + 2); inc = 0 }
            } else {
                i = index(s, "/*")
                if (i == 0) { out = out s; s = "" }
                else { out = out substr(s, 1, i - 1); s = substr(s, i + 2); inc = 1 }
            }
        }
        gsub(/"[^"]*"/, "\"\"", out)
        print out
    }' "$1"
}

# The names a .c file defines for other files: functions and variables at
# the top level that are not static.
defs_of() {
    strip_c "$1" | grep -v '^[[:space:]]' |
        grep -E -v '^(static|typedef|extern|#|_Static_assert|[{}])' |
        sed -n -e 's/^[^(]*[ *]\(fa_[a-z0-9_]*\)(.*$/\1/p' -e 't' \
            -e 's/^.*[ *]\(fa_[a-z0-9_]*\) =.*$/\1/p' -e 't' \
            -e 's/^.*[ *]\(fa_[a-z0-9_]*\);$/\1/p' -e 't' \
            -e 's/^.*[ *]\(fa_[a-z0-9_]*\)\[.*$/\1/p' | sort -u
}

# A file's text as one line: comment stars, markdown quotes and backticks
# gone, runs of blanks made one, so phrases wrapped over lines match.
flat() {
    sed -e 's/^[[:space:]]*\/\*\**//' -e 's/^[[:space:]]*\*\/*//' \
        -e 's/\*\/[[:space:]]*$//' "$1" | tr '\n`' '  ' | tr -s ' \t' '  '
}

# The value of #define NAME in src/ or include/, evaluated; empty if none.
defval() {
    expr=$(grep -h "^#define $1[[:space:]]" src/*.c src/*.h include/*.h 2>/dev/null |
        head -n 1 | sed -e "s/^#define $1[[:space:]]*//" -e 's|/\*.*||' \
            -e 's/(size_t)//g' -e 's/(uintptr_t)//g' \
            -e 's/UINT64_C(\([^)]*\))/\1/g' -e 's/\([0-9]\)u$/\1/' \
            -e 's/\([0-9]\)u\([^0-9A-Za-z_]\)/\1\2/g')
    [ -n "$expr" ] || return 0
    n=0
    while echo "$expr" | grep -q '[A-Z_][A-Z0-9_]*[A-Z]' && [ $n -lt 5 ]; do
        name=$(echo "$expr" | grep -o '[A-Z_][A-Z0-9_]*[A-Z]' | head -n 1)
        sub=$(defval "$name")
        [ -n "$sub" ] || return 0
        expr=$(echo "$expr" | sed "s/$name/($sub)/")
        n=$((n + 1))
    done
    echo $(($expr))
}

# A quoted number with an optional unit, in bytes or units: "4 MiB", "0xdf".
tobytes() {
    num=${1%% *}
    unit=
    case $1 in *" "*) unit=${1#* } ;; esac
    case $unit in
    KiB) echo $((num * 1024)) ;;
    MiB) echo $((num * 1048576)) ;;
    GiB) echo $((num * 1073741824)) ;;
    *) echo $((num)) ;;
    esac
}

# Compares a number quoted in `where` with #define `name`.
expect() { # name quoted where
    checks=$((checks + 1))
    want=$(defval "$1")
    if [ -z "$want" ]; then
        problem "$3: quotes $1 = $2, but no #define $1 is found"
        return
    fi
    got=$(tobytes "$2")
    [ "$got" = "$want" ] ||
        problem "$3: quotes $1 as $2 ($got), the code has $want"
}

# ---- 1. the layer table ----

grep '^| `src/[^`]*` |' "$design" > "$tmp/rows"
for f in src/*; do
    b=${f#src/}
    checks=$((checks + 1))
    grep -q "^| \`src/$b\` |" "$tmp/rows" ||
        problem "$design: the layer table has no row for src/$b"
done
while IFS= read -r row; do
    f=$(echo "$row" | sed 's/^| `\(src\/[^`]*\)`.*/\1/')
    [ -f "$f" ] || { problem "$design: the layer table names $f, which does not exist"; continue; }
    b=${f#src/}
    inc=$(echo "$row" | awk -F'|' '{print $5}' | grep -o '`[a-z_]*\.[ch]`' | tr -d '`' | sort -u | tr '\n' ' ')
    names=$(echo "$row" | awk -F'|' '{print $6}' | grep -o '`[a-z_]*\.[ch]`' | tr -d '`' | sort -u | tr '\n' ' ')
    case $b in *.c | *.h)
        real_inc=$(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f" | grep -v '^fixalloc\.h$' | sort -u | tr '\n' ' ')
        checks=$((checks + 1))
        [ "$inc" = "$real_inc" ] ||
            problem "$design: $b includes '${real_inc% }', the layer table says '${inc% }'"
        ;;
    esac
    echo "$b $names" >> "$tmp/doc_names"
done < "$tmp/rows"

# Which .c file defines which name.
for f in src/*.c; do
    defs_of "$f" | sed "s|^|${f#src/} |"
done > "$tmp/defs"
# Which .c files each file names.
for f in src/*.c src/*.h; do
    b=${f#src/}
    strip_c "$f" > "$tmp/code"
    real=$(awk -v b="$b" '$1 != b {print $2, $1}' "$tmp/defs" |
        while read -r name owner; do
            grep -qw "$name" "$tmp/code" && echo "$owner"
        done | sort -u | tr '\n' ' ')
    echo "$b $real" >> "$tmp/real_names"
    for o in $real; do
        case $b in *.c) echo "$b $o" >> "$tmp/calls" ;; esac
    done
    doc=$(grep "^$b " "$tmp/doc_names" 2>/dev/null | head -n 1 | sed "s/^$b //")
    checks=$((checks + 1))
    [ "$(echo $doc)" = "$(echo $real)" ] ||
        problem "$design: $b names functions of '$(echo $real)', the layer table says '$(echo $doc)'"
done

# ---- 2. circles ----

for f in src/*.c src/*.h; do
    b=${f#src/}
    echo "$b $b"
    sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f" | grep -v '^fixalloc\.h$' | sed "s|^|$b |"
done > "$tmp/incs"
checks=$((checks + 1))
tsort "$tmp/incs" > /dev/null 2> "$tmp/tsort" ||
    problem "the #include graph has a circle: $(tr '\n' ' ' < "$tmp/tsort")"

touch "$tmp/calls"
cp "$tmp/calls" "$tmp/calls_cut"
grep '^| `[a-z_]*\.c` <-> `[a-z_]*\.c` |' "$design" |
    sed 's/^| `\([a-z_]*\.c\)` <-> `\([a-z_]*\.c\)` |.*/\1 \2/' > "$tmp/circles"
while read -r a c; do
    checks=$((checks + 1))
    if grep -qx "$a $c" "$tmp/calls" && grep -qx "$c $a" "$tmp/calls"; then
        grep -vx "$c $a" "$tmp/calls_cut" > "$tmp/cut" && mv "$tmp/cut" "$tmp/calls_cut"
    else
        problem "$design: the circle $a <-> $c is listed, but it no longer exists: take it out of \"Circles\""
    fi
done < "$tmp/circles"
for f in src/*.c; do echo "${f#src/} ${f#src/}"; done >> "$tmp/calls_cut"
checks=$((checks + 1))
tsort "$tmp/calls_cut" > /dev/null 2> "$tmp/tsort" ||
    problem "the call graph between src/*.c has a circle that design.md's \"Circles\" does not list: $(tr '\n' ' ' < "$tmp/tsort")"

# ---- 3. file headers and section pointers ----

sed -n 's/^#\{1,6\} \([0-9][0-9.]* \)\{0,1\}//p' "$design" > "$tmp/sections"
sort "$tmp/sections" | uniq -d | while IFS= read -r s; do
    echo "check_docs: $design: the section \"$s\" exists twice"
done > "$tmp/dups"
if [ -s "$tmp/dups" ]; then
    cat "$tmp/dups"
    problems=$((problems + $(wc -l < "$tmp/dups")))
fi
for f in src/*; do
    checks=$((checks + 1))
    end=$(grep -n '\*/' "$f" | head -n 1 | cut -d: -f1)
    if ! head -n 1 "$f" | grep -q '^/\*' || [ -z "$end" ]; then
        problem "$f: does not open with a comment"
        continue
    fi
    [ "$end" -le 4 ] ||
        problem "$f: the file header has $end lines; keep a one-line title and a pointer to design.md"
    head -n "$end" "$f" | tr '\n' ' ' | grep -q 'docs/design\.md, "' ||
        problem "$f: the file header does not point to a section of docs/design.md"
done
for f in src/* "$header" "$readme"; do
    tr '\n' ' ' < "$f" | sed 's/[[:space:]]*\*[[:space:]]/ /g' |
        grep -o 'docs/design\.md, "[^"]*"' | sed 's/^docs\/design\.md, "\(.*\)"$/\1/' |
        while IFS= read -r s; do
            grep -qxF "$s" "$tmp/sections" ||
                echo "check_docs: $f: points to the section \"$s\", which docs/design.md does not have"
        done
done > "$tmp/ptrs"
if [ -s "$tmp/ptrs" ]; then
    cat "$tmp/ptrs"
    problems=$((problems + $(wc -l < "$tmp/ptrs")))
fi
checks=$((checks + 1))

# ---- 4. quoted numbers ----

for doc in "$design" "$readme" "$header"; do
    flat "$doc" > "$tmp/flat"
    # "FA_NAME (value": a define and its value in parentheses.
    grep -o 'FA_[A-Z0-9_]* ([0-9][0-9a-fx]*\( [KMG]iB\)\{0,1\}' "$tmp/flat" |
        sed 's/ (/|/' > "$tmp/quotes"
    # design.md's table rows "| `FA_NAME` | value |".
    grep -E -o '^\| `(FA|WINDOW)_[A-Z0-9_]*` \| [0-9][0-9a-fx]*( [KMG]iB)? \|' "$doc" |
        sed 's/^| `\([A-Z0-9_]*\)` | \([^|]*\) |$/\1|\2/' >> "$tmp/quotes"
    while IFS='|' read -r name value; do
        expect "$name" "$value" "$doc"
    done < "$tmp/quotes"
done

# Phrases: a sed expression that turns the phrase into "NAME|value" lines.
# Each phrase must be found in at least one document.
cat > "$tmp/phrases" <<'EOF'
default \([0-9][0-9]*\) MiB, at least \([0-9][0-9]*\) chunks@FA_DEPOT_BYTES|\1 MiB;FA_DEPOT_MIN|\2
thread_empty_chunks (default \([0-9][0-9]*\))@FA_KEEP_EMPTY_DEFAULT|\1
decay_ms (default \([0-9][0-9]*\))@FA_DECAY_MS|\1
remote_batch objects (default \([0-9][0-9]*\))@FA_BATCH_DEFAULT|\1
remote_batch above \([0-9][0-9]*\)@FA_BATCH_LIMIT|\1
every \([0-9][0-9]*\) of its slow paths@FA_SWEEP_TICKS|\1
of at least \([0-9][0-9]*\) KiB that holds \([0-9][0-9]*\) slots@FA_CHUNK_DEFAULT|\1 KiB;FA_MIN_SLOTS|\2
\([0-9][0-9]*\) size classes@FA_SIZE_CLASSES|\1
batch of at least \([0-9][0-9]*\) KiB of slots@FA_CARVE_BYTES|\1 KiB
one slot) and at most \([0-9][0-9]*\) KiB@FA_CARVE_MAX|\1 KiB
\([0-9][0-9]*\) slots at a time@WINDOW_SLOTS|\1
expected 0x\([0-9a-f][0-9a-f]*\)@FA_POISON|0x\1
EOF
while IFS='@' read -r re out; do
    found=0
    for doc in "$design" "$readme" "$header"; do
        flat "$doc" | grep -o "$re" | sed "s/^$re\$/$out/" | tr ';' '\n' > "$tmp/q"
        [ -s "$tmp/q" ] && found=1
        while IFS='|' read -r name value; do
            expect "$name" "$value" "$doc"
        done < "$tmp/q"
    done
    [ $found = 1 ] ||
        problem "no document quotes the phrase /$re/ any more: update scripts/check_docs.sh"
done < "$tmp/phrases"

# "at most N heaps" follows from FA_CACHE_MAX / FA_SIZE_CLASSES.
heaps=$(($(defval FA_CACHE_MAX) / $(defval FA_SIZE_CLASSES)))
for doc in "$design" "$readme" "$header"; do
    flat "$doc" | grep -o -e 'at most [0-9][0-9]* heaps' -e 'heaps ([0-9][0-9]*,' |
        grep -o '[0-9][0-9]*' | while read -r n; do
            [ "$n" = "$heaps" ] ||
                echo "check_docs: $doc: quotes $n heaps at most, FA_CACHE_MAX / FA_SIZE_CLASSES is $heaps"
        done
done > "$tmp/heaps"
checks=$((checks + 1))
if [ -s "$tmp/heaps" ]; then
    cat "$tmp/heaps"
    problems=$((problems + $(wc -l < "$tmp/heaps")))
fi

# ---- 5. the size-class table ----

code_classes=$(sed -n '/^const uint32_t fa_class_size/,/^};/p' src/sizeclass.c |
    sed -e '1d' -e 's|/\*.*\*/||' | grep -o '[0-9][0-9]*' | tr '\n' ' ')
doc_classes=$(grep '^| [0-9][0-9]* - [0-9][0-9]* | [0-9 ]* |' "$design" |
    awk -F'|' '{print $3}' | grep -o '[0-9][0-9]*' | tr '\n' ' ')
checks=$((checks + 1))
[ "$code_classes" = "$doc_classes" ] ||
    problem "$design: the size-class table lists '$doc_classes', sizeclass.c has '$code_classes'"

# ---- 6. the report line ----

format="fixalloc: <kind> in <object> '<name>' at <addr>: <detail>"
checks=$((checks + 1))
grep -qF "\"fixalloc: %s in %s '%s' at %p: %s\\n\"" src/error.c ||
    problem "src/error.c: the default handler no longer prints \"$format\": update the docs and this script"
for doc in "$design" "$readme" "$header"; do
    flat "$doc" | grep -o 'fixalloc: <[^:]*:[^>]*>' | while IFS= read -r line; do
        [ "$line" = "$format" ] ||
            echo "check_docs: $doc: quotes the report line as \"$line\", error.c prints \"$format\""
    done
done > "$tmp/fmt"
if [ -s "$tmp/fmt" ]; then
    cat "$tmp/fmt"
    problems=$((problems + $(wc -l < "$tmp/fmt")))
fi

# ---- 7. atomics and _locked files ----

{
    grep -ho '_Atomic([^)]*) *[a-z_][a-z0-9_]*' src/*.c src/*.h | sed 's/.*) *//'
    grep -ho '_Atomic [a-z_][a-z0-9_]* [a-z_][a-z0-9_]*' src/*.c src/*.h | awk '{print $3}'
    grep -ho 'atomic_bool [a-z_][a-z0-9_]*' src/*.c src/*.h | awk '{print $2}'
    grep -ho '__atomic_[a-z_]*(&[a-z_][a-z0-9_]*' src/*.c src/*.h | sed 's/.*&//'
} | sort -u > "$tmp/atomics"
while read -r v; do
    checks=$((checks + 1))
    grep -q "\`\([^\`]*[^a-z0-9_\`]\)\{0,1\}$v\([^a-z0-9_\`][^\`]*\)\{0,1\}\`" "$design" ||
        problem "$design: the atomic variable $v (src/) is not in \"Atomic variables\""
done < "$tmp/atomics"
for f in src/*.c src/*.h; do
    grep -q '_locked(' "$f" || continue
    checks=$((checks + 1))
    sed -n '/`_locked` means/,/^$/p' "$design" | grep -q "\`${f#src/}\`" ||
        problem "$design: ${f#src/} has _locked functions; the _locked table does not name it"
done

# ---- sizes: no library file over 800 lines, no C file over 1000 ----

for f in src/*; do
    checks=$((checks + 1))
    n=$(wc -l < "$f")
    [ "$n" -le 800 ] || problem "$f: $n lines; a library file keeps under 800 (split it by concept)"
done
for f in tests/*.c tests/*/*.c bench/*.c; do
    [ -f "$f" ] || continue
    checks=$((checks + 1))
    n=$(wc -l < "$f")
    [ "$n" -le 1000 ] || problem "$f: $n lines; a C file keeps under 1000"
done

# ---- 8. the platform contract ----

# Only platform.c calls the OS services and the C-runtime allocator
# (override.c defines malloc and its family, the library's own).
for f in src/*.c src/*.h; do
    [ "$f" = src/platform.c ] && continue
    [ "$f" = src/override.c ] && continue
    strip_c "$f" | grep -E -o '(^|[^A-Za-z0-9_>.])(malloc|calloc|realloc|aligned_alloc|free|mmap|munmap|getenv|sysconf|getrandom|pthread_key_create|pthread_setspecific|pthread_atfork)[[:space:]]*\(' |
        sed 's/^[^a-z_]*//; s/[[:space:]]*($//' | sort -u | while read -r call; do
            echo "check_docs: $f calls $call; design.md, \"The platform\", says only platform.c does"
        done
done > "$tmp/platform"
checks=$((checks + 1))
if [ -s "$tmp/platform" ]; then
    cat "$tmp/platform"
    problems=$((problems + $(wc -l < "$tmp/platform")))
fi

# ---- 9. the misuse table's details, each checked by test_reports.c ----
# Each fixed piece of a detail (between N, <placeholders> and numbers)
# must be in the test, whose adjacent string literals are joined first.
flat tests/test_reports.c | sed 's/" *"//g' > "$tmp/reports"
sed -n '/^| misuse | caught | kind and detail |/,/^$/p' README.md |
    awk -F'|' 'NR > 2 { print $4 }' | grep -o ': `[^`]*`\|/ `[^`]*`' |
    sed 's/^[:\/] `//; s/`$//' |
    sed 's/<[^>]*>/\n/g; s/\bN\b/\n/g; s/0x[0-9a-f]*/\n/g; s/[0-9][0-9]*/\n/g' |
    sed 's/^[ ,(]*//; s/[ ,()]*$//' | awk 'length($0) > 3' |
    while read -r piece; do
        if ! grep -qF -- "$piece" "$tmp/reports"; then
            echo "check_docs: README's misuse table promises '$piece'; tests/test_reports.c does not check it"
        fi
    done > "$tmp/misuse"
checks=$((checks + 1))
if [ -s "$tmp/misuse" ]; then
    cat "$tmp/misuse"
    problems=$((problems + $(wc -l < "$tmp/misuse")))
fi

if [ "$problems" -gt 0 ]; then
    echo "check_docs: $problems problem(s)"
    exit 1
fi
echo "check_docs: OK ($checks checks)"
exit 0
