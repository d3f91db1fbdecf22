# A stand-in transport for `fleet collect --exec 'sh transport.sh ROOTS %h'`: it runs the real collector (the
# command p2ptui appends, `sh -s`, fed on standard input) against the fake sysfs root ROOTS/NODE, except for nodes
# whose names ask for a failure.
roots=$1
node=$2
shift 2
case $node in
hang*) exec sleep 60 ;;
garbage*) cat >/dev/null; echo "Welcome to node $node"; exit 0 ;;
cut*) P2PTUI_SYSROOT=$roots/good "$@" | head -c 2000 ;;
fail*) cat >/dev/null; echo "collector: permission denied" >&2; exit 7 ;;
*) P2PTUI_SYSROOT=$roots/$node exec "$@" ;;
esac
