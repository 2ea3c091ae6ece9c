"""Networks, kept apart from the training logic that uses them."""
