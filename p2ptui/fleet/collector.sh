# p2ptui fleet collector: run by `sh -s` on a node, it needs a POSIX shell and coreutils only (no p2ptui, no tar).
# It writes one line "P2PTUI-COLLECT 1", then a tar archive of the PCI part of sysfs (config space included) and
# the host facts from procfs (kernel release, command line, CPU, IOMMU groups), in the layout of a sysfs snapshot
# (sys/..., proc/...), base64-armoured because the transport reads lines; then "P2PTUI-COLLECT-END".
# The archive is gzip-compressed when the node has gzip. What could not be read is listed in p2ptui-collect.txt.
# Tar headers are built here with printf: names, sizes and checksums are computed with shell arithmetic, so the
# only programs run are mktemp, id, wc, cat (once; as non-root once per config file), gzip, base64 and rm.
# P2PTUI_SYSROOT, when set, is a directory read instead of / (tests and simulated nodes).

LC_ALL=C
export LC_ALL
R=${P2PTUI_SYSROOT:-}
if [ ! -d "$R/sys/bus/pci/devices" ]; then
    echo "p2ptui-collect: no PCI devices here ($R/sys/bus/pci/devices is missing)" >&2
    exit 3
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/p2ptui-collect.XXXXXX") || exit 4
trap 'rm -rf "$T"' EXIT
trap 'exit 130' HUP INT TERM
cd -P "${R:-/}" || exit 3
RP=$PWD
[ "$RP" = / ] && RP=

ALPHA=' !"#$%&'"'"'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\]^_`abcdefghijklmnopqrstuvwxyz{|}~'
# Z<n> holds n NUL bytes written as printf escapes.
_z=''
_i=0
while [ $_i -lt 512 ]; do
    eval "Z$_i=\$_z"
    _z="$_z\\000"
    _i=$((_i + 1))
done

bsum() { # S := the sum of the bytes of $1 (the characters of sysfs paths first, any other through ALPHA)
    S=0
    _s=$1
    while [ -n "$_s" ]; do
        _r=${_s#?}
        _c=${_s%"$_r"}
        _s=$_r
        case $_c in
        [0-9]) S=$((S + 48 + _c)) ;;
        /) S=$((S + 47)) ;;
        :) S=$((S + 58)) ;;
        .) S=$((S + 46)) ;;
        _) S=$((S + 95)) ;;
        *)
            _p=${ALPHA%%"$_c"*}
            if [ ${#_p} -lt 95 ]; then
                S=$((S + 32 + ${#_p}))
            else
                S=$((S + $(printf %d "'$_c")))
            fi
            ;;
        esac
    done
}

word_sum() { # bsum, remembered for names made of letters, digits and _ only (attribute names repeat a lot)
    case $1 in
    '' | *[!A-Za-z0-9_]*) bsum "$1" ;;
    *)
        eval "S=\${W_$1:-}"
        if [ -z "$S" ]; then
            bsum "$1"
            eval "W_$1=\$S"
        fi
        ;;
    esac
}

# Few directories start most names and link targets: the sums of the last four are kept.
D1= D2= D3= D4=
S1=0 S2=0 S3=0 S4=0
dir_sum() { # S := bsum of directory $1, from the kept ones when it is one of them
    if [ "$1" = "$D1" ]; then S=$S1
    elif [ "$1" = "$D2" ]; then S=$S2
    elif [ "$1" = "$D3" ]; then S=$S3
    elif [ "$1" = "$D4" ]; then S=$S4
    else
        case $1 in
        */*)
            dir_sum "${1%/*}" # a parent is often kept: a new function's directory costs its own name only
            _ds=$S
            word_sum "${1##*/}"
            S=$((_ds + 47 + S))
            ;;
        *) word_sum "$1" ;;
        esac
        D4=$D3 S4=$S3 D3=$D2 S3=$S2 D2=$D1 S2=$S1 D1=$1 S1=$S
    fi
}

path_sum() { # S := bsum of path $1
    case $1 in
    '') S=0 ;;
    */*)
        dir_sum "${1%/*}"
        _ps=$S
        word_sum "${1##*/}"
        S=$((_ps + 47 + S))
        ;;
    *) word_sum "$1" ;;
    esac
}

