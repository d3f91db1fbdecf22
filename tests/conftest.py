"""Suite-wide setup. Its presence also puts tests/ on sys.path, so test modules can import real_data."""
