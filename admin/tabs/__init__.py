"""One module per console tab; :mod:`admin.app` composes them."""