link_sum() { # a link target: "../" some times, then a path
    _l=$1
    _u=0
    while :; do
        case $_l in
        ../*)
            _l=${_l#../}
            _u=$((_u + 139))
            ;;
        *) break ;;
        esac
    done
    path_sum "$_l"
    S=$((S + _u))
}

bsum 0000000000000000000000000ustar00 # the digits of uid, gid and mtime, magic and version
CONST=$((S + 256))                    # the checksum field counts as eight spaces

# hdr NAME SIZE TYPE LINK MODE: one 512-byte ustar header (GNU long-name blocks first when a name is too long).
hdr() {
    _name=$1
    _link=$4
    if [ ${#_name} -gt 99 ]; then
        longblock L "$_name"
        _name=p2ptui-longname
    fi
    if [ ${#_link} -gt 99 ]; then
        longblock K "$_link"
        _link=p2ptui-longlink
    fi
    raw_hdr "$_name" "$2" "$3" "$_link" "$5"
}

longblock() { # a GNU ././@LongLink entry holding $2 (type L: name, K: link target)
    raw_hdr ././@LongLink $((${#2} + 1)) "$1" '' 0000644
    printf '%s\000' "$2"
    dpad $((${#2} + 1))
}

raw_hdr() {
    path_sum "$1"
    _cs=$S
    link_sum "$4"
    _cs=$((_cs + S))
    word_sum "$5$3"
    _cs=$((_cs + S + CONST))
    _o=$2
    _cs=$((_cs + 11 * 48)) # the size's eleven octal digits: '0' each, plus their values
    while [ "$_o" -gt 0 ]; do
        _cs=$((_cs + _o % 8))
        _o=$((_o / 8))
    done
    eval "_pn=\$Z$((100 - ${#1}))"
    eval "_pl=\$Z$((100 - ${#4}))"
    printf "%s$_pn%s\\000%s\\000%s\\000%011o\\000%s\\000%06o\\000 %s%s${_pl}ustar\\000\\060\\060$Z64$Z16$Z155$Z12" \
        "$1" "$5" 0000000 0000000 "$2" 00000000000 "$_cs" "$3" "$4"
}

dpad() { # the NULs that fill a data block after $1 bytes
    eval "printf \"\$Z$(((512 - $1 % 512) % 512))\""
}

note() {
    NOTES="$NOTES$1
"
}

rtext() { # C := the text of file $1, line by line; fails when it cannot be opened
    C=''
    [ -r "$1" ] || return 1
    {
        while IFS= read -r _l || [ -n "$_l" ]; do
            C="$C$_l
"
        done
    } <"$1" 2>/dev/null || return 1
}

ftext() { # ftext REL: the text file at root-relative REL, when it exists
    if rtext "$R/$1"; then
        hdr "$1" ${#C} 0 '' 0000644
        printf '%s' "$C"
        dpad ${#C}
    elif [ -e "$R/$1" ]; then
        note "unreadable: /$1"
    fi
}

fempty() { # an empty marker file (p2pmem/allocate is mmap-only: its presence is the fact)
    hdr "$1" 0 0 '' 0000644
}

ups() { # U := "../" once per directory level of $1
    U=''
    _s=$1
    while :; do
        U="$U../"
        case $_s in */*) _s=${_s#*/} ;; *) break ;; esac
    done
}

