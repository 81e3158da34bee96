"""deepterm's Textual application."""
