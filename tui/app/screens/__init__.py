"""The app's screens (each in its own module, imported when first shown)."""
