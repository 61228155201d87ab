"""One module per AWS concern. Each owns its resources and the grants that reach into them."""
