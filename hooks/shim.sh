#!/bin/sh
# dvx hook shim (__HOOK__), written by `dvx install`; `dvx uninstall` removes it
# and puts back the hook that was here before (kept as __HOOK__.dvx-chained).
# It runs that previous hook first, then `dvx hook __HOOK__`, with git's
# arguments and standard input. DVX_SKIP_HOOKS=1 skips the dvx part.
hook='__HOOK__'
node='__NODE__'
dvx='__DVX__'
dir=$(dirname "$0")
input=
case "$hook" in
  pre-push|post-rewrite)
    input=$(mktemp) || exit 1
    trap 'rm -f "$input"' EXIT
    cat > "$input"
    ;;
esac
run() {
  if [ -n "$input" ]; then "$@" < "$input"; else "$@"; fi
}
# As git does with a hook: one that is not executable, or a symlink whose
# target is missing (a shared hooks folder not checked out), is skipped.
if [ -x "$dir/$hook.dvx-chained" ]; then
  run "$dir/$hook.dvx-chained" "$@" || exit $?
fi
[ "${DVX_SKIP_HOOKS:-}" = 1 ] && exit 0
# post-commit acts only on a pipeline, dvx.yaml at the top of the working tree
# (where git runs hooks), or on a merge commit (the end of a merge that stopped
# on a conflict, whose data no post-merge hook checked out): otherwise starting
# node would be all it does.
if [ "$hook" = post-commit ] && [ ! -f dvx.yaml ] && ! git rev-parse -q --verify 'HEAD^2' >/dev/null 2>&1; then
  exit 0
fi
if [ -x "$node" ] && [ -f "$dvx" ]; then
  run "$node" "$dvx" hook "$hook" "$@"
  exit $?
fi
if command -v dvx >/dev/null 2>&1; then
  run dvx hook "$hook" "$@"
  exit $?
fi
echo "dvx: the $hook hook needs dvx, but the dvx that installed it is gone ($node $dvx) and none is on the PATH." >&2
echo "dvx: reinstall dvx and run 'dvx install' in this repository, or set DVX_SKIP_HOOKS=1 to go on without dvx." >&2
case "$hook" in
  pre-*) exit 1 ;;
  *) exit 0 ;;
esac
