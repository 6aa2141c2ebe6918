"""Work apart (vae_core/apart.py): in a process of its own, at a lower priority, and never outliving the
program that started it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vae_core.apart import Apart, run_apart

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
from vae_core.apart import Apart
print(Apart().run(os.getpid), flush=True)  # the kept process's id, then it waits for more work
time.sleep(120)
"""


def _name() -> str:
    return Path("/proc/self/comm").read_text().strip()


def test_work_apart_runs_in_another_process_at_a_lower_priority():
    assert run_apart(os.getpid) != os.getpid()
    if Path("/proc/self/comm").exists():
        assert run_apart(_name) == "vae-apart"  # what ps and top call it
    kept = Apart(idle_seconds=0.2)
    first = kept.run(os.getpid)
    assert kept.run(os.getpid) == first != os.getpid()  # one process for every job while busy
    assert run_apart(os.getpriority, os.PRIO_PROCESS, 0) > os.getpriority(os.PRIO_PROCESS, 0)
    time.sleep(0.5)
    assert kept.run(os.getpid) != first  # idle for longer than idle_seconds: closed, and a new one started


@pytest.mark.skipif(not Path("/proc").exists(), reason="looks for the process in /proc")
def test_a_process_apart_ends_when_its_program_is_killed():
    program = subprocess.Popen([sys.executable, "-c", CHILD, str(ROOT)], stdout=subprocess.PIPE, text=True)
    apart = int(program.stdout.readline())
    assert Path(f"/proc/{apart}").exists()
    program.send_signal(signal.SIGKILL)
    program.wait()
    deadline = time.time() + 10
    while Path(f"/proc/{apart}").exists() and time.time() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{apart}").exists()  # it left with its program (it waited for work for ever)


def test_a_process_the_app_spawns_does_not_import_the_app_again(tmp_path):
    (tmp_path / "probe.py").write_text("import sys\n\ndef loaded(name):\n    return name in sys.modules\n")
    script = tmp_path / "main.py"  # a main file that imports Gradio, as app.py does
    script.write_text(f"""
import sys
sys.path[:0] = [{str(ROOT)!r}, {str(tmp_path)!r}]
import gradio, app
from probe import loaded
from vae_core.apart import run_apart
if __name__ == "__main__":
    print(run_apart(loaded, "gradio"), end=" ")
    app.children_skip_main()
    print(run_apart(loaded, "gradio"))
""")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.stdout.split() == ["True", "False"], out.stderr[-2000:]
