"""What a strategy module sees: the decision input and the position manager."""
