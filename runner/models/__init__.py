"""The pluggable models behind the runner's constructor arguments."""
