"""Lessons: forward propagation, errors, gradient descent and backpropagation,
drawn on live, editable networks whose numbers come from the engine's
teaching view. ``LessonsScreen`` is the menu the app opens."""

from .menu import SCREENS, LessonsScreen

__all__ = ["SCREENS", "LessonsScreen"]
