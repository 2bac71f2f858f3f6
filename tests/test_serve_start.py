"""`policyqa serve` on a port that is taken: one line, exit 2, before any start-up work (a real child process)."""

from __future__ import annotations

import socket

from tests import servers


def test_a_taken_port_is_one_line_and_exit_2_before_loading_anything(tmp_path):
    home = tmp_path / "home"  # empty: a start that got as far as loading would build an index here
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process, _, log = servers.start(home, port=port)
        assert process.wait(timeout=60) == 2
    lines = log.read_text(encoding="utf-8").strip().splitlines()
    assert lines == [f"error: port {port} on 127.0.0.1 is already in use (another policyqa serve?); "
                     f"stop that server or pick another port with --port, e.g. --port {port + 1}"]
    assert not (home / "index").exists()


def test_an_address_not_on_this_machine_is_one_line_and_exit_2(tmp_path):
    process, _, log = servers.start(tmp_path / "home", args=("--host", "192.0.2.1"))  # TEST-NET-1: never bound
    assert process.wait(timeout=60) == 2
    (line,) = log.read_text(encoding="utf-8").strip().splitlines()
    assert "192.0.2.1 is not an address of this machine" in line and "--host 127.0.0.1" in line
