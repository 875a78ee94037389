"""Host cgroup and /proc parsing for fast stats (pure)."""

from __future__ import annotations

from sigma_exec.cgroups import NANOS_PER_TICK, parse_kv, parse_net_dev, parse_proc_stat_total

PROC_STAT = "cpu  100 5 50 1000 20 0 3 0 0 0\ncpu0 50 2 25 500 10 0 1 0 0 0\n"
NET_DEV = (  # /proc/net/dev as the kernel writes it (columns squeezed)
    "Inter-| Receive | Transmit\n"
    " face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier\n"
    "    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n"
    "  eth0: 2097152 20 0 0 0 0 0 0 1048576 15 0 0 0 0 0 0\n"
)


def test_proc_stat_total_is_the_sum_of_the_first_seven_columns_in_ns() -> None:
    assert parse_proc_stat_total(PROC_STAT) == (100 + 5 + 50 + 1000 + 20 + 0 + 3) * NANOS_PER_TICK


def test_net_dev_leaves_out_loopback() -> None:
    assert parse_net_dev(NET_DEV) == {"eth0": {"rx_bytes": 2097152, "tx_bytes": 1048576}}


def test_memory_stat_lines_become_integers() -> None:
    assert parse_kv("cache 4096\ntotal_inactive_file 8192\nweird line here\n") == {
        "cache": 4096,
        "total_inactive_file": 8192,
    }
