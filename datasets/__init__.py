"""deepterm's dataset catalog (shipped datasets, synthetic sets, CSV import).

    import datasets
    for info in datasets.list_datasets(): print(info.name, info.task, info.rows)
    ds = datasets.load("mnist", n=2500)          # ds.X (2500, 784) float32 in [0, 1], ds.y digits
    ds = datasets.load("circle", n=200, noise=0.1, seed=0)
    ds = datasets.from_csv("my.csv", target="price")
    ds = datasets.open_dataset("wages")          # a catalog name, or a file: "./wages", "my.csv"
    name, why = datasets.likely_target("my.csv")   # the default target: ("price", "named like a target")
    units, activation, loss, metrics = datasets.suggest_output(ds)
    y = ds.targets_for(loss)

Nothing here imports a UI toolkit or TensorFlow, and nothing downloads.
"""

from .catalog import dataset_names, list_datasets, load
from .core import TASKS, Dataset, DatasetError, DatasetInfo
from .csv_import import csv_columns, from_csv, likely_target, read_features
from .encoding import FeatureEncoding
from .preprocessing import Standardizer, prepare, suggest_output, training_rows
from .reference import is_file_reference, open_dataset

__all__ = [
    "TASKS",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "FeatureEncoding",
    "Standardizer",
    "csv_columns",
    "dataset_names",
    "from_csv",
    "is_file_reference",
    "list_datasets",
    "likely_target",
    "load",
    "open_dataset",
    "prepare",
    "read_features",
    "suggest_output",
    "training_rows",
]