flink() { # flink REL: the symbolic link at REL, its target made relative to REL's directory
    if cd -P "$R/$1" 2>/dev/null; then
        _t=${PWD#"$RP"/}
        cd -P "$RP/" || exit 3
        ups "${1%/*}"
        hdr "$1" 0 2 "$U$_t" 0000777
    elif [ -h "$R/$1" ]; then
        note "unresolvable link: /$1"
    fi
}

NCFG=0
function_dir() { # one PCI function: its attributes, links, P2P pool; config space is copied for later
    _d=$1
    for _a in vendor device class revision subsystem_vendor subsystem_device numa_node current_link_speed \
        current_link_width max_link_speed max_link_width aer_dev_correctable aer_dev_nonfatal aer_dev_fatal \
        sriov_totalvfs sriov_numvfs; do
        [ -e "$R/$_d/$_a" ] && ftext "$_d/$_a"
    done
    for _a in driver iommu_group physfn; do
        [ -h "$R/$_d/$_a" ] && flink "$_d/$_a"
    done
    if [ -d "$R/$_d/p2pmem" ]; then
        for _a in size available published; do
            ftext "$_d/p2pmem/$_a"
        done
        [ -e "$R/$_d/p2pmem/allocate" ] && fempty "$_d/p2pmem/allocate"
    fi
    if [ -e "$R/$_d/config" ]; then
        NCFG=$((NCFG + 1))
        eval "CFG$NCFG=\$_d/config"
        if [ "$UID0" = 0 ]; then
            eval "SRC$NCFG=\$R/\$_d/config" # root reads what the file's size says: read it in place, later
        elif cat "$R/$_d/config" >"$T/c$NCFG" 2>/dev/null; then
            eval "SRC$NCFG=\$T/c$NCFG" # a short read (non-root): a copy tells its real size
        else
            note "unreadable: /$_d/config"
            eval "SRC$NCFG="
        fi
    fi
}

emit() {
    for _b in "$R"/sys/bus/pci/devices/*; do
        [ -h "$_b" ] || continue
        _n=${_b##*/}
        cd -P "$_b" 2>/dev/null || { note "unresolvable link: /sys/bus/pci/devices/$_n"; continue; }
        _f=${PWD#"$RP"/}
        cd -P "$RP/" || exit 3
        hdr "sys/bus/pci/devices/$_n" 0 2 "../../../${_f#sys/}" 0000777
        function_dir "$_f"
    done
    for _c in nvme net infiniband iommu; do
        for _b in "$R/sys/class/$_c"/*; do
            [ -h "$_b" ] && flink "sys/class/$_c/${_b##*/}"
        done
    done
    for _b in "$R"/sys/kernel/iommu_groups/*; do
        [ -e "$_b/type" ] && ftext "sys/kernel/iommu_groups/${_b##*/}/type"
    done
    for _b in "$R"/sys/bus/pci/slots/*; do
        [ -e "$_b/address" ] && ftext "sys/bus/pci/slots/${_b##*/}/address"
    done
    ftext proc/cmdline
    ftext proc/sys/kernel/osrelease
    ftext proc/version
    if rtext "$R/proc/cpuinfo"; then
        C=${C%%

*} # the first processor's block says vendor, family and model
        C="$C
"
        hdr proc/cpuinfo ${#C} 0 '' 0000644
        printf '%s' "$C"
        dpad ${#C}
    else
        note "unreadable: /proc/cpuinfo"
    fi
    if [ "$UID0" != 0 ]; then
        note "not root (uid $UID0): the kernel shows non-root users only the first 64 bytes of config space, so ACS and port types are unknown"
    fi
    # Config space last, sized by one wc; headers and padding go to files so that one cat writes them all
    # between the config files themselves.
    _args=''
    _i=0
    while [ $_i -lt $NCFG ]; do
        _i=$((_i + 1))
        eval "_src=\$SRC$_i"
        [ -n "$_src" ] && _args="$_args $_src"
    done
    # shellcheck disable=SC2086
    [ -n "$_args" ] && wc -c $_args >"$T/sizes" 2>/dev/null
    _i=0
    _prev=0
    _cat=''
    while IFS=' ' read -r _size _path; do
        while [ $_i -lt $NCFG ]; do
            _i=$((_i + 1))
            eval "_src=\$SRC$_i"
            [ "$_src" = "$_path" ] && break
            eval "_rel=\$CFG$_i"
            [ -n "$_src" ] && note "unreadable: /$_rel"
        done
        [ "$_src" = "$_path" ] || break
        eval "_rel=\$CFG$_i"
        {
            dpad "$_prev"
            hdr "$_rel" "$_size" 0 '' 0000644
        } >"$T/h$_i"
        _cat="$_cat $T/h$_i $_src"
        _prev=$_size
    done <"$T/sizes"
    {
        dpad "$_prev"
        hdr p2ptui-collect.txt ${#NOTES} 0 '' 0000644
        printf '%s' "$NOTES"
        dpad ${#NOTES}
        printf "$Z511\\000$Z511\\000"
    } >"$T/end"
    # shellcheck disable=SC2086
    cat $_cat "$T/end"
}

: >"$T/sizes"
UID0=$(id -u)
emit >"$T/snap" || exit 5
if [ -z "${P2PTUI_COLLECT_PLAIN:-}" ] && command -v gzip >/dev/null 2>&1; then
    gzip -n -c "$T/snap" >"$T/snap.gz" || exit 5
    OUT=$T/snap.gz
else
    OUT=$T/snap
fi
echo "P2PTUI-COLLECT 1"
# One long line where base64 can (-w 0): the reader pays per line, not per byte.
base64 -w 0 "$OUT" 2>/dev/null || base64 "$OUT" || exit 5
echo
echo "P2PTUI-COLLECT-END"
