"""What every stage needs to run as one job over many processes: where a process sits, the Lightning strategy,
what ranks tell each other, stopping on signals, logging, errors a user can fix, sharding, and files and hashes."""
