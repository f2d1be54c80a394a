#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# exec_race: a paged program forks 300 children that each exec /bin/true after a random pause
# of up to 2 ms, so the pager meets some children while it adopts them (their memory came
# with the fork) just as they exec. Whatever it had found out about the child before the exec
# (where its `syscall` instruction is, that it shows the parent's id token) is stale then:
# injecting there once made the pager single-step a faulting instruction forever, the child
# stopped and the whole container stalled. Every child must exit 0, and all the program's
# memory must verify after them.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lib_init
memload_under_shim --size 128 --wait --ops verify,exec-race:300,verify
pid=$READY_PID
wait_at_target "$pid"
note "SIGUSR1 -> memload: 300 fork+exec children"
kill -USR1 "$pid"
expect_shim_exit 0
expect_result
adopted=$(grep -c "forked child adopted" "$T/shim.log")
note "$adopted children adopted before their exec;" \
	"$(grep -c "exec'ed or exited while being adopted" "$T/shim.log") exec'ed while being adopted"
echo "PASS: 300 fork+exec children of a paged program, memory verified"
