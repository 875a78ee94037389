"""A small shop: sigma-exec's larger Python sample (~50 pytest cases over four modules)."""
