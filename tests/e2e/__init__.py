"""End to end: the commands as users run them, under every launcher, with faults, signals and hostile input."""
