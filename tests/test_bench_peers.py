"""bench/run.py --peers' machinery on a tiny workload: one round of one epoch with
deepterm and a system that does not exist. It checks the rows' keys and that the
missing system is skipped; never the times. (No real peer: importing scikit-learn
alone took 2.5-3 s on the 2-core machine, more when it was busy.)"""

import importlib.util
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def load_run():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
        run = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(run)
        return run
    finally:
        sys.path.remove(str(BENCH))


def test_peers_rows_and_a_missing_system(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DEEPTERM_NO_COMPILE", "1")   # the machinery, not Numba's 1.5 s load
    systems = ["deepterm", "no-such-system"]
    out = tmp_path / "peers.json"
    code = load_run().main(["--peers", "--systems", ",".join(systems), "--workloads", "tiny",
                            "--rounds", "1", "--epochs", "1", "--json", str(out)])
    assert code == 0
    rows = json.loads(out.read_text())
    assert [r["system"] for r in rows] == systems
    for row in rows:
        assert {"workload", "system", "ms_per_epoch", "ratio_to_deepterm"} <= row.keys()
        assert row["workload"].startswith("tiny")
    by_system = {r["system"]: r for r in rows}
    assert by_system["deepterm"]["ratio_to_deepterm"] == 1.0
    assert by_system["deepterm"]["skipped"] is None
    assert by_system["deepterm"]["ms_per_epoch"] is not None and by_system["deepterm"]["loss_after_20"] > 0
    missing = by_system["no-such-system"]
    assert missing["skipped"] and missing["ms_per_epoch"] is None
    assert "skipped" in capsys.readouterr().out
