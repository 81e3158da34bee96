"""Runs as TensorBoard event files (issue 20, point 4), read back with TensorBoard's own
event-processing module: per-epoch scalars in train/ and validation/ as Keras writes
them, one folder per run, a sweep's runs under the sweep's name, the settings as a
text table and as an HParams session; `deepterm runs export --format tensorboard`."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed (pip install "
                                          "'deepterm[tensorboard]')")

from engine import RunStore, runner  # noqa: E402
from engine.recipe import RunConfig  # noqa: E402
from engine.store import ENV_VAR  # noqa: E402
from engine.tensorboard_export import export_runs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def tensorboard_without_tensorflow():
    """TensorBoard's reader imports TensorFlow when it is installed (ten seconds) unless
    its documented no-TensorFlow switch, the module tensorboard.compat.notf, exists."""
    saved = sys.modules.get("tensorboard.compat.notf")
    sys.modules["tensorboard.compat.notf"] = types.ModuleType("tensorboard.compat.notf")
    yield
    if saved is None:
        sys.modules.pop("tensorboard.compat.notf", None)


def accumulator(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0, "scalars": 0})
    acc.Reload()
    return acc


def scalars(folder: Path, tag: str) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in accumulator(folder).Scalars(tag)]


@pytest.fixture
def stored(tmp_path):
    """A store with a sweep of two runs (group 'lr sweep') and a single run."""
    store = RunStore(tmp_path / "runs.db")
    base = RunConfig(dataset="circle", dataset_options={"n": 120}, hidden=((6, "relu"),),
                     epochs=3, optimizer="adam")
    sweep = runner.sweep([base.with_changes(learning_rate=lr, label=f"lr={lr}", group="lr sweep")
                          for lr in (0.01, 0.1)], store=store, executor="thread")
    single = runner.run(base.with_changes(epochs=4, validation_split=0.0), store=store,
                        executor="thread")
    return store, [store.get(r.id) for r in sweep], store.get(single.id)


def test_scalars_per_epoch_in_train_and_validation_folders_per_run(stored, tmp_path):
    store, sweep, single = stored
    logs = tmp_path / "logs"
    written = export_runs([*sweep, single], logs)
    assert written == [logs / "lr_sweep" / f"lr=0.01-{sweep[0].id}",
                       logs / "lr_sweep" / f"lr=0.1-{sweep[1].id}", logs / f"circle-{single.id}"]
    for run, folder in zip([*sweep, single], written, strict=True):
        h = run.history.history
        steps = list(range(len(run.history.epoch)))
        assert scalars(folder / "train", "epoch_loss") == \
            [(s, pytest.approx(v, rel=1e-6)) for s, v in zip(steps, h["loss"], strict=True)]
        assert scalars(folder / "train", "epoch_accuracy") == \
            [(s, pytest.approx(v, rel=1e-6)) for s, v in zip(steps, h["accuracy"], strict=True)]
        if "val_loss" in h:
            assert scalars(folder / "validation", "epoch_loss") == \
                [(s, pytest.approx(v, rel=1e-6)) for s, v in zip(steps, h["val_loss"], strict=True)]
        else:
            assert not (folder / "validation").exists()
    assert len(scalars(written[2] / "train", "epoch_loss")) == 4


def test_settings_as_a_text_table_and_an_hparams_session(stored, tmp_path):
    from tensorboard.plugins.hparams import plugin_data_pb2

    store, sweep, single = stored
    logs = tmp_path / "logs"
    folder = export_runs(sweep, logs)[1]
    acc = accumulator(folder)
    text = acc.Tensors("hyperparameters")[0].tensor_proto.string_val[0].decode()
    assert f"run {sweep[1].id}:" in text and "| learning_rate | 0.1 |" in text
    assert "| hidden | 6 |" in text and "| optimizer | adam |" in text

    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    session = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    assert session.hparams["learning_rate"].number_value == pytest.approx(0.1)
    assert session.hparams["optimizer"].string_value == "adam"
    assert session.hparams["batch_size"].number_value == 32
    assert session.group_name == sweep[1].id

    root = accumulator(logs).PluginTagToContent("hparams")["_hparams_/experiment"]
    experiment = plugin_data_pb2.HParamsPluginData.FromString(root).experiment
    assert {h.name for h in experiment.hparam_infos} >= {"learning_rate", "optimizer", "hidden",
                                                         "batch_size", "epochs", "dataset"}
    assert {(m.name.group, m.name.tag) for m in experiment.metric_infos} == {
        ("train", "epoch_loss"), ("train", "epoch_accuracy"),
        ("validation", "epoch_loss"), ("validation", "epoch_accuracy")}


def test_exporting_again_replaces_its_own_files_and_leaves_others(stored, tmp_path):
    store, sweep, single = stored
    logs = tmp_path / "logs"
    train = export_runs([single], logs)[0] / "train"
    foreign = train / "events.out.tfevents.1.host.1.0.v2"
    foreign.write_bytes(b"")
    export_runs([single], logs)
    assert len(scalars(train, "epoch_loss")) == 4        # not 8: the first export's file went
    assert sorted(p.name.endswith(".deepterm") for p in train.iterdir()) == [False, True]
    assert foreign.exists()


def deepterm(*args: str, store: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env["XDG_DATA_HOME"] = str(store.parent)
    env["DEEPTERM_LOG"] = os.devnull
    return subprocess.run([sys.executable, "-m", "tui", *args, "--store", str(store)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_cli_writes_every_run_or_the_ones_named(stored, tmp_path):
    store, sweep, single = stored
    logs = tmp_path / "all"
    proc = deepterm("runs", "export", "--format", "tensorboard", str(logs), store=store.path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (f"wrote 3 runs to {logs} (1 sweep in their own folders); "
                                   f"view them with: tensorboard --logdir {logs}")
    assert sorted(p.name for p in logs.iterdir() if p.is_dir()) == sorted(
        ["lr_sweep", f"circle-{single.id}"])

    one = tmp_path / "one"
    proc = deepterm("runs", "export", "--format", "tensorboard", str(one), single.id[:6],
                    store=store.path)
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in one.iterdir() if p.is_dir()] == [f"circle-{single.id}"]

    proc = deepterm("runs", "export", "--format", "tensorboard", str(one), "-o", "x.csv",
                    store=store.path)
    assert proc.returncode == 2 and "takes no -o or --model" in proc.stderr
    proc = deepterm("runs", "export", single.id, sweep[0].id, store=store.path)
    assert proc.returncode == 2 and "runs export takes one run id (got 2)" in proc.stderr
