"""deepterm's dataset catalog (shipped datasets, synthetic sets, CSV import)."""
