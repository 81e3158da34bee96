"""Widgets of the trainer: charts, the digit view, the confusion matrix, layer rows."""
