"""The review command prints one line, serves on 127.0.0.1 and ends on Ctrl-C."""


from helpers import http_status


def test_the_review_command_prints_one_line_serves_on_127_0_0_1_and_ends_on_ctrl_c(identified):
    import re
    import signal
    import subprocess
    import sys

    folder, run = identified
    (run / ".hydra").mkdir()
    (run / ".hydra" / "config.yaml").write_text(f"library: {folder}\n")  # identify's own saved config stays
    process = subprocess.Popen([sys.executable, "-m", "forams_lightning.review", f"run={run}", f"library={folder}",
                                "reviewer=A. Expert"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = ""
        for line in process.stdout:
            if line.startswith("review at"):
                break
        found = re.fullmatch(r"review at (http://127\.0\.0\.1:\d+)/\?token=([\w-]+)\n", line)
        assert found, line
        assert http_status(found.group(1) + "/api/state", found.group(2)) == 200
        assert http_status(found.group(1) + "/api/state") == 403
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0 and "verdicts in" in rest
    assert (run / ".hydra-review" / "config.yaml").is_file()
    assert (run / ".hydra" / "config.yaml").read_text() == f"library: {folder}\n"
